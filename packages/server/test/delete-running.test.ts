/**
 * Deleting what an answer in flight writes to, on SQLite and PostgreSQL: deleting a Mate stops and
 * awaits its answers like deleting a conversation does, and an answer whose message vanished
 * anyway (deleted through another instance) ends its followers' streams instead of rejecting.
 * Neither leaves an unhandled rejection, which would end a real server process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  forEachBackend,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
} from './helpers.js';

test('deleting a Mate or a message while its answer is being written', async (t) => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', record);
  t.after(() => process.off('unhandledRejection', record));

  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    // About 3 s per answer: time to delete in the middle of one.
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '50' },
    });
    try {
      const owner = await setupOwner(server);
      /** Sends a message and returns once its answer has begun streaming; `events` is the whole stream. */
      const startAnswer = async (mate: string) => {
        const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
        const events = readSse(res, { timeoutMs: 10_000 });
        const id = await waitFor('the answer to start', async () => {
          const row = await server.ctx.db
            .selectFrom('messages')
            .select('id')
            .where('conversation_id', '=', conv)
            .where('role', '=', 'assistant')
            .executeTakeFirst();
          return row?.id;
        });
        await waitFor(
          'text',
          async () => server.ctx.answers.get(id)?.events.some((e) => e.type === 'text') || undefined,
        );
        return { conv, id, events };
      };

      await t.test('deleting its Mate stops the answer first', async () => {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
        const answer = await startAnswer(mate);
        assert.equal(server.ctx.answers.size, 1);
        assert.equal((await owner.del(`/api/mates/${mate}`)).status, 204);
        assert.equal(server.ctx.answers.size, 0, 'no answer goes on writing to deleted rows');
        const rest = await answer.events;
        assert.equal(rest.at(-1)?.event, 'error', 'the browser is told the answer ended');
        assert.equal((rest.at(-1)?.data.message as { status: string }).status, 'cancelled');
        assert.equal((await owner.get(`/api/conversations/${answer.conv}`)).status, 404);
        assert.equal((await owner.get(`/api/mates/${mate}`)).status, 404);
      });

      await t.test('an answer whose message vanished ends without rejecting', async () => {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Bea' })).body.id;
        const answer = await startAnswer(mate);
        const run = server.ctx.answers.get(answer.id)!;
        // What a delete through another instance does: the rows go, the answer here runs on.
        await server.ctx.db.deleteFrom('messages').where('conversation_id', '=', answer.conv).execute();
        await server.ctx.db.deleteFrom('conversations').where('id', '=', answer.conv).execute();
        await run.finished;
        const rest = await answer.events;
        assert.equal(rest.at(-1)?.event, 'error');
        assert.equal((rest.at(-1)?.data.error as { reason: string }).reason, 'deleted');
      });

      await t.test('the server goes on answering', async () => {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Cy' })).body.id;
        const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        const events = await readSse(
          await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hi' }),
        );
        assert.equal(events.at(-1)?.event, 'done');
        assert.equal((await owner.get('/api/mates')).status, 200);
        assert.deepEqual(unhandled, []);
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
