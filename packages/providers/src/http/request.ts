/** One upstream HTTP exchange: send, read a bounded body, and release the socket correctly. */
import { ProviderError, classifyNetworkError, classifyUpstream, type CancelSignal } from '@understudy/engine';
import { request, type Dispatcher } from 'undici';
import { failureFromResponse } from './errors.js';

/** What an adapter asks to send. */
export interface HttpCall {
  method?: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** Serialised as JSON when present. */
  body?: unknown;
}

/** The response as undici gives it. */
export type HttpResponse = Dispatcher.ResponseData;

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
 * The abort is raced here rather than left to undici alone: undici only notices an aborted
 * request once its connection is established (nodejs/undici#386), so against a black-holed host
 * the engine's connect timeout would not end the call until the TCP connect gave up. A response
 * that arrives after we gave up is destroyed so its socket is not stranded.
 */
export async function send(
  call: HttpCall,
  signal: CancelSignal,
  dispatcher: Dispatcher,
  secrets: readonly (string | undefined)[],
): Promise<HttpResponse> {
  if (signal.aborted) throw cancellation(signal);
  const pending = request(call.url, {
    method: call.method ?? 'POST',
    headers: call.headers,
    ...(call.body !== undefined && { body: JSON.stringify(call.body) }),
    // undici takes any EventTarget with `aborted` and `reason` (lib/api/abort-signal.js); its
    // types name only AbortSignal and EventEmitter.
    signal: signal as AbortSignal,
    dispatcher,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(cancellation(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let res: HttpResponse;
  try {
    res = await Promise.race([pending, aborted]);
  } catch (err) {
    pending.then(
      (late) => late.body.on('error', noop).destroy(),
      noop, // undici's own rejection of the abandoned request: already reported as cancelled
    );
    throw toProviderError(err, signal, false, secrets);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  // Destroying a body we stopped reading (an error event, an abort) makes undici emit an error
  // on it; with nobody iterating any more, that would be an uncaught exception. The reader that
  // matters sees the failure through its own iteration, so the stray emission is ignored here.
  res.body.on('error', noop);
  return res;
}

function noop(): void {}

/**
 * Reads at most `limit` bytes of a body as UTF-8. Past the limit the body is destroyed (closing
 * the socket) and `truncated` is set, so a hostile or runaway body never grows memory.
 */
export async function readBounded(
  body: HttpResponse['body'],
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
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
 * Releases a response body. After a clean finish the rest (usually just the chunked-encoding end)
 * is drained in the background so the keep-alive socket returns to the pool; after a failure,
 * cancellation or early return the body is destroyed at once, which closes the upstream socket.
 */
export function release(body: HttpResponse['body'], clean: boolean): void {
  if (body.destroyed) return;
  if (!clean) {
    body.destroy();
    return;
  }
  // A plain timer rather than AbortSignal.timeout: this runs once per answer, and a timeout signal
  // costs a weak reference and a finalizer each time.
  const timer = setTimeout(() => body.destroy(), DRAIN_MS);
  timer.unref();
  body
    .dump({ limit: ERROR_BODY_LIMIT })
    .catch(() => {
      // The drain failed: dump destroys the body itself; nothing else to do.
    })
    .finally(() => clearTimeout(timer));
}
