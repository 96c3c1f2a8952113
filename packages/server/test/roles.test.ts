/**
 * Route-by-role matrix: every route answered by Owner, Admin, Member, anonymous and another
 * organization's Owner, on SQLite and PostgreSQL. Foreign ids answer 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addMember,
  Client,
  forEachBackend,
  PASSWORD,
  setupOwner,
  startTestServer,
  tempDir,
} from './helpers.js';

type Who = 'owner' | 'admin' | 'member' | 'anon' | 'other';
const WHO: Who[] = ['owner', 'admin', 'member', 'anon', 'other'];

test('route-by-role matrix', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_ALLOW_SIGNUP: 'true', UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
    });
    try {
      const owner = await setupOwner(server);
      const admin = await addMember(server, owner, 'admin@example.com', 'admin');
      const member = await addMember(server, owner, 'member@example.com', 'member');
      const anon = new Client(server.url);
      const other = new Client(server.url);
      const s = await other.post('/api/signup', {
        organization: 'Other Org',
        name: 'Otto',
        email: 'otto@other.com',
        password: PASSWORD,
      });
      assert.equal(s.status, 201);
      const clients: Record<Who, Client> = { owner, admin, member, anon, other };

      // Resources of the first organization.
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada', instructions: '' })).body
        .id;
      const conv = (await member.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const memberId = (
        await owner.get<{ members: { id: string; email: string }[] }>('/api/admin/members')
      ).body.members.find((m) => m.email === 'member@example.com')!.id;
      const inv = (
        await owner.post<{ id: string }>('/api/admin/invitations', {
          email: 'later@example.com',
          role: 'member',
        })
      ).body.id;
      const key = (await owner.post<{ id: string }>('/api/admin/api-keys', { name: 'k' })).body.id;
      const otherMate = (
        await other.post<{ id: string }>('/api/mates', { name: 'Foreign', instructions: '' })
      ).body.id;
      assert.ok(mate && conv && memberId && inv && key && otherMate);

      // [method, path, body, expected status per caller]
      const M = (owner: number, admin: number, member: number, anon: number, other: number) => ({
        owner,
        admin,
        member,
        anon,
        other,
      });
      const managers = M(200, 200, 403, 401, 200);
      const rows: [string, string, unknown, Record<Who, number>][] = [
        ['GET', '/api/auth/session', undefined, M(200, 200, 200, 401, 200)],
        ['GET', '/api/setup', undefined, M(200, 200, 200, 200, 200)],
        ['GET', '/api/models', undefined, M(200, 200, 200, 401, 200)],
        ['GET', '/api/mates', undefined, M(200, 200, 200, 401, 200)],
        ['GET', `/api/mates/${mate}`, undefined, M(200, 200, 200, 401, 404)],
        ['PATCH', `/api/mates/${mate}`, { name: 'Ada' }, M(200, 200, 403, 401, 404)],
        ['POST', '/api/mates', { name: 'New' }, M(201, 201, 403, 401, 201)],
        ['GET', '/api/conversations', undefined, M(200, 200, 200, 401, 200)],
        ['GET', `/api/conversations/${conv}`, undefined, M(404, 404, 200, 401, 404)],
        ['PATCH', `/api/conversations/${conv}`, { title: 'Mine' }, M(404, 404, 200, 401, 404)],
        ['POST', '/api/conversations', { mateId: mate }, M(201, 201, 201, 401, 404)],
        ['GET', '/api/admin/members', undefined, managers],
        ['PATCH', `/api/admin/members/${memberId}`, { role: 'member' }, M(200, 200, 403, 401, 404)],
        ['GET', '/api/admin/invitations', undefined, managers],
        ['GET', '/api/admin/api-keys', undefined, managers],
        ['POST', '/api/admin/api-keys', { name: 'matrix' }, M(201, 201, 403, 401, 201)],
        ['GET', '/api/admin/providers', undefined, managers],
        [
          'PATCH',
          '/api/admin/providers/sim-a',
          { label: 'Simulator A (OpenAI protocol)' },
          M(200, 200, 403, 401, 200),
        ],
        ['POST', '/api/admin/providers/sim-b/test', {}, M(200, 200, 403, 401, 200)],
        ['GET', '/api/admin/models', undefined, managers],
        ['GET', '/api/admin/catalog', undefined, managers],
        [
          'PATCH',
          '/api/admin/models/sim-a-small',
          { label: 'Sim A Small (simulated)' },
          M(200, 200, 403, 401, 200),
        ],
        ['GET', '/api/admin/settings', undefined, managers],
        ['PUT', '/api/admin/settings', { fallback: { mode: 'automatic' } }, managers],
        ['GET', '/api/admin/settings/backup-preview', undefined, managers],
        ['GET', '/api/admin/audit', undefined, managers],
        ['GET', '/api/admin/fallback-activity', undefined, managers],
        ['GET', '/api/admin/provider-status', undefined, managers],
        ['GET', '/api/admin/demo', undefined, managers],
        ['PUT', '/api/admin/demo/providers/sim-b/outage', { fault: 'none' }, managers],
        ['DELETE', `/api/admin/invitations/${inv}`, undefined, M(204, 404, 403, 401, 404)],
        ['DELETE', `/api/admin/api-keys/${key}`, undefined, M(204, 404, 403, 401, 404)],
        ['GET', '/v1/models', undefined, M(401, 401, 401, 401, 401)],
        ['GET', '/healthz', undefined, M(200, 200, 200, 200, 200)],
      ];
      // Order of callers: "other" and "anon" first so a deleting route is still there for them;
      // then member, owner (who deletes), and admin (who then sees 404).
      const order: Who[] = ['anon', 'other', 'member', 'owner', 'admin'];
      const failures: string[] = [];
      for (const [method, path, body, expected] of rows) {
        for (const who of order) {
          const r = await clients[who].req(method, path, body);
          if (r.status !== expected[who])
            failures.push(
              `${method} ${path} as ${who}: ${r.status} (expected ${expected[who]}) ${JSON.stringify(r.body).slice(0, 160)}`,
            );
        }
      }
      assert.deepEqual(failures, []);
      assert.equal(WHO.length, 5);

      // Another organization never sees the first one's data in its lists.
      const otherMates = (await other.get<{ mates: { id: string }[] }>('/api/mates')).body.mates.map(
        (m) => m.id,
      );
      assert.ok(!otherMates.includes(mate));
      assert.ok(otherMates.includes(otherMate));
      const ownerMates = (await owner.get<{ mates: { id: string }[] }>('/api/mates')).body.mates.map(
        (m) => m.id,
      );
      assert.ok(!ownerMates.includes(otherMate));

      // CSRF: a cookie alone cannot change anything.
      const noCsrf = await owner.req('POST', '/api/admin/api-keys', { name: 'x' }, { 'x-csrf-token': '' });
      assert.equal(noCsrf.status, 403);
      assert.equal((noCsrf.body as { error: { code: string } }).error.code, 'csrf');
      const crossSite = await owner.req(
        'POST',
        '/api/admin/api-keys',
        { name: 'x' },
        { origin: 'https://evil.example' },
      );
      assert.equal(crossSite.status, 403);

      // Role rules: an Admin cannot make anyone an Owner; the last Owner cannot be demoted.
      assert.equal((await admin.patch(`/api/admin/members/${memberId}`, { role: 'owner' })).status, 403);
      const ownerId = (await owner.get<{ user: { id: string } }>('/api/auth/session')).body.user.id;
      assert.equal((await owner.patch(`/api/admin/members/${ownerId}`, { role: 'admin' })).status, 409);

      // Sign-out ends the session.
      assert.equal((await member.post('/api/auth/logout')).status, 204);
      assert.equal((await member.get('/api/auth/session')).status, 401);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
