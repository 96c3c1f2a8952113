/**
 * SPEC §2.4 failure paths after content was shown: a backup that rejects the prefilled
 * continuation, and None. The partial text is kept, the answer is failed with the primary's cause.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import {
  ask,
  assertNoKeys,
  catalog,
  checkStream,
  model,
  MODES,
  PROTOCOLS,
  provider,
  run,
  settled,
  suiteEnv,
} from './harness.js';

/** The first `n` words of an answer, as streamed (one word = one chunk, spaces kept). */
function firstWords(text: string, n: number): string {
  return (text.match(/\s*\S+\s*/g) ?? []).slice(0, n).join('');
}

describe('mid-stream failures that cannot be completed', () => {
  const env = suiteEnv();

  for (const p of PROTOCOLS) {
    for (const mode of MODES) {
      it(`${p.name} cut after 5, the prefill backup rejects the continuation · ${mode}`, async () => {
        const prompt = `Reject prefill ${p.name} ${mode}`;
        env.sim.setFault({ provider: p.provider, fault: 'cut_after', after: 5 });
        env.sim.setFault({ provider: 'bp', fault: 'reject_prefill' });
        const cat = catalog(
          [provider(env, p.provider, p.type), provider(env, 'bp', 'anthropic')],
          [model('alpha', p.provider), model('gamma', 'bp', { capabilities: ['prefill'] })],
        );
        const c = await run(env.engine(), cat, ask(prompt), mode);
        const { result } = c;
        assert.equal(result.status, 'failed');
        assert.ok(result.error);
        assert.equal(result.error.reason, 'interrupted', "the primary's failure is shown");
        assert.equal(result.error.primary.reason, 'interrupted');
        assert.equal(result.error.primary.modelId, 'alpha');
        assert.equal(result.error.backup?.modelId, 'gamma', 'the rejection is recorded too');
        assert.equal(result.error.backup.reason, 'bad_request');
        const partial = firstWords(expectedAnswer(prompt), 5);
        assert.equal(result.text, partial, 'the partial text is kept');
        if (mode === 'streaming') {
          assert.equal(c.streamed, partial);
          assert.equal(c.fallbackAt, -1, 'no takeover was announced: nothing came from the backup');
        }
        assertNoKeys(result.error.message);
        const bp = await settled(env.sim, 'bp');
        assert.equal(bp.length, 1);
        assert.equal(bp[0]?.prefill, true);
        assert.equal(bp[0]?.fault, 'reject_prefill');
        assert.equal((await settled(env.sim, p.provider)).length, 1);
      });

      it(`${p.name} cut after 5 with None: partial kept, interrupted · ${mode}`, async () => {
        const prompt = `None mid-stream ${p.name} ${mode}`;
        env.sim.setFault({ provider: p.provider, fault: 'cut_after', after: 5 });
        const cat = catalog(
          [provider(env, p.provider, p.type), provider(env, 'bk', 'openai-compatible')],
          [model('alpha', p.provider), model('beta', 'bk')],
          { mode: 'none' },
        );
        const c = await run(env.engine(), cat, ask(prompt), mode);
        assert.equal(c.result.status, 'failed');
        assert.equal(c.result.error?.reason, 'interrupted');
        assert.equal(c.result.text, firstWords(expectedAnswer(prompt), 5));
        assert.equal((await settled(env.sim, 'bk')).length, 0);
        checkStream(c, mode);
      });
    }
  }
});
