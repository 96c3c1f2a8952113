/** OpenAI's wire shapes for the /v1 routes: errors with their status, headers and bodies of an answer. */
import type {
  AnswerError,
  AnswerEvent,
  AnswerResult,
  FailureReason,
  FallbackRecord,
} from '@understudy/engine';
import type { ApiAnswer } from './in-flight.js';

/** An error in OpenAI's shape. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
  /** Seconds a client should wait before trying again, when the provider or health memory knows. */
  retryAfterS?: number;
  /** The JSON body OpenAI clients parse: `{ error: { message, type, param, code } }`. */
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
  /** Its headers: `retry-after`, which OpenAI's SDKs wait for before retrying a 429 or 5xx. */
  headers(): Record<string, string> {
    return this.retryAfterS === undefined ? {} : { 'retry-after': String(this.retryAfterS) };
  }
}

const STATUS_BY_REASON: Record<FailureReason, [number, string, string]> = {
  bad_request: [400, 'invalid_request_error', 'invalid_request'],
  content_filtered: [400, 'invalid_request_error', 'content_filter'],
  context_too_long: [400, 'invalid_request_error', 'context_length_exceeded'],
  rate_limited: [429, 'rate_limit_error', 'rate_limit_exceeded'],
  overloaded: [503, 'server_error', 'overloaded'],
  timeout: [504, 'server_error', 'timeout'],
  unreachable: [502, 'server_error', 'upstream_unreachable'],
  provider_error: [502, 'server_error', 'upstream_error'],
  provider_misconfigured: [502, 'server_error', 'upstream_misconfigured'],
  interrupted: [502, 'server_error', 'upstream_interrupted'],
  cancelled: [499, 'server_error', 'cancelled'],
};

function answerError(e: AnswerError): OpenAIError {
  const [status, type, code] = STATUS_BY_REASON[e.reason];
  const out = new OpenAIError(status, type, code, e.message);
  // The primary's failure is the answer's reason: its Retry-After (the provider's, or when health
  // memory tries it again) is the client's.
  const wait = e.primary.retryAfterMs;
  if (wait !== undefined && (status === 429 || status >= 500))
    out.retryAfterS = Math.max(1, Math.ceil(wait / 1000));
  return out;
}

/** What a client whose answer was cut by a server stop (past its grace period) is told. */
const shuttingDown = () =>
  new OpenAIError(
    503,
    'server_error',
    'server_shutting_down',
    'The server is shutting down; retry the request.',
  );

/** The error a client gets for an answer that did not complete. */
export function failure(answer: ApiAnswer, error: AnswerError | undefined): OpenAIError {
  if (answer.cancelledByShutdown) return shuttingDown();
  return error ? answerError(error) : new OpenAIError(499, 'server_error', 'cancelled', 'cancelled');
}

/** The `x-understudy-*` headers: who answered and, after a fallback, from what and why. */
export function fallbackHeaders(
  model: string | undefined,
  provider: string | undefined,
  f: FallbackRecord | undefined,
): Record<string, string> {
  // x-understudy-model names the model that answered; a failed answer has none, only what it tried.
  const h: Record<string, string> =
    model !== undefined && provider !== undefined
      ? { 'x-understudy-model': model, 'x-understudy-provider': provider }
      : {};
  if (f) {
    h['x-understudy-fallback-from'] = f.originalModelId;
    h['x-understudy-fallback-provider'] = f.originalProviderId;
    h['x-understudy-fallback-reason'] = f.reason;
  }
  return h;
}

/** The `understudy.fallback` object of a body or chunk (OpenAI's snake_case). */
export function fallbackInfo(f: FallbackRecord) {
  return {
    original_model: f.originalModelId,
    original_provider: f.originalProviderId,
    reason: f.reason,
    backup_model: f.backupModelId,
    backup_provider: f.backupProviderId,
    mode: f.mode,
  };
}

/**
 * The `understudy` extension of a body or of the chunk carrying the usage: the fallback, and
 * `usage_estimated` when a provider reported no usage and some of it was counted here (SPEC §2.6:
 * estimated and marked so). Nothing when there is neither, so a plain answer is OpenAI's shape.
 */
export function extension(
  r: AnswerResult,
  withFallback: boolean,
): { understudy: Record<string, unknown> } | undefined {
  const fallback = withFallback && r.fallback ? { fallback: fallbackInfo(r.fallback) } : undefined;
  if (!fallback && !r.usage.estimated) return undefined;
  return { understudy: { ...fallback, ...(r.usage.estimated && { usage_estimated: true }) } };
}

/** OpenAI's `usage` of an answer. */
export function usageOf(r: AnswerResult) {
  return {
    prompt_tokens: r.usage.inputTokens,
    completion_tokens: r.usage.outputTokens,
    total_tokens: r.usage.inputTokens + r.usage.outputTokens,
  };
}

/**
 * Follows, event by event, whether the answer's text is a refusal (OpenAI's `refusal` field): once
 * a refusal begins, what continues it (a backup finishing a cut one) is one too; a restart
 * takeover starts afresh. Returns the state after each event.
 */
export function refusalSoFar(): (ev: AnswerEvent) => boolean {
  let refusing = false;
  return (ev) => {
    if (ev.type === 'text' && ev.refusal) refusing = true;
    else if (ev.type === 'fallback' && ev.record.mode === 'restart') refusing = false;
    return refusing;
  };
}

/**
 * The chat.completion body of a completed answer. `refusal`: the model declined in words of their
 * own field, so the text is the message's `refusal` and its content null, as OpenAI sends it.
 */
export function completion(id: string, created: number, result: AnswerResult, refusal = false) {
  // As OpenAI: an answer that is only tool calls has null content, not "" (clients test for null).
  const content = refusal || (result.text === '' && result.toolCalls.length) ? null : result.text;
  const message: Record<string, unknown> = {
    role: 'assistant',
    content,
    refusal: refusal ? result.text : null,
  };
  if (result.toolCalls.length) {
    message.tool_calls = result.toolCalls.map((t) => ({
      id: t.id,
      type: 'function',
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  return {
    id,
    object: 'chat.completion',
    created,
    model: result.modelId,
    choices: [{ index: 0, message, finish_reason: result.finishReason ?? 'stop', logprobs: null }],
    usage: usageOf(result),
    system_fingerprint: null,
    ...extension(result, true),
  };
}
