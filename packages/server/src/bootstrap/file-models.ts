/**
 * The models of the bootstrap file. A model the file declares is what the file says: each field it
 * leaves out takes the built-in catalog's fact for the upstream model, or the default (label: the
 * id, no tags, no timeouts, enabled), never what an earlier file or an admin set. A model the file
 * declared at an earlier start and no longer declares is disabled, not deleted (conversations and
 * activity name it).
 */
import type { FallbackSetting, ModelConfig } from '@understudy/engine';
import type { Kysely } from 'kysely';
import { modelView, upsertModel } from '../admin/index.js';
import { writeAudit, type Actor } from '../audit/index.js';
import { modelFromRow } from '../catalog/index.js';
import { nowIso, type Database } from '../storage/index.js';
import type { BootstrapFile } from './config-file.js';
import { modelFromFacts } from './sources.js';

type FileModel = BootstrapFile['models'][number];

/** Fields of a model entry that state a fact (the rest: id, provider, upstream). */
const FACTS = [
  'label',
  'tier',
  'contextWindow',
  'maxOutputTokens',
  'capabilities',
  'tags',
  'timeouts',
  'enabled',
] as const;

/** The model a file entry declares; throws saying what to fix when its tier is unknown. */
export function declaredModel(fm: FileModel): ModelConfig {
  const over: Partial<ModelConfig> = {};
  for (const k of FACTS) if (fm[k] !== undefined) Object.assign(over, { [k]: fm[k] });
  const m = modelFromFacts(fm.id, fm.provider, fm.upstream ?? fm.id, over);
  if (!m)
    throw new Error(
      `UNDERSTUDY_CONFIG: model ${fm.id}: give a tier ("${fm.upstream ?? fm.id}" is not in the built-in catalog)`,
    );
  return m;
}

/** Writes the file's models; returns the start log's lines (`model fast updated: tags`). */
export async function applyFileModels(
  db: Kysely<Database>,
  orgId: string,
  models: FileModel[],
): Promise<string[]> {
  const changes: string[] = [];
  for (const fm of models) {
    const m = declaredModel(fm);
    const row = await db
      .selectFrom('models')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('slug', '=', m.id)
      .executeTakeFirst();
    const r = await upsertModel(db, orgId, m, 'config');
    if (r === 'created') changes.push(`model ${m.id} created`);
    if (r === 'updated' && row) {
      const was = modelView(modelFromRow(row));
      const now = modelView(m);
      const fields = (Object.keys(now) as (keyof typeof now)[]).filter(
        (k) => JSON.stringify(was[k]) !== JSON.stringify(now[k]),
      );
      changes.push(`model ${m.id} updated: ${fields.join(', ')}`);
    }
    // The file owns it from now on (it may have been added in the UI or from the environment).
    if (row && row.source !== 'config')
      await db.updateTable('models').set({ source: 'config' }).where('id', '=', row.id).execute();
  }
  return changes;
}

/**
 * Disables the models an earlier file declared that this one does not, except those the
 * organization cannot do without (Default Model, Specific Fallback Model, a Mate's model).
 */
export async function retireFileModels(
  db: Kysely<Database>,
  orgId: string,
  declared: Set<string>,
  settings: { defaultModelId: string | null; fallback: FallbackSetting },
  actor: Actor,
): Promise<{ changes: string[]; warnings: string[] }> {
  const changes: string[] = [];
  const warnings: string[] = [];
  const rows = await db
    .selectFrom('models')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('source', '=', 'config')
    .where('enabled', '=', 1)
    .orderBy('position')
    .execute();
  for (const row of rows) {
    if (declared.has(row.slug)) continue;
    const mates = await db
      .selectFrom('mates')
      .select('name')
      .where('org_id', '=', orgId)
      .where('model_id', '=', row.slug)
      .execute();
    const needed =
      row.slug === settings.defaultModelId
        ? 'it is the Default Model; declare another organization.defaultModel'
        : settings.fallback.mode === 'specific' && settings.fallback.modelId === row.slug
          ? 'it is the Specific Fallback Model; declare another organization.fallback'
          : mates.length > 0
            ? `Mates use it (${mates.map((m) => m.name).join(', ')}); give them another model`
            : undefined;
    if (needed) {
      warnings.push(`model ${row.slug} is no longer in the file but stays enabled: ${needed}`);
      continue;
    }
    const before = modelFromRow(row);
    await db
      .updateTable('models')
      .set({ enabled: 0, updated_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    await writeAudit(db, {
      orgId,
      actor,
      action: 'model.update',
      targetType: 'model',
      targetId: row.slug,
      old: modelView(before),
      new: modelView({ ...before, enabled: false }),
    });
    changes.push(`model ${row.slug} disabled: no longer in the file`);
  }
  return { changes, warnings };
}
