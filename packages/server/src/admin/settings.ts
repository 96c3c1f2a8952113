/** Organization settings: Default Model and Fallback Model (SPEC §2.2, §3), and the backup preview. */
import type { FallbackSetting } from '@understudy/engine';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { writeAuditChange } from '../audit/index.js';
import { MANAGERS, userOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { notFound, parse } from '../http/index.js';
import { lockOrganization } from '../organizations/index.js';
import { nowIso, type Database } from '../storage/index.js';
import { Slug } from './providers.js';
import { fallbackChoices, refusalError, settingsRefusal, type SettingsState } from './settings-rules.js';

const FallbackBody = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('automatic') }),
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({ mode: z.literal('specific'), model: Slug }),
]);
const SettingsBody = z
  .strictObject({ defaultModel: Slug.optional(), fallback: FallbackBody.optional() })
  .refine(
    (b) => b.defaultModel !== undefined || b.fallback !== undefined,
    'give defaultModel and/or fallback',
  );
const PreviewQuery = z.strictObject({ model: Slug.optional() });

/** The setting as the API shows it. */
export function fallbackView(f: FallbackSetting) {
  return f.mode === 'specific' ? { mode: 'specific' as const, model: f.modelId } : { mode: f.mode };
}

/** Registers the settings routes. */
export function registerSettingsRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;

  /** The settings, read through `q` (a transaction, to write from them). */
  const current = async (
    orgId: string,
    q: Kysely<Database> = db,
  ): Promise<SettingsState & { name: string }> => {
    const org = await q
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', orgId)
      .executeTakeFirstOrThrow();
    const fallback: FallbackSetting =
      org.fallback_mode === 'specific' && org.fallback_model_id
        ? { mode: 'specific', modelId: org.fallback_model_id }
        : org.fallback_mode === 'none'
          ? { mode: 'none' }
          : { mode: 'automatic' };
    return { defaultModelId: org.default_model_id, fallback, name: org.name };
  };

  const view = async (orgId: string) => {
    const s = await current(orgId);
    const catalog = await ctx.catalogs.get(orgId);
    return {
      defaultModel: s.defaultModelId,
      fallback: fallbackView(s.fallback),
      fallbackChoices: fallbackChoices(catalog.allModels, s.defaultModelId),
    };
  };

  app.get('/api/admin/settings', { config: { access: MANAGERS } }, async (request) =>
    view(userOf(request).orgId),
  );

  app.put('/api/admin/settings', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const body = parse(SettingsBody, request.body);
    await db.transaction().execute(async (trx) => {
      // Read in the transaction under the catalog's lock (the organization's row): a change of the
      // other setting committed meanwhile (in another tab) is kept, not put back, and a model
      // disabled meanwhile is seen as disabled (the cached catalog may not have heard yet).
      await lockOrganization(trx, ctx.storage.kind, u.orgId);
      const before = await current(u.orgId, trx);
      const catalog = await ctx.catalogs.load(u.orgId, trx);
      const after: SettingsState = {
        defaultModelId: body.defaultModel ?? before.defaultModelId,
        fallback: body.fallback
          ? body.fallback.mode === 'specific'
            ? { mode: 'specific', modelId: body.fallback.model }
            : { mode: body.fallback.mode }
          : before.fallback,
      };
      const refusal = settingsRefusal(before, after, catalog.allModels);
      if (refusal) throw refusalError(400, 'invalid_settings', refusal);
      await trx
        .updateTable('organizations')
        .set({
          default_model_id: after.defaultModelId,
          fallback_mode: after.fallback.mode,
          fallback_model_id: after.fallback.mode === 'specific' ? after.fallback.modelId : null,
          updated_at: nowIso(),
        })
        .where('id', '=', u.orgId)
        .execute();
      await writeAuditChange(trx, {
        orgId: u.orgId,
        actor: { id: u.userId, label: u.email },
        action: 'settings.update',
        targetType: 'settings',
        targetId: u.orgId,
        targetLabel: before.name,
        old: { defaultModel: before.defaultModelId, fallback: fallbackView(before.fallback) },
        new: { defaultModel: after.defaultModelId, fallback: fallbackView(after.fallback) },
      });
    });
    ctx.catalogs.invalidate(u.orgId);
    return view(u.orgId);
  });

  app.get('/api/admin/settings/backup-preview', { config: { access: MANAGERS } }, async (request) => {
    const u = userOf(request);
    const q = parse(PreviewQuery, request.query, 'query');
    const catalog = await ctx.catalogs.get(u.orgId);
    const modelId = q.model ?? catalog.defaultModelId;
    if (!catalog.models.some((m) => m.id === modelId)) throw notFound(`enabled model "${modelId}"`);
    const choice = await ctx.engineFor(u.orgId).chooseBackup({ catalog, modelId });
    return {
      model: modelId,
      fallback: fallbackView(catalog.fallback),
      backup: choice.model?.id ?? null,
      explanation: choice.explanation,
      candidates: choice.candidates,
    };
  });
}
