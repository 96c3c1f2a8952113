/**
 * API keys and the members who created them, on SQLite and PostgreSQL: the key list names each
 * key's creator (also one who has left), and removing a member revokes the keys they created
 * unless asked to keep them, saying how many either way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId, nowIso } from '../src/storage/index.js';
import {
  addMember,
  forEachBackend,
  setupOwner,
  startTestServer,
  tempDir,
  type ErrorBody,
} from './helpers.js';

interface KeyRow {
  id: string;
  name: string;
  createdBy: { id: string; name: string | null; removed: boolean } | null;
}
interface MemberRow {
  id: string;
  email: string;
  activeApiKeys: number;
}

test('removing a member and the API keys they created', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({ backend, dataDir: tmp.dir });
    try {
      const owner = await setupOwner(server);
      const ann = await addMember(server, owner, 'ann@example.com', 'admin');
      const ben = await addMember(server, owner, 'ben@example.com', 'admin');
      await addMember(server, owner, 'cid@example.com', 'member');
      const newKey = async (c: typeof owner, name: string) =>
        (await c.post<{ id: string; key: string }>('/api/admin/api-keys', { name })).body;
      const annKeys = [await newKey(ann, 'ann-ci'), await newKey(ann, 'ann-batch')];
      const benKey = await newKey(ben, 'ben-ci');
      const ownerKey = await newKey(owner, 'owner-ci');
      // A key the bootstrap file made has no creator.
      const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
        .id;
      await server.ctx.db
        .insertInto('api_keys')
        .values({
          id: newId(),
          org_id: orgId,
          name: 'from-file',
          prefix: 'us-file000',
          key_hash: 'not-a-real-hash',
          created_by: null,
          created_at: nowIso(),
          last_used_at: null,
          revoked_at: null,
          source: 'config',
        })
        .execute();
      const works = async (key: string) =>
        (await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;
      const keys = async () => (await owner.get<{ apiKeys: KeyRow[] }>('/api/admin/api-keys')).body.apiKeys;
      const members = async () =>
        (await owner.get<{ members: MemberRow[] }>('/api/admin/members')).body.members;
      const memberId = async (email: string) => (await members()).find((m) => m.email === email)!.id;

      await t.test('the list names who created each key', async () => {
        const by = Object.fromEntries((await keys()).map((k) => [k.name, k.createdBy]));
        assert.deepEqual(by['ann-ci'], {
          id: await memberId('ann@example.com'),
          name: 'ann',
          removed: false,
        });
        assert.deepEqual(by['owner-ci'], {
          id: await memberId('owner@example.com'),
          name: 'Olivia Owner',
          removed: false,
        });
        assert.equal(by['from-file'], null, 'the bootstrap file');
        const counts = Object.fromEntries((await members()).map((m) => [m.email, m.activeApiKeys]));
        assert.deepEqual(counts, {
          'owner@example.com': 1,
          'ann@example.com': 2,
          'ben@example.com': 1,
          'cid@example.com': 0,
        });
      });

      await t.test('removing a member revokes their keys and says how many', async () => {
        assert.equal(await works(annKeys[0]!.key), 200);
        const r = await owner.del<{ id: string; apiKeys: { revoked: number; kept: number } }>(
          `/api/admin/members/${await memberId('ann@example.com')}`,
        );
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.apiKeys, { revoked: 2, kept: 0 });
        for (const k of annKeys) assert.equal(await works(k.key), 401, `${k.id} refused at once`);
        assert.equal(await works(ownerKey.key), 200, 'the others stay');
        const audit = await owner.get<{ entries: { action: string; targetId: string }[] }>(
          '/api/admin/audit',
        );
        const revoked = audit.body.entries
          .filter((e) => e.action === 'api_key.revoke')
          .map((e) => e.targetId);
        assert.deepEqual(revoked.sort(), annKeys.map((k) => k.id).sort());
      });

      await t.test('keepApiKeys keeps them; the list then names the creator as removed', async () => {
        const benId = await memberId('ben@example.com');
        const bad = await owner.del<ErrorBody>(`/api/admin/members/${benId}?keepApiKeys=maybe`);
        assert.equal(bad.status, 400);
        const r = await owner.del<{ apiKeys: { revoked: number; kept: number } }>(
          `/api/admin/members/${benId}?keepApiKeys=true`,
        );
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.apiKeys, { revoked: 0, kept: 1 });
        assert.equal(await works(benKey.key), 200);
        const kept = (await keys()).find((k) => k.name === 'ben-ci');
        assert.deepEqual(kept?.createdBy, { id: benId, name: 'ben (ben@example.com)', removed: true });
        const none = await owner.del<{ apiKeys: { revoked: number; kept: number } }>(
          `/api/admin/members/${await memberId('cid@example.com')}`,
        );
        assert.deepEqual([none.status, none.body.apiKeys], [200, { revoked: 0, kept: 0 }]);
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
