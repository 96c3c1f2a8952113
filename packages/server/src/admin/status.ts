/** Audit log, fallback activity, provider status (live health) and the demo outage switch. */
import type { CircuitView } from '@understudy/engine';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fallbackActivity } from '../activity/index.js';
import { listAudit, writeAuditChange } from '../audit/index.js';
import { MANAGERS, userOf } from '../auth/index.js';
import { DEMO_FAULTS, type AppContext } from '../context.js';
import { conflict, cursorParam, notFound, parse } from '../http/index.js';
import { Slug } from './providers.js';

const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** The `next` of the previous page: entries older than that entry id. */
  before: z
    .string()
    .regex(/^[0-9a-z]{1,100}$/, 'the `next` of a previous page')
    .optional(),
});
const ActivityQuery = z.strictObject({
  /** Days of counts per provider per day (events page back past them). */
  days: z.coerce.number().int().min(1).max(365).default(14),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  /** The `next` of the previous page: events older than its last one. */
  before: cursorParam.optional(),
});
const OutageBody = z.strictObject({ fault: z.enum([...DEMO_FAULTS, 'none']) });

/** The health of one breaker as the status view shows it. */
function circuitView(v: CircuitView) {
  return {
    state: v.state,
    reason: v.reason ?? null,
    lastError: v.lastError ?? null,
    openedAt: v.openedAt ? new Date(v.openedAt).toISOString() : null,
    retryAt: v.retryAt ? new Date(v.retryAt).toISOString() : null,
    consecutiveFailures: v.consecutiveFailures,
    recentFailures: v.recentFailures,
    recentSuccesses: v.recentSuccesses,
    latencyMs: v.latencyMs ?? null,
    /** 401/402/403/404 at the provider: a key, billing or model name to fix. */
    misconfigured: v.reason === 'provider_misconfigured',
  };
}

/** Registers the status routes. */
export function registerStatusRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/admin/audit', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const q = parse(AuditQuery, request.query, 'query');
    return listAudit(ctx.db, u.orgId, q);
  });

  app.get('/api/admin/fallback-activity', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const q = parse(ActivityQuery, request.query, 'query');
    // Events are written behind the answer: commit this instance's first, so none is missing.
    await ctx.fallbacks.flush();
    return fallbackActivity(ctx.db, u.orgId, q);
  });

  app.get('/api/admin/provider-status', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const catalog = await ctx.catalogs.get(u.orgId);
    const health = ctx.healthFor(u.orgId);
    const providers = await Promise.all(
      catalog.providers.map(async (p) => {
        const models = catalog.allModels.filter((m) => m.providerId === p.id);
        const checks = await Promise.all(
          models.map((m) => health.check({ providerId: p.id, modelId: m.id })),
        );
        const providerHealth =
          checks[0]?.provider ?? (await health.check({ providerId: p.id, modelId: '-' })).provider;
        const simName = ctx.demo ? ctx.demo.simName(u.orgId, p.id) : undefined;
        return {
          id: p.id,
          label: p.label,
          type: p.type,
          health: circuitView(providerHealth),
          demoOutage: simName && ctx.demo ? (ctx.demo.outage(simName) ?? null) : null,
          models: models.map((m, i) => ({
            id: m.id,
            label: m.label,
            enabled: m.enabled,
            health: circuitView((checks[i] ?? checks[0])!.model),
            available: checks[i]?.available ?? true,
          })),
        };
      }),
    );
    return { providers };
  });

  app.get('/api/admin/demo', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    if (!ctx.demo) return { enabled: false, providers: [], faults: DEMO_FAULTS };
    const demo = ctx.demo;
    const rows = await ctx.db
      .selectFrom('providers')
      .select(['slug', 'label'])
      .where('org_id', '=', u.orgId)
      .where('source', '=', 'demo')
      .orderBy('slug')
      .execute();
    return {
      enabled: true,
      faults: DEMO_FAULTS,
      providers: rows.map((r) => ({
        id: r.slug,
        label: r.label,
        outage: demo.outage(demo.simName(u.orgId, r.slug)) ?? null,
      })),
    };
  });

  app.put('/api/admin/demo/providers/:id/outage', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(z.strictObject({ id: Slug }), request.params, 'params');
    const { fault } = parse(OutageBody, request.body);
    if (!ctx.demo) throw conflict('the built-in simulator is not running (UNDERSTUDY_DEMO)');
    const row = await ctx.db
      .selectFrom('providers')
      .select('slug')
      .where('org_id', '=', u.orgId)
      .where('slug', '=', id)
      .where('source', '=', 'demo')
      .executeTakeFirst();
    if (!row) throw notFound(`simulated provider "${id}"`);
    const name = ctx.demo.simName(u.orgId, id);
    const old = ctx.demo.outage(name) ?? 'none';
    await ctx.demo.setOutage(name, fault === 'none' ? undefined : fault);
    await writeAuditChange(ctx.db, {
      orgId: u.orgId,
      actor: { id: u.userId, label: u.email },
      action: 'demo.outage',
      targetType: 'provider',
      targetId: id,
      old: { outage: old },
      new: { outage: fault },
    });
    return { id, outage: fault === 'none' ? null : fault };
  });
}
