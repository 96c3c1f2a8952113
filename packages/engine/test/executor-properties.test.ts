/**
 * The executor against an oracle written from SPEC §2.1–2.4, over generated failure scripts: what
 * the primary does on its first call and on its quick retry, what the backup does, the Fallback
 * setting, the backup's context window and prefill capability, and how the caller takes over
 * (restart or instruct). The example tests name the cases one by one; this one checks that every
 * combination of them keeps the SPEC's promises: who is called and how often, what the member ends
 * up seeing (the events, with a restart's discard applied, equal the stored text), the reason
 * recorded, the error that names both failures, and that every unfinished upstream call is aborted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Cancellation } from '../src/cancel.js';
import { createEngine } from '../src/executor/engine.js';
import { CONTINUE_INSTRUCTION } from '../src/executor/rules.js';
import { DEFAULT_ENGINE_OPTIONS } from '../src/executor/options.js';
import { isFallbackReason, type FailureReason } from '../src/errors.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { AnswerEvent, TakeoverMode } from '../src/types/result.js';
import { FakeClient, ask } from './fakes.js';
import {
  catalogFor,
  PRIMARY_WINDOW,
  scenarioArb,
  script,
  type Behavior,
  type Scenario,
} from './scenarios.js';

/** How one call ends, by the SPEC §2.1 table. */
interface Expected {
  ok: boolean;
  reason?: FailureReason;
  /** The content the member was shown by this call: text, and whether a tool call was among it. */
  text: string;
  tool: boolean;
  malformed: number;
  usageReported: boolean;
  /** The call was not read to its end (it failed or never closed): the engine must abort it, closing its socket. */
  aborted: boolean;
}

function expectedCall(b: Behavior): Expected {
  // Noise is only sent on an open stream.
  const sent = 'noise' in b && (!('afterOpen' in b) || b.afterOpen) ? b.noise : [];
  const malformed = sent.filter((n) => n === 'malformed').length;
  const base = { malformed, usageReported: false, aborted: false, tool: false };
  switch (b.kind) {
    case 'ok':
      // A finish reason makes the answer whole; a provider that then never closes only loses its connection.
      return {
        ...base,
        ok: true,
        text: b.words.join(''),
        tool: b.tool,
        usageReported: b.usage,
        aborted: b.thenHang,
      };
    case 'fail':
      return { ...base, ok: false, reason: b.failure.reason, text: '', aborted: true };
    case 'silent':
      return { ...base, ok: false, reason: 'timeout', text: '', aborted: true };
    case 'empty':
      return { ...base, ok: false, reason: 'interrupted', text: '' };
    case 'cut': {
      const text = b.words.join('');
      const { tool } = b;
      if (b.end.type === 'fail')
        return {
          ...base,
          tool,
          ok: false,
          reason: b.end.failure.reason,
          text,
          aborted: true,
        };
      return { ...base, tool, ok: false, reason: 'interrupted', text, aborted: b.end.type === 'stall' };
    }
  }
}

/** SPEC §2.3: one quick retry, only for a blip before any content: a single 500/502, a reset, a 429 with Retry-After ≤ 3 s. */
function quickRetry(b: Behavior): boolean {
  if (b.kind !== 'fail') return false;
  const f = b.failure;
  if (f.reason === 'rate_limited')
    return f.retryAfterMs !== undefined && f.retryAfterMs <= DEFAULT_ENGINE_OPTIONS.quickRetryMaxMs;
  if (f.status === 500 || f.status === 502) return !b.afterOpen;
  return f.reason === 'unreachable' && f.beforeResponse === true;
}

/** What the SPEC promises for a scenario. */
function oracle(s: Scenario) {
  const calls: { model: 'a1' | 'b1'; b: Behavior }[] = [{ model: 'a1', b: s.primary }];
  let p = expectedCall(s.primary);
  if (!p.ok && quickRetry(s.primary)) {
    calls.push({ model: 'a1', b: s.retry });
    p = expectedCall(s.retry);
  }
  const base = { calls };
  if (p.ok)
    return { ...base, status: 'complete' as const, by: 'a1', text: p.text, toolCalls: p.tool ? 1 : 0 };
  const reason = p.reason!;
  const shown = p.text;
  const failed = { ...base, status: 'failed' as const, reason, by: 'a1', text: shown };
  if (!isFallbackReason(reason) || s.fallback === 'none') return failed;
  // SPEC §2.1: context too long goes only to a larger window (or, for Specific, an unknown one).
  if (reason === 'context_too_long') {
    const w = s.backupWindow;
    const fits = w === undefined ? s.fallback === 'specific' : w > PRIMARY_WINDOW;
    if (!fits) return failed;
  }
  const contentShown = shown !== '' || p.tool;
  // A half-streamed tool call cannot be continued by instruction; the chat can restart the answer.
  if (p.tool && s.takeover === 'instruct') return failed;
  const mode: TakeoverMode = !contentShown
    ? 'invisible'
    : s.backupPrefill && !p.tool
      ? 'prefill'
      : s.takeover;
  calls.push({ model: 'b1', b: s.backup });
  const q = expectedCall(s.backup);
  const joined = mode === 'prefill' || mode === 'instruct' ? shown + q.text : q.text;
  const takeover = { mode, reason };
  const asked = { backupRequestMode: mode, partial: shown };
  if (q.ok)
    return {
      ...base,
      ...asked,
      status: 'complete' as const,
      by: 'b1',
      text: joined,
      fallback: takeover,
      toolCalls: q.tool ? 1 : 0,
    };
  // The backup failed: the error is the primary's; the backup is named as the answer's author only
  // when its words are in it.
  if (q.text === '' && !q.tool) return { ...failed, ...asked, backupReason: q.reason };
  return { ...failed, ...asked, by: 'b1', text: joined, fallback: takeover, backupReason: q.reason };
}

/** A fresh engine whose providers play the scenario's scripts (a1 the primary, b1 the backup). */
function engineFor(s: Scenario) {
  const client = new FakeClient({
    a1: (n) => script(n === 1 ? s.primary : s.retry),
    b1: () => script(s.backup),
  });
  const engine = createEngine({ client, health: new InMemoryHealth(), options: { quickRetryDelayMs: 1 } });
  return { client, engine };
}

/** The text the member ends up seeing from these events: a restart discards what came before it. */
function shownText(events: readonly AnswerEvent[]): string {
  let seen = '';
  for (const e of events) {
    if (e.type === 'text') seen += e.text;
    if (e.type === 'fallback' && e.record.mode === 'restart') seen = '';
  }
  return seen;
}

/** Runs one scenario through a fresh engine and checks it against the oracle. */
async function check(s: Scenario): Promise<void> {
  const { client, engine } = engineFor(s);
  const request = ask('Tell me something.');
  const events: AnswerEvent[] = [];
  for await (const e of engine.answer({ catalog: catalogFor(s), request, takeover: s.takeover }))
    events.push(e);
  const want = oracle(s);
  const made = want.calls.map((c) => expectedCall(c.b));

  // One terminal event, last; at most one takeover.
  const terminals = events.filter((e) => e.type === 'done' || e.type === 'error');
  assert.equal(terminals.length, 1, 'exactly one done or error');
  const last = events.at(-1)!;
  assert.ok(last.type === 'done' || last.type === 'error');
  assert.ok(events.filter((e) => e.type === 'fallback').length <= 1, 'one backup, never a chain');

  // Who was called, in order; every call left unfinished was aborted.
  assert.deepEqual(
    client.calls.map((c) => c.modelId),
    want.calls.map((c) => c.model),
    'the calls made',
  );
  made.forEach((c, i) => assert.equal(client.calls[i]!.aborted, c.aborted, `call ${i + 1} aborted`));

  const result = last.result;
  assert.equal(last.type, want.status === 'complete' ? 'done' : 'error');
  assert.equal(result.status, want.status);
  assert.equal(result.modelId, want.by, 'the model named as the answer’s author');
  assert.equal(result.text, want.text, 'the stored text');
  if ('toolCalls' in want) assert.equal(result.toolCalls.length, want.toolCalls, 'the tool calls');
  assert.equal(shownText(events), result.text, 'the streamed text equals the stored text');

  // The fallback record (SPEC §2.6): present exactly when the backup's words are in the answer.
  if ('fallback' in want && want.fallback) {
    assert.ok(result.fallback, 'a fallback record');
    assert.equal(result.fallback.reason, want.fallback.reason);
    assert.equal(result.fallback.mode, want.fallback.mode);
    assert.equal(result.fallback.originalModelId, 'a1');
    assert.equal(result.fallback.backupModelId, 'b1');
    assert.equal(result.fallback.skippedByHealth, false);
  } else {
    assert.equal(result.fallback, undefined, 'no fallback record');
  }

  // The error names the primary's failure, and the backup's when one was asked (SPEC §2.3).
  if (want.status === 'failed') {
    assert.ok(last.type === 'error');
    assert.equal(last.error.reason, want.reason, 'the error is the primary’s');
    assert.equal(last.error.primary.modelId, 'a1');
    const backupReason = 'backupReason' in want ? want.backupReason : undefined;
    assert.equal(last.error.backup?.reason, backupReason);
    assert.equal(last.error.backup?.modelId, backupReason === undefined ? undefined : 'b1');
    assert.doesNotMatch(last.error.message, /sk-secret/, 'no key in the error');
  }

  // What the backup was asked (SPEC §2.4): the partial answer to continue, or the question again.
  const backupCall = client.calls.find((c) => c.modelId === 'b1');
  if ('backupRequestMode' in want) {
    const { backupRequestMode: mode, partial } = want;
    assert.ok(backupCall);
    const msgs = backupCall.request.messages;
    if (mode === 'invisible' || mode === 'restart') assert.deepEqual(msgs, request.messages);
    else if (mode === 'prefill')
      assert.deepEqual(msgs, [...request.messages, { role: 'assistant', content: partial }]);
    else
      assert.deepEqual(msgs, [
        ...request.messages,
        { role: 'assistant', content: partial },
        { role: 'user', content: CONTINUE_INSTRUCTION },
      ]);
  }

  // The books: one attempt per call with its role; malformed chunks skipped and counted; usage
  // marked estimated when a call whose words are counted reported none.
  assert.deepEqual(
    result.attempts.map((a) => a.role),
    want.calls.map((c, i) => (c.model === 'b1' ? 'backup' : i === 0 ? 'primary' : 'retry')),
  );
  assert.equal(
    result.malformedChunks,
    made.reduce((n, e) => n + e.malformed, 0),
    'malformed chunks',
  );
  const counted = made.filter((e) => e.ok || e.text !== '' || e.tool);
  assert.equal(
    result.usage.estimated,
    counted.some((e) => !e.usageReported),
    'usage estimated',
  );
}

/**
 * Stop (SPEC §2.1, §2.4): the caller aborts as the `at`-th piece of text reaches it. From then on
 * no upstream call starts, no backup takes over, the call in flight is aborted, and the answer ends
 * cancelled with the text the member had seen.
 */
async function checkStop(s: Scenario, at: number): Promise<void> {
  const { client, engine } = engineFor(s);
  const stop = new Cancellation();
  const events: AnswerEvent[] = [];
  let texts = 0;
  let callsAtStop: number | undefined;
  let stoppedAt = 0;
  const input = { catalog: catalogFor(s), request: ask(), takeover: s.takeover, signal: stop };
  for await (const e of engine.answer(input)) {
    events.push(e);
    if (e.type === 'text' && texts++ === at) {
      callsAtStop = client.calls.length;
      stoppedAt = events.length;
      stop.abort();
    }
  }
  // Fewer pieces of text than `at`: nothing was stopped, and the first property covers the run.
  if (callsAtStop === undefined) return;
  const after = events.slice(stoppedAt);
  assert.equal(client.calls.length, callsAtStop, 'no upstream call after Stop');
  assert.ok(client.calls.at(-1)!.aborted, 'the call in flight is aborted');
  assert.deepEqual(
    after.map((e) => e.type),
    ['done'],
    'nothing but the end after Stop: no more text, no takeover',
  );
  const last = events.at(-1)!;
  assert.ok(last.type === 'done');
  assert.equal(last.result.status, 'cancelled');
  assert.equal(last.result.text, shownText(events), 'the cancelled answer keeps what the member saw');
}

describe('executor: every generated failure script keeps SPEC §2.1–2.4', () => {
  it('calls, text shown and stored, fallback record and error match the oracle', async () => {
    // The failing check's own message (which promise broke, and how) is the error's cause.
    // PROPERTY_RUNS=5000 for a longer search than the suite's.
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 400);
    await fc.assert(fc.asyncProperty(scenarioArb, check), { numRuns, includeErrorInReport: true });
  });

  it('Stop at any piece of text ends the answer cancelled, with no further call', async () => {
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 400);
    await fc.assert(fc.asyncProperty(scenarioArb, fc.nat({ max: 5 }), checkStop), {
      numRuns,
      includeErrorInReport: true,
    });
  });
});
