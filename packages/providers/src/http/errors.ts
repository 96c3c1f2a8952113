/**
 * Turns a provider's error body (OpenAI, Anthropic, Gemini or a plain-text proxy page) into the
 * engine's `UpstreamFailure`, the one vocabulary `classifyUpstream` decides on.
 */
import type { UpstreamFailure } from '@understudy/engine';
import { arr, isObject, num, obj, parseJson, str, truncate, type JsonObject } from '../json.js';

/** Longest provider message kept; the rest of an HTML error page helps nobody. */
const MAX_MESSAGE = 1000;

/** Google's machine-readable reasons that mean the key itself is bad (sent as HTTP 400). */
const GOOGLE_AUTH_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'API_KEY_SERVICE_BLOCKED']);

/**
 * Reads the fields of an error object in any of the three vendors' shapes:
 * OpenAI `{error:{message,type,code}}`, Anthropic `{type:'error',error:{type,message}}`,
 * Gemini `{error:{code,message,status,details}}`, Ollama `{error:"text"}`, FastAPI `{detail}`.
 * A numeric `code` in the HTTP error range is the status the error stands for (Gemini, vLLM).
 */
export function failureFromJson(value: unknown): UpstreamFailure | undefined {
  const root = Array.isArray(value) ? value[0] : value;
  if (!isObject(root)) return undefined;
  if (typeof root.error === 'string') return { message: root.error };
  const e = obj(root.error);
  if (!e) {
    const message = str(root.message) ?? str(root.detail);
    return message !== undefined ? { message, type: str(root.type) } : undefined;
  }
  const f: UpstreamFailure = {};
  const message = str(e.message);
  if (message !== undefined) f.message = message;
  const type = str(e.type) ?? str(e.status);
  if (type !== undefined) f.type = type;
  const code = str(e.code);
  if (code !== undefined) f.code = code;
  const numeric = num(e.code);
  if (numeric !== undefined && numeric >= 400 && numeric < 600) f.status = numeric;
  googleDetails(e, f);
  return f;
}

/** Reads Gemini's `details`: RetryInfo's delay and ErrorInfo's reason (e.g. API_KEY_INVALID). */
function googleDetails(e: JsonObject, f: UpstreamFailure): void {
  for (const d of arr(e.details)) {
    const detail = obj(d);
    if (!detail) continue;
    const delay = str(detail.retryDelay);
    const secs = delay !== undefined ? /^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1] : undefined;
    if (secs !== undefined) f.retryAfter = secs;
    const reason = str(detail.reason);
    if (reason !== undefined) {
      f.code = reason;
      // The key is wrong, whatever the 400 says: normalise to the canonical auth status word.
      if (GOOGLE_AUTH_REASONS.has(reason)) f.type = 'UNAUTHENTICATED';
    }
  }
}

/** A header's single value, whatever shape Node gave it. */
export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Builds the `UpstreamFailure` for an HTTP error response from its status, headers and body text. */
export function failureFromResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): UpstreamFailure {
  const parsed = parseJson(bodyText);
  const fromJson = parsed.ok ? failureFromJson(parsed.value) : undefined;
  const f: UpstreamFailure = fromJson ?? {};
  if (!fromJson && bodyText.trim() !== '') f.message = bodyText.trim();
  if (f.message !== undefined) f.message = truncate(f.message, MAX_MESSAGE);
  // The HTTP status wins over a numeric code inside the body.
  f.status = status;
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter !== undefined) f.retryAfter = retryAfter;
  const retryAfterMs = headerValue(headers, 'retry-after-ms');
  if (retryAfterMs !== undefined) f.retryAfterMs = retryAfterMs;
  return f;
}
