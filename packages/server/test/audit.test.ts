/**
 * The audit log on SQLite and PostgreSQL: a PATCH or PUT that changes nothing writes no entry (and
 * still succeeds), while a real change does, even one the entry shows no value of (a header value, a
 * Mate's instructions); member and invitation entries name the person, not only an id; accepting an
 * invitation is recorded, made by the new member; Mate and API key entries name them (their ids are
 * random), older ones from their recorded values; organization-level entries name the organization
 * (older ones without a stored label too) and the simulator's setup of an organization made on the
 * setup page is Understudy's, not a bootstrap file's; and the log pages with a `before` cursor.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeAudit } from '../src/audit/index.js';
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

interface Entry {
  id: string;
  action: string;
  actor: { id: string | null; label: string };
  targetType: string;
  targetId: string | null;
  targetLabel: string | null;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
}
interface Page {
  entries: Entry[];
  next: string | null;
}

test('audit log', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
    });
    const db = server.ctx.db;
    const count = async () =>
      Number(
        (
          await db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    try {
      const owner = await setupOwner(server);
      const admin = await addMember(server, owner, 'admin@example.com', 'admin');
      const audit = async (query = '') => (await owner.get<Page>(`/api/admin/audit${query}`)).body;

      await t.test(
        'organization-level entries name the organization; the simulator setup is Understudy',
        async () => {
          const setup = (await audit()).entries;
          const orgId = (await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
          const created = setup.find((e) => e.action === 'organization.create');
          assert.deepEqual([created?.targetId, created?.targetLabel], [orgId, 'Acme']);
          // Made on the setup page: no bootstrap file exists, the simulator's providers are Understudy's doing.
          for (const action of ['bootstrap.apply', 'settings.update']) {
            const e = setup.find((x) => x.action === action);
            assert.deepEqual(
              [e?.actor, e?.targetId, e?.targetLabel],
              [{ id: null, label: 'Understudy (built-in simulator setup)' }, orgId, 'Acme'],
              action,
            );
          }
          assert.equal(setup.filter((e) => e.actor.label === 'bootstrap').length, 0, 'no bootstrap file');

          const put = (fallback: string) =>
            owner.put('/api/admin/settings', { fallback: { mode: fallback } });
          assert.equal((await put('none')).status, 200);
          assert.equal((await put('automatic')).status, 200);
          const [back, changed] = (await audit()).entries;
          assert.deepEqual(
            [changed?.action, changed?.actor.label, changed?.targetLabel],
            ['settings.update', 'owner@example.com', 'Acme'],
          );
          assert.equal(back?.targetLabel, 'Acme');

          // Written before the label was stored: the organization's name is still what the API gives.
          await db
            .updateTable('audit_log')
            .set({ target_label: null })
            .where('target_type', 'in', ['organization', 'settings'])
            .execute();
          await db.updateTable('organizations').set({ name: 'Acme Inc' }).where('id', '=', orgId).execute();
          const older = (await audit()).entries.filter((e) => e.targetId === orgId);
          assert.ok(older.length >= 4);
          assert.deepEqual(new Set(older.map((e) => e.targetLabel)), new Set(['Acme Inc']));
          await db.updateTable('organizations').set({ name: 'Acme' }).where('id', '=', orgId).execute();
        },
      );

      await t.test('a PATCH or PUT that changes nothing writes no entry', async () => {
        const created = await admin.post('/api/admin/providers', {
          id: 'acme-ai',
          type: 'openai-compatible',
          label: 'Acme AI',
          baseUrl: 'http://93.184.215.14/v1',
          headers: { 'X-Team': 'TEAM-ONE', 'X-Org': 'o' },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const mate = await admin.post<{ id: string }>('/api/mates', {
          name: 'Ada',
          instructions: 'Be brief.',
        });
        assert.equal(mate.status, 201);
        const model = (
          await admin.get<{ models: { id: string; label: string; tier: number }[] }>('/api/admin/models')
        ).body.models;
        const large = model.find((m) => m.id === 'sim-a-large')!;
        const settings = await admin.get<{ defaultModel: string; fallback: unknown }>('/api/admin/settings');
        const members = (
          await owner.get<{ members: { id: string; email: string; role: string }[] }>('/api/admin/members')
        ).body.members;
        const adminId = members.find((m) => m.email === 'admin@example.com')!.id;

        const before = await count();
        const noChanges: [string, () => Promise<{ status: number }>][] = [
          ['model {}', () => admin.patch('/api/admin/models/sim-a-large', {})],
          [
            'model, same values',
            () => admin.patch('/api/admin/models/sim-a-large', { label: large.label, tier: large.tier }),
          ],
          ['model order, same', () => admin.put('/api/admin/models/order', { ids: model.map((m) => m.id) })],
          ['provider {}', () => admin.patch('/api/admin/providers/acme-ai', {})],
          [
            'provider, same values (headers in another order, URL with a slash)',
            () =>
              admin.patch('/api/admin/providers/acme-ai', {
                label: 'Acme AI',
                baseUrl: 'http://93.184.215.14/v1/',
                headers: { 'X-Org': 'o', 'X-Team': 'TEAM-ONE' },
              }),
          ],
          ['no key removed again', () => admin.put('/api/admin/providers/acme-ai/key', { apiKey: null })],
          ['mate {}', () => admin.patch(`/api/mates/${mate.body.id}`, {})],
          [
            'mate, same values',
            () =>
              admin.patch(`/api/mates/${mate.body.id}`, {
                name: 'Ada',
                instructions: 'Be brief.',
                model: null,
              }),
          ],
          ['member, same role', () => owner.patch(`/api/admin/members/${adminId}`, { role: 'admin' })],
          [
            'settings, same values',
            () =>
              admin.put('/api/admin/settings', {
                defaultModel: settings.body.defaultModel,
                fallback: settings.body.fallback,
              }),
          ],
          ['demo outage, same', () => admin.put('/api/admin/demo/providers/sim-a/outage', { fault: 'none' })],
        ];
        for (const [what, send] of noChanges) {
          assert.equal((await send()).status, 200, what);
          assert.equal(await count(), before, `${what}: no audit entry`);
        }

        // Changes that the entry shows no value of are still changes.
        const instr = await admin.patch(`/api/mates/${mate.body.id}`, { instructions: 'Be thorough.' });
        assert.equal(instr.status, 200);
        const header = await admin.patch('/api/admin/providers/acme-ai', {
          headers: { 'X-Team': 'TEAM-TWO', 'X-Org': 'o' },
        });
        assert.equal(header.status, 200);
        assert.equal(await count(), before + 2);
        const [h, m] = (await audit()).entries;
        assert.deepEqual([h?.action, m?.action], ['provider.update', 'mate.update']);
        assert.deepEqual(m?.old?.instructions, 'Be brief.');
        assert.deepEqual(m?.new?.instructions, 'Be thorough.');
        assert.equal(h?.new?.headerValues, 'changed');
        assert.doesNotMatch(JSON.stringify(h), /TEAM-/, 'header values are never in the log');
        assert.equal((await admin.del('/api/admin/providers/acme-ai')).status, 204);
      });

      await t.test('member entries name the member; accepting an invitation is recorded', async () => {
        const inv = await admin.post<{ id: string; token: string }>('/api/admin/invitations', {
          email: 'Pat@Example.com',
          role: 'member',
        });
        assert.equal(inv.status, 201);
        const joined = new Client(server.url);
        const accepted = await joined.post<{ user: { id: string } }>('/api/invitations/accept', {
          token: inv.body.token,
          name: 'Pat Doe',
          password: PASSWORD,
        });
        assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
        const members = (await owner.get<{ members: { id: string; email: string }[] }>('/api/admin/members'))
          .body.members;
        const pat = members.find((m) => m.email === 'pat@example.com')!;

        const accept = (await audit()).entries.find((e) => e.action === 'invitation.accept');
        assert.ok(accept, 'accepting an invitation writes an entry');
        assert.deepEqual(
          {
            actor: accept.actor,
            targetType: accept.targetType,
            targetId: accept.targetId,
            targetLabel: accept.targetLabel,
            new: accept.new,
          },
          {
            actor: { id: pat.id, label: 'pat@example.com' },
            targetType: 'invitation',
            targetId: inv.body.id,
            targetLabel: 'Pat Doe (pat@example.com)',
            new: { email: 'pat@example.com', name: 'Pat Doe', role: 'member' },
          },
        );
        assert.doesNotMatch(JSON.stringify(accept), new RegExp(inv.body.token), 'never the token');

        assert.equal((await owner.patch(`/api/admin/members/${pat.id}`, { role: 'admin' })).status, 200);
        assert.equal((await owner.del(`/api/admin/members/${pat.id}`)).status, 200);
        const entries = (await audit()).entries;
        const role = entries.find((e) => e.action === 'member.role' && e.targetId === pat.id);
        assert.equal(role?.targetLabel, 'Pat Doe (pat@example.com)');
        assert.deepEqual([role?.old?.role, role?.new?.role], ['member', 'admin']);
        const removed = entries.find((e) => e.action === 'member.remove' && e.targetId === pat.id);
        assert.equal(removed?.targetLabel, 'Pat Doe (pat@example.com)');
        const invited = entries.find((e) => e.action === 'invitation.create' && e.targetId === inv.body.id);
        assert.equal(invited?.targetLabel, 'pat@example.com');
      });

      await t.test('Mate and API key entries name them, older unlabelled ones too', async () => {
        const mate = await admin.post<{ id: string }>('/api/mates', {
          name: 'Scribe',
          instructions: 'Be brief.',
        });
        assert.equal(mate.status, 201);
        assert.equal((await admin.patch(`/api/mates/${mate.body.id}`, { name: 'Editor' })).status, 200);
        assert.equal((await admin.del(`/api/mates/${mate.body.id}`)).status, 204);
        const key = await admin.post<{ id: string }>('/api/admin/api-keys', { name: 'CI runner' });
        assert.equal(key.status, 201);
        assert.equal((await admin.del(`/api/admin/api-keys/${key.body.id}`)).status, 204);
        const orgId = (await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
        // As entries were written before they stored a label: the name is only in their values.
        await writeAudit(db, {
          orgId,
          actor: { id: null, label: 'test' },
          action: 'mate.delete',
          targetType: 'mate',
          targetId: 'old-mate-id',
          old: { name: 'Old Mate', model: null },
        });
        await writeAudit(db, {
          orgId,
          actor: { id: null, label: 'test' },
          action: 'api_key.create',
          targetType: 'api_key',
          targetId: 'old-key-id',
          new: { name: 'Old key', prefix: 'us_x' },
        });
        const named = (await audit('?limit=7')).entries.map((e) => [e.action, e.targetId, e.targetLabel]);
        assert.deepEqual(named, [
          ['api_key.create', 'old-key-id', 'Old key'],
          ['mate.delete', 'old-mate-id', 'Old Mate'],
          ['api_key.revoke', key.body.id, 'CI runner'],
          ['api_key.create', key.body.id, 'CI runner'],
          ['mate.delete', mate.body.id, 'Editor'],
          ['mate.update', mate.body.id, 'Editor'],
          ['mate.create', mate.body.id, 'Scribe'],
        ]);
      });

      await t.test('pages: 100 by default, then older ones with the `next` cursor', async () => {
        const orgId = (await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
        for (let i = 0; i < 130; i++)
          await writeAudit(db, {
            orgId,
            actor: { id: null, label: 'test' },
            action: 'settings.update',
            targetType: 'test',
            targetId: String(i),
          });
        const total = await count();
        const first = await audit();
        assert.equal(first.entries.length, 100);
        assert.equal(first.next, first.entries[99]!.id);
        // Following `next` to the end gives every entry once, newest first.
        const ids = first.entries.map((e) => e.id);
        let next: string | null = first.next;
        while (next) {
          const page = await audit(`?before=${next}`);
          ids.push(...page.entries.map((e) => e.id));
          next = page.next;
        }
        assert.equal(ids.length, total);
        assert.deepEqual(ids, [...ids].sort().reverse());
        assert.equal(new Set(ids).size, total);
        // A smaller limit pages alike; a page that ends exactly at the oldest entry has no next.
        const small = await audit('?limit=7');
        assert.equal(small.entries.length, 7);
        assert.deepEqual((await audit(`?limit=7&before=${small.next}`)).entries[0]?.id, ids[7]);
        const last = await audit(`?limit=1&before=${ids.at(-2)}`);
        assert.deepEqual([last.entries.map((e) => e.id), last.next], [[ids.at(-1)], null]);
        const bad = await owner.get<ErrorBody>('/api/admin/audit?before=%27%20OR%201%3D1');
        assert.equal(bad.status, 400);
        assert.equal((await admin.get('/api/admin/audit')).status, 200);
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
