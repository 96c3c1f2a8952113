/** One browser following an answer in flight on this instance. */
import type { FastifyReply } from 'fastify';
import type { AppContext } from '../context.js';
import type { Run } from './runs.js';
import { openSse } from './sse.js';

/** Consecutive text events a viewer has yet to receive go out as one, up to this many characters. */
const MERGED_TEXT_MAX = 16_384;

/**
 * Streams a run to the client: replays what happened so far, then follows it live until it ends.
 * The viewer is a cursor into the run's event list that moves only as fast as its socket takes
 * events, so a slow or stalled browser costs no memory beyond the answer the run keeps anyway.
 * `close`: see `openSse`.
 */
export function streamRun(
  reply: FastifyReply,
  run: Run,
  log: AppContext['log'],
  first?: { event: string; data: unknown },
  o: { close?: boolean } = {},
): void {
  const sse = openSse(reply, o);
  if (first) sse.send(first.event, first.data);
  const events = run.events;
  let next = 0;
  let pumping = false;
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (!sse.closed && next < events.length) {
        if (sse.backedUp) {
          await sse.ready();
          continue;
        }
        const e = events[next++]!;
        if (e.type === 'text') {
          // A viewer that fell behind (or reattached) gets the text it missed in few writes.
          let text = e.text;
          for (let n = events[next]; n?.type === 'text' && text.length < MERGED_TEXT_MAX; n = events[++next])
            text += n.text;
          sse.send('text', { text });
          continue;
        }
        const { type, ...data } = e;
        sse.send(type, data);
        if (type === 'done' || type === 'error') {
          unsubscribe();
          sse.end();
          return;
        }
      }
    } finally {
      pumping = false;
    }
  };
  const kick = () =>
    void pump().catch((err: unknown) => {
      log.warn({ err }, 'streaming an answer to a viewer failed');
      sse.end();
    });
  // Listeners are told of later events only, so pump (which may unsubscribe) never runs before this.
  const unsubscribe = run.subscribe(kick);
  // The browser went away: stop sending, but the answer goes on and is saved.
  sse.onClose(unsubscribe);
  kick();
}
