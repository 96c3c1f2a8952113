/**
 * The SPEC §2.1 table as code: maps what went wrong at a provider to a `ProviderError` with the
 * reason that decides whether to fall back. Adapters translate their wire format into
 * `UpstreamFailure`; the decisions live here, once, for every protocol.
 */
import { ProviderError, type FailureReason, type TimeoutKind } from './errors.js';
import { redact } from './redact.js';

/** A provider's error as seen on the wire, normalised by an adapter. */
export interface UpstreamFailure {
  /** HTTP status; undefined for an error event inside a 200 stream that carries none. */
  status?: number;
  /** Error type or status word: `overloaded_error`, `rate_limit_error`, `RESOURCE_EXHAUSTED` … */
  type?: string;
  /** Error code: `context_length_exceeded`, `insufficient_quota` … */
  code?: string;
  message?: string;
  /** Raw `Retry-After` header value (seconds or an HTTP date). */
  retryAfter?: string | null;
  /** Raw `retry-after-ms` header value (OpenAI). */
  retryAfterMs?: string | null;
  /** The error arrived as an event inside an open stream. */
  inStream?: boolean;
}

const CONTEXT_RE =
  /context_length_exceeded|maximum context length|context window|prompt is too long|too many tokens|input token count.*exceeds|reduce the length of the messages|string_above_max_length/i;
const FILTER_RE =
  /content_filter|content_policy|content management policy|safety|responsible ?ai|blocked|prohibited_content/i;
const OVERLOAD_RE = /overloaded/i;

/** Parses `Retry-After` (delta-seconds or HTTP date) and `retry-after-ms` into milliseconds. */
export function parseRetryAfter(
  retryAfter: string | null | undefined,
  retryAfterMs?: string | null,
  now: number = Date.now(),
): number | undefined {
  if (retryAfterMs != null && retryAfterMs.trim() !== '') {
    const ms = Number(retryAfterMs);
    if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  }
  if (retryAfter == null || retryAfter.trim() === '') return undefined;
  const secs = Number(retryAfter);
  if (Number.isFinite(secs) && secs >= 0) return Math.round(secs * 1000);
  const date = Date.parse(retryAfter);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/** The reason for a provider error, exactly per SPEC §2.1. */
export function reasonFor(f: UpstreamFailure): FailureReason {
  const words = `${f.type ?? ''} ${f.code ?? ''}`;
  const all = `${words} ${f.message ?? ''}`;
  const s = f.status;
  // Billing and quota come as 429 at OpenAI: misconfiguration, not a passing rate limit.
  if (/insufficient_quota|billing/i.test(words)) return 'provider_misconfigured';
  if (s === 429 || /rate_limit|RESOURCE_EXHAUSTED/i.test(words)) return 'rate_limited';
  if (s === 529 || OVERLOAD_RE.test(words) || (s === 503 && OVERLOAD_RE.test(all))) return 'overloaded';
  if (s === 401 || s === 402 || s === 403 || s === 404) return 'provider_misconfigured';
  // Google answers a bad or expired key with 400 INVALID_ARGUMENT; the detail says API_KEY_INVALID.
  if (/API_KEY_INVALID|API_KEY_EXPIRED|API key not valid/i.test(all)) return 'provider_misconfigured';
  if (
    /authentication|permission|billing_error|UNAUTHENTICATED|PERMISSION_DENIED|not_found|NOT_FOUND/i.test(
      words,
    )
  ) {
    return 'provider_misconfigured';
  }
  if (CONTEXT_RE.test(all) && (s === undefined || s === 400 || s === 413 || s === 422)) {
    return 'context_too_long';
  }
  // Gemini sends its 504 as DEADLINE_EXCEEDED: a gateway timeout is a server error (SPEC §2.1), not ours.
  if (s === 408 || (s === undefined && /DEADLINE_EXCEEDED/i.test(words))) return 'timeout';
  if (s !== undefined && s >= 500) return 'provider_error';
  if (/content_filter|content_policy|SAFETY|PROHIBITED_CONTENT/i.test(words)) return 'content_filtered';
  if (s !== undefined && s >= 400) return FILTER_RE.test(all) ? 'content_filtered' : 'bad_request';
  if (/invalid_request|INVALID_ARGUMENT/i.test(words)) return 'bad_request';
  // An error event with no status inside a stream: a server-side failure mid-answer.
  return 'provider_error';
}

/** Builds the typed error for a provider's error response or in-stream error event. */
export function classifyUpstream(
  f: UpstreamFailure,
  secrets: readonly (string | undefined)[] = [],
): ProviderError {
  const reason = reasonFor(f);
  // A body with no message: the status alone ("HTTP 403"), not "HTTP 403: HTTP 403".
  const detail = f.message?.trim();
  const status = f.status ? `HTTP ${f.status}` : undefined;
  const words = status && detail ? `${status}: ${detail}` : (status ?? detail ?? 'provider error');
  const message = redact(words, secrets);
  const retryAfterMs = parseRetryAfter(f.retryAfter, f.retryAfterMs);
  return new ProviderError({
    reason,
    message,
    ...(f.status !== undefined && { status: f.status }),
    ...((f.code ?? f.type) !== undefined && { code: f.code ?? f.type }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(f.inStream && { inStream: true }),
  });
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * Network failures as words: the message reaches members and API clients ("… could not be
 * reached: the connection was refused"), where Node's and undici's codes mean nothing. Other codes
 * (TLS certificate errors say what they are) keep the code and the library's message.
 */
const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  UND_ERR_SOCKET: 'the connection was closed',
  ERR_STREAM_PREMATURE_CLOSE: 'the connection was closed',
  ENOTFOUND: 'the host name was not found',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'connecting timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
};

/** The code of a Node/undici network error, looking through `cause` chains. */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
    e = typeof e === 'object' && 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}

/**
 * Classifies a transport failure. `afterHeaders`: the response had begun, so the stream broke
 * (`interrupted`); otherwise the provider was not reached (`unreachable`).
 */
export function classifyNetworkError(
  err: unknown,
  afterHeaders: boolean,
  secrets: readonly (string | undefined)[] = [],
): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = errorCode(err);
  const raw = err instanceof Error ? err.message : String(err);
  const words = code === undefined ? undefined : NETWORK_WORDS[code];
  const message = redact(words ?? (code ? `${code}: ${raw}` : raw), secrets);
  if (afterHeaders) return new ProviderError({ reason: 'interrupted', message, code, inStream: true });
  return new ProviderError({
    reason: 'unreachable',
    message,
    ...(code !== undefined && { code }),
    ...(code !== undefined && RESET_CODES.has(code) && { beforeResponse: true }),
  });
}

/** A timeout failure of the given kind; a stall mid-answer is an interruption (SPEC §2.1). */
export function timeoutError(kind: TimeoutKind, ms: number): ProviderError {
  const what = { connect: 'no response headers', first_token: 'no first token', stall: 'stream stalled' }[
    kind
  ];
  const reason = kind === 'stall' ? 'interrupted' : 'timeout';
  return new ProviderError({ reason, message: `${what} within ${ms} ms`, timeout: kind });
}
