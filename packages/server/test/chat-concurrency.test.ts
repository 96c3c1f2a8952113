/**
 * The web chat under generated concurrent actions (concurrency-support.ts): a member in several
 * tabs sends, stops, retries, follows and deletes in two conversations at once, at generated
 * moments (and opens another conversation with their Mate, or deletes the Mate), while the primary and the backup fail in generated ways (fault-scenarios.ts). Whatever
 * the interleaving: no action gets a 5xx, only its documented refusals (409 while an answer is
 * written, 404 once deleted); every answer stream ends once; and when all is quiet each
 * conversation that remains is a clean history (user and assistant alternating, nothing left in
 * progress, each accepted message stored once, each answer as its last stream ended it, a complete
 * one being the whole answer to its question), with no answer still running and no provider
 * response open. On SQLite and PostgreSQL: their locking differs (PostgreSQL locks the
 * conversation row on send).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  actionArb,
  checkActions,
  checkConversations,
  describe,
  Member,
  untilQuiet,
} from './concurrency-support.js';
import { DEMO_ANSWER_WORDS, faultScenarioArb, scenarioStage } from './fault-scenarios.js';
import { forEachBackend, setupOwner, startTestServer, tempDir, searchOptions } from './helpers.js';

test('the web chat under concurrent actions', { timeout: 300_000 }, async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const capture = { lines: [] as string[] };
    const server = await startTestServer({
      capture,
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '2' },
    });
    const sim = server.demo!.simulator;
    try {
      const owner = await setupOwner(server);
      const setScenario = await scenarioStage(server, owner);
      const member = new Member([owner]);
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          faultScenarioArb,
          fc.array(actionArb(1), { minLength: 2, maxLength: 12 }),
          async (s, actions) => {
            await setScenario(s);
            const stage = await member.stage();
            const done = await member.actAll(actions, stage);
            const said = `${JSON.stringify(s)} ${describe(done)}`;
            try {
              checkActions(done, seen, said);
            } catch (e) {
              console.log(
                'FAILED',
                t.name,
                capture.lines
                  .filter((l) => /"level":50/.test(l))
                  .slice(-3)
                  .join('\n'),
              );
              throw e;
            }
            await untilQuiet([server], sim);
            await checkConversations(member, done, stage, DEMO_ANSWER_WORDS, said);
          },
        ),
        searchOptions(40, 120_000),
      );
      t.diagnostic(`actions: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
      // Outcomes a default run reaches with room to spare (the rarest, a retry that runs: ~10 of 40 runs).
      for (const outcome of ['send 409', 'send 404', 'stop 200', 'retry 200', 'delete 204', 'deleteMate 204'])
        assert.ok((seen.get(outcome) ?? 0) > 0, `the search reached ${outcome}`);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
