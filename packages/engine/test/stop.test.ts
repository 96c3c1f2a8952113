/**
 * Stop sequences kept by the engine whichever model answers (a provider that refuses or ignores
 * them): the scanner over every way a text can be split into chunks, and the executor ending an
 * answer at the first one and stopping the upstream call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createEngine } from '../src/executor/engine.js';
import { StopScanner } from '../src/executor/stop.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { AnswerEvent, AnswerResult } from '../src/types/result.js';
import { FakeClient, ask, catalog, healthy, type Step } from './fakes.js';

describe('StopScanner', () => {
  it('passes on exactly the text before the first stop sequence, however split, after any text shown before', () => {
    // Few letters, so stop sequences occur, overlap and begin one another often.
    const word = (max: number) =>
      fc.array(fc.constantFrom('a', 'b', '\n', 'E'), { maxLength: max }).map((cs) => cs.join(''));
    const arb = fc
      .record({
        // What an answer this one continues showed already ('' for a fresh answer); it holds no
        // stop sequence, since it was shown through a scanner too.
        before: fc.oneof(fc.constant(''), word(6)),
        text: word(14),
        stops: fc.array(
          word(3).filter((w) => w !== ''),
          { minLength: 1, maxLength: 3 },
        ),
        cuts: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 14 }),
      })
      .filter(({ before, stops }) => stops.every((s) => !before.includes(s)));
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 3000);
    fc.assert(
      fc.property(arb, ({ before, text, stops, cuts }) => {
        // One character at a time, as a model generates: the first prefix of the whole answer to
        // end with a stop sequence ends it where that sequence (the longest, if several) begins;
        // what was shown before cannot be taken back.
        const whole = before + text;
        let end = whole.length;
        let found = false;
        for (let e = before.length + 1; e <= whole.length && !found; e++) {
          const ending = stops.filter((s) => whole.slice(0, e).endsWith(s));
          if (ending.length === 0) continue;
          found = true;
          end = e - Math.max(...ending.map((s) => s.length));
        }
        const expected = whole.slice(before.length, Math.max(before.length, end));
        const scanner = new StopScanner(stops, before);
        let shown = '';
        let stopped = false;
        for (let at = 0, i = 0; at < text.length && !stopped; i++) {
          const len = cuts[i] ?? text.length;
          const step = scanner.push(text.slice(at, at + len));
          at += len;
          shown += step.text;
          stopped = step.stopped;
          // Nothing shown can be taken back: what is shown is always a beginning of the answer.
          assert.ok(expected.startsWith(shown));
        }
        if (!stopped) shown += scanner.flush();
        assert.equal(stopped, found);
        assert.equal(shown, expected);
      }),
      { numRuns },
    );
  });

  it('holds back only what may begin a stop sequence', () => {
    const s = new StopScanner(['END', '###']);
    assert.deepEqual(s.push('one two E'), { text: 'one two ', stopped: false });
    assert.deepEqual(s.push('N'), { text: '', stopped: false });
    assert.deepEqual(s.push('D and more'), { text: '', stopped: true });
    // A false start is passed on once it cannot begin one any more.
    const t = new StopScanner(['END']);
    assert.deepEqual(t.push('E'), { text: '', stopped: false });
    assert.deepEqual(t.push('ast #'), { text: 'East #', stopped: false });
    assert.deepEqual(t.push('EN'), { text: '', stopped: false });
    assert.equal(t.flush(), 'EN');
    assert.deepEqual(new StopScanner(['']).push('a'), { text: 'a', stopped: false }, 'an empty stop is none');
  });
});

async function answer(scripts: ConstructorParameters<typeof FakeClient>[0], stop?: string[]) {
  const client = new FakeClient(scripts);
  const engine = createEngine({ client, health: new InMemoryHealth(), options: { quickRetryDelayMs: 10 } });
  const events: AnswerEvent[] = [];
  const request = { ...ask(), ...(stop && { stop }) };
  for await (const e of engine.answer({ catalog: catalog(), request, takeover: 'instruct' })) events.push(e);
  const last = events.at(-1)!;
  assert.ok(last.type === 'done' || last.type === 'error');
  const text = events.map((e) => (e.type === 'text' ? e.text : '')).join('');
  return { client, text, result: last.result as AnswerResult, events };
}

/** A character-at-a-time model's answer after `before`: the text it adds, and whether a stop ended it. */
function oracle(before: string, text: string, stops: string[]): { added: string; found: boolean } {
  const whole = before + text;
  for (let e = before.length + 1; e <= whole.length; e++) {
    const ending = stops.filter((s) => whole.slice(0, e).endsWith(s));
    if (ending.length === 0) continue;
    const end = e - Math.max(...ending.map((s) => s.length));
    return { added: whole.slice(before.length, Math.max(before.length, end)), found: true };
  }
  return { added: text, found: false };
}

/** `text` less its longest end that a stop sequence begins with: what a stream cut there showed. */
function shownBeforeCut(text: string, stops: string[]): string {
  let hold = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--)
      if (text.endsWith(s.slice(0, k))) hold = k;
  return text.slice(0, text.length - hold);
}

describe('executor: stop sequences', () => {
  it('a provider that ignores them is cut at the first one, its call stopped, the answer complete', async () => {
    const script: Step[] = [
      { type: 'open' },
      ...['one ', 'two E', 'ND three ', 'four'].map((text): Step => ({ type: 'text', text })),
      { type: 'hang' },
    ];
    const { client, text, result } = await answer({ a1: script }, ['END']);
    assert.equal(text, 'one two ');
    assert.equal(result.status, 'complete');
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.fallback, undefined);
    assert.equal(client.calls[0]?.aborted, true, 'the upstream call is stopped');
    assert.equal(result.usage.estimated, true, 'usage it did not report is counted here');
  });

  it('a provider that keeps them: the same answer, the text held back at its end passed on', async () => {
    const { text, result } = await answer({ a1: healthy('one two E') }, ['END']);
    assert.equal(text, 'one two E');
    assert.deepEqual(result.usage, { inputTokens: 10, outputTokens: 3, estimated: false });
  });

  it('a backup that continues a cut answer is held to them too', async () => {
    const { text, result } = await answer(
      {
        a1: [
          { type: 'open' },
          { type: 'text', text: 'one ' },
          { type: 'fail', failure: { reason: 'interrupted', message: 'cut', inStream: true } },
        ],
        b1: [{ type: 'open' }, { type: 'text', text: 'two END three' }, { type: 'finish', reason: 'stop' }],
      },
      ['END'],
    );
    assert.equal(text, 'one two ');
    assert.equal(result.modelId, 'b1');
    assert.equal(result.fallback?.mode, 'instruct');
  });

  it('a stop sequence begun in the cut answer and completed by the backup ends it there', async () => {
    const { text, result } = await answer(
      {
        // Shown: 'one xa'; 'c' (which may begin 'cd') is held when the stream breaks.
        a1: [
          { type: 'open' },
          { type: 'text', text: 'one xa' },
          { type: 'text', text: 'c' },
          { type: 'fail', failure: { reason: 'interrupted', message: 'cut', inStream: true } },
        ],
        // Continuing 'one xa', the backup writes 'b…': 'ab' is complete.
        b1: [{ type: 'open' }, { type: 'text', text: 'b and more' }, { type: 'finish', reason: 'stop' }],
      },
      ['ab', 'cd'],
    );
    assert.equal(text, 'one xa');
    assert.equal(result.status, 'complete');
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.modelId, 'b1');
  });

  it('through any takeover, the member sees the answer a character-at-a-time model would give', async () => {
    const word = (max: number) =>
      fc.array(fc.constantFrom('a', 'b', ' ', 'E'), { maxLength: max }).map((cs) => cs.join(''));
    const chunks = (text: string, cuts: number[]): Step[] => {
      const out: Step[] = [];
      for (let at = 0, i = 0; at < text.length; i++) {
        const len = cuts[i] ?? text.length;
        out.push({ type: 'text', text: text.slice(at, at + len) });
        at += len;
      }
      return out;
    };
    const arb = fc.record({
      t1: word(10),
      cuts1: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 10 }),
      breaks: fc.boolean(),
      t2: word(10),
      cuts2: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 10 }),
      takeover: fc.constantFrom('instruct' as const, 'restart' as const),
      stops: fc.array(
        word(3).filter((w) => w.trim() !== ''),
        { minLength: 1, maxLength: 3 },
      ),
    });
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
    await fc.assert(
      fc.asyncProperty(arb, async ({ t1, cuts1, breaks, t2, cuts2, takeover, stops }) => {
        const end: Step = breaks
          ? { type: 'fail', failure: { reason: 'interrupted', message: 'cut', inStream: true } }
          : { type: 'finish', reason: 'stop' };
        const client = new FakeClient({
          a1: [{ type: 'open' }, ...chunks(t1, cuts1), end],
          b1: [{ type: 'open' }, ...chunks(t2, cuts2), { type: 'finish', reason: 'stop' }],
        });
        const engine = createEngine({ client, health: new InMemoryHealth() });
        let seen = '';
        let last: AnswerEvent | undefined;
        for await (const e of engine.answer({
          catalog: catalog(),
          request: { ...ask(), stop: stops },
          takeover,
        })) {
          if (e.type === 'text') seen += e.text;
          if (e.type === 'fallback' && e.record.mode === 'restart') seen = '';
          last = e;
        }
        assert.equal(last?.type, 'done');
        const result = (last as Extract<AnswerEvent, { type: 'done' }>).result;
        const primary = oracle('', t1, stops);
        let expected: string;
        if (primary.found || !breaks) expected = primary.added;
        else {
          const shown = shownBeforeCut(t1, stops);
          expected =
            shown && takeover === 'instruct'
              ? shown + oracle(shown, t2, stops).added
              : oracle('', t2, stops).added;
        }
        assert.equal(seen, expected);
        assert.equal(result.text, seen);
        assert.ok(
          stops.every((s) => !seen.includes(s)),
          'no stop sequence is shown',
        );
      }),
      { numRuns },
    );
  });

  it('a refusal keeps its mark through what was held back', async () => {
    const { events } = await answer(
      {
        a1: [
          { type: 'open' },
          { type: 'text', text: 'No, E', refusal: true },
          { type: 'finish', reason: 'stop' },
        ],
      },
      ['END'],
    );
    const texts = events.filter((e) => e.type === 'text');
    assert.deepEqual(texts, [
      { type: 'text', text: 'No, ', refusal: true },
      { type: 'text', text: 'E', refusal: true },
    ]);
  });
});
