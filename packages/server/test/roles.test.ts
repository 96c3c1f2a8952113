/**
 * Route-by-role matrix: every route answered by Owner, Admin, Member, anonymous and another
 * organization's Owner, on SQLite and PostgreSQL, with a completeness check against the routes the
 * server registers. Ids in paths belong to the first organization only, so the other Owner gets 404.
 * Also: the session cookie's attributes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
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
/** A value, or one computed per caller at request time (so each deleting caller gets its own target). */
type PerWho<T> = T | ((who: Who) => T | Promise<T>);

interface Row {
  method: string;
  path: PerWho<string>;
  body?: PerWho<unknown>;
  expect: Record<Who, number>;
}

const resolve = async <T>(v: PerWho<T>, who: Who): Promise<T> =>
  typeof v === 'function' ? await (v as (w: Who) => T | Promise<T>)(who) : v;

/** Every `METHOD /pattern` the app registered (HEAD twins of GET routes left out), from printRoutes. */
function registeredRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) {
      assert.equal(line.trim(), '', `unexpected printRoutes line: ${line}`);
      continue;
    }
    const depth = m[1]!.length / 4;
    const path = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack.length = depth;
    stack.push(path);
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()))
      if (method && method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out;
}

/** The registered route a concrete request is served by (a static segment beats a parameter). */
function routeOf(routes: string[], method: string, path: string): string | undefined {
  const bare = path.split('?')[0]!;
  const mine = routes.filter((r) => r.startsWith(`${method} `));
  const exact = mine.find((r) => r === `${method} ${bare}`);
  if (exact) return exact;
  return mine.find((r) => {
    // `:param` is one segment; a trailing `*` (a wildcard route) anything.
    const pattern = r
      .slice(method.length + 1)
      .replace(/:[^/]+/g, '[^/]+')
      .replace(/\*$/, '.+');
    return new RegExp(`^${pattern}$`).test(bare);
  });
}

test('route-by-role matrix', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: {
        UNDERSTUDY_ALLOW_SIGNUP: 'true',
        UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0',
        // The first organization's own provider points at the loopback simulator.
        UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true',
      },
    });
    try {
      const owner = await setupOwner(server);
      const admin = await addMember(server, owner, 'admin@example.com', 'admin');
      const member = await addMember(server, owner, 'member@example.com', 'member');
      await addMember(server, owner, 'doomed-owner@example.com', 'member');
      await addMember(server, owner, 'doomed-admin@example.com', 'member');
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
      const created = async (c: Client, path: string, body: unknown) => {
        const r = await c.post<{ id: string }>(path, body);
        assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.body)}`);
        return r.body.id;
      };
      /** One target per deleting caller: the Owner's (also tried first by anon, other, member) and the Admin's. */
      const pair = async (make: (tag: 'owner' | 'admin') => Promise<string>) => ({
        owner: await make('owner'),
        admin: await make('admin'),
      });
      const mine = (ids: { owner: string; admin: string }, prefix: string) => (who: Who) =>
        `${prefix}${who === 'admin' ? ids.admin : ids.owner}`;

      // Resources of the first organization only.
      const mate = await created(owner, '/api/mates', { name: 'Ada', instructions: '' });
      const doomedMates = await pair((tag) => created(owner, '/api/mates', { name: `Doomed ${tag}` }));
      const conv = await created(member, '/api/conversations', { mateId: mate });
      const ownConv = {
        owner: await created(owner, '/api/conversations', { mateId: mate }),
        admin: await created(admin, '/api/conversations', { mateId: mate }),
        member: await created(member, '/api/conversations', { mateId: mate }),
        member2: await created(member, '/api/conversations', { mateId: mate }),
      };
      const members = (await owner.get<{ members: { id: string; email: string }[] }>('/api/admin/members'))
        .body.members;
      const idOf = (email: string) => members.find((m) => m.email === email)!.id;
      const memberId = idOf('member@example.com');
      const doomedMembers = {
        owner: idOf('doomed-owner@example.com'),
        admin: idOf('doomed-admin@example.com'),
      };
      const pending = await owner.post<{ id: string; token: string }>('/api/admin/invitations', {
        email: 'later@example.com',
        role: 'member',
      });
      assert.equal(pending.status, 201);
      const doomedInvites = await pair((tag) =>
        created(owner, '/api/admin/invitations', { email: `revoke-${tag}@example.com`, role: 'member' }),
      );
      const doomedKeys = await pair((tag) => created(owner, '/api/admin/api-keys', { name: `k-${tag}` }));
      await created(owner, '/api/admin/providers', {
        id: 'acme',
        type: 'openai-compatible',
        label: 'Acme',
        baseUrl: `${server.demo!.url}/p/acme-matrix/v1`,
        apiKey: 'sk-acme-0123456789',
      });
      await created(owner, '/api/admin/models', {
        id: 'acme-model',
        provider: 'acme',
        upstreamModel: 'sim-alpha',
        tier: 3,
      });
      const doomedProviders = await pair(async (tag) => {
        await created(owner, '/api/admin/providers', {
          id: `doomed-${tag}`,
          type: 'openai',
          label: `Doomed ${tag}`,
          baseUrl: 'https://93.184.215.14/v1',
        });
        return `doomed-${tag}`;
      });
      const doomedModels = await pair(async (tag) => {
        await created(owner, '/api/admin/models', {
          id: `doomed-${tag}`,
          provider: 'acme',
          upstreamModel: 'sim-beta',
          tier: 2,
        });
        return `doomed-${tag}`;
      });
      // The other organization drops its own simulated "sim-b", so that id exists only in the first.
      for (const m of ['sim-b-large', 'sim-b-medium', 'sim-b-small'])
        assert.equal((await other.del(`/api/admin/models/${m}`)).status, 204);
      assert.equal((await other.del('/api/admin/providers/sim-b')).status, 204);
      const otherProviders = (
        await other.get<{ providers: { id: string }[] }>('/api/admin/providers')
      ).body.providers.map((p) => p.id);
      const otherModels = (
        await other.get<{ models: { id: string }[] }>('/api/admin/models')
      ).body.models.map((m) => m.id);
      for (const id of ['acme', 'sim-b', 'doomed-owner', 'doomed-admin'])
        assert.ok(!otherProviders.includes(id), `provider ${id} must exist only in the first organization`);
      for (const id of ['acme-model', 'doomed-owner', 'doomed-admin'])
        assert.ok(!otherModels.includes(id), `model ${id} must exist only in the first organization`);
      const lastAnswer = async () =>
        (await member.get<{ messages: { id: string }[] }>(`/api/conversations/${conv}`)).body.messages.at(-1)!
          .id;

      const M = (owner: number, admin: number, member: number, anon: number, other: number) => ({
        owner,
        admin,
        member,
        anon,
        other,
      });
      const all = (n: number) => M(n, n, n, n, n);
      const managers = M(200, 200, 403, 401, 200);
      /** An id of the first organization: the other Owner must not find it. */
      const managersById = M(200, 200, 403, 401, 404);
      const deletedById = M(204, 204, 403, 401, 404);
      const r = (
        method: string,
        path: PerWho<string>,
        body: PerWho<unknown>,
        expect: Record<Who, number>,
      ) => ({
        method,
        path,
        body,
        expect,
      });
      const rows: Row[] = [
        // Public and session routes.
        r('GET', '/api/setup', undefined, all(200)),
        r(
          'POST',
          '/api/setup',
          { token: 'x', organization: 'X', name: 'X', email: 'x@example.com', password: PASSWORD },
          all(409),
        ),
        r(
          'POST',
          '/api/signup',
          { organization: 'Dup', name: 'Dup', email: 'owner@example.com', password: PASSWORD },
          all(409),
        ),
        r('POST', '/api/auth/login', { email: 'owner@example.com', password: 'not the password' }, all(401)),
        r('GET', '/api/auth/session', undefined, M(200, 200, 200, 401, 200)),
        r('GET', `/api/invitations/${pending.body.token}`, undefined, all(200)),
        r('GET', '/api/invitations/no-such-token', undefined, all(404)),
        r(
          'POST',
          '/api/invitations/accept',
          { token: 'no-such-token', name: 'X', password: PASSWORD },
          all(404),
        ),
        r('GET', '/api/models', undefined, M(200, 200, 200, 401, 200)),
        // Mates.
        r('GET', '/api/mates', undefined, M(200, 200, 200, 401, 200)),
        r('GET', `/api/mates/${mate}`, undefined, M(200, 200, 200, 401, 404)),
        r('PATCH', `/api/mates/${mate}`, { name: 'Ada' }, managersById),
        r('POST', '/api/mates', { name: 'New' }, M(201, 201, 403, 401, 201)),
        r('DELETE', mine(doomedMates, '/api/mates/'), undefined, deletedById),
        // Conversations: a member's own; Owners and Admins do not see others' (404).
        r('GET', '/api/conversations', undefined, M(200, 200, 200, 401, 200)),
        r('POST', '/api/conversations', { mateId: mate }, M(201, 201, 201, 401, 404)),
        r('GET', `/api/conversations/${conv}`, undefined, M(404, 404, 200, 401, 404)),
        r('PATCH', `/api/conversations/${conv}`, { title: 'Mine' }, M(404, 404, 200, 401, 404)),
        r(
          'DELETE',
          (who) =>
            `/api/conversations/${who === 'owner' || who === 'admin' || who === 'member' ? ownConv[who] : conv}`,
          undefined,
          M(204, 204, 204, 401, 404),
        ),
        r(
          'DELETE',
          (who) => `/api/conversations/${who === 'member' ? ownConv.member2 : conv}`,
          undefined,
          M(404, 404, 204, 401, 404),
        ),
        r('POST', `/api/conversations/${conv}/messages`, { content: 'Hi' }, M(404, 404, 200, 401, 404)),
        r(
          'GET',
          async () => `/api/conversations/${conv}/messages/${await lastAnswer()}/events`,
          undefined,
          M(404, 404, 200, 401, 404),
        ),
        // The answer is complete: nothing to stop or retry (409 once past authorization).
        r(
          'POST',
          async () => `/api/conversations/${conv}/messages/${await lastAnswer()}/stop`,
          {},
          M(404, 404, 409, 401, 404),
        ),
        r(
          'POST',
          async () => `/api/conversations/${conv}/messages/${await lastAnswer()}/retry`,
          {},
          M(404, 404, 409, 401, 404),
        ),
        // Members, invitations, API keys.
        r('GET', '/api/admin/members', undefined, managers),
        r('PATCH', `/api/admin/members/${memberId}`, { role: 'member' }, managersById),
        // Removing a member answers 200: how many of their API keys were revoked.
        r('DELETE', mine(doomedMembers, '/api/admin/members/'), undefined, managersById),
        r('GET', '/api/admin/invitations', undefined, managers),
        r(
          'POST',
          '/api/admin/invitations',
          (who: Who) => ({ email: `invited-by-${who}@example.com`, role: 'member' }),
          M(201, 201, 403, 401, 201),
        ),
        r('DELETE', mine(doomedInvites, '/api/admin/invitations/'), undefined, deletedById),
        r('GET', '/api/admin/api-keys', undefined, managers),
        r('POST', '/api/admin/api-keys', { name: 'matrix' }, M(201, 201, 403, 401, 201)),
        r('DELETE', mine(doomedKeys, '/api/admin/api-keys/'), undefined, deletedById),
        // Providers and models.
        r('GET', '/api/admin/providers', undefined, managers),
        r(
          'POST',
          '/api/admin/providers',
          (who: Who) => ({
            id: `new-${who}`,
            type: 'openai',
            label: `New ${who}`,
            baseUrl: 'https://93.184.215.14/v1',
          }),
          M(201, 201, 403, 401, 201),
        ),
        r('PATCH', '/api/admin/providers/acme', { label: 'Acme' }, managersById),
        r('PUT', '/api/admin/providers/acme/key', { apiKey: 'sk-acme-rotated-0123456789' }, managersById),
        r('POST', '/api/admin/providers/acme/test', {}, managersById),
        r('DELETE', mine(doomedProviders, '/api/admin/providers/'), undefined, deletedById),
        r('GET', '/api/admin/models', undefined, managers),
        r('GET', '/api/admin/catalog', undefined, managers),
        // The other Owner names a provider its organization does not have: refused.
        r(
          'POST',
          '/api/admin/models',
          (who: Who) => ({ id: `new-${who}`, provider: 'acme', upstreamModel: 'sim-gamma', tier: 2 }),
          M(201, 201, 403, 401, 400),
        ),
        r('PATCH', '/api/admin/models/acme-model', { label: 'Acme Model' }, managersById),
        // The first organization's full list, read when sent; the other Owner's list differs: refused.
        r(
          'PUT',
          '/api/admin/models/order',
          async () => ({
            ids: (await owner.get<{ models: { id: string }[] }>('/api/admin/models')).body.models
              .map((m) => m.id)
              .reverse(),
          }),
          M(200, 200, 403, 401, 400),
        ),
        r('DELETE', mine(doomedModels, '/api/admin/models/'), undefined, deletedById),
        // Settings and status.
        r('GET', '/api/admin/settings', undefined, managers),
        r('PUT', '/api/admin/settings', { fallback: { mode: 'automatic' } }, managers),
        r('GET', '/api/admin/settings/backup-preview', undefined, managers),
        r('GET', '/api/admin/audit', undefined, managers),
        r('GET', '/api/admin/fallback-activity', undefined, managers),
        r('GET', '/api/admin/provider-status', undefined, managers),
        r('GET', '/api/admin/demo', undefined, managers),
        r('PUT', '/api/admin/demo/providers/sim-b/outage', { fault: 'none' }, managersById),
        // The OpenAI-compatible API takes API keys only, never a session.
        r('GET', '/v1/models', undefined, all(401)),
        r('GET', '/v1/models/sim-a-large', undefined, all(401)),
        r(
          'POST',
          '/v1/chat/completions',
          { model: 'default', messages: [{ role: 'user', content: 'hi' }] },
          all(401),
        ),
        // Operations.
        r('GET', '/healthz', undefined, all(200)),
        r('GET', '/readyz', undefined, all(200)),
        r('GET', '/metrics', undefined, all(200)),
      ];
      // Run last: it ends the sessions.
      const logout = r('POST', '/api/auth/logout', {}, M(204, 204, 204, 401, 204));

      const routes = registeredRoutes(server.app);
      assert.ok(routes.includes('GET /healthz') && routes.includes('PUT /api/admin/providers/:id/key'));
      const hit = new Set<string>();
      const failures: string[] = [];
      // Callers in this order: "anon", "other" and "member" try an Owner's target while it still
      // exists; then the Owner and the Admin each delete their own.
      const order: Who[] = ['anon', 'other', 'member', 'owner', 'admin'];
      const runRow = async (row: Row) => {
        for (const who of order) {
          const path = await resolve(row.path, who);
          const body = row.body === undefined ? undefined : await resolve(row.body, who);
          const route = routeOf(routes, row.method, path);
          if (!route) failures.push(`${row.method} ${path}: no such route`);
          else hit.add(route);
          const res = await clients[who].req(row.method, path, body);
          if (res.status !== row.expect[who])
            failures.push(
              `${row.method} ${path} as ${who}: ${res.status} (expected ${row.expect[who]}) ${JSON.stringify(res.body).slice(0, 160)}`,
            );
        }
      };
      for (const row of rows) await runRow(row);
      assert.deepEqual(failures, []);

      // What the refusals left alone is still there, and the other Owner changed nothing of ours.
      assert.equal((await member.get(`/api/conversations/${conv}`)).status, 200);
      assert.equal((await owner.get(`/api/mates/${mate}`)).status, 200);
      const ownerModels = (
        await owner.get<{ models: { id: string }[] }>('/api/admin/models')
      ).body.models.map((m) => m.id);
      assert.ok(!ownerModels.includes('new-other'));
      assert.ok(!ownerModels.includes('doomed-owner') && !ownerModels.includes('doomed-admin'));
      assert.ok(ownerModels.includes('new-owner') && ownerModels.includes('new-admin'));

      // Another organization never sees the first one's data in its lists.
      const otherMates = (await other.get<{ mates: { id: string }[] }>('/api/mates')).body.mates.map(
        (m) => m.id,
      );
      assert.ok(!otherMates.includes(mate));
      const ownerMates = (await owner.get<{ mates: { id: string }[] }>('/api/mates')).body.mates.map(
        (m) => m.id,
      );
      assert.ok(!ownerMates.some((id) => otherMates.includes(id)));

      // An organization API key opens /v1 only, not the session API.
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'bearer' })).body.key;
      const bearer = { authorization: `Bearer ${key}` };
      assert.equal((await anon.req('GET', '/v1/models', undefined, bearer)).status, 200);
      assert.equal((await anon.req('GET', '/api/mates', undefined, bearer)).status, 401);

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

      // Sign-out ends every session.
      const cookies = Object.fromEntries(order.map((w) => [w, clients[w].cookie]));
      await runRow(logout);
      assert.deepEqual(failures, []);
      for (const who of order) {
        const c = Object.assign(new Client(server.url), { cookie: cookies[who] });
        assert.equal((await c.get('/api/auth/session')).status, 401, `${who} is signed out`);
      }

      // Completeness: every route the server registers is in the matrix.
      const missing = routes.filter((route) => !hit.has(route));
      assert.deepEqual(missing, [], 'routes missing from the matrix');
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

/** The parsed `Set-Cookie` of a response: the pair, then attributes by lower-case name. */
function cookieOf(res: Response): { name: string; value: string; attrs: Map<string, string> } {
  const all = res.headers.getSetCookie();
  assert.equal(all.length, 1, `one Set-Cookie: ${JSON.stringify(all)}`);
  const [pair, ...attrs] = all[0]!.split(';').map((p) => p.trim());
  const eq = pair!.indexOf('=');
  return {
    name: pair!.slice(0, eq),
    value: pair!.slice(eq + 1),
    attrs: new Map(
      attrs.map((a) => {
        const i = a.indexOf('=');
        return i < 0 ? [a.toLowerCase(), ''] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
      }),
    ),
  };
}

test('session cookies: HttpOnly, SameSite, Path; Secure only behind HTTPS', async (t) => {
  const backend = { name: 'sqlite' as const, dispose: async () => {} };
  const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const check = (res: Response, secure: boolean, what: string) => {
    const c = cookieOf(res);
    assert.equal(c.name, 'understudy_session', what);
    assert.ok(c.attrs.has('httponly'), `${what}: HttpOnly`);
    assert.equal(c.attrs.get('samesite')?.toLowerCase(), 'lax', `${what}: SameSite=Lax`);
    assert.equal(c.attrs.get('path'), '/', `${what}: Path=/`);
    assert.equal(c.attrs.has('secure'), secure, `${what}: Secure ${secure ? 'expected' : 'not expected'}`);
    return c;
  };
  // [UNDERSTUDY_PUBLIC_URL, whether cookies are Secure over a plain-http connection]
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['http://chat.example.test', false],
    ['https://chat.example.test', true],
  ];
  for (const [publicUrl, secure] of cases) {
    await t.test(`UNDERSTUDY_PUBLIC_URL=${publicUrl ?? '(unset)'}`, async () => {
      const tmp = tempDir();
      const server = await startTestServer({
        backend,
        dataDir: tmp.dir,
        env: publicUrl ? { UNDERSTUDY_PUBLIC_URL: publicUrl } : {},
      });
      try {
        const setup = await post(server.url, '/api/setup', {
          token: server.ctx.setupToken,
          organization: 'Acme',
          name: 'Olivia Owner',
          email: 'owner@example.com',
          password: PASSWORD,
        });
        assert.equal(setup.status, 201);
        const first = check(setup, secure, 'setup');
        assert.equal(first.attrs.get('max-age'), String(14 * 86_400));
        assert.ok(first.value.length >= 32, 'a long random session token');

        const login = await post(server.url, '/api/auth/login', {
          email: 'owner@example.com',
          password: PASSWORD,
        });
        assert.equal(login.status, 200);
        const session = check(login, secure, 'login');
        assert.notEqual(session.value, first.value, 'a new session per sign-in');
        const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;

        // The sign-out cookie clears with the same attributes.
        const logout = await post(
          server.url,
          '/api/auth/logout',
          {},
          { cookie: `understudy_session=${session.value}`, 'x-csrf-token': csrf },
        );
        assert.equal(logout.status, 204);
        const cleared = check(logout, secure, 'logout');
        assert.equal(cleared.value, '');
        assert.equal(cleared.attrs.get('max-age'), '0');

        // Without a public URL, HTTPS seen by the proxy in front (X-Forwarded-Proto) makes it Secure.
        if (!publicUrl) {
          const behindTls = await post(
            server.url,
            '/api/auth/login',
            { email: 'owner@example.com', password: PASSWORD },
            { 'x-forwarded-proto': 'https' },
          );
          assert.equal(behindTls.status, 200);
          check(behindTls, true, 'login behind an HTTPS proxy');
        }
      } finally {
        await server.close();
        tmp.remove();
      }
    });
  }
});
