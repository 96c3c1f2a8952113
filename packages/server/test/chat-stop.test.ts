/**
 * Stop pressed at any moment (SPEC §2.4: "the member's Stop cancels the upstream request at once"),
 * under the generated fault pairs of fault-scenarios.ts and hangs that would otherwise last until a
 * timeout: before the first token, mid-answer, while the backup takes over, or after the answer
 * ended. Whatever the moment, Stop answers at once and agrees with what is stored; a stopped answer
 * keeps exactly the text the member saw; no provider connection stays open and none is opened
 * after Stop (Stop is not a reason to fall back); and anything that did not complete can be
 * retried, once the providers are healthy, to the whole answer. The answers are paced (a few ms
 * between chunks) so that Stop lands in every phase. SQLite only, as chat-faults.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import fc from 'fast-check';
import { DEMO_ANSWER_WORDS, hangingScenarioArb, QUESTION, scenarioStage } from './fault-scenarios.js';
import {
  rawPost,
  readSse,
  waitFor,
  withInstantDemo,
  type Client,
  type SseEvent,
  searchOptions,
} from './helpers.js';

interface Stored {
  id: string;
  role: string;
  content: string;
  status: string;
  fallback: { reason: string; mode: string } | null;
  error: { reason: string } | null;
}

const stopScenarioArb = fc.record({
  faults: hangingScenarioArb,
  /** Stop once this many text events have arrived (0: at the start event)… */
  atText: fc.integer({ min: 0, max: 80 }),
  /** …or this long after the start event, whichever comes first. */
  atMs: fc.integer({ min: 0, max: 300 }),
});

/** Ms between the demo's streamed chunks: a healthy 60-word answer then takes about 150 ms. */
const CHUNK_DELAY_MS = 2;
/** Stop must answer before the shortest timeout a hang would otherwise wait for (5 s), with room for a loaded machine. */
const STOP_ANSWERS_WITHIN_MS = 4_000;

/** The text a member ends up seeing in a stream: a restart's discard applied. */
function shownText(events: readonly SseEvent[]): string {
  let visible = '';
  for (const e of events) {
    if (e.event === 'text') visible += String(e.data.text);
    if (e.event === 'fallback' && e.data.discardText === true) visible = '';
  }
  return visible;
}

interface Pressed {
  /** The stream to its end. */
  events: SseEvent[];
  /** Stop's reply, and when it was sent and answered (ms). */
  stop: { status: number; body: Stored };
  sentAt: number;
  answeredAt: number;
}

/** Sends the question and presses Stop at the scenario's moment; reads the stream to its end. */
async function askAndStop(
  owner: Client,
  base: string,
  s: { atText: number; atMs: number },
): Promise<Pressed> {
  let sentAt = 0;
  let answeredAt = 0;
  let stop: Promise<{ status: number; body: Stored }> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let texts = 0;
  let id = '';
  const press = () => {
    if (stop) return;
    clearTimeout(timer);
    sentAt = Date.now();
    stop = owner.post<Stored>(`${base}/${id}/stop`).then((r) => {
      answeredAt = Date.now();
      return r;
    });
  };
  const events = await readSse(await rawPost(owner, base, { content: QUESTION }), {
    until: (e) => {
      if (e.event === 'start') {
        id = String(e.data.assistantMessageId);
        if (s.atText === 0) press();
        else timer = setTimeout(press, s.atMs);
      } else if (e.event === 'text' && ++texts >= s.atText) press();
      return false;
    },
  });
  // The stream may end before the moment came: Stop is pressed then, on an answer already ended.
  press();
  const reply = await stop!;
  return { events, stop: reply, sentAt, answeredAt };
}

test('Stop at any moment cancels upstream and keeps what was shown', { timeout: 240_000 }, async (t) => {
  await withInstantDemo(async (server, owner) => {
    const sim = server.demo!.simulator;
    const stage = await scenarioStage(server, owner);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const messagesOf = async (conv: string) =>
      (await owner.get<{ messages: Stored[] }>(`/api/conversations/${conv}`)).body.messages;
    /** Where Stop landed and how the answer ended, to show (and check) that the search reaches each. */
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(stopScenarioArb, async (s) => {
        await stage(s.faults);
        const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        const base = `/api/conversations/${conv}/messages`;
        const p = await askAndStop(owner, base, s);
        const said = `${JSON.stringify(s)} ${JSON.stringify(p.events.map((e) => e.event))} stop ${p.stop.status}`;

        const ends = p.events.filter((e) => e.event === 'done' || e.event === 'error');
        assert.equal(ends.length, 1, `one end: ${said}`);
        assert.equal(p.events.at(-1), ends[0], `the end is last: ${said}`);
        const answer = (await messagesOf(conv)).find((m) => m.role === 'assistant');
        assert.ok(answer, `an answer is stored: ${said}`);
        assert.equal(answer.content, shownText(p.events), `stored text = streamed text: ${said}`);
        const takeovers = p.events.filter((e) => e.event === 'fallback').length;
        assert.equal(answer.fallback !== null, takeovers === 1, `fallback record ⇔ takeover: ${said}`);

        // Stop answers at once, with the state it left, or says there was nothing to stop.
        assert.ok(
          p.answeredAt - p.sentAt < STOP_ANSWERS_WITHIN_MS,
          `Stop took ${p.answeredAt - p.sentAt} ms: ${said}`,
        );
        if (p.stop.status === 200)
          assert.equal(p.stop.body.status, answer.status, `Stop's reply = stored: ${said}`);
        else {
          assert.equal(p.stop.status, 409, `Stop: 200 or 409: ${said}`);
          assert.notEqual(answer.status, 'cancelled', `nothing to stop, yet cancelled: ${said}`);
        }
        if (answer.status === 'cancelled') {
          assert.equal(ends[0]!.event, 'error', `a stopped stream ends in an error event: ${said}`);
          assert.equal(
            (ends[0]!.data.error as { reason?: string } | undefined)?.reason,
            'cancelled',
            `…that says it was stopped: ${said}`,
          );
          // Stopping is the member's choice, not a failure: the stored answer carries no error.
          assert.equal(answer.error, null, `no error stored for a stopped answer: ${said}`);
        }
        if (answer.status === 'complete')
          assert.equal(
            answer.content,
            expectedAnswer(QUESTION, DEMO_ANSWER_WORDS),
            `the whole answer: ${said}`,
          );

        // Upstream: every provider connection of this answer ends, and none starts after Stop answered.
        await waitFor(
          'no provider response left open',
          async () => (sim.sockets().active === 0 ? true : undefined),
          3000,
        );
        const late = sim.attempts().filter((a) => a.startedAt > p.answeredAt);
        assert.deepEqual(late, [], `no provider was called after Stop: ${said}`);

        // Whatever did not complete can be retried to the whole answer once the providers are healthy.
        if (answer.status !== 'complete') {
          await stage({ ...s.faults, primary: undefined, backup: undefined });
          const retried = await readSse(await rawPost(owner, `${base}/${answer.id}/retry`, {}));
          assert.equal(retried.at(-1)?.event, 'done', `retry completes: ${said}`);
          const again = (await messagesOf(conv)).find((m) => m.id === answer.id);
          assert.equal(again?.status, 'complete', `retried: ${said}`);
          assert.equal(again.content, expectedAnswer(QUESTION, DEMO_ANSWER_WORDS), `retried whole: ${said}`);
        }
        const where = p.stop.status === 409 ? 'after the end' : `${phaseOf(p.events)}`;
        const outcome = `${where} → ${answer.status}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        sim.clearAttempts();
      }),
      searchOptions(150, 150_000),
    );
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    const count = (f: (k: string) => boolean) =>
      [...seen].filter(([k]) => f(k)).reduce((n, [, v]) => n + v, 0);
    assert.ok(
      count((k) => k.startsWith('before any text → cancelled')) > 0,
      'Stop landed before the first text',
    );
    assert.ok(count((k) => k.startsWith('mid-answer → cancelled')) > 0, 'Stop landed mid-answer');
    assert.ok(count((k) => k.startsWith('after a takeover → cancelled')) > 0, 'Stop landed after a takeover');
    assert.ok(count((k) => k.startsWith('after the end')) > 0, 'Stop came after the end');
  }, CHUNK_DELAY_MS);
});

/** Where in the answer the stream was when it ended (for a stopped answer: where Stop landed). */
function phaseOf(events: readonly SseEvent[]): string {
  if (events.some((e) => e.event === 'fallback')) return 'after a takeover';
  return events.some((e) => e.event === 'text') ? 'mid-answer' : 'before any text';
}
