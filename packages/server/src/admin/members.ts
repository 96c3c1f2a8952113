/** Members, invitations and API keys of an organization (Owners and Admins). */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { memberLabel, writeAudit } from '../audit/index.js';
import { MANAGERS, userOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { conflict, forbidden, IdParams, notFound, parse } from '../http/index.js';
import { emailTaken, normalizeEmail } from '../organizations/index.js';
import { randomToken, tokenHash } from '../security/index.js';
import { locking, newId, nowIso, type Database } from '../storage/index.js';

const RoleSchema = z.enum(['owner', 'admin', 'member']);
const RoleBody = z.strictObject({ role: RoleSchema });
const InviteBody = z.strictObject({
  email: z.string().trim().email('must be an email address').max(254),
  role: RoleSchema,
});
const KeyBody = z.strictObject({ name: z.string().trim().min(1, 'must not be empty').max(100) });
/** `?keepApiKeys=true` keeps the removed member's API keys working (revoked by default). */
const RemoveQuery = z.strictObject({ keepApiKeys: z.enum(['true', 'false']).optional() });
const INVITE_DAYS = 7;

/** Registers member, invitation and API key routes. */
export function registerMemberRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;
  const actorOf = (u: ReturnType<typeof userOf>) => ({ id: u.userId, label: u.email });

  /**
   * In `trx`: the member `id` (or a 404) and how many Owners there are, the Owners' rows locked (in
   * id order) and then the member's, so that two changes that could each leave the organization
   * without an Owner (two Owners demoting or removing each other) wait for each other.
   */
  const lockForChange = async (trx: Kysely<Database>, orgId: string, id: string) => {
    const owners = trx
      .selectFrom('users')
      .select('id')
      .where('org_id', '=', orgId)
      .where('role', '=', 'owner')
      .orderBy('id');
    const ownerCount = (await locking(ctx.storage.kind, owners).execute()).length;
    const read = trx
      .selectFrom('users')
      .select(['id', 'role', 'email', 'name'])
      .where('id', '=', id)
      .where('org_id', '=', orgId);
    const target = await locking(ctx.storage.kind, read).executeTakeFirst();
    if (!target) throw notFound('member');
    return { target, ownerCount };
  };

  app.get('/api/admin/members', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('users')
      .select(['id', 'email', 'name', 'role', 'created_at'])
      .where('org_id', '=', u.orgId)
      .orderBy('id')
      .execute();
    // What removing a member would revoke: the page says so before the admin confirms.
    const keys = await db
      .selectFrom('api_keys')
      .select(['created_by', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('org_id', '=', u.orgId)
      .where('revoked_at', 'is', null)
      .where('created_by', 'is not', null)
      .groupBy('created_by')
      .execute();
    const keysBy = new Map(keys.map((k) => [k.created_by, Number(k.n)]));
    return {
      members: rows.map((r) => ({
        id: r.id,
        email: r.email,
        name: r.name,
        role: r.role,
        createdAt: r.created_at,
        activeApiKeys: keysBy.get(r.id) ?? 0,
      })),
    };
  });

  app.patch('/api/admin/members/:id', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const { role } = parse(RoleBody, request.body);
    await db.transaction().execute(async (trx) => {
      const { target, ownerCount } = await lockForChange(trx, u.orgId, id);
      if (u.role !== 'owner' && (target.role === 'owner' || role === 'owner'))
        throw forbidden('only an Owner can grant or change the Owner role');
      if (target.role === 'owner' && role !== 'owner' && ownerCount <= 1)
        throw conflict('the organization must keep at least one Owner');
      if (target.role === role) return;
      await trx
        .updateTable('users')
        .set({ role })
        .where('id', '=', id)
        .where('org_id', '=', u.orgId)
        .execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'member.role',
        targetType: 'member',
        targetId: id,
        targetLabel: memberLabel(target),
        old: { email: target.email, role: target.role },
        new: { email: target.email, role },
      });
    });
    return { id, role };
  });

  app.delete('/api/admin/members/:id', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const keep = parse(RemoveQuery, request.query, 'query').keepApiKeys === 'true';
    const apiKeys = await db.transaction().execute(async (trx) => {
      const { target, ownerCount } = await lockForChange(trx, u.orgId, id);
      // Signing oneself out of the organization for good is not an admin action; another Owner or
      // Admin does it (and the last Owner can never go).
      if (id === u.userId) throw conflict('you cannot remove yourself; ask another Owner or Admin');
      if (target.role === 'owner' && u.role !== 'owner') throw forbidden('only an Owner can remove an Owner');
      if (target.role === 'owner' && ownerCount <= 1)
        throw conflict('the organization must keep at least one Owner');
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      // The account is removed; its conversations stay with the organization (user_id kept for the record).
      await trx.deleteFrom('users').where('id', '=', id).where('org_id', '=', u.orgId).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'member.remove',
        targetType: 'member',
        targetId: id,
        targetLabel: memberLabel(target),
        old: { email: target.email, role: target.role },
      });
      // The keys they created: they saw each one once and may still hold it, so by default the keys
      // go with them (each revocation in the audit log); `keepApiKeys` leaves an integration running.
      const active = await trx
        .selectFrom('api_keys')
        .select(['id', 'name', 'prefix'])
        .where('org_id', '=', u.orgId)
        .where('created_by', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      if (keep || active.length === 0) return { revoked: 0, kept: active.length };
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: nowIso(), revoked_by: 'admin' })
        .where(
          'id',
          'in',
          active.map((k) => k.id),
        )
        .execute();
      for (const k of active)
        await writeAudit(trx, {
          orgId: u.orgId,
          actor: actorOf(u),
          action: 'api_key.revoke',
          targetType: 'api_key',
          targetId: k.id,
          targetLabel: k.name,
          old: { name: k.name, prefix: k.prefix },
        });
      return { revoked: active.length, kept: 0 };
    });
    // As for a key revoked by hand: every instance drops its cached keys before the answer.
    if (apiKeys.revoked > 0) ctx.catalogs.invalidate(u.orgId);
    return { id, apiKeys };
  });

  app.get('/api/admin/invitations', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('invitations')
      .select(['id', 'email', 'role', 'created_at', 'expires_at'])
      .where('org_id', '=', u.orgId)
      .where('accepted_at', 'is', null)
      .orderBy('id')
      .execute();
    return {
      invitations: rows.map((r) => ({
        id: r.id,
        email: r.email,
        role: r.role,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      })),
    };
  });

  app.post('/api/admin/invitations', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(InviteBody, request.body);
    if (body.role === 'owner' && u.role !== 'owner') throw forbidden('only an Owner can invite an Owner');
    if (await emailTaken(db, body.email)) throw conflict('that email already has an account');
    const token = randomToken('inv_', 24);
    const id = newId();
    const expiresAt = new Date(Date.now() + INVITE_DAYS * 86_400_000).toISOString();
    const email = normalizeEmail(body.email);
    await db.transaction().execute(async (trx) => {
      // Inviting an email again replaces its pending invitation (a lost link, another role): one
      // person, one valid link.
      const replaced = await trx
        .selectFrom('invitations')
        .select(['id', 'role'])
        .where('org_id', '=', u.orgId)
        .where('email', '=', email)
        .where('accepted_at', 'is', null)
        .execute();
      if (replaced.length)
        await trx
          .deleteFrom('invitations')
          .where(
            'id',
            'in',
            replaced.map((r) => r.id),
          )
          .execute();
      await trx
        .insertInto('invitations')
        .values({
          id,
          org_id: u.orgId,
          email,
          role: body.role,
          token_hash: tokenHash(token),
          created_by: u.userId,
          created_at: nowIso(),
          expires_at: expiresAt,
          accepted_at: null,
        })
        .execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'invitation.create',
        targetType: 'invitation',
        targetId: id,
        targetLabel: email,
        ...(replaced[0] && { old: { email, role: replaced[0].role, replaced: true } }),
        new: { email, role: body.role },
      });
    });
    const base = ctx.config.publicUrl ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;
    reply.code(201);
    return {
      id,
      email,
      role: body.role,
      expiresAt,
      token,
      acceptUrl: `${base.replace(/\/$/, '')}/invite/${token}`,
    };
  });

  app.delete('/api/admin/invitations/:id', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const inv = await db
      .selectFrom('invitations')
      .select(['email', 'role'])
      .where('id', '=', id)
      .where('org_id', '=', u.orgId)
      .where('accepted_at', 'is', null)
      .executeTakeFirst();
    if (!inv) throw notFound('invitation');
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('invitations').where('id', '=', id).where('org_id', '=', u.orgId).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'invitation.revoke',
        targetType: 'invitation',
        targetId: id,
        targetLabel: inv.email,
        old: inv,
      });
    });
    reply.code(204);
  });

  app.get('/api/admin/api-keys', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('api_keys')
      .leftJoin('users', 'users.id', 'api_keys.created_by')
      .selectAll('api_keys')
      .select('users.name as creator_name')
      .where('api_keys.org_id', '=', u.orgId)
      .where('api_keys.revoked_at', 'is', null)
      .orderBy('api_keys.id')
      .execute();
    // A creator no longer a member is named as the audit log recorded their removal.
    const gone = [
      ...new Set(rows.filter((r) => r.created_by && r.creator_name === null).map((r) => r.created_by)),
    ];
    const removed = new Map<string | null, string | null>();
    if (gone.length > 0) {
      const entries = await db
        .selectFrom('audit_log')
        .select(['target_id', 'target_label'])
        .where('org_id', '=', u.orgId)
        .where('action', '=', 'member.remove')
        .where('target_id', 'in', gone)
        .execute();
      for (const e of entries) removed.set(e.target_id, e.target_label);
    }
    return {
      apiKeys: rows.map((r) => ({
        id: r.id,
        name: r.name,
        prefix: r.prefix,
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
        // null: the bootstrap file made it (no member did); `removed`: its creator has left.
        createdBy: r.created_by
          ? r.creator_name !== null
            ? { id: r.created_by, name: r.creator_name, removed: false }
            : { id: r.created_by, name: removed.get(r.created_by) ?? null, removed: true }
          : null,
      })),
    };
  });

  app.post('/api/admin/api-keys', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { name } = parse(KeyBody, request.body);
    const key = randomToken('us-', 32);
    const id = newId();
    const prefix = key.slice(0, 10);
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('api_keys')
        .values({
          id,
          org_id: u.orgId,
          name,
          prefix,
          key_hash: tokenHash(key),
          created_by: u.userId,
          created_at: nowIso(),
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'api_key.create',
        targetType: 'api_key',
        targetId: id,
        targetLabel: name,
        new: { name, prefix },
      });
    });
    reply.code(201);
    // The only time the key is shown: it is stored as a hash.
    return { id, name, prefix, key };
  });

  app.delete('/api/admin/api-keys/:id', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const row = await db
      .selectFrom('api_keys')
      .select(['name', 'prefix'])
      .where('id', '=', id)
      .where('org_id', '=', u.orgId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw notFound('API key');
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: nowIso(), revoked_by: 'admin' })
        .where('id', '=', id)
        .where('org_id', '=', u.orgId)
        .execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actorOf(u),
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: id,
        targetLabel: row.name,
        old: row,
      });
    });
    // After the commit, before the reply: every instance drops its cached keys of this organization,
    // so the revoked key is refused from the very next request.
    ctx.catalogs.invalidate(u.orgId);
    reply.code(204);
  });
}
