/**
 * The web chat under generated pairs of faults (SPEC §2.4, §2.6): the primary (Simulator A, OpenAI
 * protocol) and the backup (Simulator B, Anthropic protocol, which continues prefilled answers)
 * each fail in any of the simulator's ways that need no waiting, before or after some content, or
 * answer. Whatever happens, what the member saw in the stream (a restart's discard applied) is what
 * the conversation stores; the stored status matches how the stream ended; the stored fallback
 * record is there exactly when the stream announced a takeover; a complete answer is the whole answer
 * the simulator gives that question, never cut or doubled.
 * The engine's property tests check the decisions; this one checks the server's books against its
 * own stream, through the real adapters, storage and SSE. SQLite only: the chat's logic is the same
 * on PostgreSQL (chat.test runs both).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedAnswer, type FaultRule } from '@understudy/simulator';
import fc from 'fast-check';
import { rawPost, readSse, setupOwner, startTestServer, tempDir, type Client } from './helpers.js';

const QUESTION = 'Tell me about lighthouses.';
/** The demo simulator's answer length (startDemo). */
const DEMO_ANSWER_WORDS = 60;

interface Stored {
  role: string;
  content: string;
  status: string;
  fallback: { reason: string; mode: string } | null;
  error: { reason: string } | null;
}

type Fault = Omit<FaultRule, 'provider' | 'id'> | undefined;
const after = fc.integer({ min: 0, max: 6 });
const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  fc.record({
    fault: fc.constantFrom(
      'server_error',
      'bad_gateway',
      'unavailable',
      'gateway_timeout',
      'overloaded',
      'unauthorized',
      'not_found',
      'bad_request',
      'content_filter',
      'context_length',
    ),
  }),
  fc.record(
    { fault: fc.constant('rate_limit'), retryAfter: fc.constantFrom(0, 60) },
    { requiredKeys: ['fault'] },
  ),
  fc.record({
    fault: fc.constantFrom(
      'overloaded_midstream',
      'server_error_midstream',
      'rate_limit_midstream',
      'cut_after',
      'malformed',
    ),
    after,
  }),
  fc.record({ fault: fc.constant('no_done'), withFinish: fc.boolean() }),
);
const scenarioArb = fc.record({
  primary: faultArb,
  /** The fault stays for the quick retry too, or hits only the first attempt. */
  primaryOnce: fc.boolean(),
  backup: fc.oneof(faultArb, fc.constant<Fault>({ fault: 'reject_prefill' })),
  /** Automatic picks Sim B Large, which continues a prefilled answer; Sim A Medium (Specific) cannot, so the chat restarts. */
  backupModel: fc.constantFrom('sim-b-large', 'sim-a-medium'),
});

test('the web chat stores what it streamed, under any pair of faults', { timeout: 180_000 }, async (t) => {
  const tmp = tempDir();
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: async () => undefined },
    dataDir: tmp.dir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
  });
  const sim = server.demo!.simulator;
  try {
    const owner = await setupOwner(server);
    const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
      .id;
    const simA = server.demo!.simName(orgId, 'sim-a');
    const simB = server.demo!.simName(orgId, 'sim-b');
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const messagesOf = async (c: Client, conv: string) =>
      (await c.get<{ messages: Stored[] }>(`/api/conversations/${conv}`)).body.messages;
    /** Outcomes seen, to show (and check) that the search reaches takeovers and failures alike. */
    const seen = new Map<string, number>();
    let backupModel = 'sim-b-large';
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        sim.reset();
        // Each scenario starts from health memory that knows nothing (no breaker opened by the last).
        for (const key of [
          { scope: 'provider' as const, id: `${orgId}/sim-a` },
          { scope: 'provider' as const, id: `${orgId}/sim-b` },
          ...['sim-a-large', 'sim-a-medium', 'sim-b-large'].map((m) => ({
            scope: 'model' as const,
            id: `${orgId}/${m}`,
          })),
        ])
          await server.ctx.health.reset(key);
        if (s.backupModel !== backupModel) {
          const fallback =
            s.backupModel === 'sim-b-large'
              ? { mode: 'automatic' }
              : { mode: 'specific', model: s.backupModel };
          assert.equal((await owner.put('/api/admin/settings', { fallback })).status, 200);
          backupModel = s.backupModel;
        }
        const onPrimary = { provider: simA, model: 'sim-a-large' };
        if (s.primary) sim.setFault({ ...s.primary, ...onPrimary, ...(s.primaryOnce && { times: 1 }) });
        const onBackup = { provider: s.backupModel === 'sim-b-large' ? simB : simA, model: s.backupModel };
        if (s.backup) sim.setFault({ ...s.backup, ...onBackup });
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
  } finally {
    await server.close();
    tmp.remove();
  }
});
