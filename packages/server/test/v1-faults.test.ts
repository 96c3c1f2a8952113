/**
 * `/v1/chat/completions` under generated pairs of faults (SPEC §2.4, §4; the scenarios in
 * fault-scenarios.ts), streamed and whole. A whole answer is either a 200 whose content is the
 * simulator's entire answer to the question (a backup restarts it) with the fallback headers and
 * body extension agreeing, or an OpenAI error with no `x-understudy-model`. A stream carries
 * content that is always the start of that answer (a backup continues it by prefill or by
 * instruction) and ends with `[DONE]` only when it is the whole answer, else with an error event;
 * a failure before any content is a plain OpenAI error. Never a 500 of ours. SQLite only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import fc from 'fast-check';
import { DEMO_ANSWER_WORDS, faultScenarioArb, QUESTION, scenarioStage } from './fault-scenarios.js';
import { withInstantDemo } from './helpers.js';

interface Completion {
  choices: { message: { content: string | null }; finish_reason: string }[];
  understudy?: { fallback?: { reason: string } };
}
interface Chunk {
  choices?: { delta: { content?: string } }[];
  error?: { message: string; type: string };
}

test(
  '/v1 answers whole or streamed under any pair of faults, never cut and called complete',
  { timeout: 180_000 },
  async (t) => {
    await withInstantDemo(async (server, owner) => {
      const stage = await scenarioStage(server, owner);
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'faults' })).body.key;
      const whole = expectedAnswer(QUESTION, DEMO_ANSWER_WORDS);
      const seen = new Map<string, number>();
      const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
      await fc.assert(
        fc.asyncProperty(faultScenarioArb, fc.boolean(), async (s, stream) => {
          await stage(s);
          const r = await fetch(`${server.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'default',
              stream,
              messages: [{ role: 'user', content: QUESTION }],
            }),
            signal: AbortSignal.timeout(20_000),
          });
          const raw = await r.text();
          const said = `${JSON.stringify(s)} stream=${stream}: ${r.status} ${raw.slice(0, 300)}`;
          const fellBack = r.headers.get('x-understudy-fallback-from') !== null;
          let outcome: string;
          if (r.status !== 200) {
            // Refused before any content: a plain OpenAI error, naming no model as the answer's author.
            assert.ok(r.status >= 400 && r.status !== 500, `an upstream failure, not ours: ${said}`);
            const j = JSON.parse(raw) as Chunk;
            assert.ok(j.error?.message && j.error.type, said);
            assert.equal(r.headers.get('x-understudy-model'), null, said);
            outcome = `error ${r.status}`;
          } else if (!stream) {
            const j = JSON.parse(raw) as Completion;
            assert.equal(j.choices[0]?.message.content, whole, `the whole answer: ${said}`);
            assert.equal(j.choices[0]?.finish_reason, 'stop', said);
            assert.equal(j.understudy?.fallback !== undefined, fellBack, `headers and body agree: ${said}`);
            assert.ok(r.headers.get('x-understudy-model'), said);
            outcome = fellBack ? 'whole via fallback' : 'whole';
          } else {
            const events = raw
              .split('\n\n')
              .filter((e) => e.startsWith('data: '))
              .map((e) => e.slice('data: '.length));
            const last = events.at(-1);
            const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as Chunk);
            const content = chunks.map((c) => c.choices?.[0]?.delta.content ?? '').join('');
            assert.ok(whole.startsWith(content), `streamed content is the answer's start: ${said}`);
            if (last === '[DONE]') {
              assert.equal(content, whole, `[DONE] only after the whole answer: ${said}`);
              outcome = fellBack ? 'streamed via fallback' : 'streamed';
            } else {
              assert.ok(
                chunks.at(-1)?.error?.message,
                `a stream that ends early ends with an error: ${said}`,
              );
              assert.ok(
                chunks.slice(0, -1).every((c) => !c.error),
                said,
              );
              outcome = content === '' ? 'stream error before content' : 'stream cut, error after content';
            }
            // A takeover after content is announced in-band (the headers went out with the primary's).
            const inBand = chunks.some(
              (c) => (c as { understudy?: { fallback?: unknown } }).understudy?.fallback,
            );
            if (inBand) outcome += ' (takeover announced)';
          }
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        }),
        { numRuns, includeErrorInReport: true },
      );
      t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
      const count = (f: (o: string) => boolean) =>
        [...seen].filter(([o]) => f(o)).reduce((n, [, c]) => n + c, 0);
      assert.ok(
        count((o) => o === 'whole via fallback') > 0,
        'the search reached a whole answer after a fallback',
      );
      assert.ok(count((o) => o.includes('takeover announced')) > 0, 'and a stream taken over after content');
      assert.ok(count((o) => o.startsWith('error')) > 0, 'and a refusal');
    });
  },
);
