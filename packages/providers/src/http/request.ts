/** One upstream HTTP exchange: send, read a bounded body, and release the socket correctly. */
import { ProviderError, classifyNetworkError, classifyUpstream, type CancelSignal } from '@understudy/engine';
import type { Dispatcher } from 'undici';
import { ResponseBody } from './body.js';
import { failureFromResponse } from './errors.js';

/** What an adapter asks to send. */
export interface HttpCall {
  method?: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** Serialised as JSON when present. */
  body?: unknown;
}

/** An upstream response: status and headers as they arrived, and its body. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
}

/** At most this much of an error response is read: enough for any real error, bounded for a hostile one. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * The error to throw once `signal` has aborted: the engine's own reason when it aborted with a
 * `ProviderError` (its timeouts do), otherwise a plain cancellation.
 */
export function cancellation(signal: CancelSignal): ProviderError {
  const reason: unknown = signal.reason;
  if (reason instanceof ProviderError) return reason;
  return new ProviderError({ reason: 'cancelled', message: 'request cancelled' });
}

/** Maps anything thrown during a call to the `ProviderError` the engine expects. */
export function toProviderError(
  err: unknown,
  signal: CancelSignal,
  afterHeaders: boolean,
  secrets: readonly (string | undefined)[],
): ProviderError {
  if (signal.aborted) return cancellation(signal);
  return classifyNetworkError(err, afterHeaders, secrets);
}

/**
 * Sends the call and resolves once response headers arrive. Header and body timeouts are off for
 * this request even on a caller's dispatcher: the engine's signal is the only clock.
 *
 * Aborting rejects at once, whatever the request's state: undici can only abort a request once it
 * has a connection (nodejs/undici#386), so against a black-holed host the engine's connect timeout
 * would otherwise not end the call until the TCP connect gave up. The request itself is aborted
 * as soon as it has one, and after the headers the abort destroys the body (closing the socket).
 */
export function send(
  call: HttpCall,
  signal: CancelSignal,
  dispatcher: Dispatcher,
  secrets: readonly (string | undefined)[],
): Promise<HttpResponse> {
  if (signal.aborted) return Promise.reject(cancellation(signal));
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      const reason = cancellation(signal);
      if (!settled) {
        settled = true;
        reject(reason);
      }
      body.destroy(reason);
    };
    const body = new ResponseBody(() => signal.removeEventListener('abort', onAbort));
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (ctl) => body.attach(ctl),
      onResponseStart: (_ctl, statusCode, headers) => {
        // 1xx informational heads are not the response.
        if (statusCode < 200 || settled) return;
        settled = true;
        resolve({ statusCode, headers, body });
      },
      onResponseData: (_ctl, chunk) => body.push(chunk),
      onResponseEnd: () => body.end(),
      onResponseError: (_ctl, err) => failed(err),
    };
    /** The transport failed: before the headers the call rejects, after them the body's reader sees it. */
    const failed = (err: Error): void => {
      body.fail(err);
      if (!settled) {
        settled = true;
        reject(toProviderError(err, signal, false, secrets));
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const url = new URL(call.url);
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: call.method ?? 'POST',
          headers: call.headers,
          ...(call.body !== undefined && { body: JSON.stringify(call.body) }),
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        handler,
      );
    } catch (err) {
      // Invalid options (a bad header value, a malformed URL) throw synchronously.
      failed(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/**
 * Reads at most `limit` bytes of a body as UTF-8. Past the limit the body is destroyed (closing
 * the socket) and `truncated` is set, so a hostile or runaway body never grows memory.
 */
export async function readBounded(
  body: ResponseBody,
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for await (const chunk of body) {
    const room = limit - bytes;
    bytes += chunk.byteLength;
    if (chunk.byteLength > room) {
      text += decoder.decode(chunk.subarray(0, room));
      body.destroy();
      return { text, truncated: true };
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return { text: text + decoder.decode(), truncated: false };
}

/** Reads a non-2xx response's bounded body and returns the classified `ProviderError`. */
export async function errorFromResponse(
  res: HttpResponse,
  signal: CancelSignal,
  secrets: readonly (string | undefined)[],
): Promise<ProviderError> {
  let text = '';
  try {
    text = (await readBounded(res.body, ERROR_BODY_LIMIT)).text;
  } catch {
    // A body that breaks mid-read still has a status worth classifying.
    if (signal.aborted) return cancellation(signal);
  }
  return classifyUpstream(failureFromResponse(res.statusCode, res.headers, text), secrets);
}

/** How long a finished body may take to drain before its socket is given up instead of reused. */
const DRAIN_MS = 2000;

/**
 * Releases a response body. After a clean finish the rest (usually nothing: the chunked-encoding
 * end tends to arrive with the last event) is drained so the keep-alive socket returns to the pool;
 * after a failure, cancellation or early return the body is destroyed at once, which closes the
 * upstream socket.
 */
export function release(body: ResponseBody, clean: boolean): void {
  if (clean) body.drain(ERROR_BODY_LIMIT, DRAIN_MS);
  else body.destroy();
}
