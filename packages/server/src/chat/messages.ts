/** Messages as stored and as the API shows them. */
import type { AnswerError, AnswerResult, Catalog, FallbackRecord } from '@understudy/engine';
import type { MessageStatus, MessagesTable } from '../storage/index.js';

/** The label of a model and of a provider by id (the id itself when the list no longer has it). */
function labelsOf(catalog: Catalog | undefined) {
  return {
    model: (id: string) => catalog?.models.find((m) => m.id === id)?.label ?? id,
    provider: (id: string) => catalog?.providers.find((p) => p.id === id)?.label ?? id,
  };
}

/** The fallback part of a message as shown (the amber icon's tooltip reads it). */
export function fallbackPublic(f: FallbackRecord, catalog?: Catalog) {
  // Labels go with the ids: members may not read the provider list, and the tooltip names them.
  const { model, provider } = labelsOf(catalog);
  return {
    originalModel: f.originalModelId,
    originalModelLabel: model(f.originalModelId),
    originalProvider: f.originalProviderId,
    originalProviderLabel: provider(f.originalProviderId),
    reason: f.reason,
    backupModel: f.backupModelId,
    backupModelLabel: model(f.backupModelId),
    backupProvider: f.backupProviderId,
    backupProviderLabel: provider(f.backupProviderId),
    mode: f.mode,
    skippedByHealth: f.skippedByHealth,
    explanation: f.explanation,
    primaryFailure: f.primaryFailure.message,
  };
}

/** An answer error as shown (both failures, already free of secrets; providers named as the tooltip names them). */
export function errorPublic(e: AnswerError, catalog?: Catalog) {
  const { provider } = labelsOf(catalog);
  const side = (f: NonNullable<AnswerError['backup']>) => ({
    model: f.modelId,
    provider: f.providerId,
    providerLabel: provider(f.providerId),
    reason: f.reason,
    message: f.message,
  });
  return {
    reason: e.reason,
    message: e.message,
    primary: side(e.primary),
    backup: e.backup ? side(e.backup) : null,
  };
}

/** The answer columns of a message row that nothing has filled yet: no model, usage or failure. */
export function blankAnswerColumns() {
  return {
    model_id: null,
    provider_id: null,
    input_tokens: null,
    output_tokens: null,
    usage_estimated: 0,
    latency_ms: null,
    ttft_ms: null,
    fallback_json: null,
    error_json: null,
    context_left_out: null,
  } satisfies Partial<MessagesTable>;
}

/**
 * An answer's columns as it starts: blank, but naming the model asked first, so that a page loaded
 * while it is written (a reload, another tab or instance) shows who is answering; the final write
 * names the model that did.
 */
export function startedAnswerColumns(catalog: Catalog, modelId: string) {
  return {
    ...blankAnswerColumns(),
    model_id: modelId,
    provider_id: catalog.models.find((m) => m.id === modelId)?.providerId ?? null,
  } satisfies Partial<MessagesTable>;
}

/** A message row as the API shows it. */
export function messageView(r: MessagesTable) {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role,
    content: r.content,
    status: r.status,
    model: r.model_id,
    provider: r.provider_id,
    usage:
      r.input_tokens === null
        ? null
        : {
            inputTokens: r.input_tokens,
            outputTokens: r.output_tokens ?? 0,
            estimated: r.usage_estimated === 1,
          },
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms,
    fallback: r.fallback_json ? (JSON.parse(r.fallback_json) as ReturnType<typeof fallbackPublic>) : null,
    error: r.error_json ? (JSON.parse(r.error_json) as ReturnType<typeof errorPublic>) : null,
    // Earlier messages the model was not sent (they did not fit its window); null when none were.
    contextLeftOut: r.context_left_out ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The stored status of a finished answer; `abortedBy` says who cancelled it, if it was cancelled. */
export function statusOf(result: AnswerResult, abortedBy: 'stop' | 'shutdown' | undefined): MessageStatus {
  if (result.status === 'complete') return 'complete';
  if (result.status === 'cancelled') return abortedBy === 'shutdown' ? 'interrupted' : 'cancelled';
  // A partial answer kept after a mid-stream failure with no backup (SPEC §2.4): interrupted, retryable.
  if (result.text.length > 0 && result.error?.reason === 'interrupted') return 'interrupted';
  return 'failed';
}

/** The columns a finished answer writes. */
export function resultColumns(
  result: AnswerResult,
  status: MessageStatus,
  catalog?: Catalog,
): Partial<MessagesTable> {
  return {
    content: result.text,
    status,
    model_id: result.modelId,
    provider_id: result.providerId,
    input_tokens: result.usage.inputTokens,
    output_tokens: result.usage.outputTokens,
    usage_estimated: result.usage.estimated ? 1 : 0,
    latency_ms: Math.round(result.latencyMs),
    ttft_ms: result.ttftMs === undefined ? null : Math.round(result.ttftMs),
    fallback_json: result.fallback ? JSON.stringify(fallbackPublic(result.fallback, catalog)) : null,
    error_json:
      result.error && status !== 'complete' ? JSON.stringify(errorPublic(result.error, catalog)) : null,
  };
}
