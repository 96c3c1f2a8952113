/** What every server-sent event response shares: its headers, and waiting for a client that reads slowly. */
import type { ServerResponse } from 'node:http';
import type { CancelSignal } from '@understudy/engine';

/**
 * Headers of an event stream; `x-accel-buffering` keeps nginx from holding events back. Written
 * raw (the reply is hijacked), so they repeat what every /api and /v1 response carries (see
 * api-headers.ts): an answer is never stored by a browser or proxy, nor sniffed.
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store, no-transform',
  'x-content-type-options': 'nosniff',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * How long a streaming client may take none of what was sent before its connection is dropped: a
 * reader that stopped for good must not hold an answer (or a provider's connection) for ever.
 */
export const CLIENT_STALL_MS = 60_000;

/**
 * Resolves when a response's buffered output has gone to the socket, the response is over, or
 * `cancelled` fires (whoever waits must never hang on a client that stopped reading for good).
 * With `stallMs`, a client that takes nothing for that long has its connection destroyed.
 */
export function drained(res: ServerResponse, cancelled?: CancelSignal, stallMs?: number): Promise<void> {
  if (res.destroyed || !res.writableNeedDrain || cancelled?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const stall =
      stallMs === undefined
        ? undefined
        : setTimeout(() => {
            done();
            res.destroy();
          }, stallMs);
    const done = () => {
      clearTimeout(stall);
      res.off('drain', done);
      res.off('close', done);
      cancelled?.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    cancelled?.addEventListener('abort', done);
  });
}
