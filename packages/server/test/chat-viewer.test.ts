/**
 * A web chat viewer follows an answer only as fast as its socket takes events: a browser that reads
 * slowly (or not at all) holds the rest in the run's own event list, not in the server's socket
 * buffers; one that takes nothing for the stall time is disconnected. A real `ServerResponse` over a
 * socket whose writes complete only when the test lets the client read (see openai-stream.test.ts
 * for why loopback cannot show this).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { FastifyReply } from 'fastify';
import pino from 'pino';
import { blankAnswerColumns, messageView } from '../src/chat/messages.js';
import type { Run, RunEvent } from '../src/chat/runs.js';
import { openSse } from '../src/chat/sse.js';
// The module's own file: the chat index exposes only routes and the run registry.
import { streamRun } from '../src/chat/viewer.js';
import { responseOver, settle, SlowSocket } from './slow-socket.js';

const TEXTS = Array.from({ length: 200 }, (_, i) => `${i} `.padEnd(600, 'x'));
const log = pino({ level: 'silent' });

/** A run with the contract of `AnswerRuns.start`'s: events kept in order, listeners told of each. */
function fakeRun() {
  const events: RunEvent[] = [];
  const listeners = new Set<(e: RunEvent) => void>();
  const run: Run = {
    orgId: 'o',
    conversationId: 'c',
    messageId: 'm',
    events,
    finished: Promise.resolve(),
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const emit = (e: RunEvent) => {
    events.push(e);
    for (const l of listeners) l(e);
  };
  return { run, emit, listeners };
}

function doneEvent(): RunEvent {
  const now = new Date(0).toISOString();
  const message = messageView({
    id: 'm',
    org_id: 'o',
    conversation_id: 'c',
    seq: 1,
    role: 'assistant',
    content: TEXTS.join(''),
    status: 'complete',
    ...blankAnswerColumns(),
    created_at: now,
    updated_at: now,
  });
  return { type: 'done', message };
}

/** The events of a chunked SSE response as far as it arrived: [event, parsed data]. */
function eventsOf(raw: string): { event: string; data: Record<string, unknown> }[] {
  let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) break;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) break;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
  return body
    .split('\n\n')
    .filter((b) => b.startsWith('event: '))
    .map((b) => {
      const [ev, data] = b.split('\n');
      return { event: ev!.slice(7), data: JSON.parse(data!.slice(6)) as Record<string, unknown> };
    });
}

async function open() {
  const socket = new SlowSocket();
  const res = await responseOver(socket, 'GET /events HTTP/1.1');
  // Only what the viewer uses of a reply: it hijacks it and writes to the raw response.
  const reply = { raw: res, hijack: () => undefined } as unknown as FastifyReply;
  return { socket, res, reply };
}

test('a viewer that reads nothing is sent no more than its socket holds; the rest follows as it reads', async () => {
  const { socket, res, reply } = await open();
  const { run, emit, listeners } = fakeRun();
  streamRun(reply, run, log, { event: 'start', data: { assistantMessageId: 'm' } });
  for (const text of TEXTS) {
    emit({ type: 'text', text });
    await settle();
  }
  emit(doneEvent());
  await settle();
  const total = TEXTS.join('').length;
  const sent = socket.text.length;
  assert.ok(sent < 20_000, `${sent} bytes written for a client that read nothing (the answer: ${total})`);

  // The client reads: the rest goes out a little at a time, to the end of the response.
  let rounds = 0;
  while (!res.writableFinished && rounds++ < 200) {
    socket.release();
    await settle();
  }
  assert.ok(res.writableFinished, 'the response ended');
  assert.ok(rounds > 3, `the client caught up ${rounds} times`);
  assert.match(socket.text, /\r\n0\r\n\r\n$/, 'the chunked body is complete');
  const got = eventsOf(socket.text);
  assert.equal(got[0]?.event, 'start');
  assert.equal(got.at(-1)?.event, 'done');
  const texts = got.filter((e) => e.event === 'text').map((e) => e.data.text as string);
  assert.equal(texts.join(''), TEXTS.join(''), 'every text, in order, once');
  assert.ok(texts.length < TEXTS.length, `text waiting together went out merged (${texts.length} events)`);
  assert.equal(listeners.size, 0, 'unsubscribed at the end');
});

test('a viewer that attaches mid-answer gets what was written in a few events, then each new one', async () => {
  const { socket, reply } = await open();
  socket.flow();
  const { run, emit } = fakeRun();
  for (const text of TEXTS.slice(0, 100)) emit({ type: 'text', text });
  streamRun(reply, run, log, { event: 'start', data: { assistantMessageId: 'm', resumed: true } });
  await settle();
  let got = eventsOf(socket.text).filter((e) => e.event === 'text');
  assert.equal(got.map((e) => e.data.text).join(''), TEXTS.slice(0, 100).join(''));
  assert.ok(got.length <= 5, `the replay took ${got.length} text events`);
  emit({ type: 'text', text: 'live' });
  await settle();
  got = eventsOf(socket.text).filter((e) => e.event === 'text');
  assert.equal(got.at(-1)?.data.text, 'live', 'a viewer that keeps up gets each event as it comes');
  emit(doneEvent());
  await settle();
  assert.match(socket.text, /\r\n0\r\n\r\n$/, 'the response ended with the answer');
});

test('a viewer whose connection closes while its socket is full is unsubscribed', async () => {
  const { socket, reply } = await open();
  const { run, emit, listeners } = fakeRun();
  streamRun(reply, run, log);
  for (const text of TEXTS.slice(0, 50)) emit({ type: 'text', text });
  await settle();
  assert.equal(listeners.size, 1);
  socket.destroy();
  await settle();
  assert.equal(listeners.size, 0, 'the answer goes on without it');
  emit(doneEvent());
});

test('ready() waits for the client to read, and drops a client that reads nothing for the stall time', async () => {
  const { socket, reply } = await open();
  const sse = openSse(reply, { stallMs: 300 });
  let closedSeen = false;
  sse.onClose(() => (closedSeen = true));
  while (!sse.backedUp) sse.send('text', { text: 'x'.repeat(600) });
  let ready = false;
  void sse.ready().then(() => (ready = true));
  await settle();
  assert.equal(ready, false, 'still full');
  // The socket takes one write at a time: the client reads until the backlog is gone.
  for (let i = 0; i < 100 && !ready; i++) {
    socket.release();
    await settle();
  }
  assert.equal(ready, true, 'the client read');
  assert.equal(sse.closed, false);

  while (!sse.backedUp) sse.send('text', { text: 'x'.repeat(600) });
  const t0 = Date.now();
  await sse.ready();
  const waited = Date.now() - t0;
  assert.ok(waited >= 250, `gave up after ${waited} ms`);
  await settle();
  assert.ok(sse.closed && closedSeen && socket.destroyed, 'the stalled connection was dropped');
  // Nothing more is written to it, and waiting on it no longer waits.
  sse.send('text', { text: 'late' });
  await Promise.race([sse.ready(), sleep(1000).then(() => assert.fail('ready() waited on a closed stream'))]);
});
