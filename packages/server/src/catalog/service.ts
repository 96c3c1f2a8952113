/**
 * The organization's catalog as the engine needs it, built from the database and cached per
 * organization. Every write to providers, models or settings calls `invalidate(orgId)`; with several
 * instances (issue 5) a pub/sub message will call the same method.
 */
import type {
  Catalog,
  Capability,
  FallbackSetting,
  ModelConfig,
  ModelTimeouts,
  ProviderConfig,
  ProviderType,
} from '@understudy/engine';
import type { Kysely } from 'kysely';
import { readableHeaders, readableKey, type SecretBox } from '../security/index.js';
import type { Database, ModelsTable, ProvidersTable } from '../storage/index.js';

/** An organization's catalog plus what the server needs beside the engine's view. */
export interface OrgCatalog extends Catalog {
  /** Every model of the list, including disabled ones, in the organization's order. */
  allModels: ModelConfig[];
  /** True when a default model is set and enabled, so chat can answer. */
  ready: boolean;
}

/** Reads and caches catalogs. */
export interface CatalogService {
  get(orgId: string): Promise<OrgCatalog>;
  /** The catalog read afresh through `db` (a transaction, to check a change against), not cached. */
  load(orgId: string, db: Kysely<Database>): Promise<OrgCatalog>;
  invalidate(orgId: string): void;
  /** Drops every cached catalog (e.g. after missing cluster messages while Redis was down). */
  invalidateAll(): void;
}

/** A stored model row as the engine's ModelConfig. */
export function modelFromRow(r: ModelsTable): ModelConfig {
  const m: ModelConfig = {
    id: r.slug,
    providerId: r.provider_slug,
    upstreamModel: r.upstream_model,
    label: r.label,
    tier: r.tier,
    capabilities: JSON.parse(r.capabilities_json) as Capability[],
    tags: JSON.parse(r.tags_json) as string[],
    enabled: r.enabled === 1,
  };
  if (r.context_window !== null) m.contextWindow = r.context_window;
  if (r.max_output_tokens !== null) m.maxOutputTokens = r.max_output_tokens;
  if (r.timeouts_json) m.timeouts = JSON.parse(r.timeouts_json) as ModelTimeouts;
  return m;
}

/** The catalog service over a database; `demoBaseUrl` resolves the built-in simulator's providers. */
export function createCatalogService(deps: {
  db: Kysely<Database>;
  box: SecretBox;
  /** Base URL of the in-process simulator, or undefined when it is not running. */
  demoBaseUrl: () => string | undefined;
  /**
   * Rebuild a cached catalog older than this (several instances: a safety net should a change
   * message be missed). Undefined: cached until invalidated.
   */
  maxAgeMs?: number;
}): CatalogService {
  const cache = new Map<string, Promise<OrgCatalog>>();
  const builtAt = new Map<string, number>();

  const provider = (r: ProvidersTable): ProviderConfig | undefined => {
    let baseUrl = r.base_url;
    if (r.source === 'demo') {
      const sim = deps.demoBaseUrl();
      if (!sim) return undefined;
      // Demo rows store the path below the simulator (e.g. `/p/<org>.sim-a/v1`): its port changes per start.
      baseUrl = sim.replace(/\/$/, '') + r.base_url;
    }
    const p: ProviderConfig = { id: r.slug, type: r.type as ProviderType, label: r.label, baseUrl };
    // A key or headers sealed with another secret (another instance's): the provider is called
    // without them, answers 401 and is flagged as misconfigured, rather than failing every
    // answer of the organization; the start log and the admin list say to enter them again.
    const key = readableKey(deps.box, r.api_key_enc);
    if (key) p.apiKey = key;
    if (r.api_version) p.apiVersion = r.api_version;
    // Picks the provider's connection rule (may it reach private addresses): createProviderNetwork.
    if (r.allow_private === 1) p.allowPrivate = true;
    const headers = readableHeaders(deps.box, r.headers_json);
    if (headers) p.headers = headers;
    return p;
  };

  const build = async (orgId: string, db = deps.db): Promise<OrgCatalog> => {
    const [org, providerRows, modelRows] = await Promise.all([
      db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirstOrThrow(),
      db.selectFrom('providers').selectAll().where('org_id', '=', orgId).execute(),
      db
        .selectFrom('models')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('position')
        .orderBy('id')
        .execute(),
    ]);
    const providers = providerRows.map(provider).filter((p): p is ProviderConfig => p !== undefined);
    const live = new Set(providers.map((p) => p.id));
    const allModels = modelRows.map(modelFromRow).filter((m) => live.has(m.providerId));
    const models = allModels.filter((m) => m.enabled);
    const fallback: FallbackSetting =
      org.fallback_mode === 'specific' && org.fallback_model_id
        ? { mode: 'specific', modelId: org.fallback_model_id }
        : org.fallback_mode === 'none'
          ? { mode: 'none' }
          : { mode: 'automatic' };
    const defaultModelId = org.default_model_id ?? '';
    return {
      providers,
      models,
      allModels,
      defaultModelId,
      fallback,
      ready: models.some((m) => m.id === defaultModelId),
    };
  };

  return {
    get(orgId) {
      let p = cache.get(orgId);
      if (p && deps.maxAgeMs !== undefined && Date.now() - (builtAt.get(orgId) ?? 0) > deps.maxAgeMs)
        p = undefined;
      if (!p) {
        p = build(orgId);
        cache.set(orgId, p);
        builtAt.set(orgId, Date.now());
        // A failed build must not stay cached.
        p.catch(() => cache.delete(orgId));
      }
      return p;
    },
    load: build,
    invalidate(orgId) {
      cache.delete(orgId);
    },
    invalidateAll() {
      cache.clear();
    },
  };
}
