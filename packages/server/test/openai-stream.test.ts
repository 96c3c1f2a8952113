/**
 * Backpressure of a streamed chat completion: the next answer event is pulled only once the client's
 * socket took the last one, so a client that stops reading holds the answer upstream (the engine and
 * the provider's socket pause in turn) instead of in the server's memory. A real `ServerResponse`
 * over a socket whose writes complete only when the test says so: the kernel buffers of a loopback
 * connection hold megabytes, more than an answer's compact output, so they cannot show this.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnswerEvent, AnswerResult } from '@understudy/engine';
import type { FastifyReply } from 'fastify';
import { ApiAnswers } from '../src/openai-api/in-flight.js';
// The module's own file: its index exposes only the routes.
import { streamCompletion } from '../src/openai-api/stream.js';
import { responseOver, settle, SlowSocket } from './slow-socket.js';

const TEXTS = Array.from({ length: 20 }, (_, i) => `${i} `.padEnd(600, 'x'));

function result(): AnswerResult {
  return {
    status: 'complete',
    modelId: 'm',
    providerId: 'p',
    text: TEXTS.join(''),
    toolCalls: [],
    finishReason: 'stop',
    usage: { inputTokens: 1, outputTokens: TEXTS.length, estimated: false },
    latencyMs: 1,
    malformedChunks: 0,
    attempts: [],
  };
}

/** An answer of 20 text events and `done`, counting how many events were pulled. */
function answerEvents(): { events: AsyncIterable<AnswerEvent>; pulled: () => number } {
  let pulled = 0;
  async function* gen(): AsyncGenerator<AnswerEvent> {
    for (const text of TEXTS) {
      pulled++;
      yield { type: 'text', text };
    }
    pulled++;
    yield { type: 'done', result: result() };
  }
  return { events: gen(), pulled: () => pulled };
}

/** A real http server handling one request that arrives over a SlowSocket. */
async function start(stallMs?: number) {
  const socket = new SlowSocket();
  const res = await responseOver(socket, 'POST /v1/chat/completions HTTP/1.1');
  // Only what streamCompletion uses of a reply: it hijacks it and writes to the raw response.
  const reply = { raw: res, hijack: () => undefined } as unknown as FastifyReply;
  const answer = new ApiAnswers().begin();
  const { events, pulled } = answerEvents();
  let finished: AnswerResult | undefined;
  const done = streamCompletion(reply, events, {
    id: 'chatcmpl-test',
    created: 0,
    modelId: 'm',
    providerId: 'p',
    finish: (r) => (finished = r),
    answer,
    ...(stallMs !== undefined && { stallMs }),
  });
  return { socket, res, answer, done, pulled, finished: () => finished };
}

test('a stream waits for its client: no event is pulled while the socket is full', async () => {
  const s = await start();
  await settle();
  const before = s.pulled();
  assert.ok(
    before < TEXTS.length / 2,
    `${before} of ${TEXTS.length + 1} events pulled while the client read nothing`,
  );
  await settle();
  assert.equal(s.pulled(), before, 'still waiting');
  // The client reads: the stream goes on, a little at a time, to its end.
  let rounds = 0;
  while (s.finished() === undefined && rounds++ < 100) {
    s.socket.release();
    await settle();
  }
  await s.done;
  assert.equal(s.pulled(), TEXTS.length + 1);
  assert.ok(rounds > 2, `the client caught up ${rounds} times`);
  s.socket.flow();
  await settle();
  const text = s.socket.text;
  for (const t of TEXTS) assert.ok(text.includes(`"content":"${t}"`), 'every text event was written');
  // The last event, then the end of the chunked body: the response is complete.
  assert.match(text, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/);
  assert.equal(s.finished()?.status, 'complete');
});

test('a cancelled answer does not wait for a client that stopped reading', async () => {
  const s = await start();
  await settle();
  const before = s.pulled();
  assert.ok(before < TEXTS.length / 2);
  // A server stop (or the client going away) cancels the answer: the stream must not hang on drain.
  s.answer.clientGone();
  await s.done;
  assert.equal(s.pulled(), TEXTS.length + 1, 'the rest of the events were read to the end');
});

test('a client whose connection closes while the socket is full ends the stream', async () => {
  const s = await start();
  await settle();
  s.socket.destroy();
  // (In the route, the response's close also cancels the answer upstream.)
  await s.done;
  assert.equal(s.finished()?.status, 'complete', 'the answer was still booked');
});

test('a client that reads nothing for the stall time is disconnected, and the stream ends', async () => {
  const t0 = Date.now();
  const s = await start(300);
  await settle();
  assert.ok(s.pulled() < TEXTS.length / 2, 'waiting on the client');
  // (In the route, the response's close cancels the answer upstream: the client is gone.)
  await s.done;
  const waited = Date.now() - t0;
  assert.ok(waited >= 250, `dropped after ${waited} ms`);
  assert.ok(s.res.destroyed && s.socket.destroyed, 'the connection was closed');
  assert.equal(s.pulled(), TEXTS.length + 1, 'nothing more waited on it');
});
