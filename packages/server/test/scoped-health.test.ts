/** Health memory seen through one organization (catalog/scoped-health.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemoryHealth } from '@understudy/engine';
import { scopeHealth } from '../src/catalog/index.js';

test('organizations with the same ids keep separate breakers, each seen with its own ids', async () => {
  const shared = new InMemoryHealth();
  const a = scopeHealth(shared, 'org-a');
  const b = scopeHealth(shared, 'org-b');
  const t = { providerId: 'openai', modelId: 'gpt-4o' };
  // Asked many times (its wrapped ref is made once), then failed three times in a row: open.
  for (let i = 0; i < 5; i++) assert.equal((await a.check(t)).available, true);
  for (let i = 0; i < 3; i++) await a.recordFailure(t, { reason: 'unreachable', message: 'refused' });
  const h = await a.check(t);
  assert.equal(h.available, false);
  assert.deepEqual(h.provider.key, { scope: 'provider', id: 'openai' });
  assert.deepEqual(h.model.key, { scope: 'model', id: 'gpt-4o' });
  // The other organization's breakers for the same ids are untouched.
  assert.equal((await b.check(t)).available, true);
  assert.deepEqual((await a.snapshot()).map((v) => [v.key.scope, v.key.id, v.state]).sort(), [
    ['model', 'gpt-4o', 'open'],
    ['provider', 'openai', 'open'],
  ]);
  assert.deepEqual(await b.snapshot(), []);
  // Underneath, the ids are the organization's prefixed ones.
  assert.deepEqual((await shared.snapshot()).map((v) => v.key.id).sort(), ['org-a/gpt-4o', 'org-a/openai']);
  // Reset through the scope forgets that organization's breaker only.
  await a.reset({ scope: 'provider', id: 'openai' });
  await a.reset({ scope: 'model', id: 'gpt-4o' });
  assert.equal((await a.check(t)).available, true);
  // A model of the same id under another provider is another target.
  await a.recordFailure({ providerId: 'other', modelId: 'gpt-4o' }, { reason: 'unreachable', message: 'x' });
  assert.equal((await a.check(t)).available, true);
});

test('a synchronous check is offered exactly when the inner store has one, and agrees with check()', async () => {
  const shared = new InMemoryHealth();
  const a = scopeHealth(shared, 'org-a');
  const t = { providerId: 'openai', modelId: 'gpt-4o' };
  for (let i = 0; i < 3; i++) await a.recordFailure(t, { reason: 'unreachable', message: 'refused' });
  assert.ok(a.checkNow, 'in-process memory can be checked without waiting');
  assert.deepEqual(a.checkNow(t), await a.check(t));
  assert.equal(a.checkNow(t).model.key.id, 'gpt-4o');
  // A store that must be awaited (a scope over the same memory, its synchronous check taken away).
  const { checkNow: _sync, ...awaitOnly } = scopeHealth(shared, 'org-b');
  assert.ok(_sync);
  const awaited = scopeHealth(awaitOnly, 'org-a');
  assert.equal(awaited.checkNow, undefined, 'a store that must be awaited is not made to look synchronous');
  assert.equal((await awaited.check(t)).available, true);
  for (let i = 0; i < 3; i++) await awaited.recordFailure(t, { reason: 'unreachable', message: 'refused' });
  assert.equal((await awaited.check(t)).available, false);
});
