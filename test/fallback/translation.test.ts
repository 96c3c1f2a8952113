/**
 * A request the primary takes must be one every backup takes, whatever its protocol: an OpenAI
 * client's parameters reach a backup within what that protocol and model accept, or a backup's
 * 400 fails an answer it could give. Each backup here is the simulator acting as the real thing
 * refuses: OpenAI's reasoning models (temperature, top_p, stop, max_tokens, parallel_tool_calls), Anthropic (a
 * temperature above 1, temperature beside top_p, a stop sequence of whitespace), Gemini (a tool's
 * object parameters without properties), and every one a reply limit above its own (max_output).
 * Real engine and adapters, all of it on loopback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelConfig, ProviderType } from '@understudy/engine';
import { expectedAnswer } from '@understudy/simulator';
import { ask, catalog, checkStream, model, MODES, provider, run, suiteEnv } from './harness.js';

/** Backups by protocol: the simulator provider each acts as, and its model's upstream options. */
const BACKUPS: { name: string; provider: string; type: ProviderType; upstream: string; reasoning?: true }[] =
  [
    {
      name: 'OpenAI reasoning model',
      provider: 'oa',
      type: 'openai',
      upstream: 'omega+reasoning',
      reasoning: true,
    },
    { name: 'OpenAI', provider: 'oa', type: 'openai', upstream: 'beta' },
    { name: 'Anthropic', provider: 'an', type: 'anthropic', upstream: 'beta' },
    { name: 'Gemini', provider: 'gg', type: 'google', upstream: 'beta' },
  ];

/** What an OpenAI client may well send its primary. */
const PROMPT = 'Translate this for me';
const request = ask(PROMPT, {
  temperature: 1.5,
  topP: 0.9,
  stop: ['\n', 'zzz'],
  maxTokens: 500,
  reasoningEffort: 'low',
  parallelToolCalls: false,
  tools: [{ name: 'current_time', parameters: { type: 'object', properties: {} } }],
});

describe('every backup protocol takes what the primary took', () => {
  const env = suiteEnv();

  for (const b of BACKUPS)
    for (const mode of MODES)
      it(`${b.name} (${mode})`, async () => {
        const backup: ModelConfig = {
          ...model('backup', b.provider, {
            // Its replies are shorter than the primary's: a larger limit gets a 400.
            upstream: `${b.upstream}+max_output=100`,
            ...(b.reasoning && { capabilities: ['reasoning'] }),
          }),
          maxOutputTokens: 100,
        };
        const cat = catalog(
          [provider(env, 'bk', 'openai-compatible'), provider(env, b.provider, b.type)],
          [model('primary', 'bk'), backup],
          { mode: 'specific', modelId: 'backup' },
        );
        env.sim.setFault({ provider: 'bk', fault: 'overloaded' });
        const c = await run(env.engine(), cat, request, mode);
        assert.equal(c.result.status, 'complete', c.result.error?.message);
        assert.equal(c.result.modelId, 'backup');
        assert.equal(c.result.fallback?.reason, 'overloaded');
        assert.equal(c.result.text, expectedAnswer(PROMPT));
        checkStream(c, mode);
        const asked = env.sim.attempts({ provider: b.provider });
        assert.deepEqual(
          asked.map((a) => [a.outcome, a.status]),
          [['ok', 200]],
        );
      });
});
