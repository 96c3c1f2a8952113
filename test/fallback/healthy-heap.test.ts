/**
 * The healthy path leaves nothing behind: thousands of complete answers through the real engine
 * and provider adapters against the real simulator (all three protocols; whole answers sent in one
 * burst, and short paced streams whose end arrives after the last event, so the socket is drained
 * for reuse) keep the heap at its baseline after a forced GC. The aborted paths have their own
 * test (abort-sockets.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEngine, InMemoryHealth } from '@understudy/engine';
import { createProviderAgent, createProviderClient } from '@understudy/providers';
import { expectedAnswer, startSimulator } from '@understudy/simulator';
import { KEYS, PROTOCOLS, ask, catalog, model } from './harness.js';
import { exposeGc, settledHeap } from '../support/leaks.js';

const WARM_UP = 3000;
const COUNT = 6000;
const WIDTH = 20;
/**
 * Growth allowed after COUNT answers. Measured: ±250 KiB after this warm-up (a shorter one still
 * grows ~1 MiB while the process warms); an injected leak of ~350 bytes per answer gave +2.2 MiB.
 */
const MAX_GROWTH_BYTES = 1.5 * 1024 * 1024;
const UPSTREAM = ['whole', 'paced+tokens=6+delay=1'] as const;
/** Far above any answer here: under a loaded CI machine the cold first requests can take more than the harness's 400 ms. */
const TIMEOUTS = { connectMs: 10_000, firstTokenMs: 10_000, stallMs: 10_000 };

test(
  `${COUNT} healthy answers through the engine: the heap returns to its baseline`,
  { timeout: 90_000 },
  async () => {
    const gc = exposeGc();
    // The simulator's attempt log keeps every request by design: off here, where memory is measured.
    const sim = await startSimulator({ host: '127.0.0.1', port: 0, logAttempts: false });
    const agent = createProviderAgent();
    try {
      const engine = createEngine({
        client: createProviderClient({ dispatcher: agent }),
        health: new InMemoryHealth(),
      });
      const cats = PROTOCOLS.flatMap((p) => {
        const base = `${sim.url}/p/${p.provider}${p.type === 'openai' ? '/v1' : ''}`;
        const prov = {
          id: p.provider,
          type: p.type,
          label: p.name,
          baseUrl: base,
          apiKey: KEYS[p.provider] ?? 'k',
        };
        return UPSTREAM.map((upstream) =>
          catalog([prov], [model('m', p.provider, { upstream, timeouts: TIMEOUTS })]),
        );
      });
      let done = 0;
      /** Answer `i`: checks it completed with the simulator's exact answer and no fallback. */
      const one = async (i: number): Promise<void> => {
        const cat = cats[i % cats.length];
        assert.ok(cat);
        const prompt = `Healthy answer ${i % 97}`;
        let text = '';
        for await (const e of engine.answer({ catalog: cat, request: ask(prompt), takeover: 'restart' })) {
          if (e.type === 'text') text += e.text;
          else if (e.type === 'fallback') assert.fail(`unexpected fallback: ${JSON.stringify(e.record)}`);
          else if (e.type === 'error') assert.fail(`unexpected error: ${e.error.message}`);
          else if (e.type === 'done') assert.equal(e.result.status, 'complete');
        }
        const tokens = cat.models[0]?.upstreamModel.includes('tokens=6') ? 6 : undefined;
        assert.equal(text, expectedAnswer(prompt, tokens));
        done++;
      };
      const batch = async (n: number): Promise<void> => {
        let next = 0;
        await Promise.all(
          Array.from({ length: WIDTH }, async () => {
            for (let i = next++; i < n; i = next++) await one(i);
          }),
        );
      };
      await batch(WARM_UP);
      const before = await settledHeap(gc);
      await batch(COUNT);
      const after = await settledHeap(gc);
      assert.equal(done, WARM_UP + COUNT);
      assert.ok(
        after - before < MAX_GROWTH_BYTES,
        `heap grew ${((after - before) / 1024).toFixed(0)} KiB over ${COUNT} answers`,
      );
    } finally {
      await sim.close();
      await agent.close();
    }
  },
);
