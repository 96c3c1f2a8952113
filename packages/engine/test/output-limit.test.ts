/**
 * A reply limit (max tokens) is sent to each model within the largest reply it writes: a provider
 * refuses a larger one with a 400, which would fail an answer a backup with a smaller limit than
 * the primary's could give.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine } from '../src/executor/engine.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { AnswerEvent } from '../src/types/result.js';
import { FakeClient, ask, catalog, fails, healthy } from './fakes.js';

describe("executor: a reply limit above the model's own", () => {
  it('is lowered to the largest reply each model writes, so a backup with a smaller one answers', async () => {
    const client = new FakeClient({ a1: fails('overloaded', { status: 529 }), c1: healthy('From c1.') });
    const engine = createEngine({ client, health: new InMemoryHealth() });
    const models = catalog().models.map((m) => (m.id === 'c1' ? { ...m, maxOutputTokens: 100 } : m));
    const events: AnswerEvent[] = [];
    for await (const e of engine.answer({
      catalog: catalog({ models, fallback: { mode: 'specific', modelId: 'c1' } }),
      request: { ...ask(), maxTokens: 500 },
      takeover: 'restart',
    }))
      events.push(e);
    assert.equal(events.at(-1)?.type, 'done');
    // The primary's limit is unknown: it is asked as the caller asked.
    assert.deepEqual(
      client.calls.map((c) => [c.modelId, c.request.maxTokens]),
      [
        ['a1', 500],
        ['c1', 100],
      ],
    );
  });
});
