/**
 * `Cancellation` behaves as the AbortController/AbortSignal pair it stands in for: aborted once,
 * a default AbortError reason, listeners told synchronously and `once` honoured; and code typed
 * against `CancelSignal` takes a platform AbortSignal unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cancellation, type CancelSignal } from '../src/cancel.js';

/** What the engine does with a signal: read it, and listen once. */
function watch(signal: CancelSignal): { calls: number; seen: unknown[] } {
  const state = { calls: 0, seen: [] as unknown[] };
  signal.addEventListener(
    'abort',
    () => {
      state.calls++;
      state.seen.push(signal.reason);
    },
    { once: true },
  );
  return state;
}

describe('Cancellation', () => {
  it('starts unaborted, and its signal is itself', () => {
    const c = new Cancellation();
    assert.equal(c.aborted, false);
    assert.equal(c.reason, undefined);
    assert.equal(c.signal, c);
  });

  it('abort(reason) sets aborted and reason before listeners run, and tells each listener once', () => {
    const c = new Cancellation();
    const a = watch(c.signal);
    const b = watch(c.signal);
    const reason = new Error('client disconnected');
    c.abort(reason);
    assert.equal(c.aborted, true);
    assert.equal(c.reason, reason);
    assert.deepEqual(a, { calls: 1, seen: [reason] });
    assert.deepEqual(b, { calls: 1, seen: [reason] });
  });

  it('a second abort changes nothing and dispatches nothing', () => {
    const c = new Cancellation();
    let calls = 0;
    // Not `once`: a listener that stays would hear a second dispatch if there were one.
    c.addEventListener('abort', () => calls++);
    c.abort('first');
    c.abort('second');
    assert.equal(calls, 1);
    assert.equal(c.reason, 'first');
  });

  it('without a reason, the reason is an AbortError like AbortController gives', () => {
    const c = new Cancellation();
    c.abort();
    const platform = new AbortController();
    platform.abort();
    assert.ok(c.reason instanceof DOMException);
    assert.equal(c.reason.name, 'AbortError');
    assert.equal(c.reason.name, (platform.signal.reason as DOMException).name);
  });

  it('a removed listener is not called', () => {
    const c = new Cancellation();
    let calls = 0;
    const listener = () => calls++;
    c.addEventListener('abort', listener);
    c.removeEventListener('abort', listener);
    c.abort();
    assert.equal(calls, 0);
  });

  it('a platform AbortSignal is a CancelSignal', () => {
    const ac = new AbortController();
    const state = watch(ac.signal);
    ac.abort('why');
    assert.deepEqual(state, { calls: 1, seen: ['why'] });
  });
});
