/**
 * The fallback activity recorder on SQLite and PostgreSQL: record() buffers without waiting, rows
 * are written by timer, by batch size (in rows) or by an explicit flush, a backlog larger than a
 * batch is written at once, a failing database is logged (never thrown) and retried with the oldest
 * rows dropped beyond the bound, and close() writes what is left. Identical API fallbacks of one
 * write window become one row with their count, first and last time, mean and max latency; chat
 * answers and events that differ in any key field keep rows of their own, a flush or a UTC midnight
 * starts new rows, and the counts per day add up answers. Rows written before the migration read
 * as one answer. Through a real server: N API answers via a dead primary make one row of N.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { AnswerResult } from '@understudy/engine';
import { sql, type Kysely, type KyselyPlugin } from 'kysely';
import pino from 'pino';
import { fallbackActivity, FallbackRecorder, type FallbackEvent } from '../src/activity/index.js';
import { migrations, openStorage, storageConfig, type Database } from '../src/storage/index.js';
import {
  dbAtMigration,
  forEachBackend,
  readSse,
  rawPost,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
  type Backend,
} from './helpers.js';

/** What an event's fallback and result may vary in a test. */
interface Variant {
  originalProviderId?: string;
  reason?: string;
  backupModelId?: string;
  backupProviderId?: string;
  status?: AnswerResult['status'];
  latencyMs?: number;
}

/** A finished answer with a fallback; only what the activity row reads. */
function event(i: number, extra: Partial<FallbackEvent> = {}, v: Variant = {}): FallbackEvent {
  const result = {
    status: v.status ?? 'complete',
    latencyMs: v.latencyMs ?? 12.4,
    fallback: {
      originalModelId: `m${i}`,
      originalProviderId: v.originalProviderId ?? 'pa',
      reason: v.reason ?? 'overloaded',
      backupModelId: v.backupModelId ?? 'back',
      backupProviderId: v.backupProviderId ?? 'pb',
    },
  } as unknown as AnswerResult;
  return { orgId: 'org-1', surface: 'api', result, ...extra };
}

/** The answers in the counts per day (all days, all providers). */
const dayTotal = (a: { countsByDay: { count: number }[] }) => a.countsByDay.reduce((n, c) => n + c.count, 0);

test('fallback activity recorder', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const s = await openStorage(storageConfig(tmp.dir, backend.databaseUrl));
    let failing = false;
    /** Fails once after a statement has run: committed, yet the caller sees an error. */
    let failAfterNext = false;
    const breaker: KyselyPlugin = {
      transformQuery: (a) => {
        if (failing) throw new Error('database unavailable (test)');
        return a.node;
      },
      transformResult: async (a) => {
        if (failAfterNext) {
          failAfterNext = false;
          throw new Error('connection lost after commit (test)');
        }
        return a.result;
      },
    };
    const db = s.db.withPlugin(breaker);
    const lines: { level: number; msg: string; dropped?: number }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
          cb();
        },
      }),
    );
    const rows = async () => s.db.selectFrom('fallback_events').selectAll().orderBy('id').execute();
    const activity = () => fallbackActivity(s.db, 'org-1', { days: 2, limit: 1000 });
    const reset = async () => {
      await s.db.deleteFrom('fallback_events').execute();
      lines.length = 0;
    };
    /** Waits until the retry took every pending row, then until its write committed. */
    const retried = async (r: FallbackRecorder) => {
      await waitFor('retry', async () => (r.pendingCount === 0 ? true : undefined), 10_000);
      // Nothing is pending once the retry took its batch, which may still be in flight: a flush
      // chains after it, so rows read after this see it committed.
      await r.flush();
    };
    try {
      await t.test('record() only buffers; flush() writes, message and mate kept', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
        r.record(event(1, { surface: 'chat', mateId: 'mate-1', messageId: 'msg-1' }));
        r.record(event(2));
        const noFallback = { ...event(3).result, fallback: undefined } as AnswerResult;
        r.record({ orgId: 'org-1', surface: 'api', result: noFallback });
        assert.equal(r.pendingCount, 2, 'an answer without a fallback records nothing');
        assert.equal((await rows()).length, 0);
        await r.flush();
        const got = await rows();
        assert.deepEqual(
          got.map((x) => [
            x.original_model_id,
            x.surface,
            x.mate_id,
            x.message_id,
            x.latency_ms,
            x.count,
            x.latency_max_ms,
          ]),
          [
            ['m1', 'chat', 'mate-1', 'msg-1', 12, 1, 12],
            ['m2', 'api', null, null, 12, 1, 12],
          ],
        );
        for (const x of got) assert.equal(x.first_at, x.at, 'one answer: first and last time are one');
        assert.equal(r.pendingCount, 0);
        await r.close();
      });

      await t.test('written by the timer, and at once when a batch is full', async () => {
        await reset();
        const timed = new FallbackRecorder(db, log, { flushMs: 30 });
        timed.record(event(1));
        await waitFor('timed write', async () => ((await rows()).length === 1 ? true : undefined), 3000);
        await timed.close();
        await reset();
        const batched = new FallbackRecorder(db, log, { flushMs: 60_000, batchSize: 5 });
        for (let i = 0; i < 5; i++) batched.record(event(i));
        await waitFor('batch write', async () => ((await rows()).length === 5 ? true : undefined), 3000);
        await batched.close();
        // The batch counts rows, not answers: a hundred identical answers are one row.
        await reset();
        const coalesced = new FallbackRecorder(db, log, { flushMs: 60_000, batchSize: 5 });
        for (let i = 0; i < 100; i++) coalesced.record(event(0));
        assert.equal(coalesced.pendingCount, 1);
        assert.equal(coalesced.pendingAnswers, 100);
        await new Promise((r) => setTimeout(r, 50));
        assert.equal((await rows()).length, 0, 'one row does not fill a batch of five');
        for (let i = 1; i < 5; i++) coalesced.record(event(i));
        await waitFor('batch write', async () => ((await rows()).length === 5 ? true : undefined), 3000);
        assert.equal((await rows()).find((x) => x.original_model_id === 'm0')?.count, 100);
        await coalesced.close();
      });

      await t.test(
        'identical API answers of one window are one row with count, times and latency',
        async () => {
          await reset();
          const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
          const latencies = [100, 300, 200, 400.4];
          for (const latencyMs of latencies) {
            r.record(event(1, {}, { latencyMs }));
            await new Promise((res) => setTimeout(res, 5));
          }
          assert.equal(r.pendingCount, 1, 'one pending row');
          assert.equal(r.pendingAnswers, 4);
          await r.flush();
          const got = await rows();
          assert.equal(got.length, 1);
          const row = got[0]!;
          assert.equal(row.count, 4);
          assert.equal(row.latency_ms, 250, 'the mean');
          assert.equal(row.latency_max_ms, 400, 'the max');
          assert.ok(row.first_at && row.first_at < row.at, `first ${row.first_at} before last ${row.at}`);
          assert.equal(row.day, row.at.slice(0, 10));
          const a = await activity();
          assert.deepEqual(
            a.events.map((e) => [e.count, e.latencyMs, e.latencyMaxMs, e.firstAt, e.at]),
            [[4, 250, 400, row.first_at, row.at]],
          );
          assert.deepEqual(
            a.countsByDay.map((c) => [c.provider, c.reason, c.count]),
            [['pa', 'overloaded', 4]],
            'the count per day is the number of answers',
          );
          await r.close();
        },
      );

      await t.test('chat answers keep one row each, with their message ids', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
        for (const id of ['msg-1', 'msg-2', 'msg-3'])
          r.record(event(1, { surface: 'chat', mateId: 'mate-1', messageId: id }));
        assert.equal(r.pendingCount, 3);
        await r.flush();
        const got = await rows();
        assert.deepEqual(
          got.map((x) => [x.message_id, x.count]),
          [
            ['msg-1', 1],
            ['msg-2', 1],
            ['msg-3', 1],
          ],
        );
        assert.equal(dayTotal(await activity()), 3);
        await r.close();
      });

      await t.test('events that differ in any key field are not merged', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
        const variants: [string, FallbackEvent][] = [
          ['base', event(1)],
          ['organization', event(1, { orgId: 'org-2' })],
          ['surface', event(1, { surface: 'chat' })],
          ['mate', event(1, { mateId: 'mate-1' })],
          ['original model', event(2)],
          ['original provider', event(1, {}, { originalProviderId: 'pz' })],
          ['reason', event(1, {}, { reason: 'timeout' })],
          ['backup model', event(1, {}, { backupModelId: 'other' })],
          ['backup provider', event(1, {}, { backupProviderId: 'pc' })],
          ['outcome', event(1, {}, { status: 'failed' })],
          ['outcome (cancelled)', event(1, {}, { status: 'cancelled' })],
        ];
        // Twice over: each variant coalesces only with itself.
        for (const [, e] of variants) r.record(e);
        for (const [, e] of variants) r.record(e);
        assert.equal(r.pendingCount, variants.length);
        await r.flush();
        const got = await rows();
        assert.equal(got.length, variants.length);
        for (const x of got) assert.equal(x.count, 2, JSON.stringify(x));
        const key = (x: (typeof got)[number]) =>
          [
            x.org_id,
            x.surface,
            x.mate_id,
            x.original_model_id,
            x.original_provider_id,
            x.reason,
            x.backup_model_id,
            x.backup_provider_id,
            x.outcome,
          ].join('|');
        assert.equal(new Set(got.map(key)).size, variants.length, 'every row has a key of its own');
        const a = await activity();
        assert.equal(dayTotal(a), 2 * (variants.length - 1), 'org-1: every answer counted once');
        assert.equal(dayTotal(await fallbackActivity(s.db, 'org-2', { days: 2, limit: 10 })), 2);
        await r.close();
      });

      await t.test(
        'a flush ends the window: later answers make a new row, the day total stays exact',
        async () => {
          await reset();
          const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
          for (let i = 0; i < 3; i++) r.record(event(1));
          await r.flush();
          for (let i = 0; i < 2; i++) r.record(event(1));
          // A flush in flight takes the window; answers recorded meanwhile start the next one.
          const inFlight = r.flush();
          await new Promise((res) => setImmediate(res));
          for (let i = 0; i < 4; i++) r.record(event(1));
          await inFlight;
          await r.flush();
          assert.deepEqual(
            (await rows()).map((x) => x.count),
            [3, 2, 4],
          );
          const a = await activity();
          assert.deepEqual(
            a.events.map((e) => e.count),
            [4, 2, 3],
            'newest first',
          );
          assert.equal(dayTotal(a), 9);
          await r.close();
        },
      );

      await t.test('a UTC midnight ends a row: each day counts its own answers', async () => {
        await reset();
        const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
        let now = midnight - 30;
        const r = new FallbackRecorder(db, log, { flushMs: 60_000, clock: () => now });
        r.record(event(1));
        r.record(event(1));
        now = midnight + 10;
        r.record(event(1));
        now += 10;
        r.record(event(1));
        r.record(event(1));
        await r.flush();
        const got = await rows();
        assert.deepEqual(
          got.map((x) => [x.day, x.count]),
          [
            [new Date(midnight - 1).toISOString().slice(0, 10), 2],
            [new Date(midnight).toISOString().slice(0, 10), 3],
          ],
        );
        assert.equal(got[1]!.first_at, new Date(midnight + 10).toISOString());
        assert.equal(got[1]!.at, new Date(midnight + 20).toISOString());
        await r.close();
      });

      await t.test('a failing database is logged, retried, and bounded (oldest dropped)', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 20, batchSize: 200, maxPending: 300 });
        failing = true;
        for (let i = 0; i < 450; i++) r.record(event(i));
        await r.flush();
        assert.equal(r.pendingCount, 300, 'kept within the bound');
        assert.equal(r.dropped, 150);
        assert.ok(lines.some((l) => l.level === 50 && /writing fallback activity failed/.test(l.msg)));
        failing = false;
        // The retry timer writes the backlog (more than one batch) in one go.
        await waitFor('retry', async () => ((await rows()).length === 300 ? true : undefined), 10_000);
        const got = await rows();
        assert.equal(got[0]!.original_model_id, 'm150', 'the newest events were kept');
        assert.equal(got.at(-1)!.original_model_id, 'm449');
        assert.ok(
          lines.some((l) => l.level === 40 && l.dropped === 150),
          'the drop is counted in a warning',
        );
        await r.close();
      });

      await t.test(
        'while the database refuses writes, answers coalesce; a dropped row counts its answers',
        async () => {
          await reset();
          const r = new FallbackRecorder(db, log, { flushMs: 20, maxPending: 2 });
          failing = true;
          for (let i = 0; i < 3; i++) r.record(event(1));
          await r.flush();
          assert.equal(r.pendingCount, 1);
          // The failed row is final; identical answers now start (and join) a new row.
          for (let i = 0; i < 5; i++) r.record(event(1));
          assert.equal(r.pendingCount, 2);
          r.record(event(2));
          assert.equal(r.pendingCount, 2, 'kept within the bound');
          assert.equal(r.dropped, 3, 'the oldest row stood for three answers');
          assert.equal(r.pendingAnswers, 6);
          failing = false;
          await retried(r);
          assert.deepEqual(
            (await rows()).map((x) => [x.original_model_id, x.count]),
            [
              ['m1', 5],
              ['m2', 1],
            ],
          );
          await r.close();
        },
      );

      await t.test('a retry after a committed-but-failed write skips the rows already written', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 20 });
        r.record(event(1));
        failAfterNext = true;
        await r.flush();
        assert.equal(r.pendingCount, 1, 'the write looked failed');
        r.record(event(2));
        await retried(r);
        assert.deepEqual(
          (await rows()).map((x) => x.original_model_id),
          ['m1', 'm2'],
        );
        // The same with identical answers: the written row is not reopened, so no answer joins a
        // row that the retry then skips; the count stays exact.
        await reset();
        r.record(event(1));
        r.record(event(1));
        failAfterNext = true;
        await r.flush();
        assert.equal(r.pendingCount, 1, 'the write looked failed');
        r.record(event(1));
        r.record(event(1));
        r.record(event(1));
        assert.equal(r.pendingCount, 2, 'a new row after the attempted one');
        await retried(r);
        assert.deepEqual(
          (await rows()).map((x) => x.count),
          [2, 3],
        );
        assert.equal(dayTotal(await activity()), 5);
        await r.close();
      });

      await t.test('close() writes what is pending; later records are dropped, not thrown', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 60_000 });
        r.record(event(1));
        r.record(event(2));
        await r.close();
        assert.equal((await rows()).length, 2);
        r.record(event(3));
        assert.equal(r.pendingCount, 0);
        assert.equal(r.dropped, 1);
      });
    } finally {
      failing = false;
      await s.close();
      tmp.remove();
    }
  });
});

test('rows written before coalescing read as one answer', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const cfg = storageConfig(tmp.dir, backend.databaseUrl);
    // The schema as it was before 003_fallback_counts, with a row written then.
    const old = await dbAtMigration(tmp.dir, backend.databaseUrl, '002_instances');
    const at = new Date().toISOString();
    await sql`INSERT INTO fallback_events (id, org_id, at, day, surface, mate_id, message_id,
      original_model_id, original_provider_id, reason, backup_model_id, backup_provider_id,
      latency_ms, outcome)
      VALUES ('old-1', 'org-1', ${at}, ${at.slice(0, 10)}, 'api', NULL, NULL, 'm1', 'pa',
      'overloaded', 'back', 'pb', 42, 'complete')`.execute(old);
    await old.destroy();
    // Several instances starting at once (PostgreSQL) migrate once, under the startup lock.
    const opened = await Promise.all(
      Array.from({ length: cfg.kind === 'postgres' ? 3 : 1 }, () => openStorage(cfg)),
    );
    const s = opened[0]!;
    try {
      const applied = await s.db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      assert.deepEqual(
        applied.map((r) => (r as { name: string }).name),
        Object.keys(migrations),
      );
      const a = await fallbackActivity(s.db, 'org-1', { days: 2, limit: 10 });
      assert.deepEqual(
        a.events.map((e) => [e.id, e.count, e.latencyMs, e.latencyMaxMs, e.firstAt]),
        [['old-1', 1, 42, 42, at]],
      );
      assert.equal(dayTotal(a), 1);
      // New coalesced rows add up with the old ones.
      const r = new FallbackRecorder(s.db, pino({ level: 'silent' }), { flushMs: 60_000 });
      for (let i = 0; i < 3; i++) r.record(event(1));
      await r.close();
      const after = await fallbackActivity(s.db, 'org-1', { days: 2, limit: 10 });
      assert.deepEqual(
        after.countsByDay.map((c) => [c.provider, c.count]),
        [['pa', 4]],
      );
    } finally {
      for (const o of opened) await o.close();
      tmp.remove();
    }
  });
});

/** A non-streaming completion through the OpenAI-compatible API; returns the model it fell back from. */
async function ask(url: string, key: string, model: string): Promise<string | null> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 }),
    signal: AbortSignal.timeout(20_000),
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.json();
  return res.headers.get('x-understudy-fallback-from');
}

interface ActivityBody {
  events: {
    surface: string;
    originalModel: string;
    originalProvider: string;
    count: number;
    latencyMs: number | null;
    latencyMaxMs: number | null;
    at: string;
    firstAt: string;
    backupModel: string;
    outcome: string;
  }[];
  countsByDay: { day: string; provider: string; count: number }[];
}

test('coalesced fallback activity through the server', async (t) => {
  await forEachBackend(t, async (t, backend: Backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
      // Longer than the file runs: a window ends only when the activity view reads (and flushes).
      activityFlushMs: 600_000,
    });
    const db = server.ctx.db as Kysely<Database>;
    try {
      const owner = await setupOwner(server);
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
      await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'overloaded' });
      const view = async () => (await owner.get<ActivityBody>('/api/admin/fallback-activity')).body;
      const N = 12;

      await t.test('N API answers through a dead primary in one window are one row of N', async () => {
        const from = await Promise.all(Array.from({ length: N }, () => ask(server.url, key, 'sim-a-large')));
        assert.deepEqual(new Set(from), new Set(['sim-a-large']), 'every answer fell back');
        assert.equal(server.ctx.fallbacks.pendingCount, 1, 'one pending row');
        assert.equal(server.ctx.fallbacks.pendingAnswers, N);
        const a = await view();
        assert.equal(a.events.length, 1);
        const e = a.events[0]!;
        assert.deepEqual(
          [e.surface, e.originalModel, e.originalProvider, e.count],
          ['api', 'sim-a-large', 'sim-a', N],
        );
        assert.ok(e.latencyMs !== null && e.latencyMaxMs !== null && e.latencyMs <= e.latencyMaxMs);
        assert.ok(e.firstAt <= e.at);
        assert.deepEqual(
          a.countsByDay.map((c) => [c.provider, c.count]),
          [['sim-a', N]],
        );
        const rows = await db.selectFrom('fallback_events').select(['count', 'message_id']).execute();
        assert.deepEqual(rows, [{ count: N, message_id: null }]);
      });

      await t.test('the next window is a new row; another model is a row of its own', async () => {
        for (let i = 0; i < 5; i++) assert.equal(await ask(server.url, key, 'sim-a-large'), 'sim-a-large');
        for (let i = 0; i < 2; i++) assert.equal(await ask(server.url, key, 'sim-a-medium'), 'sim-a-medium');
        const a = await view();
        assert.deepEqual(a.events.map((e) => [e.originalModel, e.count]).sort(), [
          ['sim-a-large', 12],
          ['sim-a-large', 5],
          ['sim-a-medium', 2],
        ]);
        assert.deepEqual(
          a.countsByDay.map((c) => [c.provider, c.count]),
          [['sim-a', N + 7]],
          'the count per day is exact',
        );
      });

      await t.test('chat answers keep one row each, with their message ids', async () => {
        const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
          const events = await readSse(
            await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hi' }),
          );
          assert.ok(events.some((e) => e.event === 'fallback'));
          ids.push(events[0]!.data.assistantMessageId as string);
        }
        const a = await view();
        const chat = a.events.filter((e) => e.surface === 'chat');
        assert.deepEqual(
          chat.map((e) => e.count),
          [1, 1, 1],
        );
        const rows = await db
          .selectFrom('fallback_events')
          .select(['message_id', 'mate_id', 'count'])
          .where('surface', '=', 'chat')
          .orderBy('id')
          .execute();
        assert.deepEqual(
          rows,
          ids.map((id) => ({ message_id: id, mate_id: mate, count: 1 })),
        );
        assert.equal(
          a.countsByDay.reduce((n, c) => n + c.count, 0),
          N + 7 + 3,
        );
      });

      await t.test('a double outage is an event of its own, outcome failed, counted per day', async () => {
        await owner.put('/api/admin/demo/providers/sim-b/outage', { fault: 'unavailable' });
        try {
          const res = await fetch(`${server.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'sim-a-large', messages: [{ role: 'user', content: 'Hi' }] }),
            signal: AbortSignal.timeout(20_000),
          });
          const body = (await res.json()) as { error: { message: string } };
          assert.ok(res.status >= 500, `a failure status, got ${res.status}`);
          assert.match(body.error.message, /Simulator B/, 'the error names the backup’s failure too');
          // Nothing answered, so no model is named as the one that did; no takeover headers either.
          assert.equal(res.headers.get('x-understudy-model'), null);
          assert.equal(res.headers.get('x-understudy-fallback-from'), null);
        } finally {
          await owner.put('/api/admin/demo/providers/sim-b/outage', { fault: 'none' });
        }
        const a = await view();
        const failed = a.events.filter((e) => e.outcome === 'failed');
        assert.deepEqual(
          failed.map((e) => [e.surface, e.originalModel, e.originalProvider, e.backupModel, e.count]),
          [['api', 'sim-a-large', 'sim-a', 'sim-b-large', 1]],
        );
        assert.equal(dayTotal(a), N + 7 + 3 + 1, 'the double outage counts as a fallback of its day');
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
