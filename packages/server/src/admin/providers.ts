/** Providers: add, edit, test the connection, rotate the key (keys are write-only), remove. */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { unchanged, writeAudit, writeAuditChange } from '../audit/index.js';
import { MANAGERS, userOf } from '../auth/index.js';
import { DEFAULT_BASE_URLS } from '../catalog/index.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, HttpError, notFound, parse } from '../http/index.js';
import { lockOrganization } from '../organizations/index.js';
import {
  checkProviderUrl,
  readableHeaders,
  readableKey,
  sealHeaders,
  type SecretBox,
} from '../security/index.js';
import { locking, newId, nowIso, type Database, type ProvidersTable } from '../storage/index.js';
import { slugTaken } from './slugs.js';

/** Provider and model ids: short, URL- and log-safe. */
export const Slug = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[a-z0-9][a-z0-9._-]*$/,
    'use lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

const ProviderType = z.enum(['openai', 'azure-openai', 'anthropic', 'google', 'openai-compatible']);
const Headers = z.record(
  z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'header names are letters, digits and "-"'),
  z.string().max(1000),
);

const CreateBody = z.strictObject({
  id: Slug,
  type: ProviderType,
  label: z.string().trim().min(1).max(100),
  baseUrl: z.string().max(500).optional(),
  apiKey: z.string().min(1).max(1000).optional(),
  apiVersion: z.string().max(50).optional(),
  headers: Headers.optional(),
});
const PatchBody = z.strictObject({
  label: z.string().trim().min(1).max(100).optional(),
  baseUrl: z.string().max(500).optional(),
  apiVersion: z.string().max(50).nullable().optional(),
  headers: Headers.nullable().optional(),
  /** The key, given again with a base URL on another host (null: go without one). */
  apiKey: z.string().min(1).max(1000).nullable().optional(),
});
const KeyBody = z.strictObject({ apiKey: z.string().min(1).max(1000).nullable() });
const TestBody = z.strictObject({ model: Slug.optional() }).optional();
const ProviderParams = z.strictObject({ id: Slug });

/**
 * What the admin API gives as the base URL of a built-in simulator provider. Its stored URL is a
 * path the server puts below the simulator's own address (chosen at start, in this process), so
 * the path alone ("/p/<org id>-sim-a/v1") is nothing a reader or a client could call or recognise.
 */
export const SIMULATOR_BASE_URL = '(built-in simulator)';

/** A provider as the admin API shows it: never its key, only whether one is set. */
export function providerView(r: ProvidersTable, box: SecretBox) {
  const headers = readableHeaders(box, r.headers_json);
  return {
    id: r.slug,
    type: r.type,
    label: r.label,
    baseUrl: r.source === 'demo' ? SIMULATOR_BASE_URL : r.base_url,
    hasKey: r.api_key_enc !== null,
    /**
     * Its key or header values were sealed with another secret (an instance with another
     * UNDERSTUDY_SECRET): it is called without them until they are entered again.
     */
    needsKeyAgain: readableKey(box, r.api_key_enc) === undefined || headers === undefined,
    apiVersion: r.api_version,
    /** Header names only: values may be credentials. */
    headerNames: Object.keys(headers ?? {}),
    source: r.source,
    builtin: r.source === 'demo',
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Registers provider routes. */
export function registerProviderRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;
  /** The provider's row, or a 404; inside a transaction `trx`, locked until it ends (to write from it). */
  const find = async (orgId: string, slug: string, trx?: Kysely<Database>) => {
    const read = (trx ?? db)
      .selectFrom('providers')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('slug', '=', slug);
    const row = await (trx ? locking(ctx.storage.kind, read) : read).executeTakeFirst();
    if (!row) throw notFound(`provider "${slug}"`);
    return row;
  };
  const checkUrl = async (url: string, allowPrivate: boolean) => {
    const v = await checkProviderUrl(url, {
      allowPrivate: allowPrivate || ctx.config.allowPrivateProviderUrls,
    });
    if (!v.ok) throw badRequest(v.message, 'unsafe_url');
    return v.url.toString().replace(/\/$/, '');
  };

  /**
   * A new base URL for `row`, checked. An operator-declared provider's URL is set again from the
   * environment or the configuration file at every start, and only the operator may point it at a
   * private address: it is changed there, not here. On another host (scheme, host or port), the
   * stored key and header values are never sent there: the same request must give them again (null
   * to go without), or an admin could read the key at a host of their own.
   */
  const newBaseUrl = async (row: ProvidersTable, body: z.infer<typeof PatchBody>): Promise<string> => {
    if (row.source === 'config' || row.source === 'env')
      throw badRequest(
        `provider "${row.slug}" is declared by the operator (${row.source === 'env' ? 'in the environment' : 'in UNDERSTUDY_CONFIG'}): its URL is changed there`,
        'operator_provider',
      );
    const url = await checkUrl(body.baseUrl ?? '', false);
    if (new URL(url).origin === new URL(row.base_url).origin) return url;
    const missing = [
      ...(row.api_key_enc !== null && body.apiKey === undefined ? ['apiKey'] : []),
      ...(row.headers_json !== null && body.headers === undefined ? ['headers'] : []),
    ];
    if (missing.length > 0) {
      const stored = missing.map((m) => (m === 'apiKey' ? 'key' : 'header values')).join(' and ');
      const are = stored === 'key' ? 'is' : 'are';
      throw badRequest(
        `the stored ${stored} of "${row.slug}" ${are} not sent to another host: give ${missing.join(' and ')} for ${new URL(url).origin} in the same request (null to go without)`,
        'credentials_required',
      );
    }
    return url;
  };

  app.get('/api/admin/providers', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const rows = await db
      .selectFrom('providers')
      .selectAll()
      .where('org_id', '=', u.orgId)
      .orderBy('id')
      .execute();
    return { providers: rows.map((r) => providerView(r, ctx.box)) };
  });

  app.post('/api/admin/providers', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(CreateBody, request.body);
    const rawUrl = body.baseUrl ?? DEFAULT_BASE_URLS[body.type];
    if (!rawUrl) throw badRequest(`baseUrl is required for type ${body.type}`);
    const baseUrl = await checkUrl(rawUrl, false);
    const now = nowIso();
    const row: ProvidersTable = {
      id: newId(),
      org_id: u.orgId,
      slug: body.id,
      type: body.type,
      label: body.label,
      base_url: baseUrl,
      api_key_enc: body.apiKey ? ctx.box.seal(body.apiKey) : null,
      api_version: body.apiVersion ?? null,
      headers_json: sealHeaders(ctx.box, body.headers),
      source: 'admin',
      allow_private: 0,
      created_at: now,
      updated_at: now,
    };
    await db.transaction().execute(async (trx) => {
      // Under the catalog's lock: the same provider added twice at once (a double click) is one 201
      // and one 409, not a failed insert.
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      if (await slugTaken(trx, 'providers', u.orgId, body.id))
        throw conflict(`a provider with id "${body.id}" already exists`);
      await trx.insertInto('providers').values(row).execute();
      const { hasKey, id, type, label, baseUrl: url, headerNames } = providerView(row, ctx.box);
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'provider.create',
        targetType: 'provider',
        targetId: id,
        new: { id, type, label, baseUrl: url, hasKey, headerNames },
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    reply.code(201);
    return providerView(row, ctx.box);
  });

  app.patch('/api/admin/providers/:id', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(ProviderParams, request.params, 'params');
    const body = parse(PatchBody, request.body);
    const seen = await find(u.orgId, id);
    // The simulator's providers are rewritten from the built-in set at every start: an edit would
    // not last, so none is taken.
    if (seen.source === 'demo' && (body.baseUrl !== undefined || body.label !== undefined))
      throw badRequest('the built-in simulator providers keep their name and URL');
    const set: Partial<ProvidersTable> = { updated_at: nowIso() };
    if (body.label !== undefined) set.label = body.label;
    if (body.baseUrl !== undefined && body.baseUrl.trim().replace(/\/+$/, '') !== seen.base_url)
      set.base_url = await newBaseUrl(seen, body);
    if (body.apiVersion !== undefined) set.api_version = body.apiVersion;
    if (body.headers !== undefined) set.headers_json = sealHeaders(ctx.box, body.headers);
    if (body.apiKey !== undefined) set.api_key_enc = body.apiKey ? ctx.box.seal(body.apiKey) : null;
    const next = await db.transaction().execute(async (trx) => {
      // Read again, locked: a provider deleted meanwhile is a 404 (not an edit recorded after its
      // delete), and the entry's "old" is what this edit changed.
      const row = await find(u.orgId, id, trx);
      const next = { ...row, ...set };
      await trx.updateTable('providers').set(set).where('id', '=', row.id).execute();
      const pick = (v: ReturnType<typeof providerView>) => ({
        label: v.label,
        baseUrl: v.baseUrl,
        apiVersion: v.apiVersion,
        // Sorted: the same headers given in another order are no change.
        headerNames: [...v.headerNames].sort(),
      });
      // Header values may be credentials, so the entry never holds them; an edit of them alone
      // (same names) is still a change, recorded as such.
      const headers = (r: ProvidersTable) => readableHeaders(ctx.box, r.headers_json);
      const headerValues = unchanged(headers(row), headers(next)) ? {} : { headerValues: 'changed' };
      // Like the key route: whether a key is set, never what it is.
      const key = body.apiKey === undefined ? {} : { hasKey: next.api_key_enc !== null, key: 'given again' };
      await writeAuditChange(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'provider.update',
        targetType: 'provider',
        targetId: id,
        old: {
          ...pick(providerView(row, ctx.box)),
          ...(body.apiKey !== undefined && { hasKey: row.api_key_enc !== null }),
        },
        new: { ...pick(providerView(next, ctx.box)), ...headerValues, ...key },
      });
      return next;
    });
    ctx.catalogs.invalidate(u.orgId);
    if (set.base_url !== undefined || set.api_key_enc !== undefined)
      await ctx.healthFor(u.orgId).reset({ scope: 'provider', id });
    return providerView(next, ctx.box);
  });

  app.put('/api/admin/providers/:id/key', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(ProviderParams, request.params, 'params');
    const { apiKey } = parse(KeyBody, request.body);
    const sealed = apiKey ? ctx.box.seal(apiKey) : null;
    const updatedAt = nowIso();
    const row = await db.transaction().execute(async (trx) => {
      // Read in the transaction, locked: a provider deleted meanwhile is a 404.
      const row = await find(u.orgId, id, trx);
      await trx
        .updateTable('providers')
        .set({ api_key_enc: sealed, updated_at: updatedAt })
        .where('id', '=', row.id)
        .execute();
      // The audit says that the key changed, never what it is. Removing a key where there is none is
      // no change.
      if (row.api_key_enc === null && sealed === null) return row;
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'provider.rotate_key',
        targetType: 'provider',
        targetId: id,
        old: { hasKey: row.api_key_enc !== null },
        new: { hasKey: sealed !== null },
      });
      return row;
    });
    ctx.catalogs.invalidate(u.orgId);
    // A new key may fix a provider flagged as misconfigured: forget what health memory knew.
    await ctx.healthFor(u.orgId).reset({ scope: 'provider', id });
    return providerView({ ...row, api_key_enc: sealed, updated_at: updatedAt }, ctx.box);
  });

  app.post('/api/admin/providers/:id/test', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(ProviderParams, request.params, 'params');
    const body = parse(TestBody, request.body ?? undefined, 'body') ?? {};
    await find(u.orgId, id);
    const catalog = await ctx.catalogs.get(u.orgId);
    const provider = catalog.providers.find((p) => p.id === id);
    if (!provider)
      throw new HttpError(409, 'conflict', `provider "${id}" is not active (the built-in simulator is off)`);
    const model = body.model
      ? catalog.allModels.find((m) => m.id === body.model && m.providerId === id)
      : catalog.allModels.find((m) => m.providerId === id && m.enabled);
    if (body.model && !model) throw notFound(`model "${body.model}" of provider "${id}"`);
    const signal = AbortSignal.timeout(15_000);
    const result = await ctx.testConnection(provider, model, signal);
    // The test is a real request, so health memory learns from it like from any other: a success
    // closes the breakers an outage left open (no waiting for the next member's request to probe),
    // a failure counts.
    if (model) {
      const health = ctx.healthFor(u.orgId);
      const target = { providerId: id, modelId: model.id };
      if (result.ok) await health.recordSuccess(target, result.latencyMs);
      else await health.recordFailure(target, result.error);
    }
    return { provider: id, model: model?.id ?? null, ...result };
  });

  app.delete('/api/admin/providers/:id', { config: { access: MANAGERS } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(ProviderParams, request.params, 'params');
    await db.transaction().execute(async (trx) => {
      // Under the catalog's lock: a model being added to this provider either is seen here (409)
      // or, added after, finds no provider.
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      const row = await find(u.orgId, id, trx);
      const models = await trx
        .selectFrom('models')
        .select('slug')
        .where('org_id', '=', u.orgId)
        .where('provider_slug', '=', id)
        .execute();
      if (models.length > 0)
        throw conflict(`remove its models first: ${models.map((m) => m.slug).join(', ')}`);
      await trx.deleteFrom('providers').where('id', '=', row.id).execute();
      await writeAudit(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'provider.delete',
        targetType: 'provider',
        targetId: id,
        old: { type: row.type, label: row.label },
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    reply.code(204);
  });
}
