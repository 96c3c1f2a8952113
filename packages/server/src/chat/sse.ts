/** Server-sent events over a hijacked Fastify reply, with heartbeats and disconnect detection. */
import type { FastifyReply } from 'fastify';

/** An open SSE response. */
export interface SseStream {
  send(event: string, data: unknown): void;
  end(): void;
  /** True once the client has gone away. */
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

/** Takes over the reply and opens an event stream. */
export function openSse(reply: FastifyReply, headers: Record<string, string> = {}): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  let closed = false;
  const closers: (() => void)[] = [];
  // Heartbeat comments keep proxies from closing an idle stream while a slow model thinks.
  const beat = setInterval(() => !closed && res.write(': ping\n\n'), 15_000);
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
    onClose(fn) {
      closers.push(fn);
    },
  };
}
