/**
 * Fallback activity names providers and models by their labels, and the chart gives each provider
 * a colour by the order providers were added: adding one never recolours the others; a removed one
 * (known only by id) comes after, marked removed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FallbackActivity } from '../src/api/types.js';
import { modelOnProvider, providerOrder } from '../src/settings/activityNames.js';

const count = (provider: string) => ({ day: '2026-12-07', provider, reason: 'overloaded', count: 1 });

test('colour order follows the order providers were added, not their ids', () => {
  const before = [
    { id: 'zeta', label: 'Zeta' },
    { id: 'beta', label: 'Beta' },
  ];
  const counts = [count('beta'), count('zeta')];
  assert.deepEqual(providerOrder(before, counts).order, ['zeta', 'beta']);
  // A provider added later, with an id sorting first, takes the next place.
  const after = [...before, { id: 'alpha', label: 'Alpha' }];
  assert.deepEqual(providerOrder(after, [...counts, count('alpha')]).order, ['zeta', 'beta', 'alpha']);
});

test('a removed provider comes last, named by its id', () => {
  const { order, nameOf } = providerOrder(
    [{ id: 'sim-b', label: 'Simulator B' }],
    [count('old'), count('sim-b')],
  );
  assert.deepEqual(order, ['sim-b', 'old']);
  assert.equal(nameOf('sim-b'), 'Simulator B');
  assert.equal(nameOf('old'), 'old (removed)');
});

test('events name the model and its provider by label, ids when gone', () => {
  const names: FallbackActivity = {
    events: [],
    next: null,
    countsByDay: [],
    providers: [{ id: 'sim-a', label: 'Simulator A (OpenAI protocol)' }],
    models: [{ id: 'sim-a-large', label: 'Sim A Large' }],
  };
  assert.deepEqual(modelOnProvider(names, 'sim-a-large', 'sim-a'), {
    model: 'Sim A Large',
    provider: 'Simulator A (OpenAI protocol)',
  });
  assert.deepEqual(modelOnProvider(names, 'gone-model', 'gone'), { model: 'gone-model', provider: 'gone' });
  assert.deepEqual(modelOnProvider(names, 'sim-a-large', null), { model: 'Sim A Large', provider: null });
});
