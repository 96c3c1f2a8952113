/** Sign-in, sign-out, first-run setup, optional sign-up, and accepting invitations. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { memberLabel, writeAudit } from '../audit/index.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, HttpError, notFound, parse, unauthorized } from '../http/index.js';
import {
  countOrganizations,
  createOrganization,
  emailTaken,
  insertUser,
  normalizeEmail,
} from '../organizations/index.js';
import { DUMMY_HASH, hashPassword, tokenHash, verifyPassword } from '../security/index.js';
import { nowIso } from '../storage/index.js';
import { ANY_MEMBER, PUBLIC } from './principal.js';
import { endSession, startSession } from './sessions.js';
import { userOf } from './guard.js';
import { relayKeyRevocations } from './revocations.js';
import { RedisAttempts } from './shared-throttle.js';
import { SignInThrottle, type Throttled } from './throttle.js';

const Email = z.string().trim().email('must be an email address').max(254);
const Password = z.string().min(10, 'must be at least 10 characters').max(200);
const Name = z.string().trim().min(1, 'must not be empty').max(100);

const SetupBody = z.strictObject({
  token: z.string().min(1),
  organization: Name,
  name: Name,
  email: Email,
  password: Password,
});
const SignupBody = z.strictObject({ organization: Name, name: Name, email: Email, password: Password });
const LoginBody = z.strictObject({ email: z.string().trim().max(254), password: z.string().max(200) });
const AcceptBody = z.strictObject({ token: z.string().min(1).max(200), name: Name, password: Password });

/** What a log line says of a typed email: a password typed into the email field stays out. */
const loggable = (email: string) => (Email.safeParse(email).success ? email : '[not an email]');

/**
 * 429 for a blocked account or address, with Retry-After in seconds and a message in minutes, and
 * a warning in the log (the email, never the password).
 */
function throttled(
  request: FastifyRequest,
  reply: FastifyReply,
  t: Throttled,
  what: { email: string } | { invitation: true },
): HttpError {
  request.log.warn(
    {
      ...('email' in what ? { email: loggable(what.email) } : { invitation: true }),
      address: request.ip,
      by: t.by,
      retryAfterSeconds: t.retryAfterSeconds,
    },
    `${'email' in what ? 'sign-in' : 'invitation'} throttled: too many failed attempts`,
  );
  reply.header('retry-after', String(t.retryAfterSeconds));
  const minutes = Math.ceil(t.retryAfterSeconds / 60);
  const wait = `try again in ${minutes} minute${minutes === 1 ? '' : 's'}`;
  return new HttpError(
    429,
    'too_many_attempts',
    t.by === 'account'
      ? `too many failed sign-ins for this account; ${wait}`
      : `too many failed attempts from your address; ${wait}`,
  );
}

/** The signed-in view of a user and their organization. */
async function sessionView(ctx: AppContext, userId: string, csrfToken: string) {
  const row = await ctx.db
    .selectFrom('users')
    .innerJoin('organizations', 'organizations.id', 'users.org_id')
    .select([
      'users.id',
      'users.email',
      'users.name',
      'users.role',
      'organizations.id as org_id',
      'organizations.name as org_name',
    ])
    .where('users.id', '=', userId)
    .executeTakeFirstOrThrow();
  return {
    user: { id: row.id, email: row.email, name: row.name, role: row.role },
    organization: { id: row.org_id, name: row.org_name },
    csrfToken,
  };
}

/** Registers the authentication routes. */
export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  // Keys the bootstrap file revoked at this start stop working on every instance at once.
  relayKeyRevocations(app, ctx);
  // With Redis the counts are shared, so instances behind a balancer throttle together.
  const link = ctx.cluster.link;
  const throttle = new SignInThrottle(Date.now, undefined, link && new RedisAttempts(link, ctx.log));
  // Invitation links are guessed from an address (the token is too long to guess, but a client
  // trying is refused like one trying passwords): a blocked address gets 429 before any lookup.
  const checkInvitationAddress = async (request: FastifyRequest, reply: FastifyReply) => {
    const blocked = await throttle.check(request.ip);
    if (blocked) throw throttled(request, reply, blocked, { invitation: true });
  };
  /** An unknown, used or expired invitation: counted against the address, then 404. */
  const unknownInvitation = (request: FastifyRequest) => {
    // Not awaited: it is thrown from inside a database transaction, which must not wait on Redis;
    // `failed` never rejects (a Redis failure falls back to local counts), and counts locally at once.
    void throttle.failed(request.ip);
    request.log.warn({ address: request.ip }, 'invitation refused: unknown, used or expired token');
    return notFound('invitation');
  };

  app.get('/api/setup', { config: { access: PUBLIC } }, async () => ({
    needed: (await countOrganizations(ctx.db)) === 0,
    signupAllowed: ctx.config.allowSignup,
  }));

  // The setup token's holder: taken before the first await, so requests sent at once cannot all
  // pass the checks while the first one is still hashing its password.
  let setupClaimed = false;
  app.post('/api/setup', { config: { access: PUBLIC } }, async (request, reply) => {
    const body = parse(SetupBody, request.body);
    const token = ctx.setupToken;
    if (!token) throw conflict('setup is already done; sign in instead');
    // Digests compared, so the time taken says nothing about how much of the token was right.
    if (tokenHash(body.token) !== tokenHash(token))
      throw new HttpError(403, 'forbidden', 'wrong setup token (it is printed in the server log)');
    if (setupClaimed)
      throw conflict('setup is already under way in another request; sign in once it is done');
    setupClaimed = true;
    let created: { orgId: string; userId: string } | undefined;
    try {
      const passwordHash = await hashPassword(body.password);
      // Under the deployment-wide lock: another instance (its own token, this database) may be
      // setting up too, and only the database knows whether it was first.
      created = await ctx.storage.exclusive(async () => {
        if ((await countOrganizations(ctx.db)) > 0) return undefined;
        if (await emailTaken(ctx.db, body.email)) throw conflict('that email already has an account');
        return createOrganization(ctx.db, {
          name: body.organization,
          owner: { email: body.email, name: body.name, passwordHash },
        });
      });
    } catch (err) {
      // Nothing was created (the organization's transaction rolled back): the token works again.
      setupClaimed = false;
      throw err;
    }
    // Spent for good once an organization exists, made here or by another instance.
    ctx.setupToken = undefined;
    if (!created) throw conflict('setup is already done; sign in instead');
    const { orgId, userId } = created;
    await ctx.provision(orgId);
    const csrf = await startSession(ctx.db, reply, request, { id: userId, orgId }, ctx.config.publicUrl);
    reply.code(201);
    return sessionView(ctx, userId, csrf);
  });

  app.post('/api/signup', { config: { access: PUBLIC } }, async (request, reply) => {
    if (!ctx.config.allowSignup)
      throw new HttpError(403, 'forbidden', 'sign-up is disabled on this server (UNDERSTUDY_ALLOW_SIGNUP)');
    const body = parse(SignupBody, request.body);
    if (await emailTaken(ctx.db, body.email)) throw conflict('that email already has an account');
    const { orgId, userId } = await createOrganization(ctx.db, {
      name: body.organization,
      owner: { email: body.email, name: body.name, passwordHash: await hashPassword(body.password) },
    });
    await ctx.provision(orgId);
    const csrf = await startSession(ctx.db, reply, request, { id: userId, orgId }, ctx.config.publicUrl);
    reply.code(201);
    return sessionView(ctx, userId, csrf);
  });

  app.post('/api/auth/login', { config: { access: PUBLIC } }, async (request, reply) => {
    const body = parse(LoginBody, request.body);
    const email = normalizeEmail(body.email);
    const user = await throttle.serialize(request.ip, email, async () => {
      // Unknown emails are counted and blocked like accounts, so a 429 reveals no account either.
      const blocked = await throttle.check(request.ip, email);
      if (blocked) throw throttled(request, reply, blocked, { email });
      const found = await ctx.db
        .selectFrom('users')
        .select(['id', 'org_id', 'password_hash'])
        .where('email', '=', email)
        .executeTakeFirst();
      // Verify against a dummy hash for unknown emails, so response time does not reveal accounts.
      const ok = await verifyPassword(body.password, found?.password_hash ?? DUMMY_HASH);
      if (!found || !ok) {
        await throttle.failed(request.ip, email);
        request.log.warn(
          { email: loggable(email), address: request.ip, known: found !== undefined },
          'sign-in failed: wrong email or password',
        );
        throw unauthorized('wrong email or password');
      }
      await throttle.succeeded(email);
      return found;
    });
    const csrf = await startSession(
      ctx.db,
      reply,
      request,
      { id: user.id, orgId: user.org_id },
      ctx.config.publicUrl,
    );
    return sessionView(ctx, user.id, csrf);
  });

  app.post('/api/auth/logout', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    await endSession(ctx.db, reply, request, u.sessionHash, ctx.config.publicUrl);
    reply.code(204);
  });

  app.get('/api/auth/session', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    return sessionView(ctx, u.userId, u.csrfToken);
  });

  app.get('/api/invitations/:token', { config: { access: PUBLIC } }, async (request, reply) => {
    const { token } = parse(z.strictObject({ token: z.string().min(1).max(200) }), request.params, 'params');
    await checkInvitationAddress(request, reply);
    const inv = await ctx.db
      .selectFrom('invitations')
      .innerJoin('organizations', 'organizations.id', 'invitations.org_id')
      .select([
        'invitations.email',
        'invitations.role',
        'invitations.expires_at',
        'invitations.accepted_at',
        'organizations.name',
      ])
      .where('token_hash', '=', tokenHash(token))
      .executeTakeFirst();
    if (!inv || inv.accepted_at || inv.expires_at < nowIso()) throw unknownInvitation(request);
    return { email: inv.email, role: inv.role, organization: inv.name };
  });

  app.post('/api/invitations/accept', { config: { access: PUBLIC } }, async (request, reply) => {
    const body = parse(AcceptBody, request.body);
    const hash = tokenHash(body.token);
    await checkInvitationAddress(request, reply);
    const passwordHash = await hashPassword(body.password);
    const created = await ctx.db.transaction().execute(async (trx) => {
      const inv = await trx
        .selectFrom('invitations')
        .selectAll()
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (!inv || inv.accepted_at || inv.expires_at < nowIso()) throw unknownInvitation(request);
      if (await emailTaken(trx, inv.email)) throw conflict('that email already has an account');
      const userId = await insertUser(trx, inv.org_id, {
        email: inv.email,
        name: body.name,
        passwordHash,
        role: inv.role,
      });
      const upd = await trx
        .updateTable('invitations')
        .set({ accepted_at: nowIso() })
        .where('id', '=', inv.id)
        .where('accepted_at', 'is', null)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) throw badRequest('invitation already used');
      // Any other link of this organization for this email is used up with it: the email now has
      // its account.
      await trx
        .deleteFrom('invitations')
        .where('org_id', '=', inv.org_id)
        .where('email', '=', inv.email)
        .where('accepted_at', 'is', null)
        .execute();
      // Who joined, and with which role, is a change to the organization like an invitation sent:
      // made by the new member themselves.
      await writeAudit(trx, {
        orgId: inv.org_id,
        actor: { id: userId, label: inv.email },
        action: 'invitation.accept',
        targetType: 'invitation',
        targetId: inv.id,
        targetLabel: memberLabel({ name: body.name, email: inv.email }),
        new: { email: inv.email, name: body.name, role: inv.role },
      });
      return { userId, orgId: inv.org_id };
    });
    const csrf = await startSession(
      ctx.db,
      reply,
      request,
      { id: created.userId, orgId: created.orgId },
      ctx.config.publicUrl,
    );
    reply.code(201);
    return sessionView(ctx, created.userId, csrf);
  });
}
