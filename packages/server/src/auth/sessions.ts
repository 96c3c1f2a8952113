/** Session cookies: a random token in an HttpOnly SameSite cookie, stored only as its SHA-256. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { parseCookies, serializeCookie } from '../http/index.js';
import { randomToken, tokenHash } from '../security/index.js';
import { nowIso, type Database } from '../storage/index.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'understudy_session';
const SESSION_DAYS = 14;

/** Whether cookies get `Secure`: behind HTTPS (public URL or forwarded proto). */
function secureFor(request: FastifyRequest, publicUrl?: string): boolean {
  if (publicUrl) return publicUrl.startsWith('https://');
  return request.protocol === 'https';
}

/** Starts a session for a user and sets its cookie; returns the CSRF token for the client. */
export async function startSession(
  db: Kysely<Database>,
  reply: FastifyReply,
  request: FastifyRequest,
  user: { id: string; orgId: string },
  publicUrl?: string,
): Promise<string> {
  const token = randomToken('', 32);
  const csrfToken = randomToken('', 24);
  const now = new Date();
  await db
    .insertInto('sessions')
    .values({
      id_hash: tokenHash(token),
      user_id: user.id,
      org_id: user.orgId,
      csrf_token: csrfToken,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + SESSION_DAYS * 86_400_000).toISOString(),
    })
    .execute();
  reply.header(
    'set-cookie',
    serializeCookie(SESSION_COOKIE, token, {
      maxAgeSeconds: SESSION_DAYS * 86_400,
      secure: secureFor(request, publicUrl),
    }),
  );
  return csrfToken;
}

/** Ends the session and clears its cookie. */
export async function endSession(
  db: Kysely<Database>,
  reply: FastifyReply,
  request: FastifyRequest,
  sessionHash: string,
  publicUrl?: string,
): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', sessionHash).execute();
  reply.header(
    'set-cookie',
    serializeCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, secure: secureFor(request, publicUrl) }),
  );
}

/** The session behind a request's cookie, with its user, if valid. */
export async function lookupSession(db: Kysely<Database>, cookieHeader: string | undefined) {
  const token = parseCookies(cookieHeader)[SESSION_COOKIE];
  if (!token) return undefined;
  const hash = tokenHash(token);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id_hash',
      'sessions.csrf_token',
      'sessions.expires_at',
      'users.id as user_id',
      'users.org_id',
      'users.role',
      'users.email',
      'users.name',
    ])
    .where('sessions.id_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.expires_at < nowIso()) {
    await db.deleteFrom('sessions').where('id_hash', '=', hash).execute();
    return undefined;
  }
  return row;
}
