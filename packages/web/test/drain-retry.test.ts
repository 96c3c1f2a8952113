/**
 * A request a stopping instance refused (503 `server_shutting_down`) is sent again after the
 * refusal's retry-after, for up to DRAIN_RETRY_MS; every other answer, a 503 of another kind too,
 * comes back as it is. Pure, with a fake clock; the server's refusal itself is drain.test's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRAIN_RETRY_MS, sendThroughDrain, type RetryClock } from '../src/api/drainRetry.js';

/** The refusal a draining instance sends (http/drain.ts). */
const refusal = (retryAfter: string | null = '1') =>
  new Response(
    JSON.stringify({ error: { code: 'server_shutting_down', message: 'this instance is shutting down' } }),
    {
      status: 503,
      headers: {
        'content-type': 'application/json',
        ...(retryAfter !== null && { 'retry-after': retryAfter }),
      },
    },
  );

/** A clock whose waits pass at once, advancing it, and are recorded. */
function fakeClock() {
  const waits: number[] = [];
  let now = 0;
  const clock: RetryClock = {
    now: () => now,
    wait: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  return { clock, waits };
}

/** A `send` answering these responses in turn, counting its calls. */
function answering(...responses: (() => Response)[]) {
  let calls = 0;
  return {
    send: () => Promise.resolve((responses[Math.min(calls++, responses.length - 1)] as () => Response)()),
    calls: () => calls,
  };
}

test('refused twice while instances stop, then answered: the answer, after two waits of retry-after', async () => {
  const { clock, waits } = fakeClock();
  const s = answering(
    () => refusal('1'),
    () => refusal('2'),
    () => Response.json({ id: 'c1' }),
  );
  const res = await sendThroughDrain(s.send, undefined, clock);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { id: 'c1' });
  assert.equal(s.calls(), 3);
  assert.deepEqual(waits, [1000, 2000]);
});

test('no retry-after: one second; an outlandish one is kept within 0.1–5 s', async () => {
  const { clock, waits } = fakeClock();
  const s = answering(
    () => refusal(null),
    () => refusal('3600'),
    () => refusal('0'),
    () => new Response(null, { status: 204 }),
  );
  assert.equal((await sendThroughDrain(s.send, undefined, clock)).status, 204);
  assert.deepEqual(waits, [1000, 5000, 100]);
});

test('other answers come back at once: errors, a 503 of another kind, a proxy page', async () => {
  for (const make of [
    () => Response.json({ error: { code: 'database_unavailable', message: 'down' } }, { status: 503 }),
    () => new Response('<html>Service Unavailable</html>', { status: 503 }),
    () => Response.json({ error: { code: 'not_found', message: 'no' } }, { status: 404 }),
  ]) {
    const { clock, waits } = fakeClock();
    const s = answering(make);
    const res = await sendThroughDrain(s.send, undefined, clock);
    assert.equal(s.calls(), 1);
    assert.deepEqual(waits, []);
    // Still readable by the caller, who reads the error from it.
    assert.ok((await res.text()).length > 0);
  }
});

test('refused for longer than DRAIN_RETRY_MS: the last refusal comes back, readable', async () => {
  const { clock, waits } = fakeClock();
  const s = answering(() => refusal('1'));
  const res = await sendThroughDrain(s.send, undefined, clock);
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'server_shutting_down');
  assert.equal(waits.length, DRAIN_RETRY_MS / 1000);
  assert.equal(s.calls(), waits.length + 1);
});

test('aborted while waiting (the member pressed Stop): the abort, and no further request', async () => {
  const { clock } = fakeClock();
  const controller = new AbortController();
  let calls = 0;
  const send = () => {
    calls++;
    controller.abort(new DOMException('stopped', 'AbortError'));
    return Promise.resolve(refusal('1'));
  };
  await assert.rejects(sendThroughDrain(send, controller.signal, clock), { name: 'AbortError' });
  assert.equal(calls, 1);
});
