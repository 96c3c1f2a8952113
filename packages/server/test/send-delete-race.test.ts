/**
 * A message sent to a conversation that another tab deletes at that moment: the send read the
 * conversation, then the delete commits before the send's own transaction writes. The send must
 * then say the conversation is gone (404), not fail on the messages' foreign key (a 500), and
 * leave nothing behind. Found by chat-concurrency.test on PostgreSQL; made deterministic here by
 * holding the conversation's row lock from a connection of the test's own and deleting the
 * conversation under it while the send waits for that lock. PostgreSQL only: on SQLite a second
 * connection cannot hold the server between its read and its write (the server's one connection
 * would fail with SQLITE_BUSY_SNAPSHOT instead), and chat-concurrency covers it there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import {
  createPgBackend,
  PG_ADMIN_URL,
  rawPost,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
} from './helpers.js';

test('a send racing a delete of its conversation is told it is gone (PostgreSQL)', async (t) => {
  const backend = await createPgBackend();
  if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
  const tmp = tempDir();
  const server = await startTestServer({ backend, dataDir: tmp.dir });
  const holder = new pg.Client({ connectionString: backend.databaseUrl });
  await holder.connect();
  try {
    const owner = await setupOwner(server);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM conversations WHERE id = $1 FOR UPDATE', [conv]);
    const sent = rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hello?' });
    // The send has read the conversation and waits for its row lock in its own transaction.
    await waitFor(
      'the send waiting for the lock',
      async () => {
        // pg_stat_activity is read once per transaction unless its snapshot is cleared.
        await holder.query('SELECT pg_stat_clear_snapshot()');
        const r = await holder.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        );
        return Number(r.rows[0]?.n) > 0 ? true : undefined;
      },
      5000,
    );
    await holder.query('DELETE FROM messages WHERE conversation_id = $1', [conv]);
    await holder.query('DELETE FROM conversations WHERE id = $1', [conv]);
    await holder.query('COMMIT');
    const res = await sent;
    const body = await res.text();
    assert.equal(res.status, 404, body);
    assert.match(body, /conversation not found/);
    assert.equal((await owner.get(`/api/conversations/${conv}`)).status, 404);
    assert.equal(server.ctx.answers.size, 0, 'no answer runs for a deleted conversation');
  } finally {
    await holder.end();
    await server.close();
    tmp.remove();
    await backend.dispose();
  }
});
