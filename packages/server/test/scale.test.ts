/**
 * A year of a team's data, in miniature, on SQLite and PostgreSQL: a long conversation is read a
 * page at a time (every message exactly once, in order), and the conversation list's index exists;
 * fallback activity pages back through every event, past the days its counts cover.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { blankAnswerColumns } from '../src/chat/messages.js';
import { newId, nowIso, type FallbackEventsTable, type MessagesTable } from '../src/storage/index.js';
import {
  addMember,
  forEachBackend,
  setupOwner,
  startTestServer,
  tempDir,
  type Backend,
  type ErrorBody,
} from './helpers.js';
import type { RunningServer } from '../src/index.js';

/** The indexes of `table` on the server's database. */
function indexesOf(server: RunningServer, backend: Backend, table: string) {
  return (
    backend.name === 'sqlite'
      ? sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ${table}`
      : sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = ${table}`
  ).execute(server.ctx.db);
}

interface Page {
  messages: { id: string; role: string; content: string }[];
  older: number | null;
}

test('a long conversation pages back to its first message, each message once; the list has its index', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({ backend, dataDir: tmp.dir });
    try {
      const owner = await setupOwner(server);
      const member = await addMember(server, owner, 'mo@example.com', 'member');
      const mates = await member.get<{ mates: { id: string }[] }>('/api/mates');
      const mateId = mates.body.mates[0]?.id;
      assert.ok(mateId);
      const conv = await member.post<{ id: string }>('/api/conversations', { mateId });
      const org = await server.ctx.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
      const now = nowIso();
      const rows: MessagesTable[] = Array.from({ length: 251 }, (_, i) => ({
        id: newId(),
        org_id: org.id,
        conversation_id: conv.body.id,
        seq: i + 1,
        role: i % 2 ? 'assistant' : 'user',
        content: `message ${i + 1}`,
        status: 'complete',
        ...blankAnswerColumns(),
        created_at: now,
        updated_at: now,
      }));
      await server.ctx.db.insertInto('messages').values(rows).execute();

      // Without a limit the newest 100 come, oldest of them first.
      const first = await member.get<Page>(`/api/conversations/${conv.body.id}`);
      assert.equal(first.status, 200);
      assert.equal(first.body.messages.length, 100);
      assert.equal(first.body.messages[0]?.content, 'message 152');
      assert.equal(first.body.messages.at(-1)?.content, 'message 251');
      assert.equal(first.body.older, 152);

      const seen: string[] = [];
      let before: number | null = null;
      let pages = 0;
      do {
        const path: string = `/api/conversations/${conv.body.id}?limit=40${before === null ? '' : `&before=${before}`}`;
        const page = await member.get<Page>(path);
        assert.equal(page.status, 200);
        seen.unshift(...page.body.messages.map((m) => m.content));
        before = page.body.older;
        pages++;
      } while (before !== null);
      assert.equal(pages, 7);
      assert.deepEqual(
        seen,
        rows.map((r) => r.content),
      );

      for (const bad of ['limit=0', 'limit=501', 'before=0', 'before=x', 'after=3']) {
        const r = await member.get<ErrorBody>(`/api/conversations/${conv.body.id}?${bad}`);
        assert.equal(r.status, 400, bad);
      }

      const indexes = await indexesOf(server, backend, 'conversations');
      const names = indexes.rows.map((r) => r.name);
      assert.ok(names.includes('conversations_user_activity'), names.join(', '));
      assert.ok(!names.includes('conversations_user'), names.join(', '));
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

interface ActivityPage {
  events: { id: string; at: string; count: number }[];
  countsByDay: { count: number }[];
  next: string | null;
}

test('fallback activity pages back through every event, each once and in order; bad cursors are 400', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({ backend, dataDir: tmp.dir });
    try {
      const owner = await setupOwner(server);
      const member = await addMember(server, owner, 'mo@example.com', 'member');
      const org = await server.ctx.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
      const row = (orgId: string, at: Date, count = 1): FallbackEventsTable => ({
        id: newId(),
        org_id: orgId,
        at: at.toISOString(),
        day: at.toISOString().slice(0, 10),
        surface: 'api',
        mate_id: null,
        message_id: null,
        original_model_id: 'sim-a-large',
        original_provider_id: 'sim-a',
        reason: 'overloaded',
        backup_model_id: 'sim-b-large',
        backup_provider_id: 'sim-b',
        latency_ms: 40,
        outcome: 'complete',
        count,
        first_at: at.toISOString(),
        latency_max_ms: 90,
      });
      // Every 20 hours back over a year (most of it older than the 14 days of counts), two events
      // at the same instant each time (the id breaks the tie), a coalesced one among them.
      const now = Date.now();
      const ours: FallbackEventsTable[] = [];
      for (let i = 0; i < 450; i++) {
        const at = new Date(now - 60_000 - i * 20 * 3_600_000);
        ours.push(row(org.id, at, i === 7 ? 25 : 1), row(org.id, at));
      }
      const theirs = Array.from({ length: 30 }, (_, i) => row('another-org', new Date(now - i * 60_000)));
      for (let i = 0; i < ours.length; i += 300)
        await server.ctx.db
          .insertInto('fallback_events')
          .values(ours.slice(i, i + 300))
          .execute();
      await server.ctx.db.insertInto('fallback_events').values(theirs).execute();

      const seen: ActivityPage['events'] = [];
      let before: string | null = null;
      let pages = 0;
      let first: ActivityPage | undefined;
      do {
        const path: string = `/api/admin/fallback-activity?limit=99${before === null ? '' : `&before=${encodeURIComponent(before)}`}`;
        const page = await owner.get<ActivityPage>(path);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        first ??= page.body;
        seen.push(...page.body.events);
        before = page.body.next;
        pages++;
      } while (before !== null && pages < 20);
      // 99 a page: some pages end between two events of the same instant.
      assert.equal(pages, 10, '900 events by 99');
      assert.equal(seen.length, ours.length);
      assert.equal(new Set(seen.map((e) => e.id)).size, ours.length, 'each event once');
      assert.deepEqual(
        new Set(seen.map((e) => e.id)),
        new Set(ours.map((r) => r.id)),
        'only ours, all of them',
      );
      for (let i = 1; i < seen.length; i++)
        assert.ok(
          seen[i - 1]!.at >= seen[i]!.at,
          `newest first (${i}: ${seen[i - 1]!.at} before ${seen[i]!.at})`,
        );
      assert.equal(seen.find((e) => e.count === 25)?.count, 25, 'a coalesced event stays one event of ×25');
      // The counts per day still cover the last 14 days only (15 day strings at most).
      const recent = ours.filter((r) => r.day >= new Date(now - 14 * 86_400_000).toISOString().slice(0, 10));
      assert.equal(
        first?.countsByDay.reduce((n, c) => n + c.count, 0),
        recent.reduce((n, r) => n + r.count, 0),
      );
      // Without a limit: the newest 200 and the cursor after them.
      const byDefault = await owner.get<ActivityPage>('/api/admin/fallback-activity');
      assert.equal(byDefault.body.events.length, 200);
      assert.deepEqual(
        byDefault.body.events.map((e) => e.id),
        seen.slice(0, 200).map((e) => e.id),
      );

      const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      for (const bad of [
        'before=x',
        `before=${cursor(['2026-01-01T00:00:00.000Z'])}`,
        `before=${cursor([1, 2])}`,
        `before=${cursor({ at: '2026-01-01T00:00:00.000Z', id: 'a' })}`,
        `before=${cursor(['2026-01-01T00:00:00.000Z', 'a'.repeat(101)])}`,
        `before=${'a'.repeat(401)}`,
        'limit=0',
        'after=3',
      ]) {
        const r = await owner.get<ErrorBody>(`/api/admin/fallback-activity?${bad}`);
        assert.equal(r.status, 400, bad);
      }
      assert.equal((await member.get('/api/admin/fallback-activity')).status, 403, 'admins only, as before');

      const indexes = await indexesOf(server, backend, 'fallback_events');
      assert.ok(
        indexes.rows.some((r) => r.name === 'fallback_events_org_at'),
        indexes.rows.map((r) => r.name).join(', '),
      );
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
