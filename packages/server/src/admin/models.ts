/** The available list: add, edit facts, enable/disable, order, remove; and the built-in catalog. */
import type { Capability, ModelConfig } from '@understudy/engine';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { writeAudit, writeAuditChange } from '../audit/index.js';
import { ANY_MEMBER, MANAGERS, userOf } from '../auth/index.js';
import { BUILTIN_MODELS, builtinFacts, modelFromRow } from '../catalog/index.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, notFound, parse } from '../http/index.js';
import { lockOrganization } from '../organizations/index.js';
import { locking, newId, nowIso, type Database, type ModelsTable } from '../storage/index.js';
import { Slug } from './providers.js';
import { modelInSettingsRefusal, refusalError } from './settings-rules.js';
import { slugTaken } from './slugs.js';

/** A list of distinct values, first occurrence kept: a tag twice says no more than once. */
const distinct = <T>(xs: T[]): T[] => [...new Set(xs)];
const Capabilities = z
  .array(z.enum(['vision', 'tools', 'json', 'prefill', 'reasoning']))
  .max(20)
  .transform(distinct);
const Tags = z.array(z.string().trim().min(1).max(50)).max(20).transform(distinct);
const Timeouts = z.strictObject({
  connectMs: z.number().int().min(100).max(600_000).optional(),
  firstTokenMs: z.number().int().min(100).max(600_000).optional(),
  stallMs: z.number().int().min(100).max(600_000).optional(),
});
const Facts = {
  label: z.string().trim().min(1).max(100),
  tier: z.number().int().min(0).max(100),
  contextWindow: z.number().int().min(1).max(100_000_000).nullable(),
  maxOutputTokens: z.number().int().min(1).max(10_000_000).nullable(),
  capabilities: Capabilities,
  tags: Tags,
  timeouts: Timeouts.nullable(),
  enabled: z.boolean(),
};
const CreateBody = z.strictObject({
  id: Slug,
  provider: Slug,
  upstreamModel: z.string().trim().min(1).max(200),
  label: Facts.label.optional(),
  tier: Facts.tier.optional(),
  contextWindow: Facts.contextWindow.optional(),
  maxOutputTokens: Facts.maxOutputTokens.optional(),
  capabilities: Facts.capabilities.optional(),
  tags: Facts.tags.optional(),
  timeouts: Facts.timeouts.optional(),
  enabled: Facts.enabled.optional(),
});
const PatchBody = z.strictObject({
  label: Facts.label.optional(),
  upstreamModel: z.string().trim().min(1).max(200).optional(),
  tier: Facts.tier.optional(),
  contextWindow: Facts.contextWindow.optional(),
  maxOutputTokens: Facts.maxOutputTokens.optional(),
  capabilities: Facts.capabilities.optional(),
  tags: Facts.tags.optional(),
  timeouts: Facts.timeouts.optional(),
  enabled: Facts.enabled.optional(),
});
const OrderBody = z.strictObject({ ids: z.array(Slug).min(1).max(1000) });
const ModelParams = z.strictObject({ id: Slug });

/** A model as the admin API shows it. */
export function modelView(m: ModelConfig) {
  return {
    id: m.id,
    provider: m.providerId,
    upstreamModel: m.upstreamModel,
    label: m.label,
    tier: m.tier,
    contextWindow: m.contextWindow ?? null,
    maxOutputTokens: m.maxOutputTokens ?? null,
    capabilities: m.capabilities,
    tags: m.tags,
    timeouts: m.timeouts ?? null,
    enabled: m.enabled,
  };
}

/** Inserts or updates a model row by (org, slug), keeping its position when it exists. Used by bootstrap too. */
export async function upsertModel(
  db: Kysely<Database>,
  orgId: string,
  m: ModelConfig,
  source: ModelsTable['source'],
): Promise<'created' | 'updated' | 'unchanged'> {
  const existing = await db
    .selectFrom('models')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('slug', '=', m.id)
    .executeTakeFirst();
  const now = nowIso();
  const values = {
    provider_slug: m.providerId,
    upstream_model: m.upstreamModel,
    label: m.label,
    tier: m.tier,
    context_window: m.contextWindow ?? null,
    max_output_tokens: m.maxOutputTokens ?? null,
    capabilities_json: JSON.stringify(m.capabilities),
    tags_json: JSON.stringify(m.tags),
    timeouts_json: m.timeouts ? JSON.stringify(m.timeouts) : null,
    enabled: m.enabled ? 1 : 0,
  };
  if (!existing) {
    const last = await db
      .selectFrom('models')
      .select('position')
      .where('org_id', '=', orgId)
      .orderBy('position', 'desc')
      .limit(1)
      .executeTakeFirst();
    await db
      .insertInto('models')
      .values({
        id: newId(),
        org_id: orgId,
        slug: m.id,
        ...values,
        position: (last?.position ?? -1) + 1,
        source,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return 'created';
  }
  const same = (Object.keys(values) as (keyof typeof values)[]).every((k) => existing[k] === values[k]);
  if (same) return 'unchanged';
  await db
    .updateTable('models')
    .set({ ...values, updated_at: now })
    .where('id', '=', existing.id)
    .execute();
  return 'updated';
}

/** Registers model routes. */
export function registerModelRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;
  const actor = (u: ReturnType<typeof userOf>) => ({ id: u.userId, label: u.email });
  /** The model's row, or a 404; inside a transaction `trx`, locked until it ends (to write from it). */
  const findRow = async (orgId: string, slug: string, trx?: Kysely<Database>) => {
    const read = (trx ?? db)
      .selectFrom('models')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('slug', '=', slug);
    const row = await (trx ? locking(ctx.storage.kind, read) : read).executeTakeFirst();
    if (!row) throw notFound(`model "${slug}"`);
    return row;
  };
  /** The models the settings name (a Specific Fallback Model only in that mode). */
  const settingsOf = async (orgId: string, trx: Kysely<Database>) => {
    const org = await trx
      .selectFrom('organizations')
      .select(['default_model_id', 'fallback_mode', 'fallback_model_id'])
      .where('id', '=', orgId)
      .executeTakeFirstOrThrow();
    return {
      defaultModelId: org.default_model_id,
      fallbackModelId: org.fallback_mode === 'specific' ? org.fallback_model_id : null,
    };
  };

  // A Mate whose model is disabled or gone cannot answer at all (no fallback starts from nothing),
  // so neither is allowed while a Mate names the model.
  const refuseIfMatesUse = async (orgId: string, slug: string, trx: Kysely<Database>) => {
    const mates = await trx
      .selectFrom('mates')
      .select('name')
      .where('org_id', '=', orgId)
      .where('model_id', '=', slug)
      .execute();
    if (mates.length)
      throw conflict(
        `Mates use this model: ${mates.map((m) => m.name).join(', ')}; change their model first`,
      );
  };

  app.get('/api/admin/models', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('models')
      .selectAll()
      .where('org_id', '=', u.orgId)
      .orderBy('position')
      .orderBy('id')
      .execute();
    return { models: rows.map((r) => modelView(modelFromRow(r))) };
  });

  app.get('/api/admin/catalog', { config: { access: MANAGERS } }, async () => ({ models: BUILTIN_MODELS }));

  // Members pick a Mate's model from the enabled list, so they see it (without provider details).
  app.get('/api/models', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const catalog = await ctx.catalogs.get(u.orgId);
    return {
      defaultModel: catalog.defaultModelId || null,
      models: catalog.models.map((m) => ({
        id: m.id,
        label: m.label,
        tier: m.tier,
        capabilities: m.capabilities,
      })),
    };
  });

  app.post('/api/admin/models', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(CreateBody, request.body);
    const known = builtinFacts(body.upstreamModel);
    const tier = body.tier ?? known?.tier;
    if (tier === undefined)
      throw badRequest(`tier: required, "${body.upstreamModel}" is not in the built-in catalog`);
    const m: ModelConfig = {
      id: body.id,
      providerId: body.provider,
      upstreamModel: body.upstreamModel,
      label: body.label ?? known?.label ?? body.id,
      tier,
      capabilities: body.capabilities ?? known?.capabilities ?? ([] as Capability[]),
      tags: body.tags ?? [],
      enabled: body.enabled ?? true,
    };
    const cw = body.contextWindow === undefined ? known?.contextWindow : body.contextWindow;
    if (cw != null) m.contextWindow = cw;
    const mo = body.maxOutputTokens === undefined ? known?.maxOutputTokens : body.maxOutputTokens;
    if (mo != null) m.maxOutputTokens = mo;
    if (body.timeouts) m.timeouts = body.timeouts;
    await db.transaction().execute(async (trx) => {
      // Under the catalog's lock: a provider deleted meanwhile is not found here (rather than
      // leaving a model without its provider), and the same model added twice at once is a 409.
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      if (!(await slugTaken(trx, 'providers', u.orgId, body.provider)))
        throw badRequest(`provider: "${body.provider}" is not a provider of this organization`);
      if (await slugTaken(trx, 'models', u.orgId, body.id))
        throw conflict(`a model with id "${body.id}" already exists`);
      await upsertModel(trx, u.orgId, m, 'admin');
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actor(u),
        action: 'model.create',
        targetType: 'model',
        targetId: m.id,
        new: modelView(m),
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    reply.code(201);
    return modelView(m);
  });

  app.patch('/api/admin/models/:id', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(ModelParams, request.params, 'params');
    const body = parse(PatchBody, request.body);
    const after = await db.transaction().execute(async (trx) => {
      // Under the catalog's lock, the row read again, locked: another edit that committed
      // meanwhile keeps the fields it changed, a model deleted meanwhile stays deleted (404; the
      // write would have added it back), and a setting or a Mate that took this model meanwhile
      // is seen before it is disabled.
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      const row = await findRow(u.orgId, id, trx);
      const before = modelFromRow(row);
      if (body.enabled === false && before.enabled) {
        const refusal = modelInSettingsRefusal(id, await settingsOf(u.orgId, trx), 'before disabling it');
        if (refusal) throw refusalError(409, 'conflict', refusal);
        await refuseIfMatesUse(u.orgId, id, trx);
      }
      const after: ModelConfig = { ...before };
      if (body.label !== undefined) after.label = body.label;
      if (body.upstreamModel !== undefined) after.upstreamModel = body.upstreamModel;
      if (body.tier !== undefined) after.tier = body.tier;
      if (body.capabilities !== undefined) after.capabilities = body.capabilities;
      if (body.tags !== undefined) after.tags = body.tags;
      if (body.enabled !== undefined) after.enabled = body.enabled;
      if (body.contextWindow !== undefined) {
        if (body.contextWindow === null) delete after.contextWindow;
        else after.contextWindow = body.contextWindow;
      }
      if (body.maxOutputTokens !== undefined) {
        if (body.maxOutputTokens === null) delete after.maxOutputTokens;
        else after.maxOutputTokens = body.maxOutputTokens;
      }
      if (body.timeouts !== undefined) {
        if (body.timeouts === null) delete after.timeouts;
        else after.timeouts = body.timeouts;
      }
      await upsertModel(trx, u.orgId, after, row.source);
      await writeAuditChange(trx, {
        orgId: u.orgId,
        actor: actor(u),
        action: 'model.update',
        targetType: 'model',
        targetId: id,
        old: modelView(before),
        new: modelView(after),
      });
      return after;
    });
    ctx.catalogs.invalidate(u.orgId);
    return modelView(after);
  });

  app.put('/api/admin/models/order', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { ids } = parse(OrderBody, request.body);
    const rows = await db
      .selectFrom('models')
      .select(['id', 'slug', 'position'])
      .where('org_id', '=', u.orgId)
      .orderBy('position')
      .orderBy('id')
      .execute();
    const have = new Set(rows.map((r) => r.slug));
    const given = new Set(ids);
    if (given.size !== ids.length) throw badRequest('ids: each model must appear once');
    const missing = [...have].filter((s) => !given.has(s));
    const unknown = ids.filter((s) => !have.has(s));
    if (unknown.length) throw badRequest(`ids: unknown model(s) ${unknown.join(', ')}`);
    if (missing.length) throw badRequest(`ids: list every model; missing ${missing.join(', ')}`);
    await db.transaction().execute(async (trx) => {
      for (const [i, slug] of ids.entries()) {
        await trx
          .updateTable('models')
          .set({ position: i })
          .where('org_id', '=', u.orgId)
          .where('slug', '=', slug)
          .execute();
      }
      await writeAuditChange(trx, {
        orgId: u.orgId,
        actor: actor(u),
        action: 'model.order',
        targetType: 'models',
        targetId: null,
        old: rows.map((r) => r.slug),
        new: ids,
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    return { ids };
  });

  app.delete('/api/admin/models/:id', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(ModelParams, request.params, 'params');
    await db.transaction().execute(async (trx) => {
      // Under the catalog's lock (as for disabling it). Gone meanwhile (another delete): 404, and
      // one entry in the audit log.
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      const row = await findRow(u.orgId, id, trx);
      const refusal = modelInSettingsRefusal(id, await settingsOf(u.orgId, trx), 'first');
      if (refusal) throw refusalError(409, 'conflict', refusal);
      await refuseIfMatesUse(u.orgId, id, trx);
      await trx.deleteFrom('models').where('id', '=', row.id).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: actor(u),
        action: 'model.delete',
        targetType: 'model',
        targetId: id,
        old: modelView(modelFromRow(row)),
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    reply.code(204);
  });
}
