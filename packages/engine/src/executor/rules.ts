/**
 * The executor's small rules: when the primary gets its one quick retry, what a backup is sent for
 * each takeover mode, and what the standard error says when no backup could be asked.
 */
import type { ProviderError } from '../errors.js';
import type { BackupChoice } from '../policy/backup.js';
import type { Catalog, ModelConfig } from '../types/catalog.js';
import type { ChatMessage, ChatRequest, JsonSchemaFormat } from '../types/chat.js';
import type { ModelTarget } from '../types/provider.js';
import type { TakeoverMode } from '../types/result.js';
import type { EngineOptions } from './options.js';

/** The instruction that asks a backup to continue a cut-off answer (API clients already hold the partial text). */
export const CONTINUE_INSTRUCTION =
  'Your previous reply was cut off. Continue it exactly from where it stopped, without repeating anything.';

/** How long to wait before the single quick retry, or undefined when the failure is no blip. */
export function quickRetryWait(f: ProviderError, o: EngineOptions): number | undefined {
  if (f.reason === 'rate_limited') {
    return f.retryAfterMs !== undefined && f.retryAfterMs <= o.quickRetryMaxMs ? f.retryAfterMs : undefined;
  }
  if ((f.status === 500 || f.status === 502) && !f.inStream) return o.quickRetryDelayMs;
  if (f.reason === 'unreachable' && f.beforeResponse) return o.quickRetryDelayMs;
  return undefined;
}

/** A JSON answer asked in words: for a protocol without a JSON field, and for a continuation. */
export function jsonInstruction(format?: JsonSchemaFormat): string {
  const words = 'Respond with one valid JSON object only: no prose, no code fences.';
  return format?.schema ? `${words} It must match this JSON Schema: ${JSON.stringify(format.schema)}` : words;
}

/**
 * `req` continued after `tail`. A JSON constraint (JSON mode, a schema) is asked in words instead:
 * under the constraint a model answers a whole JSON value, never the rest of one, and the client
 * would hold the partial value followed by a second whole one.
 */
function continued(req: ChatRequest, tail: ChatMessage[]): ChatRequest {
  const { json, jsonSchema, ...unconstrained } = req;
  if (!json && !jsonSchema) return { ...req, messages: [...req.messages, ...tail] };
  return {
    ...unconstrained,
    messages: [{ role: 'system', content: jsonInstruction(jsonSchema) }, ...req.messages, ...tail],
  };
}

/**
 * `req` as `model` can take it: a reply limit above the largest reply the model writes is lowered
 * to it. A provider refuses the larger one with a 400, which would fail an answer a backup with
 * a smaller limit than the primary's could give; the backup choice already counts the reply so.
 */
export function withinOutputLimit(req: ChatRequest, model: ModelConfig): ChatRequest {
  const max = model.maxOutputTokens;
  if (req.maxTokens === undefined || max === undefined || req.maxTokens <= max) return req;
  return { ...req, maxTokens: max };
}

/** The request a backup receives for each takeover mode. */
export function backupRequest(req: ChatRequest, mode: TakeoverMode, partial: string): ChatRequest {
  if (mode === 'prefill') return continued(req, [{ role: 'assistant', content: partial }]);
  if (mode === 'instruct')
    return continued(req, [
      { role: 'assistant', content: partial },
      { role: 'user', content: CONTINUE_INSTRUCTION },
    ]);
  return req;
}

/**
 * Why no backup took over, in words for the member: fallback is off, the Specific model cannot
 * serve (its own explanation), or no model of the list qualified under Automatic.
 */
export function noBackupNote(catalog: Catalog, choice: BackupChoice): string {
  switch (catalog.fallback.mode) {
    case 'none':
      return 'Fallback is off for this organization, so no backup model was asked';
    case 'specific':
      return choice.explanation.replace(/\.$/, '');
    default:
      return 'No other model in the list could take over';
  }
}

/** Resolves a model id to its target, or a failure explaining why it cannot be used. */
export function targetOf(catalog: Catalog, model: ModelConfig): ModelTarget | undefined {
  const provider = catalog.providers.find((p) => p.id === model.providerId);
  return provider ? { provider, model } : undefined;
}
