/**
 * The API key cache on SQLite and PostgreSQL: a cached key costs no query, an organization
 * invalidation drops it at once (also when it straddles a lookup in flight), unknown keys are never
 * remembered, the map is bounded and entries expire.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import pino from 'pino';
import { ApiKeyCache } from '../src/auth/index.js';
import { randomToken, tokenHash } from '../src/security/index.js';
import { newId, nowIso, openStorage, storageConfig, type Storage } from '../src/storage/index.js';
import { forEachBackend, tempDir, waitFor } from './helpers.js';

const log = pino({ level: 'silent' });

async function addOrg(s: Storage): Promise<string> {
  const id = newId();
  const now = nowIso();
  await s.db
    .insertInto('organizations')
    .values({
      id,
      name: 'Acme',
      default_model_id: null,
      fallback_mode: 'automatic',
      fallback_model_id: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

async function addKey(s: Storage, orgId: string, key = randomToken('us-', 32)) {
  const id = newId();
  await s.db
    .insertInto('api_keys')
    .values({
      id,
      org_id: orgId,
      name: 'k',
      prefix: key.slice(0, 10),
      key_hash: tokenHash(key),
      created_by: null,
      created_at: nowIso(),
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return { id, key };
}

const lastUsed = async (s: Storage, id: string) =>
  (await s.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow())
    .last_used_at;

const revoke = (s: Storage, id: string) =>
  s.db.updateTable('api_keys').set({ revoked_at: nowIso() }).where('id', '=', id).execute();

test('API key cache', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const s = await openStorage(storageConfig(tmp.dir, backend.databaseUrl));
    let queries = 0;
    const counter: KyselyPlugin = {
      transformQuery: (a) => {
        queries++;
        return a.node;
      },
      transformResult: async (a) => a.result,
    };
    const db = s.db.withPlugin(counter);
    try {
      const org = await addOrg(s);
      const other = await addOrg(s);

      await t.test('a cached key costs no query; invalidating its organization refuses it', async () => {
        const keys = new ApiKeyCache(db, log);
        const k = await addKey(s, org);
        assert.deepEqual(await keys.resolve(k.key), { keyId: k.id, orgId: org });
        // The first use writes last_used_at, without the request waiting for it.
        await waitFor('last_used_at', async () => (await lastUsed(s, k.id)) ?? undefined);
        const before = queries;
        for (let i = 0; i < 50; i++) assert.equal((await keys.resolve(k.key))?.keyId, k.id);
        assert.equal(queries, before, 'the hot path does no query');
        await revoke(s, k.id);
        assert.equal((await keys.resolve(k.key))?.keyId, k.id, 'served from memory until invalidated');
        keys.invalidateOrg(other);
        assert.equal((await keys.resolve(k.key))?.keyId, k.id, "another organization's change keeps it");
        keys.invalidateOrg(org);
        assert.equal(await keys.resolve(k.key), undefined);
      });

      await t.test('a lookup straddling an invalidation is not cached', async () => {
        const keys = new ApiKeyCache(db, log);
        const k = await addKey(s, org);
        const inflight = keys.resolve(k.key);
        keys.invalidateOrg(org);
        assert.equal((await inflight)?.keyId, k.id, 'the request that started before still passes');
        assert.equal(keys.size, 0);
        await revoke(s, k.id);
        assert.equal(await keys.resolve(k.key), undefined);
      });

      await t.test('an unknown key is not remembered: once created it works at once', async () => {
        const keys = new ApiKeyCache(db, log);
        const key = randomToken('us-', 32);
        assert.equal(await keys.resolve(key), undefined);
        assert.equal(await keys.resolve(key), undefined);
        assert.equal(keys.size, 0, 'refusals take no memory');
        const k = await addKey(s, org, key);
        assert.equal((await keys.resolve(key))?.keyId, k.id);
      });

      await t.test('concurrent misses share one query', async () => {
        const keys = new ApiKeyCache(db, log);
        const k = await addKey(s, org);
        await keys.resolve(k.key);
        await waitFor('last_used_at', async () => (await lastUsed(s, k.id)) ?? undefined);
        keys.clear();
        const before = queries;
        const all = await Promise.all(Array.from({ length: 20 }, () => keys.resolve(k.key)));
        assert.ok(all.every((p) => p?.keyId === k.id));
        assert.equal(queries - before, 1);
      });

      await t.test('the map is bounded and entries expire', async () => {
        // 1 s: under a loaded machine's suite, 200 ms passed between caching the last key and
        // reading it again after its revocation, so the "still cached" read found it expired.
        const keys = new ApiKeyCache(db, log, { maxEntries: 3, ttlMs: 1000 });
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await addKey(s, org));
        for (const k of made) assert.equal((await keys.resolve(k.key))?.keyId, k.id);
        assert.equal(keys.size, 3);
        const last = made.at(-1)!;
        await revoke(s, last.id);
        assert.equal((await keys.resolve(last.key))?.keyId, last.id);
        await new Promise((r) => setTimeout(r, 1050));
        assert.equal(await keys.resolve(last.key), undefined, 'an expired entry is read again');
      });
    } finally {
      await s.close();
      tmp.remove();
    }
  });
});
