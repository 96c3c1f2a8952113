/**
 * Choosing the backup (SPEC §2.2): Automatic's exclusions and ranking, Specific, None, each with
 * a sentence that explains the pick. Pure: health comes in as data.
 */
import { historyBudget } from './history.js';
import type { FailureDetails } from '../errors.js';
import type { TargetHealth } from '../health/types.js';
import type { Catalog, Capability, ModelConfig } from '../types/catalog.js';
import type { ChatRequest } from '../types/chat.js';
import { estimateRequestTokens, usesImages, usesTools } from '../tokens.js';

/** The outcome of choosing a backup. */
export interface BackupChoice {
  /** The backup to ask; undefined when there is none. */
  model?: ModelConfig;
  explanation: string;
  /** Every model considered, in ranked order for the eligible ones. */
  candidates: { modelId: string; excludedBecause?: string; rank?: number }[];
}

/** What the choice depends on. */
export interface BackupQuery {
  catalog: Catalog;
  primary: ModelConfig;
  request?: ChatRequest;
  /** The request's estimated input tokens, when the caller has counted them already (else counted here). */
  inputTokens?: number;
  /** The primary's failure, when it failed (not known for an explanation asked in advance). */
  failure?: FailureDetails;
  /** Health of each model by id (missing: unknown, assumed healthy). */
  health: ReadonlyMap<string, TargetHealth>;
  /** Reply size assumed when neither request nor model says (tokens). */
  defaultReplyTokens?: number;
}

const PROVIDER_WIDE = new Set(['unreachable', 'overloaded', 'provider_error']);

/** Capabilities the conversation needs. */
function neededCapabilities(req: ChatRequest | undefined): Capability[] {
  if (!req) return [];
  const need: Capability[] = [];
  if (usesImages(req)) need.push('vision');
  if (usesTools(req)) need.push('tools');
  return need;
}

/** Order of closeness in tier: same tier, one below, one above, two below, two above … */
function tierDistance(primary: number, tier: number): number {
  const d = primary - tier;
  if (d === 0) return 0;
  return d > 0 ? 2 * d - 1 : -2 * d;
}

/** Recent failure share (0 = all good) and latency, for "healthiest and fastest recently". */
function healthScore(h: TargetHealth | undefined): { failShare: number; latency: number } {
  if (!h) return { failShare: 0, latency: Number.POSITIVE_INFINITY };
  const n = h.model.recentFailures + h.model.recentSuccesses;
  return {
    failShare: n === 0 ? 0 : h.model.recentFailures / n,
    latency: h.model.latencyMs ?? Number.POSITIVE_INFINITY,
  };
}

/** Why `m` cannot be the backup, or undefined when it can. */
function exclusion(
  q: BackupQuery,
  m: ModelConfig,
  inputTokens: number,
  need: readonly Capability[],
): string | undefined {
  const { primary, failure, catalog } = q;
  if (m.id === primary.id) return 'it is the primary';
  if (!m.enabled) return 'disabled';
  if (!catalog.providers.some((p) => p.id === m.providerId)) return 'its provider is not configured';
  if (failure && PROVIDER_WIDE.has(failure.reason) && m.providerId === primary.providerId) {
    return `same provider as the primary, which is down (${failure.reason})`;
  }
  const h = q.health.get(m.id);
  if (h && h.provider.state !== 'closed')
    return `its provider is unavailable (${h.provider.reason ?? 'circuit open'})`;
  if (h && h.model.state !== 'closed') return `known unavailable (${h.model.reason ?? 'circuit open'})`;
  for (const cap of need) {
    if (!m.capabilities.includes(cap)) return `lacks ${cap}, which the conversation uses`;
  }
  const missingTag = primary.tags.find((t) => !m.tags.includes(t));
  if (missingTag) return `lacks the compliance tag ${missingTag}`;
  if (failure?.reason === 'context_too_long') {
    const floor = primary.contextWindow ?? inputTokens;
    if (m.contextWindow === undefined || m.contextWindow <= floor) {
      return 'its context window is not larger than the primary’s';
    }
  }
  const budget = historyBudget(m, q.request ?? {}, q.defaultReplyTokens);
  if (budget !== undefined && inputTokens > budget)
    return `its context window (${m.contextWindow} tokens) cannot hold the conversation plus the reply`;
  return undefined;
}

function describeTier(primary: ModelConfig, m: ModelConfig): string {
  if (m.tier === primary.tier) return 'same tier as the primary';
  return m.tier < primary.tier
    ? `${primary.tier - m.tier} tier(s) below the primary`
    : `${m.tier - primary.tier} tier(s) above the primary`;
}

/** The request's estimated input tokens: the caller's count if given (a long conversation costs a pass over its text). */
function requestTokens(q: BackupQuery): number {
  return q.inputTokens ?? (q.request ? estimateRequestTokens(q.request) : 0);
}

/** Automatic: the best available backup, ranked by tier closeness, health, speed, then list order. */
export function chooseAutomatic(q: BackupQuery): BackupChoice {
  const inputTokens = requestTokens(q);
  // What the conversation needs is read once, not once per model (a pass over every message).
  const need = neededCapabilities(q.request);
  // Each eligible model with its ranking key, computed once rather than in every comparison.
  const ranked: { m: ModelConfig; i: number; t: number; failShare: number; latency: number }[] = [];
  const excluded: { modelId: string; excludedBecause: string }[] = [];
  q.catalog.models.forEach((m, i) => {
    const why = exclusion(q, m, inputTokens, need);
    if (why) excluded.push({ modelId: m.id, excludedBecause: why });
    else ranked.push({ m, i, t: tierDistance(q.primary.tier, m.tier), ...healthScore(q.health.get(m.id)) });
  });
  ranked.sort(
    (a, b) =>
      a.t - b.t ||
      a.failShare - b.failShare ||
      (a.latency === b.latency ? 0 : a.latency < b.latency ? -1 : 1) ||
      a.i - b.i,
  );
  const eligible = ranked.map((r) => r.m);
  const candidates = [...eligible.map((m, i) => ({ modelId: m.id, rank: i + 1 })), ...excluded];
  const pick = eligible[0];
  if (!pick) {
    const why = excluded.map((e) => `${e.modelId}: ${e.excludedBecause}`).join('; ');
    return { explanation: `No backup available for ${q.primary.label}. ${why}`.trim(), candidates };
  }
  const lat = q.health.get(pick.id)?.model.latencyMs;
  const speed = lat !== undefined ? `, ${lat} ms to first token recently` : '';
  const next = eligible[1] ? ` Next in line: ${eligible[1].label}.` : '';
  return {
    model: pick,
    explanation: `Automatic picked ${pick.label}: ${describeTier(q.primary, pick)}, healthy${speed}.${next}`,
    candidates,
  };
}

/** Picks the backup for the catalog's fallback setting. */
export function chooseBackup(q: BackupQuery): BackupChoice {
  const setting = q.catalog.fallback;
  if (setting.mode === 'none') return { explanation: 'Fallback is off (None).', candidates: [] };
  if (setting.mode === 'automatic') return chooseAutomatic(q);
  const m = q.catalog.models.find((x) => x.id === setting.modelId);
  if (!m)
    return {
      explanation: `The Specific fallback model ${setting.modelId} is not in the list.`,
      candidates: [],
    };
  if (m.id === q.primary.id) {
    return {
      explanation: `${m.label} is the Specific fallback model itself: no distinct backup.`,
      candidates: [],
    };
  }
  if (!m.enabled)
    return { explanation: `The Specific fallback model ${m.label} is disabled.`, candidates: [] };
  if (q.failure?.reason === 'context_too_long' && m.contextWindow !== undefined) {
    const floor = q.primary.contextWindow ?? requestTokens(q);
    if (m.contextWindow <= floor) {
      return {
        explanation: `The Specific fallback model ${m.label} has no larger context window than ${q.primary.label}.`,
        candidates: [{ modelId: m.id, excludedBecause: 'context window not larger' }],
      };
    }
  }
  return {
    model: m,
    explanation: `Specific fallback model: ${m.label}.`,
    candidates: [{ modelId: m.id, rank: 1 }],
  };
}
