/**
 * The web chat under generated concurrent actions: a member in several tabs sends, stops, retries,
 * follows and deletes in two conversations at once, at generated moments, while the primary and
 * the backup fail in generated ways (fault-scenarios.ts). Whatever the interleaving: no action
 * gets a 5xx, only its documented refusals (409 while an answer is written, 404 once deleted);
 * every answer stream ends once; and when all is quiet each conversation that remains is a clean
 * history — user and assistant alternating in the order shown, nothing left in progress, each accepted
 * message stored exactly once, each answer as its last stream ended it (a complete one being the
 * whole answer to its question) — with no answer still running and no provider response open.
 * On SQLite and PostgreSQL: their locking differs (PostgreSQL locks the conversation row on send).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import fc from 'fast-check';
import { DEMO_ANSWER_WORDS, faultScenarioArb, scenarioStage } from './fault-scenarios.js';
import {
  forEachBackend,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
  type SseEvent,
} from './helpers.js';

interface Stored {
  id: string;
  role: string;
  content: string;
  status: string;
}

const actionArb = fc.record({
  kind: fc.oneof(
    { arbitrary: fc.constant('send'), weight: 4 },
    { arbitrary: fc.constant('stop'), weight: 2 },
    { arbitrary: fc.constant('retry'), weight: 3 },
    { arbitrary: fc.constant('follow'), weight: 1 },
    { arbitrary: fc.constant('delete'), weight: 1 },
  ),
  conv: fc.constantFrom(0, 1),
  /** When it starts, from the run's start (ms). */
  at: fc.integer({ min: 0, max: 400 }),
});

/** What one action got: its status, and for an answer stream, its events. */
interface Done {
  kind: string;
  conv: number;
  status: number;
  text?: string;
  events?: SseEvent[];
}

const OK: Record<string, number[]> = {
  send: [200, 409, 404],
  stop: [200, 409, 404],
  retry: [200, 409, 404],
  follow: [200, 404],
  delete: [204, 404],
};

/**
 * The question the answer at `k` may be answering: its own; or, through Simulator B (Anthropic
 * protocol, whose turns must alternate, so the adapter joins consecutive user messages into one
 * turn and the simulator reads its texts joined by newlines), every question asked since the last
 * answer the model was shown (answers with no text are left out of the history).
 */
function questionsOf(messages: readonly Stored[], k: number): string[] {
  const since: string[] = [];
  for (let j = k - 1; j >= 0; j--) {
    const m = messages[j]!;
    if (m.role === 'user') since.unshift(m.content);
    else if (m.content !== '') break;
  }
  return [messages[k - 1]!.content, since.join('\n')];
}

test('the web chat under concurrent actions', { timeout: 300_000 }, async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '2' },
    });
    const sim = server.demo!.simulator;
    try {
      const owner = await setupOwner(server);
      const stage = await scenarioStage(server, owner);
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const messagesOf = async (conv: string) => {
        const r = await owner.get<{ messages: Stored[] }>(`/api/conversations/${conv}`);
        return r.status === 404 ? undefined : r.body.messages;
      };
      /** The conversation's newest answer; one not yet there is waited for a little (else 'none', a 404). */
      const lastAnswer = async (conv: string) => {
        for (let i = 0; i < 6; i++) {
          const messages = await messagesOf(conv);
          const id = messages?.filter((m) => m.role === 'assistant').at(-1)?.id;
          if (id || !messages) return id ?? 'none';
          await new Promise((r) => setTimeout(r, 50));
        }
        return 'none';
      };
      let sent = 0;
      /** Runs one action; answers that stream are read to their end. */
      const act = async (a: { kind: string; conv: number }, convs: string[]): Promise<Done> => {
        const conv = convs[a.conv]!;
        const base = `/api/conversations/${conv}/messages`;
        const streamed = async (res: Response, text?: string): Promise<Done> => ({
          ...a,
          status: res.status,
          ...(text !== undefined && { text }),
          ...(res.status === 200 ? { events: await readSse(res) } : (await res.text(), {})),
        });
        switch (a.kind) {
          case 'send': {
            const text = `Question number ${++sent}.`;
            return streamed(await rawPost(owner, base, { content: text }), text);
          }
          case 'retry':
            return streamed(await rawPost(owner, `${base}/${await lastAnswer(conv)}/retry`, {}));
          case 'follow': {
            const res = await fetch(`${server.url}${base}/${await lastAnswer(conv)}/events`, {
              headers: { cookie: owner.cookie ?? '' },
            });
            return streamed(res);
          }
          case 'stop':
            return { ...a, status: (await owner.post(`${base}/${await lastAnswer(conv)}/stop`)).status };
          default:
            return { ...a, status: (await owner.del(`/api/conversations/${conv}`)).status };
        }
      };
      const seen = new Map<string, number>();
      const numRuns = Number(process.env.PROPERTY_RUNS ?? 40);
      await fc.assert(
        fc.asyncProperty(
          faultScenarioArb,
          fc.array(actionArb, { minLength: 2, maxLength: 12 }),
          async (s, actions) => {
            await stage(s);
            const convs = await Promise.all(
              [0, 1].map(
                async () =>
                  (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id,
              ),
            );
            const done = await Promise.all(
              actions.map((a) => new Promise((r) => setTimeout(r, a.at)).then(() => act(a, convs))),
            );
            const said = `${JSON.stringify(s)} ${JSON.stringify(done.map((d) => [d.kind, d.conv, d.status, d.events?.map((e) => e.event).join(',')]))}`;
            for (const d of done) {
              assert.ok(OK[d.kind]!.includes(d.status), `${d.kind} got ${d.status}: ${said}`);
              seen.set(`${d.kind} ${d.status}`, (seen.get(`${d.kind} ${d.status}`) ?? 0) + 1);
              if (!d.events) continue;
              const ends = d.events.filter((e) => e.event === 'done' || e.event === 'error');
              assert.equal(ends.length, 1, `one end per stream: ${said}`);
              assert.equal(d.events.at(-1), ends[0], `the end is last: ${said}`);
            }
            // Quiet: no answer running, no provider response open.
            await waitFor(
              'no answer running',
              async () => (server.ctx.answers.size === 0 ? true : undefined),
              10_000,
            );
            await waitFor(
              'no provider response open',
              async () => (sim.sockets().active === 0 ? true : undefined),
              5000,
            );

            for (const [i, conv] of convs.entries()) {
              const messages = await messagesOf(conv);
              const deleted = done.some((d) => d.conv === i && d.kind === 'delete' && d.status === 204);
              assert.equal(messages === undefined, deleted, `a conversation is gone iff deleted: ${said}`);
              if (!messages) continue;
              const accepted = done
                .filter((d) => d.conv === i && d.kind === 'send' && d.status === 200)
                .map((d) => d.text);
              const asked = messages.filter((m) => m.role === 'user').map((m) => m.content);
              assert.deepEqual(
                [...asked].sort(),
                [...accepted].sort(),
                `each accepted message stored once: ${said}`,
              );
              messages.forEach((m, k) => {
                assert.equal(m.role, k % 2 === 0 ? 'user' : 'assistant', `roles alternate: ${said}`);
                assert.notEqual(m.status, 'in_progress', `nothing left in progress: ${said}`);
              });
              for (const [k, m] of messages.entries()) {
                if (m.role !== 'assistant') continue;
                if (m.status === 'complete')
                  assert.ok(
                    questionsOf(messages, k).some((q) => m.content === expectedAnswer(q, DEMO_ANSWER_WORDS)),
                    `whole answer: ${said} ${JSON.stringify(messages.map((x) => [x.role, x.status, x.content.slice(0, 40)]))}`,
                  );
                // The stored answer is what one of its streams ended with (the last run's).
                const finals = done
                  .flatMap((d) => d.events?.at(-1) ?? [])
                  .map((e) => e.data.message as Stored | undefined)
                  .filter((x): x is Stored => x?.id === m.id);
                assert.ok(
                  finals.some((f) => f.content === m.content && f.status === m.status),
                  `stored answer = a stream's final message: ${said} ${JSON.stringify(m)} ${JSON.stringify(finals)}`,
                );
              }
            }
          },
        ),
        { numRuns, includeErrorInReport: true },
      );
      t.diagnostic(`actions: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
      // Outcomes a default run reaches with room to spare (the rarest, a retry that runs: ~10 of 40 runs).
      for (const outcome of ['send 409', 'send 404', 'stop 200', 'retry 200', 'delete 204'])
        assert.ok((seen.get(outcome) ?? 0) > 0, `the search reached ${outcome}`);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
