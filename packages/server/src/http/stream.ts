/** What every server-sent event response shares: its headers, and waiting for a client that reads slowly. */
import type { ServerResponse } from 'node:http';
import type { CancelSignal } from '@understudy/engine';

/** Headers of an event stream; `x-accel-buffering` keeps nginx from holding events back. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * Resolves when a response's buffered output has gone to the socket, the response is over, or
 * `cancelled` fires (whoever waits must never hang on a client that stopped reading for good).
 */
export function drained(res: ServerResponse, cancelled?: CancelSignal): Promise<void> {
  if (res.destroyed || !res.writableNeedDrain || cancelled?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
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
