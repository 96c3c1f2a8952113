/**
 * A conversation deleted in one tab while another tab sends or retries in it, at the worst moment;
 * found by chat-concurrency and cluster-concurrency on PostgreSQL, made deterministic here by
 * holding the conversation's row lock from a connection of the test's own while the server's
 * transactions queue behind it (seen in pg_stat_activity), then letting go.
 * - A send read the conversation, then the delete commits before the send's transaction writes:
 *   the send says the conversation is gone (404), not a foreign-key failure (500).
 * - A retry and a delete at once: the retry's transaction must take its locks in the order the
 *   delete does (chat/index.ts: the conversation, then its messages), or PostgreSQL ends one of
 *   them as a deadlock: a 500.
 * - A conversation opened while its Mate is deleted: the open read the Mate, then the delete of
 *   the Mate and its conversations commits before the open writes. The new conversation must not
 *   outlive its Mate (an orphan no one can send in, in the member's list).
 * - A send that gets in while its conversation (or Mate) is being deleted, and whose answer is
 *   saved while the delete still runs: the save and the delete lock in one order, or they
 *   deadlock (the delete's cascade waited for the answer's message; the save, for the
 *   conversation). A second holder of the row makes them wait together.
 * - A conversation (or Mate) deleted while the instances reclaim a crashed instance's answers in
 *   it: the reclaim's one statement over many rows locked them in its own order, the delete's in
 *   another, and PostgreSQL ended them as a deadlock (the member's delete: a 500).
 * - An instance restarted under its fixed id while another transaction holds one of its previous
 *   run's answers, then rolls back: the start's reclaim skips the held row, and the beats must
 *   take it later (no other instance would: the id is alive again).
 * PostgreSQL only: on SQLite a second connection cannot hold the server between its read and its
 * write (the server's one connection fails with SQLITE_BUSY_SNAPSHOT instead); chat-concurrency
 * covers SQLite.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { reclaimAnswers, registerInstance } from '../src/cluster/index.js';
import type { RunningServer } from '../src/index.js';
import { nowIso, openStorage, storageConfig, type Storage } from '../src/storage/index.js';
import { lockWaiters, rawPost, readSse, tempDir, waitFor, withPgDemo, type Client } from './helpers.js';

/** A connection of the test's own that holds a row lock in its transaction. */
interface Holder {
  /** Takes a row's lock (the conversation's, or the organization's) in a new transaction; the rows locked (0 once deleted). */
  lock(id: string, table?: 'conversations' | 'organizations'): Promise<number>;
  /** Runs SQL in the transaction, then commits it (letting go of the lock). */
  release(...statements: [string, string[]][]): Promise<void>;
}

interface Race extends Holder {
  server: RunningServer;
  owner: Client;
  /** The demo's one organization. */
  orgId: string;
  /** A new conversation with `mateId` (the test's Mate by default). */
  conversation(mateId?: string): Promise<string>;
  /** A second lock holder, to queue behind the first. */
  second: Holder;
  /** Waits until `n` queries (the server's, or the second holder's) wait for a lock. */
  waiters(n: number): Promise<void>;
}

/** Holds locks through `client`. */
const holding = (client: pg.Client): Holder => ({
  async lock(id, table = 'conversations') {
    await client.query('BEGIN');
    return (await client.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [id])).rowCount ?? 0;
  },
  async release(...statements) {
    for (const [q, params] of statements) await client.query(q, params);
    await client.query('COMMIT');
  },
});

/** Runs `fn` on a PostgreSQL demo server, with a Mate and a connection of the test's own to hold locks. */
async function withRace(t: TestContext, fn: (r: Race) => Promise<void>): Promise<void> {
  await withPgDemo(t, async (server, owner, databaseUrl) => {
    const holder = new pg.Client({ connectionString: databaseUrl });
    const other = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    await other.connect();
    try {
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const org = await holder.query<{ id: string }>('SELECT id FROM organizations');
      await fn({
        server,
        owner,
        orgId: org.rows[0]!.id,
        conversation: async (mateId = mate) =>
          (await owner.post<{ id: string }>('/api/conversations', { mateId })).body.id,
        ...holding(holder),
        second: holding(other),
        waiters: (n) => lockWaiters(holder, n),
      });
    } finally {
      await holder.end();
      await other.end();
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

for (const deleted of ['conversation', 'Mate'] as const)
  test(`an answer saved while its ${deleted} is deleted: no deadlock (PostgreSQL)`, async (t) => {
    await withRace(t, async ({ server, owner, conversation, lock, second, waiters, release }) => {
      // PostgreSQL does not always grant a row's lock in the order it was asked for: the attempt
      // that shows the race is the one where the second holder gets the row before the delete.
      for (let attempt = 1; attempt <= 8; attempt++) {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: `Mate ${attempt}` })).body.id;
        const conv = await conversation(mate);
        // The send, the second holder, then the delete queue on the conversation's row.
        await lock(conv);
        const sent = rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hello?' });
        await waiters(1);
        const held = second.lock(conv);
        await waiters(2);
        const gone = owner.del(deleted === 'Mate' ? `/api/mates/${mate}` : `/api/conversations/${conv}`);
        await waiters(3);
        // The send commits and its answer runs. Where the second holder gets the row next, the
        // answer's save queues behind it with the delete, and waits past PostgreSQL's
        // deadlock_timeout (1 s by default): were there a cycle, the delete, which waits on
        // behind it, would be ended (a 500) or the save would (the answer: internal error).
        await release();
        const raced = (await held) === 1;
        const events = sent.then((r) => readSse(r));
        if (raced) {
          await waiters(2);
          await new Promise((r) => setTimeout(r, 1500));
        }
        await second.release();
        const d = await gone;
        assert.equal(d.status, 204, `delete: ${d.status} ${JSON.stringify(d.body)}`);
        // Told it was deleted; where the delete went first, the answer may have been saved before.
        const end = (await events).at(-1);
        const said = JSON.stringify(await events);
        if (raced || end?.event !== 'done') {
          assert.equal(end?.event, 'error', said);
          assert.equal((end.data.error as { reason: string }).reason, 'deleted', said);
        }
        assert.equal((await owner.get(`/api/conversations/${conv}`)).status, 404);
        await waitFor(
          'no answer running',
          async () => (server.ctx.answers.size === 0 ? true : undefined),
          5000,
        );
        t.diagnostic(
          `attempt ${attempt}: ${raced ? 'the save and the delete waited together' : 'the delete went first'}`,
        );
        if (raced) return;
      }
      assert.fail('in 8 attempts, the delete always got the row before the second holder');
    });
  });

/** The organization of a conversation, as stored. */
async function orgOf(db: Storage['db'], conversationId: string): Promise<string> {
  const row = await db
    .selectFrom('conversations')
    .select('org_id')
    .where('id', '=', conversationId)
    .executeTakeFirstOrThrow();
  return row.org_id;
}

/** A row of an answer in progress that instance `owner` was writing (as a crash leaves it). */
const answerInProgress = (
  at: { orgId: string; conversationId: string; owner: string },
  id: string,
  seq: number,
) => ({
  id,
  org_id: at.orgId,
  conversation_id: at.conversationId,
  seq,
  role: 'assistant' as const,
  content: '',
  status: 'in_progress' as const,
  usage_estimated: 0,
  created_at: nowIso(),
  updated_at: nowIso(),
  owner_instance: at.owner,
});

test("a conversation or Mate deleted while instances reclaim a crashed instance's answers in it: no deadlock (PostgreSQL)", async (t) => {
  await withPgDemo(t, async (_server, owner, databaseUrl) => {
    const ROWS = 400;
    const tmp = tempDir();
    // Six instances' connections, each reclaiming on its own, as their beats do.
    const instances: Storage[] = [];
    try {
      for (let i = 0; i < 6; i++)
        instances.push(await openStorage(storageConfig(tmp.dir, databaseUrl), { poolMax: 2 }));
      const db = instances[0]!.db;
      const reclaim = () =>
        Promise.all(
          instances.map((s, i) =>
            reclaimAnswers(s.db, { selfId: `live-${i}`, staleBefore: nowIso(), shared: true }),
          ),
        );
      let seq = 0;
      /** A new conversation holding ROWS answers in progress of an instance that is gone. */
      const crashed = async (mateId: string) => {
        const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId })).body.id;
        const at = { orgId: await orgOf(db, conv), conversationId: conv, owner: 'gone-instance' };
        await db
          .insertInto('messages')
          .values(Array.from({ length: ROWS }, () => answerInProgress(at, `crashed-${++seq}`, seq)))
          .execute();
        return conv;
      };
      for (let round = 0; round < 24; round++) {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: `Mate ${round}` })).body.id;
        const conv = await crashed(mate);
        const [gone, counts] = await Promise.all([
          owner.del(round % 2 ? `/api/conversations/${conv}` : `/api/mates/${mate}`),
          reclaim(),
        ]);
        assert.equal(gone.status, 204, `round ${round}: ${JSON.stringify(gone.body)}`);
        assert.ok(counts.reduce((a, b) => a + b, 0) <= ROWS, `round ${round}: ${counts.join(', ')}`);
      }
      // With nothing else holding them, each answer is reclaimed once, whichever instance took it.
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Kept' })).body.id;
      const conv = await crashed(mate);
      const counts = await reclaim();
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        ROWS,
        counts.join(', '),
      );
      const left = await db
        .selectFrom('messages')
        .select(({ fn }) => fn.countAll<string>().as('n'))
        .where('conversation_id', '=', conv)
        .where('status', '=', 'in_progress')
        .executeTakeFirstOrThrow();
      assert.equal(Number(left.n), 0);
    } finally {
      for (const s of instances) await s.close();
      tmp.remove();
    }
  });
});

test("a restarted instance's previous answer held by a transaction that rolls back is reclaimed by a later beat (PostgreSQL)", async (t) => {
  await withPgDemo(t, async (_server, owner, databaseUrl) => {
    const tmp = tempDir();
    const storage = await openStorage(storageConfig(tmp.dir, databaseUrl), { poolMax: 2 });
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    const ID = 'understudy-7';
    try {
      const db = storage.db;
      const mateId = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId })).body.id;
      const at = { orgId: await orgOf(db, conv), conversationId: conv, owner: ID };
      const answer = (id: string, seq: number) => answerInProgress(at, id, seq);
      await db
        .insertInto('messages')
        .values([answer('previous-1', 1), answer('previous-2', 2), answer('previous-3', 3)])
        .execute();
      const status = async (id: string) =>
        (await db.selectFrom('messages').select('status').where('id', '=', id).executeTakeFirstOrThrow())
          .status;
      // Another transaction holds one of the previous run's answers while the instance starts.
      await holder.query('BEGIN');
      await holder.query("SELECT id FROM messages WHERE id = 'previous-1' FOR UPDATE");
      const { registry, reclaimed } = await registerInstance(db, {
        id: ID,
        shared: true,
        log: pino({ level: 'silent' }),
        timings: { heartbeatMs: 50, staleMs: 300 },
      });
      try {
        assert.equal(reclaimed, 2, 'the start takes the two answers nobody holds');
        assert.equal(await status('previous-1'), 'in_progress');
        // This run's own answer, written after the start: the beats must leave it alone.
        await db.insertInto('messages').values(answer('this-run', 4)).execute();
        await holder.query("UPDATE messages SET content = 'x' WHERE id = 'previous-1'");
        await holder.query('ROLLBACK');
        await waitFor(
          'the held answer to be reclaimed after the rollback',
          async () => ((await status('previous-1')) === 'interrupted' ? true : undefined),
          3000,
        );
        // Several beats later, this run's answer is still in progress.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await status('this-run'), 'in_progress');
        assert.equal(await status('previous-2'), 'interrupted');
      } finally {
        await registry.stop();
      }
    } finally {
      await holder.end().catch(() => undefined);
      await storage.close();
      tmp.remove();
    }
  });
});
