/**
 * The upstream response body: order, backpressure (pause at the high-water mark, resume as the
 * reader catches up), failures thrown only to a reader and only after the bytes that arrived, and
 * the drain that lets a socket be reused. The handler side is driven by hand with a recording
 * controller; the end-to-end cases against a real socket are in transport.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dispatcher } from 'undici';
import { HIGH_WATER_BYTES, ResponseBody } from '../src/http/index.js';

/** A controller that records what the body asked of the request. */
function controller() {
  const calls: string[] = [];
  let reason: Error | null = null;
  const ctl: Dispatcher.DispatchController = {
    get aborted() {
      return reason !== null;
    },
    get paused() {
      return calls.at(-1) === 'pause';
    },
    get reason() {
      return reason;
    },
    abort(r: Error) {
      reason = r;
      calls.push('abort');
    },
    pause() {
      calls.push('pause');
    },
    resume() {
      calls.push('resume');
    },
  };
  return { ctl, calls, reason: () => reason };
}

const bytes = (n: number, fill = 97) => new Uint8Array(n).fill(fill);

async function readAll(body: ResponseBody): Promise<number[]> {
  const sizes: number[] = [];
  for await (const c of body) sizes.push(c.byteLength);
  return sizes;
}

test('chunks come out in order, then the end; a reader that waits is woken by the next push', async () => {
  const body = new ResponseBody();
  body.attach(controller().ctl);
  body.push(bytes(1));
  const reading = readAll(body);
  await new Promise((r) => setImmediate(r));
  body.push(bytes(2));
  body.push(bytes(3));
  body.end();
  assert.deepEqual(await reading, [1, 2, 3]);
  assert.equal(body.ended, true);
});

test('the request is paused at the high-water mark and resumed once the reader is below it', async () => {
  const { ctl, calls } = controller();
  const body = new ResponseBody();
  body.attach(ctl);
  const chunk = HIGH_WATER_BYTES / 4;
  for (let i = 0; i < 3; i++) body.push(bytes(chunk));
  assert.deepEqual(calls, [], 'below the mark: no pause');
  body.push(bytes(chunk));
  assert.deepEqual(calls, ['pause']);
  body.push(bytes(chunk)); // bytes already in flight still arrive while paused
  assert.deepEqual(calls, ['pause'], 'paused once, not per chunk');
  assert.equal(body.queuedBytes, 5 * chunk);
  const it = body[Symbol.asyncIterator]();
  await it.next(); // 4 chunks left: still at the mark
  assert.deepEqual(calls, ['pause']);
  await it.next(); // 3 left: below it
  assert.deepEqual(calls, ['pause', 'resume']);
  await it.next();
  assert.deepEqual(calls, ['pause', 'resume'], 'resumed once');
});

test('a transport failure is thrown after the bytes that arrived before it, and only to a reader', async () => {
  const body = new ResponseBody();
  body.attach(controller().ctl);
  body.push(bytes(5));
  // Nobody is reading: nothing is thrown, no unhandled rejection.
  body.fail(new Error('socket reset'));
  const it = body[Symbol.asyncIterator]();
  assert.equal(((await it.next()).value as Uint8Array).byteLength, 5);
  await assert.rejects(it.next(), /socket reset/);
  assert.equal(body.destroyed, true);
});

test('destroy aborts the request with its reason, drops what is queued, and fails a waiting reader', async () => {
  const { ctl, calls, reason } = controller();
  const body = new ResponseBody();
  body.attach(ctl);
  body.push(bytes(5));
  const it = body[Symbol.asyncIterator]();
  await it.next();
  const waiting = it.next();
  const why = new Error('cancelled by the engine');
  body.destroy(why);
  await assert.rejects(waiting, (e) => e === why);
  assert.deepEqual(calls, ['abort']);
  assert.equal(reason(), why);
  body.destroy(new Error('again'));
  assert.deepEqual(calls, ['abort'], 'destroy is idempotent');
});

test('destroyed before the request had a connection: aborted as soon as it gets one', () => {
  const body = new ResponseBody();
  const why = new Error('gave up');
  body.destroy(why);
  const { ctl, calls, reason } = controller();
  body.attach(ctl);
  assert.deepEqual(calls, ['abort']);
  assert.equal(reason(), why);
});

test('destroying a body that had ended aborts nothing: its socket is already back in the pool', () => {
  const { ctl, calls } = controller();
  const body = new ResponseBody();
  body.attach(ctl);
  body.push(bytes(3));
  body.end();
  body.destroy();
  assert.deepEqual(calls, []);
});

test('onClose runs once, on the end, a failure or destroy', () => {
  for (const finish of [
    (b: ResponseBody) => b.end(),
    (b: ResponseBody) => b.fail(new Error('x')),
    (b: ResponseBody) => b.destroy(),
  ]) {
    let closed = 0;
    const body = new ResponseBody(() => closed++);
    body.attach(controller().ctl);
    finish(body);
    body.end();
    body.destroy();
    assert.equal(closed, 1);
  }
});

test('drain: nothing to do after the end; otherwise it reads and drops the rest, resuming a paused request', () => {
  const ended = new ResponseBody();
  ended.attach(controller().ctl);
  ended.end();
  ended.drain(1024, 50);
  assert.equal(ended.destroyed, false);

  const { ctl, calls } = controller();
  const body = new ResponseBody();
  body.attach(ctl);
  body.push(bytes(HIGH_WATER_BYTES)); // paused
  body.drain(2 * HIGH_WATER_BYTES, 10_000);
  assert.deepEqual(calls, ['pause', 'resume']);
  assert.equal(body.queuedBytes, 0, 'what was queued is dropped');
  body.push(bytes(100));
  body.end();
  assert.equal(body.destroyed, false, 'the rest fit: the socket is reused');
  assert.equal(body.ended, true);
});

test('drain gives the socket up past its byte limit, or past its time', async () => {
  const over = controller();
  const big = new ResponseBody();
  big.attach(over.ctl);
  big.drain(1000, 10_000);
  big.push(bytes(600));
  assert.deepEqual(over.calls, []);
  big.push(bytes(600));
  assert.deepEqual(over.calls, ['abort']);
  assert.equal(big.destroyed, true);

  const slow = controller();
  const hung = new ResponseBody();
  hung.attach(slow.ctl);
  hung.drain(1000, 20);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(slow.calls, ['abort']);
  assert.equal(hung.destroyed, true);
});

test('stopping iteration early leaves the body as it was', async () => {
  const { ctl, calls } = controller();
  const body = new ResponseBody();
  body.attach(ctl);
  body.push(bytes(1));
  body.push(bytes(2));
  for await (const c of body) {
    assert.equal(c.byteLength, 1);
    break;
  }
  assert.equal(body.destroyed, false);
  assert.deepEqual(calls, []);
  assert.deepEqual(await readAll((body.end(), body)), [2]);
});
