import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FaultRuleError, startSimulator, type Simulator } from '../src/index.js';
import { at, call } from './helpers.js';

let sim: Simulator;
before(async () => {
  sim = await startSimulator();
});
beforeEach(() => sim.reset());
after(() => sim.close());

async function control(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: unknown }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = body;
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${sim.url}${path}`, init);
  return { status: res.status, body: await res.json() };
}

describe('control endpoints', () => {
  it('adds, lists, removes and clears faults', async () => {
    const added = await control(
      'POST',
      '/_sim/faults',
      JSON.stringify({ provider: 'alpha', fault: 'overloaded', times: 3 }),
    );
    assert.equal(added.status, 201);
    const id = String(at(added.body, 'id'));
    assert.equal(at(added.body, 'rule', 'fault'), 'overloaded');
    const res = await call(sim, 'anthropic', { provider: 'alpha' });
    assert.equal(res.status, 529);
    await res.arrayBuffer();
    const listed = await control('GET', '/_sim/faults');
    assert.deepEqual(at(listed.body, 'faults'), [{ id, provider: 'alpha', fault: 'overloaded', times: 2 }]);
    assert.equal((await control('DELETE', `/_sim/faults/${id}`)).status, 200);
    assert.equal((await control('DELETE', `/_sim/faults/${id}`)).status, 404);
    await control('POST', '/_sim/faults', JSON.stringify({ fault: 'reset' }));
    await control('POST', '/_sim/faults', JSON.stringify({ fault: 'flap', id: 'mine' }));
    assert.equal(sim.faults().at(-1)?.id, 'mine');
    assert.deepEqual((await control('DELETE', '/_sim/faults')).body, { cleared: 2 });
    assert.deepEqual(sim.faults(), []);
  });

  it('answers 400 to invalid fault bodies', async () => {
    const bad = [
      '{"fault":"explode"}',
      '{"fault":"reset","times":-1}',
      '{"fault":"reset","colour":"red"}',
      'not json',
      '[]',
    ];
    for (const body of bad) {
      const res = await control('POST', '/_sim/faults', body);
      assert.equal(res.status, 400, body);
      assert.equal(typeof at(res.body, 'error', 'message'), 'string');
    }
    assert.deepEqual(sim.faults(), []);
    assert.throws(() => sim.setFault({ fault: 'nope' } as never), FaultRuleError);
  });

  it('lists and filters attempts, clears them, and resets everything', async () => {
    await (await call(sim, 'openai', { model: 'm1', provider: 'alpha' })).text();
    await (await call(sim, 'gemini', { model: 'm2+tokens=3' })).text();
    const all = await control('GET', '/_sim/attempts');
    assert.equal((at(all.body, 'attempts') as unknown[]).length, 2);
    const byModel = await control('GET', '/_sim/attempts?model=m2');
    assert.equal(at(byModel.body, 'attempts', 0, 'requestedModel'), 'm2+tokens=3');
    assert.equal(at(byModel.body, 'attempts', 1), undefined);
    const byProvider = await control('GET', '/_sim/attempts?provider=alpha');
    assert.equal(at(byProvider.body, 'attempts', 0, 'model'), 'm1');
    assert.equal(at(byProvider.body, 'attempts', 1), undefined);
    await control('DELETE', '/_sim/attempts');
    assert.deepEqual(sim.attempts(), []);
    sim.setFault({ fault: 'reset' });
    await assert.rejects(call(sim, 'openai')); // the reset fault
    assert.equal((await control('POST', '/_sim/reset')).status, 200);
    assert.deepEqual(sim.faults(), []);
    assert.deepEqual(sim.attempts(), []);
  });

  it('records every attempt field', async () => {
    const before = Date.now();
    await (await call(sim, 'azure', { model: 'dep+tokens=4', provider: 'az' })).text();
    const [rec] = sim.attempts();
    assert.ok(rec);
    assert.equal(rec.provider, 'az');
    assert.equal(rec.model, 'dep');
    assert.equal(rec.requestedModel, 'dep+tokens=4');
    assert.equal(rec.protocol, 'azure');
    assert.equal(rec.stream, true);
    assert.equal(rec.status, 200);
    assert.equal(rec.tokensSent, 4);
    assert.equal(rec.outcome, 'ok');
    assert.equal(rec.clientAborted, false);
    assert.equal(rec.prefill, false);
    assert.equal(rec.continuation, false);
    assert.equal(rec.fault, undefined);
    assert.ok(rec.seq >= 1);
    for (const t of [rec.startedAt, rec.headersAt, rec.firstTokenAt, rec.endedAt]) {
      assert.ok(t !== undefined && t >= before && t <= Date.now());
    }
    assert.ok(rec.startedAt <= (rec.headersAt ?? 0) && (rec.headersAt ?? 0) <= (rec.firstTokenAt ?? 0));
  });

  it('does not log attempts when logAttempts is off', async () => {
    const quiet = await startSimulator({ logAttempts: false });
    try {
      await (await call(quiet, 'openai')).text();
      assert.deepEqual(quiet.attempts(), []);
    } finally {
      await quiet.close();
    }
  });

  it('lists models in each family, including ones seen', async () => {
    await (await call(sim, 'openai', { model: 'seen-model+tokens=2', provider: 'p1' })).text();
    const headers = { authorization: 'Bearer k' };
    const openai: unknown = await (await fetch(`${sim.url}/p/p1/v1/models`, { headers })).json();
    const ids = (at(openai, 'data') as unknown[]).map((m) => at(m, 'id'));
    assert.ok(ids.includes('seen-model') && ids.includes('sim-alpha'));
    assert.equal(at(openai, 'object'), 'list');
    const anthropic: unknown = await (
      await fetch(`${sim.url}/v1/models`, {
        headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      })
    ).json();
    assert.equal(at(anthropic, 'data', 0, 'type'), 'model');
    const gemini: unknown = await (await fetch(`${sim.url}/v1beta/models?key=k`)).json();
    assert.equal(at(gemini, 'models', 0, 'name'), 'models/sim-alpha');
    assert.equal((await fetch(`${sim.url}/v1/models`)).status, 401);
  });

  it('answers 404 to unknown paths', async () => {
    const res = await fetch(`${sim.url}/v2/whatever`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.equal((await control('GET', '/_sim/nothing')).status, 404);
  });
});
