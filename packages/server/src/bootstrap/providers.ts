/**
 * The providers provisioning writes: those the operator declares (environment, bootstrap file),
 * compared with what is stored so that a start changes only what changed, and the built-in
 * simulator's, with its models, in the organizations it belongs in.
 */
import type { Kysely } from 'kysely';
import { upsertModel } from '../admin/index.js';
import type { ServerConfig } from '../config.js';
import { DEMO_MODELS, DEMO_PROVIDERS, type Demo } from '../demo/index.js';
import { readableHeaders, readableKey, sealHeaders, type SecretBox } from '../security/index.js';
import { newId, nowIso, type Database } from '../storage/index.js';
import { demoBelongsIn } from './demo-auto.js';
import type { ProviderSpec } from './sources.js';

/** What writing providers needs (a part of provisioning's dependencies). */
export interface ProviderDeps {
  db: Kysely<Database>;
  box: SecretBox;
  config: Pick<ServerConfig, 'demo'>;
  demo: Demo | undefined;
}

/** Writes an operator-declared provider; returns what changed, for the start log ('' for nothing). */
export async function upsertProvider(deps: ProviderDeps, orgId: string, p: ProviderSpec): Promise<string> {
  const { db, box } = deps;
  const existing = await db
    .selectFrom('providers')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('slug', '=', p.slug)
    .executeTakeFirst();
  const values = {
    type: p.type,
    label: p.label,
    base_url: p.baseUrl,
    api_version: p.apiVersion ?? null,
    source: p.source,
    allow_private: p.allowPrivate ? 1 : 0,
  };
  const headers = p.headers && Object.keys(p.headers).length > 0 ? p.headers : null;
  const now = nowIso();
  if (!existing) {
    await db
      .insertInto('providers')
      .values({
        id: newId(),
        org_id: orgId,
        slug: p.slug,
        ...values,
        api_key_enc: p.apiKey ? box.seal(p.apiKey) : null,
        headers_json: sealHeaders(box, headers),
        created_at: now,
        updated_at: now,
      })
      .execute();
    return 'created';
  }
  // Unreadable (undefined): sealed by an instance with another secret. The operator gives the
  // provider's key and headers again at every start, so they are written anew, not a failed start.
  const storedKey = readableKey(box, existing.api_key_enc);
  const storedHeaders = readableHeaders(box, existing.headers_json);
  const sameKey = storedKey !== undefined && (storedKey ?? undefined) === (p.apiKey || undefined);
  // Compared opened: sealing the same headers twice gives two different strings.
  const sameHeaders =
    storedHeaders !== undefined && JSON.stringify(storedHeaders) === JSON.stringify(headers);
  const same =
    sameKey &&
    sameHeaders &&
    (Object.keys(values) as (keyof typeof values)[]).every((k) => existing[k] === values[k]);
  if (same) return '';
  await db
    .updateTable('providers')
    .set({
      ...values,
      ...(!sameKey && { api_key_enc: p.apiKey ? box.seal(p.apiKey) : null }),
      ...(!sameHeaders && { headers_json: sealHeaders(box, headers) }),
      updated_at: now,
    })
    .where('id', '=', existing.id)
    .execute();
  const lost = [
    ...(storedKey === undefined ? ['key'] : []),
    ...(storedHeaders === undefined ? ['header values'] : []),
  ];
  return lost.length > 0
    ? `updated (its stored ${lost.join(' and ')}, sealed with another secret, written again)`
    : 'updated';
}

/** Ensures the demo providers and models in an organization (when the simulator runs). */
export async function provisionDemo(deps: ProviderDeps, orgId: string): Promise<string[]> {
  const demo = deps.demo;
  if (!demo) return [];
  if (deps.config.demo === 'auto' && !(await demoBelongsIn(deps.db, orgId))) return [];
  const changed: string[] = [];
  for (const p of DEMO_PROVIDERS) {
    const r = await upsertProvider(deps, orgId, {
      slug: p.slug,
      type: p.type,
      label: p.label,
      baseUrl: p.path(demo.simName(orgId, p.slug)),
      apiKey: 'simulator-key',
      source: 'demo',
      allowPrivate: true,
    });
    if (r) changed.push(`provider ${p.slug} ${r}`);
  }
  for (const m of DEMO_MODELS) {
    const exists = await deps.db
      .selectFrom('models')
      .select('id')
      .where('org_id', '=', orgId)
      .where('slug', '=', m.id)
      .executeTakeFirst();
    if (!exists) {
      await upsertModel(deps.db, orgId, m, 'demo');
      changed.push(`model ${m.id} created`);
    }
  }
  return changed;
}
