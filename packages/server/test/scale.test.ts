/**
 * A year of a team's data, in miniature, on SQLite and PostgreSQL: a long conversation is read a
 * page at a time (every message exactly once, in order), and the conversation list's index exists.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { newId, nowIso, type MessagesTable } from '../src/storage/index.js';
import {
  addMember,
  forEachBackend,
  setupOwner,
  startTestServer,
  tempDir,
  type ErrorBody,
} from './helpers.js';

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
        model_id: null,
        provider_id: null,
        input_tokens: null,
        output_tokens: null,
        usage_estimated: 0,
        latency_ms: null,
        ttft_ms: null,
        fallback_json: null,
        error_json: null,
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

      const indexes =
        backend.name === 'sqlite'
          ? await sql<{
              name: string;
            }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations'`.execute(
              server.ctx.db,
            )
          : await sql<{
              name: string;
            }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'conversations'`.execute(
              server.ctx.db,
            );
      const names = indexes.rows.map((r) => r.name);
      assert.ok(names.includes('conversations_user_activity'), names.join(', '));
      assert.ok(!names.includes('conversations_user'), names.join(', '));
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
