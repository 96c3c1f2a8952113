/**
 * SPEC §2.2 end to end: which backup the simulator actually sees under Automatic (ranking and each
 * exclusion), Specific and None, and the standard error when the backup fails too (§2.3).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryHealth, type ChatRequest, type FallbackSetting, type ModelConfig } from '@understudy/engine';
import { expectedAnswer, type FaultRule } from '@understudy/simulator';
import {
  ask,
  assertNoKeys,
  catalog,
  checkStream,
  KEYS,
  model,
  MODES,
  provider,
  run,
  settled,
  suiteEnv,
  type Mode,
} from './harness.js';

/** A backup model on the openai-compatible provider `bk`. */
const bk = (id: string, o: Parameters<typeof model>[2] = {}) => model(id, 'bk', o);

describe('backup policies, observed at the simulator', () => {
  const env = suiteEnv();

  interface Case {
    models: ModelConfig[];
    fault: FaultRule['fault'];
    request?: (prompt: string) => ChatRequest;
    health?: (h: InMemoryHealth) => Promise<void>;
    fallback?: FallbackSetting;
  }

  /** Fails the primary `alpha` (on oa) with `fault`, answers, and says which bk models the simulator saw. */
  async function pick(c: Case, mode: Mode, prompt: string) {
    env.sim.setFault({ provider: 'oa', model: 'alpha', fault: c.fault });
    const health = new InMemoryHealth();
    await c.health?.(health);
    const cat = catalog(
      [provider(env, 'oa', 'openai'), provider(env, 'bk', 'openai-compatible')],
      c.models,
      c.fallback,
    );
    const res = await run(env.engine(health), cat, c.request?.(prompt) ?? ask(prompt), mode);
    checkStream(res, mode);
    const seen = (await settled(env.sim, 'bk')).map((a) => a.model);
    const seenOa = (await settled(env.sim, 'oa')).map((a) => a.model);
    return { res, seen, seenOa, result: res.result };
  }

  const alpha = (o: Parameters<typeof model>[2] = {}) => model('alpha', 'oa', o);

  const automatic: { name: string; c: Case; want: string }[] = [
    {
      name: 'ranking: same tier first',
      c: {
        fault: 'rate_limit',
        models: [alpha(), bk('below', { tier: 2 }), bk('above', { tier: 4 }), bk('same', { tier: 3 })],
      },
      want: 'same',
    },
    {
      name: 'ranking: one below before one above',
      c: { fault: 'rate_limit', models: [alpha(), bk('above', { tier: 4 }), bk('below', { tier: 2 })] },
      want: 'below',
    },
    {
      name: 'ranking: one above before two below',
      c: { fault: 'rate_limit', models: [alpha(), bk('far', { tier: 1 }), bk('above', { tier: 4 })] },
      want: 'above',
    },
    {
      name: 'ranking: healthier first within a tier',
      c: {
        fault: 'rate_limit',
        models: [alpha(), bk('flaky'), bk('steady')],
        async health(h) {
          await h.recordSuccess({ providerId: 'bk', modelId: 'flaky' }, 20);
          await h.recordFailure(
            { providerId: 'bk', modelId: 'flaky' },
            { reason: 'rate_limited', message: 'x' },
          );
          await h.recordSuccess({ providerId: 'bk', modelId: 'steady' }, 20);
        },
      },
      want: 'steady',
    },
    {
      name: 'ranking: faster first among equally healthy',
      c: {
        fault: 'rate_limit',
        models: [alpha(), bk('slow'), bk('fast')],
        async health(h) {
          await h.recordSuccess({ providerId: 'bk', modelId: 'slow' }, 900);
          await h.recordSuccess({ providerId: 'bk', modelId: 'fast' }, 40);
        },
      },
      want: 'fast',
    },
    {
      name: "ranking: then the organization's list order",
      c: { fault: 'rate_limit', models: [alpha(), bk('first'), bk('second')] },
      want: 'first',
    },
    {
      name: 'exclusion: another model of a provider down as a whole',
      c: {
        fault: 'unavailable',
        models: [alpha(), model('sibling', 'oa', { tier: 3 }), bk('other', { tier: 2 })],
      },
      want: 'other',
    },
    {
      name: 'no exclusion: another model of the same provider when only the model is limited',
      c: {
        fault: 'rate_limit',
        models: [alpha(), model('sibling', 'oa', { tier: 3 }), bk('other', { tier: 2 })],
      },
      want: 'oa:sibling',
    },
    {
      name: 'exclusion: a model health memory knows is down',
      c: {
        fault: 'rate_limit',
        models: [alpha(), bk('down'), bk('up', { tier: 2 })],
        async health(h) {
          await h.recordFailure(
            { providerId: 'bk', modelId: 'down' },
            { reason: 'provider_misconfigured', message: 'gone', status: 404 },
          );
        },
      },
      want: 'up',
    },
    {
      name: 'exclusion: no vision when the conversation has an image',
      c: {
        fault: 'rate_limit',
        models: [
          alpha({ capabilities: ['vision'] }),
          bk('blind'),
          bk('seeing', { tier: 2, capabilities: ['vision'] }),
        ],
        request: (prompt) => ({
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
                { type: 'text', text: prompt },
              ],
            },
          ],
        }),
      },
      want: 'seeing',
    },
    {
      name: 'exclusion: no tools when tools are defined',
      c: {
        fault: 'rate_limit',
        models: [
          alpha({ capabilities: ['tools'] }),
          bk('plain'),
          bk('tooled', { tier: 2, capabilities: ['tools'] }),
        ],
        request: (prompt) =>
          ask(prompt, { tools: [{ name: 'lookup', parameters: { type: 'object', properties: {} } }] }),
      },
      want: 'tooled',
    },
    {
      name: 'exclusion: context window too small for the conversation plus the reply',
      c: {
        fault: 'rate_limit',
        models: [
          alpha(),
          bk('tiny', { contextWindow: 300 }),
          bk('roomy', { tier: 2, contextWindow: 100_000 }),
        ],
      },
      want: 'roomy',
    },
    {
      name: 'exclusion: missing a compliance tag the primary has',
      c: {
        fault: 'rate_limit',
        models: [
          alpha({ tags: ['eu-hosted'] }),
          bk('us'),
          bk('eu', { tier: 2, tags: ['eu-hosted', 'zero-retention'] }),
        ],
      },
      want: 'eu',
    },
    {
      name: 'Specific: always the named model, even with a closer one',
      c: {
        fault: 'rate_limit',
        models: [alpha(), bk('same'), bk('named', { tier: 1 })],
        fallback: { mode: 'specific', modelId: 'named' },
      },
      want: 'named',
    },
  ];

  for (const { name, c, want } of automatic) {
    for (const mode of MODES) {
      it(`${name} · ${mode}`, async () => {
        const prompt = `Policy ${name} ${mode}`;
        const { result, seen, seenOa } = await pick(c, mode, prompt);
        assert.equal(result.status, 'complete', JSON.stringify(result.error));
        const [prov, id] = want.includes(':') ? (want.split(':') as [string, string]) : ['bk', want];
        assert.equal(result.modelId, id);
        assert.equal(result.providerId, prov);
        assert.ok(result.fallback);
        assert.equal(result.fallback.backupModelId, id);
        assert.ok(result.fallback.explanation.length > 0, 'the pick is explained');
        assert.equal(result.text, expectedAnswer(prompt));
        // Exactly the picked model was asked, once, and no other backup.
        if (prov === 'bk') {
          assert.deepEqual(seen, [id]);
          assert.deepEqual(seenOa, ['alpha']);
        } else {
          assert.deepEqual(seen, []);
          assert.deepEqual(seenOa, ['alpha', id]);
        }
      });
    }
  }

  for (const mode of MODES) {
    it(`context_length with Specific: a backup of unknown window is asked · ${mode}`, async () => {
      const prompt = `Specific unknown window ${mode}`;
      const { result, seen } = await pick(
        {
          fault: 'context_length',
          models: [alpha({ contextWindow: 8000 }), bk('unknown')],
          fallback: { mode: 'specific', modelId: 'unknown' },
        },
        mode,
        prompt,
      );
      assert.equal(result.status, 'complete', JSON.stringify(result.error));
      assert.equal(result.fallback?.reason, 'context_too_long');
      assert.equal(result.text, expectedAnswer(prompt));
      assert.deepEqual(seen, ['unknown']);
    });

    it(`context_length with Specific: a smaller window is not asked · ${mode}`, async () => {
      const { result, seen } = await pick(
        {
          fault: 'context_length',
          models: [alpha({ contextWindow: 8000 }), bk('smaller', { contextWindow: 4000 })],
          fallback: { mode: 'specific', modelId: 'smaller' },
        },
        mode,
        `Specific smaller window ${mode}`,
      );
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.reason, 'context_too_long');
      assert.deepEqual(seen, []);
    });

    it(`a Gemini 504 marks the provider down as a whole: its sibling model is skipped · ${mode}`, async () => {
      env.sim.setFault({ provider: 'gg', model: 'alpha', fault: 'gateway_timeout' });
      const cat = catalog(
        [provider(env, 'gg', 'google'), provider(env, 'bk', 'openai-compatible')],
        [model('alpha', 'gg'), model('sibling', 'gg'), bk('other', { tier: 2 })],
      );
      const c = await run(env.engine(), cat, ask(`Gemini 504 ${mode}`), mode);
      assert.equal(c.result.fallback?.reason, 'provider_error');
      assert.equal(c.result.modelId, 'other');
      assert.deepEqual(
        (await settled(env.sim, 'gg')).map((a) => a.model),
        ['alpha'],
      );
    });

    it(`None: no backup, the standard error · ${mode}`, async () => {
      const { result, seen } = await pick(
        { fault: 'unavailable', models: [alpha(), bk('idle')], fallback: { mode: 'none' } },
        mode,
        `None ${mode}`,
      );
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.reason, 'provider_error');
      assert.equal(result.error.backup, undefined);
      assert.equal(result.fallback, undefined);
      assert.deepEqual(seen, []);
      assertNoKeys(result.error.message);
    });

    it(`Specific equal to the primary: no distinct backup · ${mode}`, async () => {
      const { result, seen } = await pick(
        {
          fault: 'unavailable',
          models: [alpha(), bk('idle')],
          fallback: { mode: 'specific', modelId: 'alpha' },
        },
        mode,
        `Self ${mode}`,
      );
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.reason, 'provider_error');
      assert.deepEqual(seen, []);
    });

    it(`the backup fails too: one error naming both, no key · ${mode}`, async () => {
      env.sim.setFault({ provider: 'bk', fault: 'unauthorized' });
      const { result, seen, seenOa } = await pick(
        { fault: 'unavailable', models: [alpha(), bk('beta')] },
        mode,
        `Both fail ${mode}`,
      );
      assert.equal(result.status, 'failed');
      const err = result.error;
      assert.ok(err);
      assert.equal(err.reason, 'provider_error', "the primary's failure is the reason");
      assert.equal(err.primary.reason, 'provider_error');
      assert.equal(err.primary.modelId, 'alpha');
      assert.equal(err.backup?.reason, 'provider_misconfigured');
      assert.equal(err.backup.modelId, 'beta');
      assert.match(err.message, /Model alpha/);
      assert.match(err.message, /Model beta/);
      assert.deepEqual(seenOa, ['alpha'], 'one level only: the primary once (503 is not retried)');
      assert.deepEqual(seen, ['beta'], 'the backup once, never a chain');
      assertNoKeys(err.message);
      assertNoKeys(JSON.stringify(result));
      for (const key of [KEYS.oa, KEYS.bk]) assert.ok(key && !err.message.includes(key));
    });
  }
});
