/**
 * The admin API on SQLite and PostgreSQL: providers (SSRF, write-only keys encrypted at rest,
 * rotation, connection test), models (list, facts, enable, order), settings with the SPEC §2.2
 * rules, members and invitations, API keys stored hashed, the audit log, provider status and the
 * demo outage switch; a provider's key and header values never follow it to another host.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  addMember,
  Client,
  forEachBackend,
  PASSWORD,
  setupOwner,
  startTestServer,
  tempDir,
  type ErrorBody,
} from './helpers.js';

/** A settings refusal: the API's error object with its reason and the settings involved. */
interface RefusalBody {
  error: { code: string; message: string; reason: string; fields: string[] };
}

test('admin API', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
    });
    const db = server.ctx.db;
    try {
      const owner = await setupOwner(server);
      const admin = await addMember(server, owner, 'admin@example.com', 'admin');

      await t.test(
        'providers: SSRF guard, write-only encrypted keys, rotation, test connection',
        async () => {
          for (const baseUrl of [
            'http://169.254.169.254/v1',
            'http://metadata.google.internal/v1',
            'http://127.0.0.1:11434/v1',
            'http://[::1]:8000/v1',
            'http://10.0.0.5/v1',
            'file:///etc/passwd',
            'http://user:pw@example.com/v1',
          ]) {
            const r = await admin.post<ErrorBody>('/api/admin/providers', {
              id: 'bad',
              type: 'openai-compatible',
              label: 'Bad',
              baseUrl,
              apiKey: 'sk-test-1234567890',
            });
            assert.equal(r.status, 400, baseUrl);
            assert.ok(r.body.error.message.length > 10);
          }
          assert.equal(
            await db.selectFrom('providers').select('id').where('slug', '=', 'bad').executeTakeFirst(),
            undefined,
          );

          const secret = 'sk-live-SECRET-abcdef0123456789';
          const created = await admin.post('/api/admin/providers', {
            id: 'acme-ai',
            type: 'openai-compatible',
            label: 'Acme AI',
            baseUrl: 'http://93.184.215.14/v1',
            apiKey: secret,
          });
          assert.equal(created.status, 201, JSON.stringify(created.body));
          assert.equal(created.body.hasKey, true);
          const list = await admin.get('/api/admin/providers');
          assert.doesNotMatch(JSON.stringify(list.body), /SECRET/);
          const row = await db
            .selectFrom('providers')
            .selectAll()
            .where('slug', '=', 'acme-ai')
            .executeTakeFirstOrThrow();
          assert.ok(row.api_key_enc && !row.api_key_enc.includes('SECRET'));
          assert.equal(server.ctx.box.open(row.api_key_enc), secret);

          const rotated = await admin.put('/api/admin/providers/acme-ai/key', {
            apiKey: 'sk-live-NEWKEY-abcdef0123456789',
          });
          assert.equal(rotated.status, 200);
          const row2 = await db
            .selectFrom('providers')
            .selectAll()
            .where('slug', '=', 'acme-ai')
            .executeTakeFirstOrThrow();
          assert.equal(server.ctx.box.open(row2.api_key_enc!), 'sk-live-NEWKEY-abcdef0123456789');
          // The reply is the provider as stored now, its update time included.
          assert.equal(rotated.body.updatedAt, row2.updated_at);
          // The simulator's URL is said as such: its stored path below the simulator names the
          // organization's id and is nothing anyone could call.
          const sims = (list.body.providers as { id: string; baseUrl: string; builtin: boolean }[]).filter(
            (p) => p.builtin,
          );
          assert.deepEqual(
            sims.map((p) => [p.id, p.baseUrl]),
            [
              ['sim-a', '(built-in simulator)'],
              ['sim-b', '(built-in simulator)'],
            ],
          );
          // The simulator's providers are set up anew at every start: an edit would not last.
          const rename = await admin.patch<ErrorBody>('/api/admin/providers/sim-a', { label: 'Mine' });
          assert.equal(rename.status, 400);
          assert.match(rename.body.error.message, /keep their name and URL/);
          const audit = await owner.get<{
            entries: { action: string; old: unknown; new: unknown; actor: { label: string } }[];
          }>('/api/admin/audit');
          assert.doesNotMatch(JSON.stringify(audit.body), /SECRET|NEWKEY/);
          const rot = audit.body.entries.find((e) => e.action === 'provider.rotate_key');
          assert.deepEqual(
            [rot?.old, rot?.new, rot?.actor.label],
            [{ hasKey: true }, { hasKey: true }, 'admin@example.com'],
          );

          const ok = await admin.post('/api/admin/providers/sim-b/test', {});
          assert.equal(ok.status, 200);
          assert.equal(ok.body.ok, true);
          await owner.put('/api/admin/demo/providers/sim-b/outage', { fault: 'overloaded' });
          const down = await admin.post<{ ok: boolean; error: { reason: string } }>(
            '/api/admin/providers/sim-b/test',
            { model: 'sim-b-small' },
          );
          assert.equal(down.body.ok, false);
          assert.equal(down.body.error.reason, 'overloaded');
          type Status = {
            providers: { id: string; demoOutage: string | null; health: { state: string } }[];
          };
          const simB = async () =>
            (await admin.get<Status>('/api/admin/provider-status')).body.providers.find(
              (p) => p.id === 'sim-b',
            );
          assert.equal((await simB())?.demoOutage, 'overloaded');
          // Health memory learns from tests as from any request: failures open the breaker...
          for (let i = 0; i < 5 && (await simB())?.health.state !== 'open'; i++)
            await admin.post('/api/admin/providers/sim-b/test', { model: 'sim-b-small' });
          assert.equal((await simB())?.health.state, 'open');
          await owner.put('/api/admin/demo/providers/sim-b/outage', { fault: 'none' });
          // ...and a test that passes closes it, without waiting for a member's request to probe.
          const back = await admin.post('/api/admin/providers/sim-b/test', { model: 'sim-b-small' });
          assert.equal(back.body.ok, true);
          assert.equal((await simB())?.health.state, 'closed');
          const demo = await admin.get<{ providers: { id: string; outage: string | null; label: string }[] }>(
            '/api/admin/demo',
          );
          assert.deepEqual(
            demo.body.providers.map((p) => [p.id, p.outage]),
            [
              ['sim-a', null],
              ['sim-b', null],
            ],
          );
          assert.match(demo.body.providers[0]!.label, /Simulator A/);

          assert.equal((await admin.del('/api/admin/providers/sim-a')).status, 409);
          assert.equal((await admin.del('/api/admin/providers/acme-ai')).status, 204);
        },
      );

      await t.test('models: add from the built-in catalog, edit facts, disable, order', async () => {
        const add = await admin.post('/api/admin/models', {
          id: 'gpt-4o',
          provider: 'sim-a',
          upstreamModel: 'gpt-4o',
        });
        assert.equal(add.status, 201, JSON.stringify(add.body));
        assert.equal(add.body.tier, 4);
        assert.equal(add.body.contextWindow, 128000);
        assert.deepEqual(add.body.capabilities, ['vision', 'tools', 'json']);
        const unknown = await admin.post<ErrorBody>('/api/admin/models', {
          id: 'mystery',
          provider: 'sim-a',
          upstreamModel: 'mystery-1',
        });
        assert.equal(unknown.status, 400);
        assert.match(unknown.body.error.message, /tier/);
        const edited = await admin.patch('/api/admin/models/gpt-4o', {
          // Repeats say no more than once: each is kept once, in its first place.
          tags: ['eu-hosted', 'zero-retention', 'eu-hosted'],
          capabilities: ['tools', 'vision', 'tools'],
          timeouts: { firstTokenMs: 20000 },
          enabled: false,
        });
        assert.equal(edited.status, 200);
        assert.deepEqual(edited.body.tags, ['eu-hosted', 'zero-retention']);
        assert.deepEqual(edited.body.capabilities, ['tools', 'vision']);
        assert.equal(
          (await owner.get<{ models: { id: string }[] }>('/api/models')).body.models.some(
            (m) => m.id === 'gpt-4o',
          ),
          false,
        );
        const all = (await admin.get<{ models: { id: string }[] }>('/api/admin/models')).body.models.map(
          (m) => m.id,
        );
        const reversed = [...all].reverse();
        assert.equal((await admin.put('/api/admin/models/order', { ids: reversed })).status, 200);
        assert.deepEqual(
          (await admin.get<{ models: { id: string }[] }>('/api/admin/models')).body.models.map((m) => m.id),
          reversed,
        );
        assert.equal((await admin.put('/api/admin/models/order', { ids: reversed.slice(1) })).status, 400);
        assert.equal((await admin.del('/api/admin/models/gpt-4o')).status, 204);
      });

      await t.test('settings follow the SPEC §2.2 rules, with clear messages', async () => {
        const s = await admin.get<{
          defaultModel: string;
          fallback: { mode: string };
          fallbackChoices: { value: string }[];
        }>('/api/admin/settings');
        assert.equal(s.body.defaultModel, 'sim-a-large');
        assert.deepEqual(s.body.fallback, { mode: 'automatic' });
        const values = s.body.fallbackChoices.map((c) => c.value);
        assert.deepEqual(values.slice(0, 2), ['automatic', 'none']);
        assert.ok(!values.includes('sim-a-large'), 'the Default Model is not offered as backup');

        const loop = await admin.put<RefusalBody>('/api/admin/settings', {
          fallback: { mode: 'specific', model: 'sim-a-large' },
        });
        assert.equal(loop.status, 400);
        assert.match(loop.body.error.message, /cannot be the Default Model/);
        // The refusal as data too, in the same error object: the web marks the fields from it.
        assert.deepEqual(loop.body.error, {
          code: 'invalid_settings',
          message: loop.body.error.message,
          reason: 'fallback_model_is_default_model',
          fields: ['fallback.model', 'defaultModel'],
        });
        assert.equal(
          (await admin.put('/api/admin/settings', { fallback: { mode: 'specific', model: 'sim-b-medium' } }))
            .status,
          200,
        );
        const swap = await admin.put<RefusalBody>('/api/admin/settings', { defaultModel: 'sim-b-medium' });
        assert.equal(swap.status, 400);
        assert.match(swap.body.error.message, /is the Specific Fallback Model/);
        assert.equal(swap.body.error.reason, 'default_model_is_fallback_model');
        assert.deepEqual(swap.body.error.fields, ['defaultModel', 'fallback.model']);
        const unknown = await admin.put<RefusalBody>('/api/admin/settings', { defaultModel: 'nope' });
        assert.equal(unknown.status, 400);
        assert.deepEqual(unknown.body.error, {
          code: 'invalid_settings',
          message: 'defaultModel: "nope" is not in the available list',
          reason: 'default_model_unknown',
          fields: ['defaultModel'],
        });
        const disableDefault = await admin.patch<RefusalBody>('/api/admin/models/sim-a-large', {
          enabled: false,
        });
        assert.equal(disableDefault.status, 409);
        assert.match(disableDefault.body.error.message, /Default Model/);
        assert.equal(disableDefault.body.error.code, 'conflict');
        assert.equal(disableDefault.body.error.reason, 'model_is_default_model');
        assert.deepEqual(disableDefault.body.error.fields, ['defaultModel']);
        const disableSpecific = await admin.patch<RefusalBody>('/api/admin/models/sim-b-medium', {
          enabled: false,
        });
        assert.equal(disableSpecific.status, 409);
        assert.equal(disableSpecific.body.error.reason, 'model_is_fallback_model');
        assert.deepEqual(disableSpecific.body.error.fields, ['fallback.model']);
        const removeSpecific = await admin.del<RefusalBody>('/api/admin/models/sim-b-medium');
        assert.equal(removeSpecific.status, 409);
        assert.deepEqual(removeSpecific.body.error, {
          code: 'conflict',
          message: '"sim-b-medium" is the Specific Fallback Model; choose another Fallback Model first',
          reason: 'model_is_fallback_model',
          fields: ['fallback.model'],
        });
        const preview = await admin.get<{ backup: string; explanation: string }>(
          '/api/admin/settings/backup-preview?model=sim-a-large',
        );
        assert.equal(preview.body.backup, 'sim-b-medium');
        assert.ok(preview.body.explanation.length > 0);
        assert.equal(
          (await admin.put('/api/admin/settings', { fallback: { mode: 'automatic' } })).status,
          200,
        );
        const auto = await admin.get<{ backup: string }>(
          '/api/admin/settings/backup-preview?model=sim-a-large',
        );
        assert.equal(auto.body.backup, 'sim-b-large');

        const audit = await owner.get<{
          entries: { action: string; old: { fallback: unknown }; new: { fallback: unknown } }[];
        }>('/api/admin/audit');
        const changes = audit.body.entries.filter((e) => e.action === 'settings.update');
        assert.ok(changes.length >= 2);
        assert.deepEqual(changes[0]!.old.fallback, { mode: 'specific', model: 'sim-b-medium' });
        assert.deepEqual(changes[0]!.new.fallback, { mode: 'automatic' });
      });

      await t.test('members, invitations and API keys', async () => {
        const inv = await admin.post<{ token: string; acceptUrl: string }>('/api/admin/invitations', {
          email: 'New@Example.com',
          role: 'member',
        });
        assert.equal(inv.status, 201);
        assert.ok(inv.body.acceptUrl.includes(inv.body.token));
        assert.equal(
          (await new Client(server.url).get(`/api/invitations/${inv.body.token}`)).body.email,
          'new@example.com',
        );
        const joined = new Client(server.url);
        assert.equal(
          (
            await joined.post('/api/invitations/accept', {
              token: inv.body.token,
              name: 'New',
              password: PASSWORD,
            })
          ).status,
          201,
        );
        assert.equal(
          (
            await new Client(server.url).post('/api/invitations/accept', {
              token: inv.body.token,
              name: 'Again',
              password: PASSWORD,
            })
          ).status,
          404,
        );
        const login = new Client(server.url);
        assert.equal(
          (await login.post('/api/auth/login', { email: 'new@example.com', password: 'wrong password!' }))
            .status,
          401,
        );
        assert.equal(
          (await login.post('/api/auth/login', { email: 'new@example.com', password: PASSWORD })).status,
          200,
        );
        assert.equal((await login.get('/api/admin/members')).status, 403);
        assert.equal(
          (await admin.post('/api/admin/invitations', { email: 'boss@example.com', role: 'owner' })).status,
          403,
        );

        const key = await admin.post<{ id: string; key: string; prefix: string }>('/api/admin/api-keys', {
          name: 'ci',
        });
        assert.equal(key.status, 201);
        assert.match(key.body.key, /^us-/);
        const listed = await admin.get('/api/admin/api-keys');
        assert.ok(!JSON.stringify(listed.body).includes(key.body.key), 'shown once');
        const row = await db
          .selectFrom('api_keys')
          .selectAll()
          .where('id', '=', key.body.id)
          .executeTakeFirstOrThrow();
        assert.notEqual(row.key_hash, key.body.key);
        assert.ok(!row.key_hash.includes(key.body.key.slice(10)));

        const members = await owner.get<{ members: { id: string; email: string; role: string }[] }>(
          '/api/admin/members',
        );
        const newbie = members.body.members.find((m) => m.email === 'new@example.com')!;
        assert.equal((await owner.patch(`/api/admin/members/${newbie.id}`, { role: 'admin' })).status, 200);
        assert.equal((await admin.del(`/api/admin/members/${newbie.id}`)).status, 200);
        assert.equal((await login.get('/api/auth/session')).status, 401);
        const actions = (
          await owner.get<{ entries: { action: string }[] }>('/api/admin/audit')
        ).body.entries.map((e) => e.action);
        for (const a of ['member.role', 'member.remove', 'invitation.create', 'api_key.create'])
          assert.ok(actions.includes(a), a);
      });
      await t.test('invitations: one valid link per email; nobody removes themselves', async () => {
        type Pending = { invitations: { id: string; email: string; role: string }[] };
        const pendingFor = async (email: string) =>
          (await admin.get<Pending>('/api/admin/invitations')).body.invitations.filter(
            (i) => i.email === email,
          );
        const first = await admin.post<{ token: string }>('/api/admin/invitations', {
          email: 'twice@example.com',
          role: 'member',
        });
        const second = await admin.post<{ id: string; token: string }>('/api/admin/invitations', {
          email: 'twice@example.com',
          role: 'admin',
        });
        assert.deepEqual([first.status, second.status], [201, 201]);
        // The second replaced the first: one listed, with the new role; the old link is dead.
        assert.deepEqual(
          (await pendingFor('twice@example.com')).map((i) => [i.id, i.role]),
          [[second.body.id, 'admin']],
        );
        assert.equal((await new Client(server.url).get(`/api/invitations/${first.body.token}`)).status, 404);
        const audit = await owner.get<{
          entries: { action: string; targetId: string; old: unknown }[];
        }>('/api/admin/audit');
        const entry = audit.body.entries.find(
          (e) => e.action === 'invitation.create' && e.targetId === second.body.id,
        );
        assert.deepEqual(entry?.old, { email: 'twice@example.com', role: 'member', replaced: true });

        // A link that another one's acceptance used up is not listed as valid. Two pending links for
        // one email can still be in a database written before the rule above: one is made here.
        const orgId = (await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
        const members = (await owner.get<{ members: { id: string; email: string }[] }>('/api/admin/members'))
          .body.members;
        await db
          .insertInto('invitations')
          .values({
            id: 'inv-older',
            org_id: orgId,
            email: 'twice@example.com',
            role: 'member',
            token_hash: 'not-a-real-hash',
            created_by: members.find((m) => m.email === 'owner@example.com')!.id,
            created_at: new Date().toISOString(),
            expires_at: new Date(Date.now() + 86_400_000).toISOString(),
            accepted_at: null,
          })
          .execute();
        assert.equal((await pendingFor('twice@example.com')).length, 2);
        const token = second.body.token;
        assert.equal(
          (
            await new Client(server.url).post('/api/invitations/accept', {
              token,
              name: 'Twice',
              password: PASSWORD,
            })
          ).status,
          201,
        );
        assert.deepEqual(await pendingFor('twice@example.com'), [], 'no used-up link is listed');

        // Removing oneself is refused, for an Admin and an Owner alike.
        for (const [client, email] of [
          [admin, 'admin@example.com'],
          [owner, 'owner@example.com'],
        ] as const) {
          const self = members.find((m) => m.email === email)!;
          const r = await client.del<ErrorBody>(`/api/admin/members/${self.id}`);
          assert.equal(r.status, 409, email);
          assert.match(r.body.error.message, /cannot remove yourself/);
        }
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

/** A stand-in provider host on loopback: records each request's credentials and echoes them in a 401. */
async function credentialEcho() {
  const seen: { authorization: string; gatewayKey: string }[] = [];
  const server = createServer((req, res) => {
    const got = {
      authorization: req.headers.authorization ?? '',
      gatewayKey: String(req.headers['x-gateway-key'] ?? ''),
    };
    seen.push(got);
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: `Incorrect API key: ${got.authorization} ${got.gatewayKey}` } }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a provider moved to another host gets its key and headers only when they are given again', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    // Loopback stand-ins for two hosts: private URLs are allowed for them.
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true' },
    });
    const [first, second] = [await credentialEcho(), await credentialEcho()];
    try {
      const owner = await setupOwner(server);
      const admin = await addMember(server, owner, 'admin@example.com', 'admin');
      const KEY = 'sk-live-FIRSTKEY-0123456789';
      const HEADER = 'gw-HEADERSECRET-0123456789';
      const created = await admin.post('/api/admin/providers', {
        id: 'gw',
        type: 'openai-compatible',
        label: 'Gateway',
        baseUrl: `${first.url}/v1`,
        apiKey: KEY,
        headers: { 'X-Gateway-Key': HEADER },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.headerNames, ['X-Gateway-Key']);
      // Header values are sealed at rest like the key...
      const stored = async () =>
        server.ctx.db.selectFrom('providers').selectAll().where('slug', '=', 'gw').executeTakeFirstOrThrow();
      assert.doesNotMatch((await stored()).headers_json ?? '', /HEADERSECRET/);
      // ...sent to the provider, and never reported back, though the provider echoes them.
      type Tested = { ok: boolean; error?: { message: string } };
      const t1 = await admin.post<Tested>('/api/admin/providers/gw/test', {});
      assert.equal(t1.body.ok, false);
      assert.deepEqual(first.seen.at(-1), { authorization: `Bearer ${KEY}`, gatewayKey: HEADER });
      assert.match(t1.body.error?.message ?? '', /Incorrect API key/);
      assert.doesNotMatch(JSON.stringify(t1.body), /FIRSTKEY|HEADERSECRET/);

      // Another host (here another port): the stored key and header values are not sent there.
      const refused = await admin.patch<ErrorBody>('/api/admin/providers/gw', {
        baseUrl: `${second.url}/v1`,
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'credentials_required');
      assert.match(refused.body.error.message, /give apiKey and headers for http:\/\/127\.0\.0\.1:\d+/);
      assert.equal((await stored()).base_url, `${first.url}/v1`, 'nothing changed');
      const keyOnly = await admin.patch<ErrorBody>('/api/admin/providers/gw', {
        baseUrl: `${second.url}/v1`,
        apiKey: 'sk-live-SECONDKEY-0123456789',
      });
      assert.equal(keyOnly.status, 400, 'the headers are stored credentials too');
      assert.match(keyOnly.body.error.message, /stored header values of "gw" are not sent/);
      const moved = await admin.patch('/api/admin/providers/gw', {
        baseUrl: `${second.url}/v1`,
        apiKey: 'sk-live-SECONDKEY-0123456789',
        headers: null,
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual([moved.body.hasKey, moved.body.headerNames], [true, []]);
      await admin.post('/api/admin/providers/gw/test', {});
      assert.deepEqual(second.seen, [
        { authorization: 'Bearer sk-live-SECONDKEY-0123456789', gatewayKey: '' },
      ]);
      // The same host, another path: the key stays.
      const path = await admin.patch('/api/admin/providers/gw', { baseUrl: `${second.url}/v2` });
      assert.equal(path.status, 200, JSON.stringify(path.body));
      await admin.post('/api/admin/providers/gw/test', {});
      assert.equal(second.seen.at(-1)?.authorization, 'Bearer sk-live-SECONDKEY-0123456789');
      assert.ok(
        first.seen.every((s) => s.authorization === `Bearer ${KEY}`),
        'the first host never saw the second key',
      );
      // The audit says the key was given again, never what it is.
      const audit = await owner.get<{ entries: { action: string; new: Record<string, unknown> }[] }>(
        '/api/admin/audit',
      );
      assert.doesNotMatch(JSON.stringify(audit.body), /FIRSTKEY|SECONDKEY|HEADERSECRET/);
      const update = audit.body.entries.find((e) => e.action === 'provider.update' && 'key' in e.new);
      assert.equal(update?.new.key, 'given again');
    } finally {
      await Promise.all([first.close(), second.close()]);
      await server.close();
      tmp.remove();
    }
  });
});
