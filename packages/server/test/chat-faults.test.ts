/**
 * The web chat under generated pairs of faults (SPEC §2.4, §2.6; the scenarios in
 * fault-scenarios.ts): the primary and the backup each answer or fail, before or after some
 * content. Whatever happens, what the member saw in the stream (a restart's discard applied) is
 * what the conversation stores; the stored status matches how the stream ended; the stored
 * fallback record is there exactly when the stream announced a takeover; a complete answer is the
 * whole answer the simulator gives that question, never cut or doubled. The engine's property
 * tests check the decisions; this one checks the server's books against its own stream, through
 * the real adapters, storage and SSE. SQLite only: the chat's logic is the same on PostgreSQL
 * (chat.test runs both).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import fc from 'fast-check';
import { DEMO_ANSWER_WORDS, faultScenarioArb, QUESTION, scenarioStage } from './fault-scenarios.js';
import { rawPost, readSse, withInstantDemo, type Client } from './helpers.js';

interface Stored {
  role: string;
  content: string;
  status: string;
  fallback: { reason: string; mode: string } | null;
  error: { reason: string } | null;
}

test('the web chat stores what it streamed, under any pair of faults', { timeout: 180_000 }, async (t) => {
  await withInstantDemo(async (server, owner) => {
    const stage = await scenarioStage(server, owner);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const messagesOf = async (c: Client, conv: string) =>
      (await c.get<{ messages: Stored[] }>(`/api/conversations/${conv}`)).body.messages;
    /** Outcomes seen, to show (and check) that the search reaches takeovers and failures alike. */
    const seen = new Map<string, number>();
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
    await fc.assert(
      fc.asyncProperty(faultScenarioArb, async (s) => {
        await stage(s);
        const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        const events = await readSse(
          await rawPost(owner, `/api/conversations/${conv}/messages`, {
            content: QUESTION,
          }),
        );
        const said = JSON.stringify(s) + ' ' + JSON.stringify(events.map((e) => e.event));
        const ends = events.filter((e) => e.event === 'done' || e.event === 'error');
        assert.equal(ends.length, 1, `one end: ${said}`);
        assert.equal(events.at(-1), ends[0], `the end is last: ${said}`);
        let visible = '';
        const takeovers = events.filter((e) => e.event === 'fallback');
        for (const e of events) {
          if (e.event === 'text') visible += String(e.data.text);
          if (e.event === 'fallback' && e.data.discardText === true) visible = '';
        }
        const answer = (await messagesOf(owner, conv)).find((m) => m.role === 'assistant');
        assert.ok(answer, `an answer is stored: ${said}`);
        assert.equal(answer.content, visible, `stored text = streamed text: ${said}`);
        // A stream that ends in an error is a failed answer, or an interrupted one (a partial answer
        // cut with no backup to complete it, kept and retryable: SPEC §2.4).
        if (ends[0]!.event === 'done') assert.equal(answer.status, 'complete', `status: ${said}`);
        else if (answer.status === 'interrupted')
          assert.ok(visible !== '' && answer.error?.reason === 'interrupted', `interrupted: ${said}`);
        else assert.equal(answer.status, 'failed', `status: ${said}`);
        assert.ok(takeovers.length <= 1, `one takeover at most: ${said}`);
        assert.equal(answer.fallback !== null, takeovers.length === 1, `fallback record ⇔ takeover: ${said}`);
        // The simulator answers a question with one text, and continues a prefilled or instructed
        // one with exactly its rest: a complete answer is that text, never cut or doubled.
        if (answer.status === 'complete')
          assert.equal(
            answer.content,
            expectedAnswer(QUESTION, DEMO_ANSWER_WORDS),
            `the whole answer: ${said}`,
          );
        else assert.ok(answer.error?.reason, `an answer that did not complete says why: ${said}`);
        const outcome = `${answer.status}${answer.fallback ? ` via ${answer.fallback.mode}` : ''}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      { numRuns, includeErrorInReport: true },
    );
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    // Counts a default run reaches with room to spare (a takeover after content is the rarest: about 5 %).
    const count = (...outcomes: string[]) => outcomes.reduce((n, o) => n + (seen.get(o) ?? 0), 0);
    assert.ok(count('complete via invisible') > 0, 'the search reached an invisible fallback');
    assert.ok(
      count('complete via prefill', 'complete via restart') > 0,
      'the search reached a takeover after content',
    );
    assert.ok(
      count('failed', 'failed via invisible', 'failed via prefill', 'failed via restart') > 0,
      'and a failure',
    );
    assert.ok(
      count('interrupted', 'interrupted via prefill', 'interrupted via restart') > 0,
      'and an interruption',
    );
  });
});
