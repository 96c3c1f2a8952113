/**
 * Requests a stopping instance refused. During a rolling restart the instance being stopped answers
 * new requests `503 server_shutting_down` (with `retry-after` and `connection: close`) before it
 * reads them, so any request, a POST too, can be sent again: on a new connection the load balancer
 * gives it to another instance. A member then sees no error for an operator's restart.
 */

/** How long a request keeps being sent again while the instances answering it are stopping. */
export const DRAIN_RETRY_MS = 10_000;

/** The wait when a refusal names none (the server sends 1 s); a named one is kept within 0.1–5 s. */
const DEFAULT_WAIT_MS = 1000;

/** What the retry needs from the page: a clock and a wait (a test passes fakes). */
export interface RetryClock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason once it is aborted. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The page's clock: Date.now and an abortable timer. */
export const pageClock: RetryClock = {
  now: () => Date.now(),
  wait: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve();
      }, ms);
      const abort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
    }),
};

/** True for a stopping instance's refusal; read from a copy, so the response stays readable. */
async function isDrainRefusal(res: Response): Promise<boolean> {
  if (res.status !== 503) return false;
  try {
    const body = (await res.clone().json()) as { error?: { code?: unknown } };
    return body.error?.code === 'server_shutting_down';
  } catch {
    // Not our JSON (a proxy's page): not known to have been refused before anything was done.
    return false;
  }
}

/** The refusal's `retry-after` in milliseconds. */
function waitOf(res: Response): number {
  const seconds = Number(res.headers.get('retry-after') ?? NaN);
  return Number.isFinite(seconds) ? Math.min(5000, Math.max(100, seconds * 1000)) : DEFAULT_WAIT_MS;
}

/**
 * Calls `send` again while its answer is a stopping instance's refusal, waiting the refusal's
 * `retry-after` each time, for up to {@link DRAIN_RETRY_MS}; then the last answer, whatever it is.
 */
export async function sendThroughDrain(
  send: () => Promise<Response>,
  signal?: AbortSignal,
  clock: RetryClock = pageClock,
): Promise<Response> {
  const deadline = clock.now() + DRAIN_RETRY_MS;
  for (;;) {
    const res = await send();
    if (!(await isDrainRefusal(res))) return res;
    const wait = waitOf(res);
    if (clock.now() + wait > deadline) return res;
    await res.body?.cancel();
    await clock.wait(wait, signal);
  }
}
