/**
 * First-run setup is one-time: requests sent at once create one organization, the others are told
 * it is taken; a setup that fails before anything exists leaves the token for another try; two
 * instances on one database (each with its own token) create one organization between them.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { countOrganizations } from '../src/organizations/index.js';
import type { RunningServer } from '../src/index.js';
import {
  createPgBackend,
  PASSWORD,
  startTestServer,
  tempDir,
  type Backend,
  type ErrorBody,
} from './helpers.js';

/** POST /api/setup as a fresh browser would, for the `i`-th would-be Owner. */
async function setup(server: RunningServer, token: string | undefined, i: number) {
  const res = await fetch(`${server.url}/api/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      token,
      organization: `Org ${i}`,
      name: `Owner ${i}`,
      email: `owner${i}@example.com`,
      password: PASSWORD,
    }),
  });
  return { status: res.status, body: (await res.json()) as Partial<ErrorBody> };
}

/**
 * Runs `fn` on `n` servers sharing a fresh database of `kind` (each its own data folder), so every
 * case starts at first run.
 */
async function withServers(
  t: TestContext,
  kind: Backend['name'],
  n: number,
  fn: (server: RunningServer, backend: Backend, all: RunningServer[]) => Promise<void>,
): Promise<void> {
  const backend: Backend | undefined =
    kind === 'sqlite' ? { name: 'sqlite', dispose: async () => {} } : await createPgBackend();
  if (!backend) return t.skip('PostgreSQL not reachable: skipped');
  const dirs = Array.from({ length: n }, () => tempDir());
  const servers: RunningServer[] = [];
  try {
    // One secret for all, as instances sharing a database must have.
    for (const d of dirs)
      servers.push(
        await startTestServer({ backend, dataDir: d.dir, env: { UNDERSTUDY_SECRET: 'setup-test-secret' } }),
      );
    await fn(servers[0]!, backend, servers);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    for (const d of dirs) d.remove();
    await backend.dispose();
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`first-run setup (${kind})`, async (t) => {
    await t.test('sent several times at once: one organization, the others a 409', (t) =>
      withServers(t, kind, 1, async (server) => {
        const token = server.ctx.setupToken;
        const all = await Promise.all([0, 1, 2, 3, 4].map((i) => setup(server, token, i)));
        const statuses = all.map((r) => r.status).sort();
        assert.deepEqual(statuses, [201, 409, 409, 409, 409], JSON.stringify(all));
        for (const r of all.filter((x) => x.status === 409)) {
          assert.equal(r.body.error?.code, 'conflict');
          assert.match(r.body.error?.message ?? '', /setup is already (done|under way)/);
        }
        assert.equal(await countOrganizations(server.ctx.db), 1);
        assert.equal(server.ctx.setupToken, undefined, 'the token is spent');
        const later = await setup(server, token, 9);
        assert.equal(later.status, 409);
        assert.match(later.body.error?.message ?? '', /setup is already done; sign in instead/);
      }),
    );

    await t.test('a setup that fails before anything exists leaves the token for a retry', (t) =>
      withServers(t, kind, 1, async (server, backend) => {
        const db = server.ctx.db;
        const token = server.ctx.setupToken;
        assert.equal((await setup(server, 'not-the-token', 1)).status, 403);
        // The database refuses the organization: the transaction rolls back, nothing is created.
        if (backend.name === 'sqlite') {
          await sql`CREATE TRIGGER refuse_org BEFORE INSERT ON organizations BEGIN SELECT RAISE(ABORT, 'refused'); END`.execute(
            db,
          );
        } else {
          await sql`CREATE FUNCTION refuse_org() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql`.execute(
            db,
          );
          await sql`CREATE TRIGGER refuse_org BEFORE INSERT ON organizations FOR EACH ROW EXECUTE FUNCTION refuse_org()`.execute(
            db,
          );
        }
        assert.equal((await setup(server, token, 1)).status, 500);
        assert.equal(await countOrganizations(db), 0);
        assert.equal(server.ctx.setupToken, token, 'the token still works');
        if (backend.name === 'sqlite') await sql`DROP TRIGGER refuse_org`.execute(db);
        else await sql`DROP TRIGGER refuse_org ON organizations`.execute(db);
        assert.equal((await setup(server, token, 2)).status, 201);
        assert.equal(await countOrganizations(db), 1);
      }),
    );

    if (kind === 'postgres') {
      await t.test('two instances on one database, each with its own token: one organization', (t) =>
        withServers(t, kind, 2, async (a, _backend, [, b]) => {
          assert.ok(b);
          assert.notEqual(a.ctx.setupToken, b.ctx.setupToken);
          const all = await Promise.all([setup(a, a.ctx.setupToken, 1), setup(b, b.ctx.setupToken, 2)]);
          assert.deepEqual(all.map((r) => r.status).sort(), [201, 409], JSON.stringify(all));
          assert.equal(await countOrganizations(a.ctx.db), 1);
        }),
      );
    }
  });
}
