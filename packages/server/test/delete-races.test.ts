/**
 * A conversation deleted in one tab while another tab sends or retries in it, at the worst moment;
 * found by chat-concurrency and cluster-concurrency on PostgreSQL, made deterministic here by
 * holding the conversation's row lock from a connection of the test's own while the server's
 * transactions queue behind it (seen in pg_stat_activity), then letting go.
 * - A send read the conversation, then the delete commits before the send's transaction writes:
 *   the send says the conversation is gone (404), not a foreign-key failure (500).
 * - A retry and a delete at once: the retry's transaction must take its locks in the order the
 *   delete does (the message, then the conversation), or PostgreSQL ends one of them as a
 *   deadlock: a 500.
 * - A conversation opened while its Mate is deleted: the open read the Mate, then the delete of
 *   the Mate and its conversations commits before the open writes. The new conversation must not
 *   outlive its Mate (an orphan no one can send in, in the member's list).
 * PostgreSQL only: on SQLite a second connection cannot hold the server between its read and its
 * write (the server's one connection fails with SQLITE_BUSY_SNAPSHOT instead); chat-concurrency
 * covers SQLite.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import type { RunningServer } from '../src/index.js';
import { rawPost, readSse, waitFor, withPgDemo, type Client } from './helpers.js';

interface Race {
  server: RunningServer;
  owner: Client;
  /** The demo's one organization. */
  orgId: string;
  /** A new conversation of the test's Mate. */
  conversation(): Promise<string>;
  /** Takes a row's lock (the conversation's, or the organization's) in a transaction of the test's own. */
  lock(conv: string, table?: 'conversations' | 'organizations'): Promise<void>;
  /** Waits until `n` of the server's queries wait for a lock. */
  waiters(n: number): Promise<void>;
  /** Runs SQL in the test's transaction, then commits it (letting go of the lock). */
  release(...statements: [string, string[]][]): Promise<void>;
}

/** Runs `fn` on a PostgreSQL demo server, with a Mate and a connection of the test's own to hold locks. */
async function withRace(t: TestContext, fn: (r: Race) => Promise<void>): Promise<void> {
  await withPgDemo(t, async (server, owner, databaseUrl) => {
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const org = await holder.query<{ id: string }>('SELECT id FROM organizations');
      await fn({
        server,
        owner,
        orgId: org.rows[0]!.id,
        conversation: async () =>
          (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id,
        async lock(id, table = 'conversations') {
          await holder.query('BEGIN');
          await holder.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
        },
        waiters: async (n) =>
          void (await waitFor(
            `${n} queries waiting for a lock`,
            async () => {
              // pg_stat_activity is read once per transaction unless its snapshot is cleared.
              await holder.query('SELECT pg_stat_clear_snapshot()');
              const r = await holder.query<{ n: string }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
              );
              return Number(r.rows[0]?.n) >= n ? true : undefined;
            },
            5000,
          )),
        async release(...statements) {
          for (const [q, params] of statements) await holder.query(q, params);
          await holder.query('COMMIT');
        },
      });
    } finally {
      await holder.end();
    }
  });
}

test('a send racing a delete of its conversation is told it is gone (PostgreSQL)', async (t) => {
  await withRace(t, async ({ server, owner, conversation, lock, waiters, release }) => {
    const conv = await conversation();
    await lock(conv);
    const sent = rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hello?' });
    // The send has read the conversation and waits for its row lock in its own transaction.
    await waiters(1);
    await release(
      ['DELETE FROM messages WHERE conversation_id = $1', [conv]],
      ['DELETE FROM conversations WHERE id = $1', [conv]],
    );
    const res = await sent;
    const body = await res.text();
    assert.equal(res.status, 404, body);
    assert.match(body, /conversation not found/);
    assert.equal((await owner.get(`/api/conversations/${conv}`)).status, 404);
    assert.equal(server.ctx.answers.size, 0, 'no answer runs for a deleted conversation');
  });
});

test('a retry and a delete of its conversation at once: no deadlock (PostgreSQL)', async (t) => {
  await withRace(t, async ({ server, owner, conversation, lock, waiters, release }) => {
    const sim = server.demo!.simulator;
    const conv = await conversation();
    // A failed answer to retry: every provider refuses the key (not a reason to fall back).
    sim.setFault({ id: 'refuse', fault: 'unauthorized' });
    const first = await readSse(
      await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hello?' }),
    );
    assert.equal(first.at(-1)?.event, 'error');
    sim.removeFault('refuse');
    const answerId = String(first[0]!.data.assistantMessageId);
    // The retry and the delete both queue behind the test's lock on the conversation.
    await lock(conv);
    const retried = rawPost(owner, `/api/conversations/${conv}/messages/${answerId}/retry`, {});
    await waiters(1);
    const deleted = owner.del(`/api/conversations/${conv}`);
    await waiters(2);
    await release();
    const [r, d] = await Promise.all([retried, deleted]);
    const body = r.status === 200 ? JSON.stringify((await readSse(r)).map((e) => e.event)) : await r.text();
    // Either may win; neither may fail (a deadlock aborts one of them: a 500).
    assert.ok([200, 404, 409].includes(r.status), `retry: ${r.status} ${body}`);
    assert.equal(d.status, 204, `delete: ${d.status} ${JSON.stringify(d.body)}`);
    assert.equal((await owner.get(`/api/conversations/${conv}`)).status, 404);
    await waitFor('no answer running', async () => (server.ctx.answers.size === 0 ? true : undefined), 5000);
  });
});

test('a conversation opened while its Mate is deleted goes with the Mate (PostgreSQL)', async (t) => {
  await withRace(t, async ({ owner, orgId, lock, waiters, release }) => {
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Grace' })).body.id;
    // The open has read the Mate; its insert waits for the organization's key (its foreign key).
    await lock(orgId, 'organizations');
    const opened = owner.post<{ id: string }>('/api/conversations', { mateId: mate });
    await waiters(1);
    // The delete either waits behind the open, or (the bug) commits before the open writes.
    const deleted = owner.del(`/api/mates/${mate}`);
    await Promise.race([deleted, waiters(2)]);
    await release();
    const [o, d] = await Promise.all([opened, deleted]);
    assert.ok([201, 404].includes(o.status), `open: ${o.status} ${JSON.stringify(o.body)}`);
    assert.equal(d.status, 204, `delete: ${d.status} ${JSON.stringify(d.body)}`);
    const list = await owner.get<{ conversations: { id: string; mateId: string }[] }>('/api/conversations');
    assert.deepEqual(
      list.body.conversations.filter((c) => c.mateId === mate),
      [],
      'no conversation outlives its Mate',
    );
    if (o.status === 201) assert.equal((await owner.get(`/api/conversations/${o.body.id}`)).status, 404);
  });
});
