/**
 * The fallback activity recorder on SQLite and PostgreSQL: record() buffers without waiting, rows
 * are written by timer, by batch size or by an explicit flush, a backlog larger than a batch is
 * written at once, a failing database is logged (never thrown) and retried with the oldest rows
 * dropped beyond the bound, and close() writes what is left.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { AnswerResult } from '@understudy/engine';
import type { KyselyPlugin } from 'kysely';
import pino from 'pino';
import { FallbackRecorder, type FallbackEvent } from '../src/activity/index.js';
import { openStorage, storageConfig } from '../src/storage/index.js';
import { forEachBackend, tempDir, waitFor } from './helpers.js';

/** A finished answer with a fallback; only what the activity row reads. */
function event(i: number, extra: Partial<FallbackEvent> = {}): FallbackEvent {
  const result = {
    status: 'complete',
    latencyMs: 12.4,
    fallback: {
      originalModelId: `m${i}`,
      originalProviderId: 'pa',
      reason: 'overloaded',
      backupModelId: 'back',
      backupProviderId: 'pb',
    },
  } as unknown as AnswerResult;
  return { orgId: 'org-1', surface: 'api', result, ...extra };
}

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
    const reset = async () => {
      await s.db.deleteFrom('fallback_events').execute();
      lines.length = 0;
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
          got.map((x) => [x.original_model_id, x.surface, x.mate_id, x.message_id, x.latency_ms]),
          [
            ['m1', 'chat', 'mate-1', 'msg-1', 12],
            ['m2', 'api', null, null, 12],
          ],
        );
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

      await t.test('a retry after a committed-but-failed write skips the rows already written', async () => {
        await reset();
        const r = new FallbackRecorder(db, log, { flushMs: 20 });
        r.record(event(1));
        failAfterNext = true;
        await r.flush();
        assert.equal(r.pendingCount, 1, 'the write looked failed');
        r.record(event(2));
        await waitFor('retry', async () => (r.pendingCount === 0 ? true : undefined), 10_000);
        assert.deepEqual(
          (await rows()).map((x) => x.original_model_id),
          ['m1', 'm2'],
        );
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
