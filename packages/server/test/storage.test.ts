/** Storage on SQLite and PostgreSQL: the same migrations, applied once, and the same constraints. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { loadSecretKey, restrictFileModes } from '../src/security/index.js';
import { migrations, newId, nowIso, openStorage, storageConfig } from '../src/storage/index.js';
import { forEachBackend, startTestServer, tempDir, type LogCapture } from './helpers.js';

test('storage', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const cfg = storageConfig(tmp.dir, backend.databaseUrl);
    assert.equal(cfg.kind, backend.name);
    let s = await openStorage(cfg);
    try {
      await s.close();
      // Opening again applies nothing twice.
      s = await openStorage(cfg);
      const applied = await s.db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      assert.deepEqual(
        applied.map((r) => (r as { name: string }).name),
        Object.keys(migrations),
      );
      await s.ping();
      if (backend.name === 'sqlite') {
        // WAL with synchronous = NORMAL (1): commits do not fsync, the WAL keeps the file consistent.
        const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(s.db);
        const sync = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(s.db);
        assert.equal(mode.rows[0]?.journal_mode, 'wal');
        assert.equal(sync.rows[0]?.synchronous, 1);
      }

      const now = nowIso();
      const org = newId();
      await s.db
        .insertInto('organizations')
        .values({
          id: org,
          name: 'A',
          default_model_id: null,
          fallback_mode: 'automatic',
          fallback_model_id: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const user = {
        id: newId(),
        org_id: org,
        email: 'a@example.com',
        name: 'A',
        password_hash: 'x',
        role: 'owner' as const,
        created_at: now,
      };
      await s.db.insertInto('users').values(user).execute();
      await assert.rejects(
        s.db
          .insertInto('users')
          .values({ ...user, id: newId() })
          .execute(),
        'emails are unique',
      );
      await assert.rejects(
        s.db
          .insertInto('users')
          .values({ ...user, id: newId(), email: 'b@example.com', org_id: 'missing' })
          .execute(),
        'foreign keys hold',
      );
      const model = {
        id: newId(),
        org_id: org,
        slug: 'm',
        provider_slug: 'p',
        upstream_model: 'm',
        label: 'M',
        tier: 1,
        context_window: null,
        max_output_tokens: null,
        capabilities_json: '[]',
        tags_json: '[]',
        timeouts_json: null,
        enabled: 1,
        position: 0,
        source: 'admin' as const,
        created_at: now,
        updated_at: now,
      };
      await s.db.insertInto('models').values(model).execute();
      await assert.rejects(
        s.db
          .insertInto('models')
          .values({ ...model, id: newId() })
          .execute(),
        'model ids are unique per organization',
      );
      const back = await s.db
        .selectFrom('models')
        .selectAll()
        .where('org_id', '=', org)
        .executeTakeFirstOrThrow();
      assert.equal(back.enabled, 1);
      assert.equal(back.tier, 1);
      // Ids sort by creation.
      const ids = Array.from({ length: 50 }, () => newId());
      assert.deepEqual([...ids].sort(), ids);
    } finally {
      await s.close();
      tmp.remove();
    }
  });
});

test('ids sort in creation order, also past 36 in one millisecond, and are 25 base-36 characters', () => {
  const ids = Array.from({ length: 5000 }, () => newId());
  for (const id of ids) assert.match(id, /^[0-9a-z]{25}$/);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  // 5,000 ids take a few milliseconds at most: some millisecond held more than 36 of them.
  const perMs = new Map<string, number>();
  for (const id of ids) perMs.set(id.slice(0, 11), (perMs.get(id.slice(0, 11)) ?? 0) + 1);
  assert.ok(Math.max(...perMs.values()) > 36);
});

test("the data folder and the SQLite files are the server's user's alone, whatever the umask", async () => {
  const tmp = tempDir();
  // The usual umask, which leaves new files readable by every local user.
  const umask = process.umask(0o022);
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  try {
    const dataDir = join(tmp.dir, 'new', 'data');
    const s = await openStorage(storageConfig(dataDir));
    try {
      // Migrations wrote through the WAL: the -wal and -shm files exist while the database is open.
      const files = ['understudy.db', 'understudy.db-wal', 'understudy.db-shm'].map((f) => join(dataDir, f));
      for (const f of files) assert.ok(existsSync(f), f);
      assert.deepEqual(
        [dataDir, ...files].map(mode),
        ['700', '600', '600', '600'],
        'the folder 0700, the database files 0600',
      );
    } finally {
      await s.close();
    }
    // With PostgreSQL the data folder holds only the generated key; the folder is made private too.
    const keyDir = join(tmp.dir, 'key-only');
    loadSecretKey(undefined, keyDir);
    assert.deepEqual([mode(keyDir), mode(join(keyDir, 'secret.key'))], ['700', '600']);
    // A folder the operator made is left as it is; the files the server creates in it are private.
    const theirs = join(tmp.dir, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    const t = await openStorage(storageConfig(theirs));
    await t.close();
    assert.deepEqual([mode(theirs), mode(join(theirs, 'understudy.db'))], ['755', '600']);
  } finally {
    process.umask(umask);
    tmp.remove();
  }
});

test("an older install's database files and secret.key that other users could open are made private at start, with one warning", async () => {
  const tmp = tempDir();
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  const sqlite = { name: 'sqlite' as const, dispose: () => Promise.resolve() };
  const permissionWarnings = (capture: LogCapture) =>
    capture.lines
      .map((line) => JSON.parse(line) as { level: number; msg: string; restricted?: unknown[] })
      .filter((l) => l.level === 40 && /permissions/.test(l.msg));
  try {
    // The operator's folder: never changed, whatever its mode.
    chmodSync(tmp.dir, 0o755);
    const s = await openStorage(storageConfig(tmp.dir));
    await s.close();
    loadSecretKey(undefined, tmp.dir);
    const files = ['understudy.db', 'understudy.db-wal', 'understudy.db-shm', 'secret.key'].map((f) =>
      join(tmp.dir, f),
    );
    // What an older version left: the -wal and -shm of a process that did not close the database,
    // and every file readable by other local users.
    for (const f of files.slice(1, 3)) writeFileSync(f, '');
    for (const f of files) chmodSync(f, 0o644);

    const first: LogCapture = { lines: [] };
    let server = await startTestServer({ backend: sqlite, dataDir: tmp.dir, capture: first });
    try {
      assert.deepEqual(files.map(mode), ['600', '600', '600', '600']);
      assert.equal(mode(tmp.dir), '755', "the operator's folder is left as it is");
    } finally {
      await server.close();
    }
    const warned = permissionWarnings(first);
    assert.equal(warned.length, 1, 'one warning line');
    for (const f of files)
      assert.ok(warned[0]?.msg.includes(`${f} 0644 → 0600`), `${f} in: ${warned[0]?.msg}`);
    assert.equal(warned[0]?.restricted?.length, 4);

    // Already private: nothing to say.
    const second: LogCapture = { lines: [] };
    server = await startTestServer({ backend: sqlite, dataDir: tmp.dir, capture: second });
    await server.close();
    assert.deepEqual(permissionWarnings(second), []);
    // The -wal and -shm went with the closed database.
    assert.deepEqual([tmp.dir, files[0] ?? '', files[3] ?? ''].map(mode), ['755', '600', '600']);
  } finally {
    tmp.remove();
  }
});

test('a data file whose mode cannot be changed is named in the warning instead of failing the start', (t) => {
  // procfs refuses every chmod: a file of this user's that stays as it is.
  const file = '/proc/self/status';
  if (!existsSync(file) || !process.getuid) return t.skip('no /proc: skipped');
  const warned: string[] = [];
  restrictFileModes([file], { warn: (_fields, msg) => warned.push(msg) });
  assert.equal(warned.length, 1);
  assert.match(
    warned[0] ?? '',
    /^could not remove group and other permissions from \/proc\/self\/status \(0444: EPERM/,
  );
});
