/**
 * Server-sent events over a hijacked Fastify reply, with heartbeats, disconnect detection and
 * backpressure: a writer asks `ready()` before it sends more, so a viewer that reads slowly holds
 * what it has not read in the answer's own event list, not in its socket's buffer.
 */
import type { FastifyReply } from 'fastify';
import { CLIENT_STALL_MS, drained, SSE_HEADERS } from '../http/index.js';

/** An open SSE response. */
export interface SseStream {
  send(event: string, data: unknown): void;
  end(): void;
  /** True once the client has gone away. */
  readonly closed: boolean;
  /** True while the socket holds more than it wants: wait for `ready()` before sending more. */
  readonly backedUp: boolean;
  /**
   * Resolves once the socket took what it held, or the client is gone. A client that takes
   * nothing for the stall time is disconnected (a page that comes back reloads the saved answer).
   */
  ready(): Promise<void>;
  onClose(fn: () => void): void;
}

/**
 * Takes over the reply and opens an event stream (`stallMs`: see `CLIENT_STALL_MS`). `close`: the
 * connection ends with the stream (a draining instance's `connection: close`, which the hijacked
 * reply's own headers no longer carry).
 */
export function openSse(reply: FastifyReply, o: { stallMs?: number; close?: boolean } = {}): SseStream {
  const stallMs = o.stallMs ?? CLIENT_STALL_MS;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, o.close ? { ...SSE_HEADERS, connection: 'close' } : SSE_HEADERS);
  // A viewer may have left before the stream opened: its 'close' has fired already.
  let closed = res.destroyed;
  const closers: (() => void)[] = [];
  // Heartbeat comments keep proxies from closing an idle stream while a slow model thinks (a
  // socket that is still full is not idle, and more bytes would not help it).
  const beat = setInterval(() => !closed && !res.writableNeedDrain && res.write(': ping\n\n'), 15_000);
  if (closed) clearInterval(beat);
  res.on('close', () => {
    closed = true;
    clearInterval(beat);
    for (const fn of closers) fn();
  });
  return {
    send(event, data) {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      clearInterval(beat);
      if (!closed) res.end();
    },
    get closed() {
      return closed;
    },
    get backedUp() {
      return !closed && res.writableNeedDrain;
    },
    ready: () => drained(res, undefined, stallMs),
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
}
