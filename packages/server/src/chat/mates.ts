/** Mates (Native): name, instructions, model or the organization default. Managers edit; everyone reads. */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { writeAudit, writeAuditChange } from '../audit/index.js';
import { ANY_MEMBER, MANAGERS, userOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { badRequest, IdParams, notFound, parse } from '../http/index.js';
import { lockOrganization } from '../organizations/index.js';
import { locking, newId, nowIso, type Database, type MatesTable } from '../storage/index.js';
import { stopAnswersIn } from './runs.js';

const ModelRef = z
  .string()
  .min(1)
  .max(64)
  .nullable()
  .describe('a model id of the available list, or null for the organization default');
const CreateBody = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100),
  instructions: z.string().max(20_000).default(''),
  model: ModelRef.default(null),
});
const PatchBody = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100).optional(),
  instructions: z.string().max(20_000).optional(),
  model: ModelRef.optional(),
});

/** A Mate as the API shows it. */
export function mateView(r: MatesTable) {
  return {
    id: r.id,
    name: r.name,
    instructions: r.instructions,
    model: r.model_id,
    kind: 'native' as const,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Registers Mate routes. */
export function registerMateRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;
  /**
   * In `trx`, which holds the catalog's lock (`lockOrganization`, taken before the Mate's: the
   * lock order in index.ts): refuses a model not in the list or disabled. A model being disabled
   * meanwhile then either sees this Mate use it, or is seen disabled here.
   */
  const checkModel = async (trx: Kysely<Database>, orgId: string, model: string | null) => {
    if (model === null) return;
    const catalog = await ctx.catalogs.load(orgId, trx);
    const m = catalog.allModels.find((x) => x.id === model);
    if (!m)
      throw badRequest(
        `model: "${model}" is not in the available list (use null for the organization default)`,
      );
    if (!m.enabled) throw badRequest(`model: "${model}" is disabled`);
  };
  /** The Mate, or a 404; inside a transaction `trx`, locked until it ends (to write from it). */
  const find = async (orgId: string, id: string, trx?: Kysely<Database>) => {
    const read = (trx ?? db).selectFrom('mates').selectAll().where('org_id', '=', orgId).where('id', '=', id);
    const row = await (trx ? locking(ctx.storage.kind, read) : read).executeTakeFirst();
    if (!row) throw notFound('Mate');
    return row;
  };

  app.get('/api/mates', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('mates')
      .selectAll()
      .where('org_id', '=', u.orgId)
      .orderBy('id')
      .execute();
    return { mates: rows.map(mateView) };
  });

  app.get('/api/mates/:id', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    return mateView(await find(u.orgId, id));
  });

  app.post('/api/mates', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(CreateBody, request.body);
    const now = nowIso();
    const row: MatesTable = {
      id: newId(),
      org_id: u.orgId,
      name: body.name,
      instructions: body.instructions,
      model_id: body.model,
      created_by: u.userId,
      created_at: now,
      updated_at: now,
    };
    await db.transaction().execute(async (trx) => {
      if (body.model !== null) await lockOrganization(trx, ctx.storage.kind, u.orgId);
      await checkModel(trx, u.orgId, body.model);
      await trx.insertInto('mates').values(row).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'mate.create',
        targetType: 'mate',
        targetId: row.id,
        targetLabel: row.name,
        new: { name: row.name, model: row.model_id },
      });
    });
    reply.code(201);
    return mateView(row);
  });

  app.patch('/api/mates/:id', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const body = parse(PatchBody, request.body);
    return db.transaction().execute(async (trx) => {
      // The catalog's lock before the Mate's (index.ts), when a model is named.
      if (body.model !== undefined) await lockOrganization(trx, ctx.storage.kind, u.orgId);
      // Read in the transaction, locked: another edit that committed meanwhile keeps the fields it
      // changed, and a Mate deleted meanwhile stays deleted (404).
      const row = await find(u.orgId, id, trx);
      // Keeping the model the Mate already has is no change, even when that model has since been
      // disabled: an edit of the name must not be refused for it.
      if (body.model !== undefined && body.model !== row.model_id) await checkModel(trx, u.orgId, body.model);
      const next: MatesTable = {
        ...row,
        name: body.name ?? row.name,
        instructions: body.instructions ?? row.instructions,
        model_id: body.model === undefined ? row.model_id : body.model,
        updated_at: nowIso(),
      };
      await trx
        .updateTable('mates')
        .set({
          name: next.name,
          instructions: next.instructions,
          model_id: next.model_id,
          updated_at: next.updated_at,
        })
        .where('id', '=', id)
        .where('org_id', '=', u.orgId)
        .execute();
      // Instructions go in only when they changed (they can be long): an edit of them alone is
      // still a change to record.
      const edited = next.instructions !== row.instructions;
      await writeAuditChange(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'mate.update',
        targetType: 'mate',
        targetId: id,
        targetLabel: next.name,
        old: { name: row.name, model: row.model_id, ...(edited && { instructions: row.instructions }) },
        new: { name: next.name, model: next.model_id, ...(edited && { instructions: next.instructions }) },
      });
      return mateView(next);
    });
  });

  app.delete('/api/mates/:id', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    await find(u.orgId, id);
    // As for one conversation: its answers in flight end before their rows go.
    await stopAnswersIn(ctx, { orgId: u.orgId, mateId: id });
    await db.transaction().execute(async (trx) => {
      // The Mate, then its conversations, then their messages (the lock order in index.ts). A
      // conversation being opened with the Mate holds it shared until its insert commits, so it is
      // among those. Gone meanwhile (another delete): 404, and one entry in the audit log.
      const row = await find(u.orgId, id, trx);
      const conversations = trx
        .selectFrom('conversations')
        .select('id')
        .where('mate_id', '=', id)
        .where('org_id', '=', u.orgId)
        .orderBy('id');
      await locking(ctx.storage.kind, conversations).execute();
      await trx
        .deleteFrom('messages')
        .where(
          'conversation_id',
          'in',
          trx
            .selectFrom('conversations')
            .select('id')
            .where('mate_id', '=', id)
            .where('org_id', '=', u.orgId),
        )
        .execute();
      await trx.deleteFrom('conversations').where('mate_id', '=', id).where('org_id', '=', u.orgId).execute();
      await trx.deleteFrom('mates').where('id', '=', id).where('org_id', '=', u.orgId).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'mate.delete',
        targetType: 'mate',
        targetId: id,
        targetLabel: row.name,
        old: { name: row.name, model: row.model_id },
      });
    });
    reply.code(204);
  });
}
