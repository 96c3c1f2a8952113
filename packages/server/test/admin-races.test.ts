/**
 * Two managers editing the same thing at once (two browser tabs, or two Admins): a Mate, a model,
 * the organization's settings, or each other's membership (two Owners demoting or removing each
 * other must leave one Owner); a model added to, or an edit of, a provider being deleted; the same model or
 * provider added twice by a double click, a sign-up sent twice, and a model disabled while it is
 * made the Default Model or a Mate's model (never both: chat would have no model). An edit changes the fields it names and no other, whatever the interleaving, and an edit racing a delete never
 * brings the deleted thing back. Each round fires the requests together on one server, on SQLite
 * and PostgreSQL; a round in which both edits read the row before either wrote loses one of them
 * unless the read and the write are one transaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunningServer } from '../src/index.js';
import { addMember, Client, forEachBackend, PASSWORD, withInstantDemo } from './helpers.js';

const ROUNDS = 16;

interface Mate {
  id: string;
  name: string;
  instructions: string;
}
interface Model {
  id: string;
  label: string;
  tier: number;
}

/** Runs `fn` with the Owner of a demo server on each backend. */
const onEachBackend = (t: test.TestContext, fn: (owner: Client, server: RunningServer) => Promise<void>) =>
  forEachBackend(t, (_t, backend) => withInstantDemo((server, owner) => fn(owner, server), 0, backend));

test('two edits of one Mate at once: each keeps its field', async (t) => {
  await onEachBackend(t, async (owner) => {
    const id = (await owner.post<Mate>('/api/mates', { name: 'Ada', instructions: 'Be brief.' })).body.id;
    for (let i = 0; i < ROUNDS; i++) {
      const [a, b] = await Promise.all([
        owner.patch(`/api/mates/${id}`, { name: `Ada ${i}` }),
        owner.patch(`/api/mates/${id}`, { instructions: `Rule ${i}.` }),
      ]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const now = (await owner.get<Mate>(`/api/mates/${id}`)).body;
      assert.deepEqual([now.name, now.instructions], [`Ada ${i}`, `Rule ${i}.`], `round ${i}`);
    }
  });
});

test('a Mate edited while it is deleted stays deleted', async (t) => {
  await onEachBackend(t, async (owner) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = (await owner.post<Mate>('/api/mates', { name: `Mate ${i}` })).body.id;
      const [edit, gone] = await Promise.all([
        owner.patch(`/api/mates/${id}`, { name: `Renamed ${i}` }),
        owner.del(`/api/mates/${id}`),
      ]);
      assert.ok([200, 404].includes(edit.status), `edit: ${edit.status}`);
      assert.equal(gone.status, 204);
      assert.equal((await owner.get(`/api/mates/${id}`)).status, 404, `round ${i}`);
    }
  });
});

test('two edits of one model at once: each keeps its field', async (t) => {
  await onEachBackend(t, async (owner) => {
    const add = await owner.post<Model>('/api/admin/models', {
      id: 'gpt-4o',
      provider: 'sim-a',
      upstreamModel: 'gpt-4o',
    });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    for (let i = 0; i < ROUNDS; i++) {
      const tier = (i % 5) + 1;
      const [a, b] = await Promise.all([
        owner.patch('/api/admin/models/gpt-4o', { label: `GPT ${i}` }),
        owner.patch('/api/admin/models/gpt-4o', { tier }),
      ]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const models = (await owner.get<{ models: Model[] }>('/api/admin/models')).body.models;
      const now = models.find((m) => m.id === 'gpt-4o');
      assert.deepEqual([now?.label, now?.tier], [`GPT ${i}`, tier], `round ${i}`);
    }
  });
});

test('a model edited while it is deleted stays deleted', async (t) => {
  await onEachBackend(t, async (owner) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = `extra-${i}`;
      const add = await owner.post('/api/admin/models', {
        id,
        provider: 'sim-a',
        upstreamModel: id,
        tier: 2,
      });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      // The delete reads more before it writes: the edit starts 0–3 ms later, to meet it there.
      const [gone, edit] = await Promise.all([
        owner.del(`/api/admin/models/${id}`),
        new Promise((r) => setTimeout(r, i % 4)).then(() =>
          owner.patch(`/api/admin/models/${id}`, { label: `Extra ${i}` }),
        ),
      ]);
      assert.ok([200, 404].includes(edit.status), `edit: ${edit.status}`);
      assert.equal(gone.status, 204);
      const models = (await owner.get<{ models: Model[] }>('/api/admin/models')).body.models;
      assert.equal(
        models.find((m) => m.id === id),
        undefined,
        `round ${i}: a deleted model came back`,
      );
    }
  });
});

test('the Default Model and the Fallback Model changed at once (two tabs): both kept', async (t) => {
  await onEachBackend(t, async (owner) => {
    for (let i = 0; i < ROUNDS; i++) {
      const defaultModel = i % 2 === 0 ? 'sim-a-medium' : 'sim-a-large';
      const mode = i % 2 === 0 ? 'none' : 'automatic';
      const [a, b] = await Promise.all([
        owner.put('/api/admin/settings', { defaultModel }),
        owner.put('/api/admin/settings', { fallback: { mode } }),
      ]);
      assert.deepEqual([a.status, b.status], [200, 200], JSON.stringify([a.body, b.body]));
      const now = (
        await owner.get<{ defaultModel: string; fallback: { mode: string } }>('/api/admin/settings')
      ).body;
      assert.deepEqual([now.defaultModel, now.fallback.mode], [defaultModel, mode], `round ${i}`);
    }
  });
});

/** An Owner's client and their member id. */
interface Owner {
  client: Client;
  id: string;
}
const ownerOf = async (client: Client): Promise<Owner> => ({
  client,
  id: (await client.get<{ user: { id: string } }>('/api/auth/session')).body.user.id,
});

for (const how of ['demote', 'remove'] as const)
  test(`two Owners who ${how} each other at once: one Owner stays`, async (t) => {
    await onEachBackend(t, async (owner, server) => {
      const seen = new Map<string, number>();
      let pair = [
        await ownerOf(owner),
        await ownerOf(await addMember(server, owner, 'o0@acme.test', 'owner')),
      ];
      for (let i = 0; i < ROUNDS; i++) {
        const [a, b] = pair as [Owner, Owner];
        const act = (by: Owner, other: Owner) =>
          how === 'demote'
            ? by.client.patch(`/api/admin/members/${other.id}`, { role: 'member' })
            : by.client.del(`/api/admin/members/${other.id}`);
        const r = await Promise.all([act(a, b), act(b, a)]);
        const statuses = r.map((x) => x.status);
        const said = `round ${i}: ${JSON.stringify(r.map((x) => [x.status, x.body]))}`;
        // One of them acted; the other was refused, whether it saw the first's change (no longer an
        // Owner: 401 or 403) or came to it at once (409: the last Owner).
        assert.equal(statuses.filter((s) => s < 300).length, 1, said);
        const kept = statuses[0]! < 300 ? a : b;
        const owners = (await kept.client.get<{ members: { role: string }[] }>('/api/admin/members')).body
          .members;
        assert.equal(owners.filter((m) => m.role === 'owner').length, 1, `one Owner stays: ${said}`);
        const refusal = String(statuses.find((s) => s >= 300));
        seen.set(refusal, (seen.get(refusal) ?? 0) + 1);
        // The next round: the Owner who stayed makes another Owner.
        const other = kept === a ? b : a;
        if (how === 'demote') {
          assert.equal(
            (await kept.client.patch(`/api/admin/members/${other.id}`, { role: 'owner' })).status,
            200,
          );
          pair = [kept, other];
        } else
          pair = [kept, await ownerOf(await addMember(server, kept.client, `o${i + 1}@acme.test`, 'owner'))];
      }
      t.diagnostic(`refusals: ${JSON.stringify(Object.fromEntries(seen))}`);
    });
  });

/** A provider of the test's own (a public address: nothing is called). */
const provider = (id: string) => ({
  id,
  type: 'openai-compatible',
  label: `Provider ${id}`,
  baseUrl: 'http://93.184.215.14/v1',
  apiKey: 'sk-test-1234567890',
});

test('a model added while its provider is deleted: never a model without its provider', async (t) => {
  await onEachBackend(t, async (owner) => {
    const seen = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      const p = `prov-${i}`;
      assert.equal((await owner.post('/api/admin/providers', provider(p))).status, 201);
      // The delete reads its models before it writes: the add starts 0–3 ms later, to meet it there.
      const [gone, added] = await Promise.all([
        owner.del(`/api/admin/providers/${p}`),
        new Promise((r) => setTimeout(r, i % 4)).then(() =>
          owner.post('/api/admin/models', { id: `m-${i}`, provider: p, upstreamModel: 'm', tier: 2 }),
        ),
      ]);
      seen.add(`${gone.status} ${added.status}`);
      const providers = (await owner.get<{ providers: { id: string }[] }>('/api/admin/providers')).body
        .providers;
      const models = (await owner.get<{ models: { id: string }[] }>('/api/admin/models')).body.models;
      const kept = [providers.some((x) => x.id === p), models.some((m) => m.id === `m-${i}`)];
      // Either the delete went first (the add is refused) or the add did (the delete is refused).
      assert.ok(
        (gone.status === 204 && added.status === 400 && !kept[0] && !kept[1]) ||
          (gone.status === 409 && added.status === 201 && kept[0] && kept[1]),
        `round ${i}: delete ${gone.status}, add ${added.status}, kept ${JSON.stringify(kept)}`,
      );
    }
    t.diagnostic(`outcomes: ${[...seen].join(', ')}`);
  });
});

test('the same model or provider added twice at once (a double click): one is added, one refused', async (t) => {
  await onEachBackend(t, async (owner) => {
    for (let i = 0; i < ROUNDS; i++) {
      const model = { id: `twice-${i}`, provider: 'sim-a', upstreamModel: 'm', tier: 2 };
      const models = await Promise.all([1, 2].map(() => owner.post('/api/admin/models', model)));
      assert.deepEqual(models.map((r) => r.status).sort(), [201, 409], `model, round ${i}`);
      const providers = await Promise.all(
        [1, 2].map(() => owner.post('/api/admin/providers', provider(`twice-${i}`))),
      );
      assert.deepEqual(providers.map((r) => r.status).sort(), [201, 409], `provider, round ${i}`);
    }
  });
});

test('a sign-up sent twice at once (a double click): one account, the other told it exists', async (t) => {
  await forEachBackend(t, (_t, backend) =>
    withInstantDemo(
      async (server) => {
        for (let i = 0; i < ROUNDS; i++) {
          const body = {
            organization: `Org ${i}`,
            name: 'Otto',
            email: `otto${i}@other.test`,
            password: PASSWORD,
          };
          const r = await Promise.all([1, 2].map(() => new Client(server.url).post('/api/signup', body)));
          const said = `round ${i}: ${JSON.stringify(r.map((x) => [x.status, x.body]))}`;
          assert.deepEqual(r.map((x) => x.status).sort(), [201, 409], said);
          const orgs = await server.ctx.db
            .selectFrom('organizations')
            .select('id')
            .where('name', '=', `Org ${i}`)
            .execute();
          assert.equal(orgs.length, 1, `one organization: ${said}`);
        }
      },
      0,
      backend,
      { UNDERSTUDY_ALLOW_SIGNUP: 'true' },
    ),
  );
});

test("a model disabled while it is made the Default Model, or a Mate's model: never both", async (t) => {
  await onEachBackend(t, async (owner) => {
    const mate = (await owner.post<Mate>('/api/mates', { name: 'Ada' })).body.id;
    const start = (await owner.get<{ defaultModel: string }>('/api/admin/settings')).body.defaultModel;
    const x = 'sim-a-medium';
    assert.notEqual(start, x);
    const seen = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      const viaMate = i % 2 === 1;
      // Each round from the same place: the model enabled, and used by neither.
      assert.equal((await owner.put('/api/admin/settings', { defaultModel: start })).status, 200);
      assert.equal((await owner.patch(`/api/mates/${mate}`, { model: null })).status, 200);
      assert.equal((await owner.patch(`/api/admin/models/${x}`, { enabled: true })).status, 200);
      const [disable, use] = await Promise.all([
        owner.patch(`/api/admin/models/${x}`, { enabled: false }),
        new Promise((r) => setTimeout(r, (i >> 1) % 3)).then(() =>
          viaMate
            ? owner.patch(`/api/mates/${mate}`, { model: x })
            : owner.put('/api/admin/settings', { defaultModel: x }),
        ),
      ]);
      seen.add(`${viaMate ? 'mate' : 'default'} ${disable.status} ${use.status}`);
      const models = (await owner.get<{ models: { id: string; enabled: boolean }[] }>('/api/admin/models'))
        .body.models;
      const disabled = models.find((m) => m.id === x)?.enabled === false;
      const used = viaMate
        ? (await owner.get<{ model: string | null }>(`/api/mates/${mate}`)).body.model === x
        : (await owner.get<{ defaultModel: string }>('/api/admin/settings')).body.defaultModel === x;
      assert.ok(
        !(disabled && used),
        `round ${i}: ${x} disabled (${disable.status}) and used by the ${viaMate ? 'Mate' : 'settings'} (${use.status})`,
      );
    }
    t.diagnostic(`outcomes: ${[...seen].sort().join(', ')}`);
  });
});

test('a provider edited while it is deleted: nothing recorded after the delete', async (t) => {
  await onEachBackend(t, async (owner, server) => {
    for (let i = 0; i < ROUNDS; i++) {
      const p = `edited-${i}`;
      assert.equal((await owner.post('/api/admin/providers', provider(p))).status, 201);
      const [gone, edit, key] = await Promise.all([
        owner.del(`/api/admin/providers/${p}`),
        new Promise((r) => setTimeout(r, i % 4)).then(() =>
          owner.patch(`/api/admin/providers/${p}`, { label: `Edited ${i}` }),
        ),
        new Promise((r) => setTimeout(r, i % 4)).then(() =>
          owner.put(`/api/admin/providers/${p}/key`, { apiKey: `sk-test-rotated-${i}-0123456789` }),
        ),
      ]);
      const said = `round ${i}: delete ${gone.status}, edit ${edit.status}, key ${key.status}`;
      assert.equal(gone.status, 204, said);
      assert.ok([200, 404].includes(edit.status) && [200, 404].includes(key.status), said);
      const entries = await server.ctx.db
        .selectFrom('audit_log')
        .select('action')
        .where('target_id', '=', p)
        .orderBy('id')
        .execute();
      assert.equal(entries.at(-1)?.action, 'provider.delete', `${said}: ${JSON.stringify(entries)}`);
    }
  });
});
