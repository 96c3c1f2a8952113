/**
 * SPEC §2.1 timeout defaults: connect 5 s; first token 10 s for ordinary models, longer for very
 * long prompts, 120 s for reasoning models; stall 15 s; a model's own timeouts win. Checked on
 * `timeoutsFor` itself and, through a virtual clock, on what a real engine actually waits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CancelSignal } from '../src/cancel.js';
import type { Clock, Timer } from '../src/clock.js';
import { createEngine } from '../src/executor/engine.js';
import { DEFAULT_ENGINE_OPTIONS, timeoutsFor } from '../src/executor/options.js';
import { InMemoryHealth } from '../src/health/memory.js';
import { estimateRequestTokens } from '../src/tokens.js';
import type { ChatRequest } from '../src/types/chat.js';
import type { ModelConfig } from '../src/types/catalog.js';
import type { AnswerEvent, AnswerResult } from '../src/types/result.js';
import { FakeClient, ask, catalog, healthy, model, type Step } from './fakes.js';

/** A model with no timeouts of its own (the fakes' default sets short ones). */
function plain(extra: Partial<ModelConfig> = {}): ModelConfig {
  const m = model('m', 'a', 3, extra);
  if (!('timeouts' in extra)) delete m.timeouts;
  return m;
}

describe('DEFAULT_ENGINE_OPTIONS', () => {
  it('are the SPEC §2.1 numbers', () => {
    assert.equal(DEFAULT_ENGINE_OPTIONS.connectMs, 5_000);
    assert.equal(DEFAULT_ENGINE_OPTIONS.firstTokenMs, 10_000);
    assert.equal(DEFAULT_ENGINE_OPTIONS.reasoningFirstTokenMs, 120_000);
    assert.equal(DEFAULT_ENGINE_OPTIONS.stallMs, 15_000);
    assert.equal(DEFAULT_ENGINE_OPTIONS.quickRetryMaxMs, 3_000, 'a Retry-After of 3 s or less is a blip');
  });
});

describe('timeoutsFor', () => {
  const o = DEFAULT_ENGINE_OPTIONS;

  it('an ordinary model with an ordinary prompt: 5 s / 10 s / 15 s', () => {
    assert.deepEqual(timeoutsFor(plain(), 500, o), {
      connectMs: 5_000,
      firstTokenMs: 10_000,
      stallMs: 15_000,
    });
    assert.deepEqual(timeoutsFor(plain(), o.longPromptTokens, o).firstTokenMs, 10_000, 'up to the threshold');
  });

  it('a very long prompt gets a longer first-token timeout, growing with its size; the rest is unchanged', () => {
    const at = (tokens: number) => timeoutsFor(plain(), tokens, o);
    const long = at(o.longPromptTokens + 1);
    assert.ok(long.firstTokenMs > 10_000, `just over the threshold: ${long.firstTokenMs}`);
    const huge = at(200_000);
    assert.equal(huge.firstTokenMs, 10_000 + 180 * o.longPromptMsPer1k);
    assert.ok(huge.firstTokenMs > at(100_000).firstTokenMs, 'more prompt, more time');
    assert.equal(huge.connectMs, 5_000, 'connecting does not depend on the prompt');
    assert.equal(huge.stallMs, 15_000, 'nor does the gap between chunks');
  });

  it('a reasoning model waits 120 s for its first token', () => {
    const r = plain({ capabilities: ['reasoning'] });
    assert.deepEqual(timeoutsFor(r, 500, o), { connectMs: 5_000, firstTokenMs: 120_000, stallMs: 15_000 });
    assert.ok(timeoutsFor(r, 200_000, o).firstTokenMs >= 120_000, 'never less for a long prompt');
  });

  it("a model's own timeouts win, field by field, over every default and adjustment", () => {
    const own = { connectMs: 1_234, firstTokenMs: 2_345, stallMs: 3_456 };
    for (const capabilities of [[], ['reasoning']] as const) {
      for (const tokens of [10, 200_000]) {
        const m = plain({ capabilities: [...capabilities], timeouts: own });
        assert.deepEqual(timeoutsFor(m, tokens, o), own);
      }
    }
    const onlyStall = plain({ timeouts: { stallMs: 60_000 } });
    assert.deepEqual(timeoutsFor(onlyStall, 500, o), {
      connectMs: 5_000,
      firstTokenMs: 10_000,
      stallMs: 60_000,
    });
    const onlyFirst = plain({ capabilities: ['reasoning'], timeouts: { firstTokenMs: 30_000 } });
    assert.equal(timeoutsFor(onlyFirst, 500, o).firstTokenMs, 30_000, 'even below the reasoning default');
  });
});

/** A clock whose time only moves when the test says so; timers fire in order of their deadline. */
class VirtualClock implements Clock {
  private t = 1_000_000;
  private readonly timers = new Set<{ at: number; fn: () => void }>();
  /** Timer work done: timers created and re-armed. */
  created = 0;
  resets = 0;

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: CancelSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = this.timer(ms, resolve);
      signal?.addEventListener(
        'abort',
        () => {
          t.cancel();
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  timer(ms: number, fn: () => void): Timer {
    const entry = { at: this.t + ms, fn };
    this.timers.add(entry);
    this.created++;
    let last = ms;
    return {
      reset: (next = last) => {
        this.resets++;
        last = next;
        entry.at = this.t + next;
        this.timers.add(entry);
      },
      cancel: () => void this.timers.delete(entry),
    };
  }

  /** Jumps to the earliest timer and fires it; false when none is armed. */
  fireNext(): boolean {
    let next: { at: number; fn: () => void } | undefined;
    for (const e of this.timers) if (!next || e.at < next.at) next = e;
    if (!next) return false;
    this.timers.delete(next);
    this.t = Math.max(this.t, next.at);
    next.fn();
    return true;
  }
}

/** Lets every pending promise callback and I/O-free continuation run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Runs one answer whose primary `m` follows `steps` (the backup answers at once), moving virtual
 * time from timer to timer while the engine waits; returns the final result.
 */
async function underVirtualTime(
  m: ModelConfig,
  steps: Step[],
  request: ChatRequest = ask(),
  clock = new VirtualClock(),
): Promise<AnswerResult> {
  const client = new FakeClient({ m: steps, b1: healthy('From the backup.') });
  const engine = createEngine({ client, health: new InMemoryHealth(), clock });
  const cat = catalog({ models: [m, model('b1', 'b', 3)], defaultModelId: 'm' });
  let last: AnswerEvent | undefined;
  const done = (async () => {
    for await (const e of engine.answer({ catalog: cat, request, takeover: 'restart' })) last = e;
  })();
  let finished = false;
  void done.then(() => (finished = true));
  for (let i = 0; i < 100 && !finished; i++) {
    await settle();
    if (!finished && !clock.fireNext()) await settle();
  }
  await done;
  assert.ok(last && (last.type === 'done' || last.type === 'error'));
  return last.result;
}

describe('the defaults reach the engine (virtual time)', () => {
  /** The primary's failed attempt: which timeout, and after how much (virtual) time. */
  async function primaryTimeout(m: ModelConfig, steps: Step[], request?: ChatRequest) {
    const r = await underVirtualTime(m, steps, request);
    assert.equal(r.modelId, 'b1', 'the backup answered');
    const a = r.attempts[0];
    assert.ok(a?.failure, 'the primary failed');
    return { kind: a.failure.timeout, ms: a.durationMs, reason: a.failure.reason };
  }

  it('no headers: the connect timeout, 5 s', async () => {
    assert.deepEqual(await primaryTimeout(plain(), [{ type: 'hang' }]), {
      kind: 'connect',
      ms: 5_000,
      reason: 'timeout',
    });
  });

  it('headers but no content: the first-token timeout, 10 s', async () => {
    assert.deepEqual(await primaryTimeout(plain(), [{ type: 'open' }, { type: 'hang' }]), {
      kind: 'first_token',
      ms: 10_000,
      reason: 'timeout',
    });
  });

  it('a very long prompt waits longer for its first token', async () => {
    const request = ask('word '.repeat(120_000));
    const expected = timeoutsFor(
      plain(),
      estimateRequestTokens(request),
      DEFAULT_ENGINE_OPTIONS,
    ).firstTokenMs;
    assert.ok(expected > 10_000);
    const t = await primaryTimeout(plain(), [{ type: 'open' }, { type: 'hang' }], request);
    assert.deepEqual(t, { kind: 'first_token', ms: expected, reason: 'timeout' });
  });

  it('a reasoning model: 120 s for its first token', async () => {
    const t = await primaryTimeout(plain({ capabilities: ['reasoning'] }), [
      { type: 'open' },
      { type: 'hang' },
    ]);
    assert.deepEqual(t, { kind: 'first_token', ms: 120_000, reason: 'timeout' });
  });

  it('a stall after content: 15 s, then interrupted', async () => {
    const steps: Step[] = [{ type: 'open' }, { type: 'text', text: 'Partial ' }, { type: 'hang' }];
    assert.deepEqual(await primaryTimeout(plain(), steps), {
      kind: 'stall',
      ms: 15_000,
      reason: 'interrupted',
    });
  });

  it('a first-token timeout shorter than the connect timeout still fires on time', async () => {
    const short = plain({ timeouts: { connectMs: 5_000, firstTokenMs: 300 } });
    assert.deepEqual(await primaryTimeout(short, [{ type: 'open' }, { type: 'hang' }]), {
      kind: 'first_token',
      ms: 300,
      reason: 'timeout',
    });
  });

  it('an answer that moves to later deadlines costs one timer and no re-arming', async () => {
    // Connect 5 s, first token 10 s, stall 15 s: each deadline is later than the armed one, which
    // would only wake early and re-arm; a healthy answer never gets there.
    const clock = new VirtualClock();
    const r = await underVirtualTime(plain(), healthy('All fine here.'), ask(), clock);
    assert.equal(r.status, 'complete');
    assert.equal(r.modelId, 'm');
    assert.deepEqual({ created: clock.created, resets: clock.resets }, { created: 1, resets: 0 });
  });

  it("a model's own timeouts win", async () => {
    const own = plain({
      capabilities: ['reasoning'],
      timeouts: { connectMs: 700, firstTokenMs: 800, stallMs: 900 },
    });
    assert.deepEqual(await primaryTimeout(own, [{ type: 'hang' }]), {
      kind: 'connect',
      ms: 700,
      reason: 'timeout',
    });
    assert.deepEqual(await primaryTimeout(own, [{ type: 'open' }, { type: 'hang' }]), {
      kind: 'first_token',
      ms: 800,
      reason: 'timeout',
    });
    const stall: Step[] = [{ type: 'open' }, { type: 'text', text: 'x' }, { type: 'hang' }];
    assert.deepEqual(await primaryTimeout(own, stall), { kind: 'stall', ms: 900, reason: 'interrupted' });
  });
});
