/**
 * docs/deployment.md documents every field /readyz answers with, and every value of its `status`,
 * `database` and `redis`: each answer the server can give (ready, Redis off / ok / degraded,
 * draining, database gone) is read here, and each of its fields must be named in the docs' Health
 * checks section.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { dropRedisPrefix, REDIS_TEST_URL, redisReachable } from './cluster-support.js';
import { startTestServer, tempDir, type Backend } from './helpers.js';

const DOCS = readFileSync(new URL('../../../docs/deployment.md', import.meta.url), 'utf8');

/** The docs' "Health checks" section, up to the next section. */
function readyzSection(): string {
  const start = DOCS.indexOf('## Health checks');
  assert.ok(start >= 0, 'docs/deployment.md has a "Health checks" section');
  const end = DOCS.indexOf('\n## ', start + 1);
  return DOCS.slice(start, end < 0 ? undefined : end);
}

/** Every field name of a /readyz body, and the values of `status`, `database` and `redis`. */
function namesIn(body: Record<string, unknown>): string[] {
  const names = Object.keys(body);
  for (const k of ['status', 'database', 'redis'])
    if (typeof body[k] === 'string') names.push(`${k}: ${String(body[k])}`);
  return names;
}

/** The names of these answers the docs' section does not mention (a value as `` `value` ``). */
function undocumented(bodies: Record<string, unknown>[]): string[] {
  const section = readyzSection();
  const missing = new Set<string>();
  for (const body of bodies)
    for (const name of namesIn(body)) {
      const word = name.includes(': ') ? name.split(': ')[1]! : name;
      if (!section.includes(`\`${word}\``)) missing.add(name);
    }
  return [...missing];
}

test('docs/deployment.md documents every /readyz field and value', async () => {
  const bodies: Record<string, unknown>[] = [];
  const read = async (server: { app: { inject(o: { url: string }): Promise<{ json(): unknown }> } }) =>
    bodies.push((await server.app.inject({ url: '/readyz' })).json() as Record<string, unknown>);

  const tmp = tempDir();
  const sqlite: Backend = { name: 'sqlite', dispose: () => Promise.resolve() };
  const server = await startTestServer({ backend: sqlite, dataDir: tmp.dir });
  let closed: Promise<void> | undefined;
  try {
    await read(server); // ready, redis off
    // A database that does not answer its ping.
    const ping = server.ctx.storage.ping;
    server.ctx.storage.ping = () => Promise.reject(new Error('the database is gone'));
    await read(server);
    server.ctx.storage.ping = ping;
    // The drain.
    closed = server.close();
    await read(server);
  } finally {
    await (closed ?? server.close());
    tmp.remove();
  }

  if (await redisReachable()) {
    const prefix = `readyz-docs-${process.pid}:`;
    const tmp2 = tempDir();
    const withRedis = await startTestServer({
      backend: sqlite,
      dataDir: tmp2.dir,
      env: { REDIS_URL: REDIS_TEST_URL, UNDERSTUDY_REDIS_PREFIX: prefix },
    });
    try {
      await read(withRedis); // redis ok, downs, localFallbacks
      // Degraded (with its last error), as after a Redis call timed out.
      withRedis.ctx.cluster.link?.markDown(new Error('Command timed out'));
      await read(withRedis);
    } finally {
      await withRedis.close();
      await dropRedisPrefix(prefix);
      tmp2.remove();
    }
  }

  const statuses = bodies.map((b) => b.status);
  for (const s of ['ready', 'shutting_down', 'database_unavailable'])
    assert.ok(statuses.includes(s), `read a ${s} answer (got ${statuses.join(', ')})`);
  assert.deepEqual(undocumented(bodies), [], 'every field and value is in the docs');
});
