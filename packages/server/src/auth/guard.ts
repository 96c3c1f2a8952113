/**
 * The one authorization path: an onRequest hook that reads each route's declared `access`,
 * authenticates the caller (session cookie or API key), checks the role and, for state-changing
 * requests made with a cookie, the CSRF token. Routes that declare nothing are refused.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { forbidden, unauthorized, HttpError } from '../http/index.js';
import type { Database } from '../storage/index.js';
import type { ApiKeyCache } from './api-keys.js';
import type { Principal } from './principal.js';
import { lookupSession } from './sessions.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The organization API key in `Authorization: Bearer …`, if valid and not revoked. */
export async function apiKeyPrincipal(
  keys: ApiKeyCache,
  request: FastifyRequest,
): Promise<Principal | undefined> {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m?.[1]) return undefined;
  const p = await keys.resolve(m[1]);
  return p && { kind: 'apiKey', keyId: p.keyId, orgId: p.orgId };
}

/** Rejects a cross-site browser request: its Origin must match the Host it was sent to. */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw forbidden('cross-site request refused (bad Origin)');
  }
  if (host !== request.headers.host)
    throw forbidden('cross-site request refused (Origin does not match Host)');
}

/** Installs the authorization hook on the app. */
export function installGuard(app: FastifyInstance, db: Kysely<Database>, keys: ApiKeyCache): void {
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    const access = request.routeOptions.config.access;
    if (!access) throw new HttpError(403, 'forbidden', 'this route declares no access rule');
    if (access.who === 'apiKey') {
      const p = await apiKeyPrincipal(keys, request);
      if (!p)
        throw new HttpError(
          401,
          'invalid_api_key',
          'a valid organization API key is required (Authorization: Bearer …)',
        );
      request.principal = p;
      return;
    }
    const session = await lookupSession(db, request.headers.cookie);
    if (session) {
      request.principal = {
        kind: 'user',
        userId: session.user_id,
        orgId: session.org_id,
        role: session.role,
        email: session.email,
        name: session.name,
        sessionHash: session.id_hash,
        csrfToken: session.csrf_token,
      };
    }
    if (access.who === 'public') return;
    if (!session || request.principal?.kind !== 'user') throw unauthorized();
    if (!SAFE_METHODS.has(request.method)) {
      checkOrigin(request);
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameToken(sent, session.csrf_token)) {
        throw new HttpError(
          403,
          'csrf',
          'missing or wrong x-csrf-token header (get it from GET /api/auth/session)',
        );
      }
    }
    if (!access.roles.includes(session.role))
      // A code of its own: the web app reads the session again on it (the role may have changed).
      throw new HttpError(403, 'role_required', `this needs one of the roles: ${access.roles.join(', ')}`);
  });
}

/** The request's principal; routes behind the guard always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

/** The signed-in user behind a request (routes with user access). */
export function userOf(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  const p = principalOf(request);
  if (p.kind !== 'user') throw unauthorized();
  return p;
}
