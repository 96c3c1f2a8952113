import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBackup } from '../src/policy/backup.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { TargetHealth } from '../src/health/types.js';
import type { Catalog, ModelConfig } from '../src/types/catalog.js';
import type { ChatRequest } from '../src/types/chat.js';
import { ask, catalog, model } from './fakes.js';

function pick(
  cat: Catalog,
  opts: {
    primary?: string;
    request?: ChatRequest;
    failure?: Parameters<typeof chooseBackup>[0]['failure'];
    health?: Map<string, TargetHealth>;
  } = {},
) {
  const primary = cat.models.find((m) => m.id === (opts.primary ?? cat.defaultModelId)) as ModelConfig;
  return chooseBackup({
    catalog: cat,
    primary,
    request: opts.request ?? ask(),
    failure: opts.failure,
    health: opts.health ?? new Map(),
  });
}

describe('Automatic: ranking', () => {
  it('prefers the same tier, then one below, then one above, then list order', () => {
    const cat = catalog({
      models: [
        model('p', 'a', 3),
        model('up', 'b', 4),
        model('down', 'b', 2),
        model('same2', 'c', 3),
        model('same1', 'b', 3),
      ],
      defaultModelId: 'p',
    });
    const c = pick(cat);
    assert.deepEqual(
      c.candidates.filter((x) => x.rank).map((x) => x.modelId),
      ['same2', 'same1', 'down', 'up'],
    );
    assert.equal(c.model?.id, 'same2');
    assert.match(c.explanation, /same tier/);
  });

  it('among equals prefers the healthiest, then the fastest recently', async () => {
    const cat = catalog({
      models: [model('p', 'a', 3), model('x', 'b', 3), model('y', 'c', 3), model('z', 'b', 3)],
      defaultModelId: 'p',
    });
    const h = new InMemoryHealth();
    await h.recordSuccess({ providerId: 'b', modelId: 'x' }, 900);
    await h.recordFailure({ providerId: 'b', modelId: 'x' }, { reason: 'interrupted', message: 'cut' });
    await h.recordSuccess({ providerId: 'c', modelId: 'y' }, 800);
    await h.recordSuccess({ providerId: 'b', modelId: 'z' }, 200);
    const health = new Map(
      await Promise.all(
        ['x', 'y', 'z'].map(
          async (id) => [id, await h.check({ providerId: id === 'y' ? 'c' : 'b', modelId: id })] as const,
        ),
      ),
    );
    const c = pick(cat, { health });
    assert.deepEqual(
      c.candidates.filter((x) => x.rank).map((x) => x.modelId),
      ['z', 'y', 'x'],
    );
    assert.match(c.explanation, /200 ms/);
  });
});

describe('Automatic: exclusions', () => {
  it('never the primary, nor a disabled model', () => {
    const cat = catalog({
      models: [model('p', 'a', 3), model('off', 'b', 3, { enabled: false }), model('ok', 'c', 1)],
      defaultModelId: 'p',
    });
    const c = pick(cat);
    assert.equal(c.model?.id, 'ok');
    assert.equal(c.candidates.find((x) => x.modelId === 'p')?.excludedBecause, 'it is the primary');
  });

  it('not another model of a provider down as a whole', () => {
    for (const reason of ['unreachable', 'overloaded', 'provider_error'] as const) {
      const c = pick(catalog(), { failure: { reason, message: '' } });
      assert.notEqual(c.model?.providerId, 'a', reason);
    }
    // A rate limit is the model's own: a sibling on the same provider is fine.
    const c = pick(catalog({ models: [model('a1', 'a', 3), model('a3', 'a', 3), model('b1', 'b', 2)] }), {
      failure: { reason: 'rate_limited', message: '' },
    });
    assert.equal(c.model?.id, 'a3');
  });

  it('not a model health memory knows to be unavailable', async () => {
    const h = new InMemoryHealth();
    for (let i = 0; i < 3; i++)
      await h.recordFailure({ providerId: 'b', modelId: 'b1' }, { reason: 'interrupted', message: 'cut' });
    const c = pick(catalog(), {
      health: new Map([['b1', await h.check({ providerId: 'b', modelId: 'b1' })]]),
    });
    assert.notEqual(c.model?.id, 'b1');
    assert.match(c.candidates.find((x) => x.modelId === 'b1')?.excludedBecause ?? '', /known unavailable/);
  });

  it('not a model lacking vision for images or tools for tool definitions', () => {
    const cat = catalog({
      models: [
        model('p', 'a', 3),
        model('text', 'b', 3, { capabilities: [] }),
        model('v', 'c', 2, { capabilities: ['vision'] }),
      ],
      defaultModelId: 'p',
    });
    const img: ChatRequest = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this' },
            { type: 'image', mediaType: 'image/png', data: 'AAAA' },
          ],
        },
      ],
    };
    assert.equal(pick(cat, { request: img }).model?.id, 'v');
    const tools: ChatRequest = { ...ask(), tools: [{ name: 'f', parameters: { type: 'object' } }] };
    assert.equal(pick(cat, { request: tools }).model, undefined);
  });

  it('not a model whose window cannot hold the conversation plus the reply', () => {
    const cat = catalog({
      models: [
        model('p', 'a', 3),
        model('small', 'b', 3, { contextWindow: 3000 }),
        model('big', 'c', 2, { contextWindow: 100_000 }),
      ],
      defaultModelId: 'p',
    });
    const long = ask('word '.repeat(2000));
    assert.equal(pick(cat, { request: long }).model?.id, 'big');
    assert.equal(pick(cat).model?.id, 'small');
    // The caller's count of the request's tokens is used when given (the executor has counted them).
    const q = { catalog: cat, primary: cat.models[0]!, request: ask(), health: new Map() };
    assert.equal(chooseBackup({ ...q, inputTokens: 5000 }).model?.id, 'big');
  });

  it('not a model lacking a compliance tag the primary has', () => {
    const cat = catalog({
      models: [
        model('p', 'a', 3, { tags: ['eu-hosted'] }),
        model('us', 'b', 3),
        model('eu', 'c', 1, { tags: ['eu-hosted', 'zero-retention'] }),
      ],
      defaultModelId: 'p',
    });
    const c = pick(cat);
    assert.equal(c.model?.id, 'eu');
    assert.match(c.candidates.find((x) => x.modelId === 'us')?.excludedBecause ?? '', /eu-hosted/);
  });

  it('context too long: only a larger window', () => {
    const cat = catalog({
      models: [
        model('p', 'a', 3, { contextWindow: 8000 }),
        model('same', 'b', 3, { contextWindow: 8000 }),
        model('unknown', 'b', 3),
        model('large', 'c', 1, { contextWindow: 200_000 }),
      ],
      defaultModelId: 'p',
    });
    assert.equal(pick(cat, { failure: { reason: 'context_too_long', message: '' } }).model?.id, 'large');
  });

  it('explains when nothing is left', () => {
    const cat = catalog({ models: [model('p', 'a', 3), model('q', 'a', 3)], defaultModelId: 'p' });
    const c = pick(cat, { failure: { reason: 'overloaded', message: '' } });
    assert.equal(c.model, undefined);
    assert.match(c.explanation, /No backup available/);
  });
});

describe('Specific and None', () => {
  it('Specific is always that model; a larger-or-unknown window for context too long', () => {
    const cat = catalog({ fallback: { mode: 'specific', modelId: 'a2' } });
    assert.equal(
      pick(cat, { failure: { reason: 'overloaded', message: '' } }).model?.id,
      'a2',
      'even on the same provider',
    );
    const ctx = catalog({
      models: [model('a1', 'a', 3, { contextWindow: 8000 }), model('s', 'b', 3)],
      fallback: { mode: 'specific', modelId: 's' },
    });
    assert.equal(
      pick(ctx, { failure: { reason: 'context_too_long', message: '' } }).model?.id,
      's',
      'unknown window is allowed',
    );
    const small = catalog({
      models: [model('a1', 'a', 3, { contextWindow: 8000 }), model('s', 'b', 3, { contextWindow: 4000 })],
      fallback: { mode: 'specific', modelId: 's' },
    });
    assert.equal(pick(small, { failure: { reason: 'context_too_long', message: '' } }).model, undefined);
  });

  it('Specific equal to the primary has no distinct backup; None has none', () => {
    assert.equal(pick(catalog({ fallback: { mode: 'specific', modelId: 'a1' } })).model, undefined);
    assert.equal(pick(catalog({ fallback: { mode: 'none' } })).model, undefined);
  });
});
