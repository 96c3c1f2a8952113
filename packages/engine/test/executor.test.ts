import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine } from '../src/executor/engine.js';
import type { AnswerInput } from '../src/executor/answer.js';
import { CONTINUE_INSTRUCTION } from '../src/executor/rules.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { HealthMemory } from '../src/health/types.js';
import type { ProviderEvent } from '../src/types/chat.js';
import type { AnswerEvent, AnswerResult } from '../src/types/result.js';
import { FakeClient, ask, catalog, fails, healthy, model, provider, type Step } from './fakes.js';

async function collect(events: AsyncIterable<AnswerEvent>) {
  const all: AnswerEvent[] = [];
  for await (const e of events) all.push(e);
  const last = all.at(-1);
  assert.ok(last && (last.type === 'done' || last.type === 'error'), 'an answer ends with done or error');
  const text = all.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : ''));
  return { all, last, result: last.result as AnswerResult, text: text.join('') };
}

function setup(scripts: ConstructorParameters<typeof FakeClient>[0], opts: { health?: HealthMemory } = {}) {
  const client = new FakeClient(scripts);
  const health = opts.health ?? new InMemoryHealth();
  const engine = createEngine({ client, health, options: { quickRetryDelayMs: 10 } });
  const run = (input: Partial<AnswerInput> = {}) =>
    collect(engine.answer({ catalog: catalog(), request: ask(), takeover: 'restart', ...input }));
  return { client, health, engine, run };
}

describe('executor: the primary answers', () => {
  it('streams the primary with no fallback record and reported usage', async () => {
    const { run, client } = setup({ a1: healthy('Hello there friend.') });
    const { last, result, text, all } = await run();
    assert.equal(last.type, 'done');
    assert.equal(text, 'Hello there friend.');
    assert.equal(result.status, 'complete');
    assert.equal(result.modelId, 'a1');
    assert.equal(result.providerId, 'a');
    assert.equal(result.fallback, undefined);
    assert.deepEqual(result.usage, { inputTokens: 10, outputTokens: 3, estimated: false });
    assert.ok(result.ttftMs !== undefined && result.ttftMs >= 0);
    assert.equal(all.filter((e) => e.type === 'fallback').length, 0);
    assert.equal(client.calls.length, 1);
  });

  it('estimates usage and marks it when the provider reports none', async () => {
    const { run } = setup({ a1: healthy('one two three four', false) });
    const { result } = await run();
    assert.equal(result.usage.estimated, true);
    assert.ok(result.usage.outputTokens >= 4);
    assert.ok(result.usage.inputTokens > 0);
  });

  it('skips malformed chunks, counts them and keeps the answer', async () => {
    const steps: Step[] = healthy('a b c');
    steps.splice(2, 0, { type: 'malformed', detail: 'bad json' }, { type: 'malformed', detail: 'bad json' });
    const { run, client } = setup({ a1: steps });
    const { result, text } = await run();
    assert.equal(text, 'a b c');
    assert.equal(result.malformedChunks, 2);
    assert.equal(client.calls.length, 1);
  });
});

describe('executor: failure before content is invisible', () => {
  for (const reason of [
    'overloaded',
    'provider_error',
    'unreachable',
    'timeout',
    'provider_misconfigured',
  ] as const) {
    it(`falls back on ${reason} with the record of SPEC §2.6`, async () => {
      const { run, client } = setup({
        a1: fails(reason, { status: reason === 'overloaded' ? 529 : undefined }),
        b1: healthy('From b1.'),
      });
      const { result, text, all } = await run();
      assert.equal(text, 'From b1.');
      assert.equal(result.status, 'complete');
      assert.equal(result.modelId, 'b1');
      assert.equal(result.fallback?.originalModelId, 'a1');
      assert.equal(result.fallback?.originalProviderId, 'a');
      assert.equal(result.fallback?.backupModelId, 'b1');
      assert.equal(result.fallback?.reason, reason);
      assert.equal(result.fallback?.mode, 'invisible');
      const fb = all.findIndex((e) => e.type === 'fallback');
      const firstText = all.findIndex((e) => e.type === 'text');
      assert.ok(fb >= 0 && fb < firstText, 'the fallback event comes before the backup content');
      assert.equal(client.callsTo('a1').length, 1, 'no quick retry for this failure');
    });
  }

  it('does not fall back on a bad request or a content-policy refusal', async () => {
    for (const reason of ['bad_request', 'content_filtered'] as const) {
      const { run, client } = setup({ a1: fails(reason, { status: 400 }), b1: healthy('never') });
      const { last, result } = await run();
      assert.equal(last.type, 'error');
      assert.equal(result.error?.reason, reason);
      assert.equal(client.callsTo('b1').length, 0);
    }
  });
});

describe('executor: one quick retry for a blip (SPEC §2.3)', () => {
  it('retries a single 500 once and answers from the primary', async () => {
    const { run, client } = setup({
      a1: (n) => (n === 1 ? fails('provider_error', { status: 500 }) : healthy('Second time.')),
    });
    const { result, text } = await run();
    assert.equal(text, 'Second time.');
    assert.equal(result.modelId, 'a1');
    assert.equal(result.fallback, undefined);
    assert.deepEqual(
      result.attempts.map((a) => a.role),
      ['primary', 'retry'],
    );
    assert.equal(client.callsTo('a1').length, 2);
  });

  it('retries a connection reset before any response', async () => {
    const { run, client } = setup({
      a1: (n) => (n === 1 ? fails('unreachable', { beforeResponse: true }) : healthy('ok')),
    });
    const { result } = await run();
    assert.equal(result.modelId, 'a1');
    assert.equal(client.callsTo('a1').length, 2);
  });

  it('honours a 429 Retry-After of at most 3 s exactly, then retries', async () => {
    const { run, client } = setup({
      a1: (n) => (n === 1 ? fails('rate_limited', { status: 429, retryAfterMs: 250 }) : healthy('ok')),
    });
    const { result } = await run();
    assert.equal(result.modelId, 'a1');
    const [first, second] = client.callsTo('a1');
    assert.ok(first && second);
    assert.ok(second.at - first.at >= 250, `waited ${second.at - first.at} ms`);
  });

  it('never retries 503, 529, a 429 without or with a long Retry-After, or a timeout', async () => {
    const cases: Step[][] = [
      fails('provider_error', { status: 503 }),
      fails('overloaded', { status: 529 }),
      fails('rate_limited', { status: 429 }),
      fails('rate_limited', { status: 429, retryAfterMs: 5000 }),
      [{ type: 'hang' }],
    ];
    for (const steps of cases) {
      const { run, client } = setup({ a1: steps, b1: healthy('backup') });
      const { result } = await run();
      assert.equal(result.modelId, 'b1');
      assert.equal(client.callsTo('a1').length, 1);
    }
  });

  it('goes to the backup when the retry fails too, with one backup attempt', async () => {
    const { run, client } = setup({ a1: fails('provider_error', { status: 502 }), b1: healthy('backup') });
    const { result } = await run();
    assert.equal(result.modelId, 'b1');
    assert.equal(client.callsTo('a1').length, 2);
    assert.equal(client.callsTo('b1').length, 1);
  });
});

describe('executor: single backup, never a chain', () => {
  it('names both failures, no secret, when the backup fails too', async () => {
    const { run, client } = setup({
      a1: fails('overloaded', { status: 529 }),
      b1: fails('unreachable', { message: 'ECONNREFUSED' }),
    });
    const { last, result } = await run();
    assert.equal(last.type, 'error');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.reason, 'overloaded');
    assert.equal(result.error?.primary.modelId, 'a1');
    assert.equal(result.error?.backup?.modelId, 'b1');
    // Nothing of the backup's reached the member: the answer is still the primary's (API headers, the chat's header).
    assert.equal(result.modelId, 'a1');
    assert.equal(result.providerId, 'a');
    assert.equal(result.fallback, undefined);
    assert.equal(
      result.error?.message,
      'Model a1 on Provider A was overloaded: overloaded happened. ' +
        'The backup Model b1 on Provider B could not be reached: ECONNREFUSED.',
    );
    assert.doesNotMatch(result.error?.message ?? '', /sk-secret/);
    assert.equal(client.calls.length, 2, 'no third model is tried');
  });

  it('None: a failure shows the standard error and no backup is asked', async () => {
    const { run, client } = setup({ a1: fails('overloaded', { status: 529 }) });
    const { last, result } = await run({ catalog: catalog({ fallback: { mode: 'none' } }) });
    assert.equal(last.type, 'error');
    assert.equal(result.error?.backup, undefined);
    assert.match(
      result.error?.message ?? '',
      /overloaded happened\. Fallback is off for this organization, so no backup model was asked\.$/,
    );
    assert.equal(client.calls.length, 1);
  });

  it("the standard error has one period between its parts when a provider's own sentence ends with one", async () => {
    const { run } = setup({
      a1: fails('provider_error', { status: 500, message: 'The server had an error.' }),
    });
    const { result } = await run({ catalog: catalog({ fallback: { mode: 'none' } }) });
    assert.match(result.error?.message ?? '', /The server had an error\. Fallback is off/);
    assert.doesNotMatch(result.error?.message ?? '', /\.\./);
  });

  it('the standard error reads well with labels that carry brackets, and ends with one period', async () => {
    const cat = catalog({
      providers: [{ ...provider('a'), label: 'Simulator A (OpenAI protocol)' }, provider('b')],
      models: [
        model('a1', 'a', 3, { label: 'Sim A Large (simulated)', contextWindow: 8000 }),
        model('b1', 'b', 3, { contextWindow: 8000 }),
      ],
    });
    const { run, client } = setup({
      a1: fails('context_too_long', { status: 400, message: 'HTTP 400: context length exceeded' }),
    });
    const { result } = await run({ catalog: cat });
    assert.equal(
      result.error?.message,
      'Sim A Large (simulated) on Simulator A (OpenAI protocol) could not fit the conversation in its ' +
        'context window: HTTP 400: context length exceeded. No other model in the list could take over.',
    );
    assert.equal(client.callsTo('b1').length, 0, 'no larger window: no backup was asked');
  });

  it('Specific: always that model, even across tiers and providers', async () => {
    const { run } = setup({ a1: fails('overloaded'), c1: healthy('from c1') });
    const { result } = await run({ catalog: catalog({ fallback: { mode: 'specific', modelId: 'c1' } }) });
    assert.equal(result.modelId, 'c1');
    assert.match(result.fallback?.explanation ?? '', /Specific/);
  });

  it('Specific equal to the Mate’s own model: no distinct backup, standard error', async () => {
    const { run, client } = setup({ b1: fails('overloaded') });
    const { last, result } = await run({
      modelId: 'b1',
      catalog: catalog({ fallback: { mode: 'specific', modelId: 'b1' } }),
    });
    assert.equal(last.type, 'error');
    assert.match(result.error?.message ?? '', /is the Specific fallback model itself: no distinct backup\.$/);
    assert.equal(client.calls.length, 1);
  });

  it('Automatic with no model that qualifies says so in the standard error', async () => {
    const cat = catalog({ models: [model('a1', 'a', 3, { tags: ['eu-hosted'] }), model('b1', 'b', 3)] });
    const { run, client } = setup({ a1: fails('overloaded', { status: 529 }), b1: healthy('not eu') });
    const { result } = await run({ catalog: cat });
    assert.equal(result.status, 'failed');
    assert.match(result.error?.message ?? '', /No other model in the list could take over\.$/);
    assert.equal(client.callsTo('b1').length, 0, 'the model without the compliance tag is never asked');
  });

  it('context too long goes only to a larger window', async () => {
    const cat = catalog({
      models: [
        model('a1', 'a', 3, { contextWindow: 8000 }),
        model('b1', 'b', 3, { contextWindow: 8000 }),
        model('b2', 'b', 2, { contextWindow: 128000 }),
      ],
    });
    const { run, client } = setup({ a1: fails('context_too_long', { status: 400 }), b2: healthy('big') });
    const { result } = await run({ catalog: cat });
    assert.equal(result.modelId, 'b2');
    assert.equal(result.fallback?.reason, 'context_too_long');
    assert.equal(client.callsTo('b1').length, 0);
  });
});

describe('executor: takeover after content (SPEC §2.4)', () => {
  const cut: Step[] = [
    { type: 'open' },
    { type: 'text', text: 'The answer ' },
    { type: 'text', text: 'is ' },
  ];

  it('prefill: a backup that continues a prefilled answer completes the same text', async () => {
    const cat = catalog({
      models: [model('a1', 'a', 3), model('b1', 'b', 3, { capabilities: ['prefill'] })],
    });
    const { run, client } = setup({ a1: cut, b1: healthy('forty-two.') });
    const { result, text } = await run({ catalog: cat });
    assert.equal(result.status, 'complete');
    assert.equal(result.text, 'The answer is forty-two.');
    assert.equal(text, 'The answer is forty-two.');
    assert.equal(result.fallback?.mode, 'prefill');
    assert.equal(result.fallback?.reason, 'interrupted');
    const sent = client.callsTo('b1')[0]?.request.messages.at(-1);
    assert.deepEqual(sent, { role: 'assistant', content: 'The answer is ' });
  });

  it('restart: the chat replaces the partial text with the backup’s whole answer', async () => {
    const { run } = setup({ a1: cut, b1: healthy('A whole new answer.') });
    const { result, all } = await run({ takeover: 'restart' });
    assert.equal(result.text, 'A whole new answer.');
    assert.equal(result.fallback?.mode, 'restart');
    const fb = all.findIndex((e) => e.type === 'fallback');
    assert.ok(fb > 0 && all.slice(0, fb).some((e) => e.type === 'text'));
  });

  it('restart: a backup that completes with no content still replaces the partial text', async () => {
    // Found by executor-properties.test: the stored text kept the primary's words, which the
    // restart's fallback event had told the member to discard.
    const { run } = setup({ a1: cut, b1: [{ type: 'open' }, { type: 'finish', reason: 'stop' }] });
    const { result, all, text } = await run({ takeover: 'restart' });
    assert.equal(result.status, 'complete');
    assert.equal(result.modelId, 'b1');
    assert.equal(result.fallback?.mode, 'restart');
    assert.ok(all.some((e) => e.type === 'fallback'));
    assert.equal(text, 'The answer is ', 'the primary’s words were streamed before the takeover');
    assert.equal(result.text, '', 'what the member sees after the restart: the backup’s (empty) answer');
  });

  it('instruct: an API client gets the continuation, asked for by instruction', async () => {
    const { run, client } = setup({ a1: cut, b1: healthy('forty-two.') });
    const { result } = await run({ takeover: 'instruct' });
    assert.equal(result.text, 'The answer is forty-two.');
    assert.equal(result.fallback?.mode, 'instruct');
    const msgs = client.callsTo('b1')[0]?.request.messages ?? [];
    assert.deepEqual(msgs.slice(-2), [
      { role: 'assistant', content: 'The answer is ' },
      { role: 'user', content: CONTINUE_INSTRUCTION },
    ]);
  });

  it('a JSON answer is continued with its constraint in words: constrained, a backup writes a whole value', async () => {
    const cat = catalog({
      models: [model('a1', 'a', 3), model('b1', 'b', 3, { capabilities: ['prefill'] })],
    });
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    const words = `Respond with one valid JSON object only: no prose, no code fences. It must match this JSON Schema: ${JSON.stringify(schema)}`;
    // An API stream's takeover asks by instruction; the chat's goes by prefill to a backup that can.
    for (const [takeover, input, expected] of [
      ['instruct', {}, 'instruct'],
      ['restart', { catalog: cat }, 'prefill'],
    ] as const) {
      const { run, client } = setup({ a1: cut, b1: healthy('forty-two.') });
      const request = { ...ask(), jsonSchema: { name: 'n', schema, strict: true } };
      const { result } = await run({ takeover, request, ...input });
      const mode = result.fallback?.mode;
      assert.equal(mode, expected);
      const sent = client.callsTo('b1')[0]?.request;
      assert.equal(sent?.jsonSchema, undefined, `${mode}: no constraint`);
      assert.equal(sent?.json, undefined, `${mode}: no JSON mode`);
      assert.deepEqual(sent?.messages[0], { role: 'system', content: words }, `${mode}: asked in words`);
      assert.deepEqual(sent?.messages.slice(1, request.messages.length + 1), request.messages);
      // The primary was asked with the constraint itself.
      assert.deepEqual(client.callsTo('a1')[0]?.request.jsonSchema, request.jsonSchema);
    }
    // JSON mode without a schema: the same, in words.
    const { run, client } = setup({ a1: cut, b1: healthy('}') });
    await run({ takeover: 'instruct', request: { ...ask(), json: true } });
    const sent = client.callsTo('b1')[0]?.request;
    assert.equal(sent?.json, undefined);
    assert.deepEqual(sent?.messages[0], {
      role: 'system',
      content: 'Respond with one valid JSON object only: no prose, no code fences.',
    });
  });

  it('a stream that ends without terminator or finish is interrupted, never a success', async () => {
    const { run } = setup({
      a1: cut,
      b1: fails('bad_request', { status: 400, message: 'prefill not supported' }),
    });
    const { last, result } = await run({ takeover: 'instruct' });
    assert.equal(last.type, 'error');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.reason, 'interrupted', 'the primary’s failure, not the backup’s rejection');
    assert.equal(result.text, 'The answer is ', 'the partial text is kept');
    assert.equal(result.modelId, 'a1', 'the partial text is the primary’s');
  });

  it('a backup that took over and then failed is named, with its takeover, on the failed answer', async () => {
    const { run } = setup({
      a1: cut,
      b1: [{ type: 'open' }, { type: 'text', text: 'forty' }, ...fails('interrupted', { inStream: true })],
    });
    const { last, result } = await run({ takeover: 'instruct' });
    assert.equal(last.type, 'error');
    assert.equal(result.status, 'failed');
    assert.equal(result.text, 'The answer is forty');
    assert.equal(result.modelId, 'b1');
    assert.equal(result.fallback?.backupModelId, 'b1');
    assert.equal(result.error?.reason, 'interrupted');
  });

  it('a finish reason without the end marker is complete', async () => {
    const { run, client } = setup({
      a1: [{ type: 'open' }, { type: 'text', text: 'Done.' }, { type: 'finish', reason: 'stop' }],
    });
    const { result } = await run();
    assert.equal(result.status, 'complete');
    assert.equal(client.calls.length, 1);
  });

  it('a stall mid-answer is taken over (interrupted), and the primary’s socket is aborted', async () => {
    const { run, client } = setup({ a1: [...cut, { type: 'hang' }], b1: healthy('x') });
    const { result } = await run();
    assert.equal(result.fallback?.reason, 'interrupted');
    assert.equal(result.fallback?.primaryFailure.timeout, 'stall');
    assert.equal(client.callsTo('a1')[0]?.aborted, true);
  });
});

describe('executor: timeouts', () => {
  it('connect timeout when no headers arrive; first-token timeout when headers but no content', async () => {
    for (const [steps, kind] of [
      [[{ type: 'hang' }], 'connect'],
      [[{ type: 'open' }, { type: 'hang' }], 'first_token'],
    ] as [Step[], string][]) {
      const { run } = setup({ a1: steps, b1: healthy('b') });
      const t0 = Date.now();
      const { result } = await run();
      assert.equal(result.fallback?.reason, 'timeout');
      assert.equal(result.fallback?.primaryFailure.timeout, kind);
      assert.ok(Date.now() - t0 < 2000);
    }
  });

  it('a slow reader downstream is not a stall', async () => {
    const { engine } = setup({ a1: healthy('one two three four five') });
    let text = '';
    for await (const e of engine.answer({ catalog: catalog(), request: ask(), takeover: 'restart' })) {
      if (e.type === 'text') {
        text += e.text;
        await new Promise((r) => setTimeout(r, 150)); // 5 × 150 ms > the 300 ms stall timeout
      }
      if (e.type === 'done') assert.equal(e.result.fallback, undefined);
    }
    assert.equal(text, 'one two three four five');
  });
});

describe('executor: only content satisfies the first-token and stall timeouts (SPEC §2.1)', () => {
  // The endless scripts below held an answer forever before only content counted: bound those tests.
  /** Forever: every 20 ms something that is not content (a malformed chunk, an empty delta, usage). */
  function* busyButSilent(): Generator<Step> {
    while (true) {
      yield { type: 'wait', ms: 20 };
      yield { type: 'malformed', detail: 'bad json' };
      yield { type: 'wait', ms: 20 };
      yield { type: 'text', text: '' };
      yield { type: 'wait', ms: 20 };
      yield { type: 'usage', inputTokens: 10, outputTokens: 0 };
    }
  }

  it(
    'headers, then malformed chunks and pings forever: the first-token timeout',
    { timeout: 5000 },
    async () => {
      const { run, client } = setup({
        a1: function* () {
          yield { type: 'open' };
          yield* busyButSilent();
        },
        b1: healthy('From b1.'),
      });
      const t0 = Date.now();
      const { result, text } = await run();
      const elapsed = Date.now() - t0;
      assert.equal(text, 'From b1.');
      assert.equal(result.fallback?.reason, 'timeout');
      assert.equal(result.fallback?.primaryFailure.timeout, 'first_token');
      assert.equal(result.fallback?.mode, 'invisible');
      assert.ok(
        elapsed >= 300 && elapsed < 1500,
        `gave up after the 300 ms first-token timeout (${elapsed} ms)`,
      );
      assert.ok(result.malformedChunks >= 2, `the skipped chunks are counted (${result.malformedChunks})`);
      assert.equal(client.callsTo('a1')[0]?.aborted, true, 'the upstream call was closed');
      assert.equal(client.callsTo('a1').length, 1, 'a timeout is never retried');
    },
  );

  it(
    'content, then only non-content events: a stall, taken over as interrupted',
    { timeout: 5000 },
    async () => {
      const { run, client } = setup({
        a1: function* () {
          yield { type: 'open' };
          yield { type: 'text', text: 'The answer ' };
          yield* busyButSilent();
        },
        b1: healthy('From b1.'),
      });
      const t0 = Date.now();
      const { result, all } = await run();
      const elapsed = Date.now() - t0;
      assert.equal(result.status, 'complete');
      assert.equal(result.fallback?.reason, 'interrupted');
      assert.equal(result.fallback?.primaryFailure.timeout, 'stall');
      assert.equal(result.fallback?.mode, 'restart');
      assert.equal(result.text, 'From b1.');
      assert.ok(
        all.some((e) => e.type === 'text' && e.text === 'The answer '),
        'the partial text was shown',
      );
      assert.ok(elapsed >= 300 && elapsed < 1500, `stalled after the 300 ms stall timeout (${elapsed} ms)`);
      assert.equal(client.callsTo('a1')[0]?.aborted, true);
    },
  );

  it('tool-call deltas are content: each one restarts the stall timeout', async () => {
    const { run } = setup({
      a1: [
        { type: 'open' },
        { type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', argumentsDelta: '' },
        { type: 'wait', ms: 200 },
        { type: 'tool_call', index: 0, argumentsDelta: '{"city":' },
        { type: 'wait', ms: 200 },
        { type: 'tool_call', index: 0, argumentsDelta: '"Paris"}' },
        { type: 'finish', reason: 'tool_calls' },
      ],
    });
    const { result } = await run();
    assert.equal(result.status, 'complete');
    assert.equal(result.fallback, undefined, '2 × 200 ms gaps, each under the 300 ms stall timeout');
    assert.deepEqual(result.toolCalls, [
      { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
    ]);
  });

  it('provider time adds up across non-content events, but time the reader takes does not', async () => {
    // Provider: 2 × 50 ms between words, with a malformed chunk between; reader: 700 ms per word.
    // Wall time between words (800 ms) exceeds the 600 ms stall timeout; provider time (100 ms)
    // does not, with room for timers that fire late on a loaded machine (it failed once with
    // 2 × 100 ms under a 300 ms timeout, the whole suite running beside it).
    const words = ['one ', 'two ', 'three'];
    const steps: Step[] = [{ type: 'open' }];
    for (const w of words) {
      steps.push({ type: 'text', text: w });
      steps.push({ type: 'wait', ms: 50 }, { type: 'malformed', detail: 'x' }, { type: 'wait', ms: 50 });
    }
    steps.push({ type: 'finish', reason: 'stop' });
    const { engine } = setup({ a1: steps });
    const timeouts = { connectMs: 300, firstTokenMs: 300, stallMs: 600 };
    const cat = catalog({ models: [model('a1', 'a', 3, { timeouts }), model('b1', 'b', 3)] });
    let text = '';
    let result: AnswerResult | undefined;
    for await (const e of engine.answer({ catalog: cat, request: ask(), takeover: 'restart' })) {
      if (e.type === 'text') {
        text += e.text;
        await new Promise((r) => setTimeout(r, 700));
      }
      if (e.type === 'done' || e.type === 'error') result = e.result;
    }
    assert.equal(result?.status, 'complete');
    assert.equal(result.fallback, undefined);
    assert.equal(text, 'one two three');
    assert.equal(result.malformedChunks, 3);
  });

  it('a finish reason followed by silence is a complete answer; the upstream call is closed', async () => {
    const { run, client } = setup({
      a1: [
        { type: 'open' },
        { type: 'text', text: 'Done.' },
        { type: 'finish', reason: 'stop' },
        { type: 'hang' },
      ],
      b1: healthy('never'),
    });
    const { result } = await run();
    assert.equal(result.status, 'complete');
    assert.equal(result.modelId, 'a1');
    assert.equal(result.text, 'Done.');
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.fallback, undefined);
    assert.equal(client.callsTo('b1').length, 0);
    assert.equal(client.callsTo('a1')[0]?.aborted, true, 'the lingering connection was closed');
  });
});

/** Every event of an answer whose caller aborts as soon as the first text is shown (a Stop). */
async function abortedAtFirstText(engine: ReturnType<typeof createEngine>): Promise<AnswerEvent[]> {
  const ctl = new AbortController();
  const events: AnswerEvent[] = [];
  for await (const e of engine.answer({
    catalog: catalog(),
    request: ask(),
    signal: ctl.signal,
    takeover: 'restart',
  })) {
    events.push(e);
    if (e.type === 'text') ctl.abort();
  }
  return events;
}

describe('executor: cancellation', () => {
  it('Stop aborts the upstream call at once and ends with a cancelled result', async () => {
    const { engine, client } = setup({
      a1: [{ type: 'open' }, { type: 'text', text: 'partial ' }, { type: 'hang' }],
    });
    const events = await abortedAtFirstText(engine);
    const last = events.at(-1);
    assert.equal(last?.type, 'done');
    assert.equal(last?.type === 'done' && last.result.status, 'cancelled');
    assert.equal(client.calls.length, 1, 'no fallback after a Stop');
    assert.equal(client.callsTo('a1')[0]?.aborted, true);
  });

  it('events already buffered when the caller aborts do not complete the answer', async () => {
    // An adapter that has the rest of the stream in hand (one network read) and yields it whatever
    // the signal says: the abort must still end the answer as cancelled, with only what was shown.
    const buffered: ProviderEvent[] = [
      { type: 'open' },
      { type: 'text', text: 'partial ' },
      { type: 'text', text: 'rest' },
      { type: 'finish', reason: 'stop' },
    ];
    const engine = createEngine({
      client: {
        async *stream() {
          yield* buffered;
        },
      },
      health: new InMemoryHealth(),
    });
    const events = await abortedAtFirstText(engine);
    const last = events.at(-1);
    assert.equal(last?.type === 'done' && last.result.status, 'cancelled');
    assert.equal(last?.type === 'done' && last.result.text, 'partial ');
    assert.equal(events.filter((e) => e.type === 'text').length, 1);
  });

  it('a consumer that stops reading cancels the upstream call', async () => {
    const { engine, client } = setup({
      a1: [{ type: 'open' }, { type: 'text', text: 'x ' }, { type: 'hang' }],
    });
    for await (const e of engine.answer({ catalog: catalog(), request: ask(), takeover: 'restart' })) {
      if (e.type === 'text') break;
    }
    assert.equal(client.callsTo('a1')[0]?.aborted, true);
  });
});

describe('executor: health memory', () => {
  /** The same memory behind an interface with no synchronous check (a store that must be awaited). */
  const asyncOnly = (inner: InMemoryHealth): HealthMemory => ({
    check: async (t) => inner.check(t),
    tryAcquireProbe: (t) => inner.tryAcquireProbe(t),
    releaseProbe: (t) => inner.releaseProbe(t),
    recordSuccess: (t, ms) => inner.recordSuccess(t, ms),
    recordFailure: (t, f) => inner.recordFailure(t, f),
    reset: (k) => inner.reset(k),
    snapshot: () => inner.snapshot(),
  });

  it('a store checked synchronously or only asynchronously decides the same', async () => {
    for (const health of [new InMemoryHealth(), asyncOnly(new InMemoryHealth())]) {
      const { run, client } = setup(
        { a1: fails('overloaded', { status: 529 }), b1: healthy('b') },
        { health },
      );
      for (let i = 0; i < 3; i++) await run();
      const { result } = await run();
      assert.equal(client.callsTo('a1').length, 3, 'the open breaker spares the primary');
      assert.equal(result.modelId, 'b1', 'the same backup: next tier on another provider');
      assert.equal(result.fallback?.skippedByHealth, true);
      assert.match(result.fallback?.explanation ?? '', /Automatic picked Model b1.*Next in line: Model b2/);
    }
  });

  it('a store whose checks fail counts as "nothing known", synchronous or not', async () => {
    const broken = new InMemoryHealth();
    broken.checkNow = () => {
      throw new Error('store down');
    };
    const rejecting = asyncOnly(new InMemoryHealth());
    rejecting.check = () => Promise.reject(new Error('store down'));
    for (const health of [broken, rejecting]) {
      const { run } = setup({ a1: fails('overloaded', { status: 529 }), b1: healthy('b') }, { health });
      const { result } = await run();
      assert.equal(result.status, 'complete');
      assert.equal(result.modelId, 'b1');
      assert.equal(result.fallback?.skippedByHealth, false);
    }
  });

  it('after the breaker opens, requests go straight to the backup without touching the primary', async () => {
    const health = new InMemoryHealth();
    const { run, client } = setup({ a1: fails('overloaded', { status: 529 }), b1: healthy('b') }, { health });
    for (let i = 0; i < 3; i++) await run();
    assert.equal(client.callsTo('a1').length, 3);
    const { result } = await run();
    assert.equal(client.callsTo('a1').length, 3, 'the open breaker spares the primary');
    assert.equal(result.modelId, 'b1');
    assert.equal(result.fallback?.skippedByHealth, true);
    assert.equal(result.fallback?.originalProviderId, 'a', 'the record still names the unavailable provider');
    assert.equal(result.fallback?.reason, 'overloaded');
  });

  it('None: an open breaker does not keep the member from reaching a recovered primary', async () => {
    const health = new InMemoryHealth();
    let down = true;
    const { run, client } = setup(
      { a1: () => (down ? fails('overloaded', { status: 529 }) : healthy('back again')) },
      { health },
    );
    const none = { catalog: catalog({ fallback: { mode: 'none' } }) };
    for (let i = 0; i < 3; i++) await run(none);
    assert.equal((await health.check({ providerId: 'a', modelId: 'a1' })).available, false, 'open');
    // With no backup to go to, skipping would fail the retry without asking anyone.
    down = false;
    const calls = client.callsTo('a1').length;
    const { result, text } = await run(none);
    assert.equal(client.callsTo('a1').length, calls + 1, 'the primary was asked');
    assert.deepEqual([result.status, result.modelId, text], ['complete', 'a1', 'back again']);
    assert.equal((await health.check({ providerId: 'a', modelId: 'a1' })).available, true, 'and closed');
  });

  it('None: a primary that asked to be left alone (Retry-After) is not asked again before then', async () => {
    const { run, client } = setup({ a1: fails('rate_limited', { status: 429, retryAfterMs: 20_000 }) });
    const none = { catalog: catalog({ fallback: { mode: 'none' } }) };
    await run(none);
    const { result } = await run(none);
    assert.equal(client.callsTo('a1').length, 1);
    assert.equal(result.error?.reason, 'rate_limited');
  });

  it('Specific: the backup is asked though health memory knows it down (always that model), unless rate limited', async () => {
    const health = new InMemoryHealth();
    for (let i = 0; i < 3; i++)
      await health.recordFailure(
        { providerId: 'c', modelId: 'c1' },
        { reason: 'unreachable', message: 'refused' },
      );
    const specific = { catalog: catalog({ fallback: { mode: 'specific', modelId: 'c1' } }) };
    const { run, client } = setup(
      { a1: fails('overloaded', { status: 529 }), c1: healthy('back again') },
      { health },
    );
    const { result } = await run(specific);
    assert.equal(client.callsTo('c1').length, 1, 'the only backup was asked');
    assert.deepEqual(
      [result.status, result.modelId, result.fallback?.backupModelId],
      ['complete', 'c1', 'c1'],
    );

    const limited = new InMemoryHealth();
    await limited.recordFailure(
      { providerId: 'c', modelId: 'c1' },
      { reason: 'rate_limited', message: '429', status: 429, retryAfterMs: 20_000 },
    );
    const second = setup({ a1: fails('overloaded', { status: 529 }), c1: healthy('x') }, { health: limited });
    const r2 = (await second.run(specific)).result;
    assert.equal(second.client.callsTo('c1').length, 0, 'a backup that asked to be left alone is not asked');
    assert.equal(r2.status, 'failed');
    assert.match(r2.error?.message ?? '', /known to be unavailable/);
  });

  it('None: a primary whose breaker opened on repeated 429s without a long Retry-After is still asked', async () => {
    const health = new InMemoryHealth();
    for (const retryAfterMs of [undefined, 1_000, undefined])
      await health.recordFailure(
        { providerId: 'a', modelId: 'a1' },
        { reason: 'rate_limited', message: '429', status: 429, ...(retryAfterMs && { retryAfterMs }) },
      );
    assert.equal((await health.check({ providerId: 'a', modelId: 'a1' })).available, false, 'open');
    const { run, client } = setup({ a1: healthy('not limited any more') }, { health });
    const { result } = await run({ catalog: catalog({ fallback: { mode: 'none' } }) });
    assert.equal(client.callsTo('a1').length, 1, 'it did not ask to be left alone');
    assert.equal(result.status, 'complete');
  });

  it('Automatic with every backup known down too: the primary is asked, not skipped', async () => {
    const health = new InMemoryHealth();
    const down = { reason: 'unreachable', message: 'refused' } as const;
    for (const [providerId, modelId] of [
      ['a', 'a1'],
      ['b', 'b1'],
      ['c', 'c1'],
    ] as const)
      for (let i = 0; i < 3; i++) await health.recordFailure({ providerId, modelId }, down);
    const { run, client } = setup({ a1: healthy('still here') }, { health });
    const { result } = await run();
    assert.equal(client.callsTo('a1').length, 1);
    assert.deepEqual([result.status, result.modelId, result.fallback], ['complete', 'a1', undefined]);
  });

  it('a Retry-After longer than 3 s opens the breaker at once', async () => {
    const health = new InMemoryHealth();
    const { run, client } = setup(
      { a1: fails('rate_limited', { status: 429, retryAfterMs: 20_000 }), b1: healthy('b') },
      { health },
    );
    await run();
    await run();
    assert.equal(client.callsTo('a1').length, 1);
  });

  it('after the cooldown one request probes; success closes the breaker', async () => {
    const health = new InMemoryHealth({ policy: { baseCooldownMs: 100 } });
    let down = true;
    const { run, client } = setup(
      { a1: () => (down ? fails('overloaded', { status: 529 }) : healthy('back')), b1: healthy('b') },
      { health },
    );
    for (let i = 0; i < 3; i++) await run();
    down = false;
    await new Promise((r) => setTimeout(r, 120));
    const probe = await run();
    assert.equal(probe.result.modelId, 'a1');
    assert.equal(probe.result.attempts[0]?.probe, true);
    const after = await run();
    assert.equal(after.result.modelId, 'a1');
    assert.equal(client.callsTo('a1').length, 5);
  });

  it('only one probe at a time: concurrent requests during the probe go to the backup', async () => {
    const health = new InMemoryHealth({ policy: { baseCooldownMs: 50 } });
    let calls = 0;
    const { engine, client } = setup(
      {
        a1: () =>
          ++calls <= 3
            ? fails('overloaded', { status: 529 })
            : [{ type: 'wait', ms: 200 }, ...healthy('probe ok')],
        b1: healthy('b'),
      },
      { health },
    );
    const go = () => collect(engine.answer({ catalog: catalog(), request: ask(), takeover: 'restart' }));
    for (let i = 0; i < 3; i++) await go();
    await new Promise((r) => setTimeout(r, 60));
    const results = await Promise.all([go(), go(), go(), go()]);
    assert.equal(client.callsTo('a1').length, 4, 'exactly one probe');
    assert.equal(results.filter((r) => r.result.modelId === 'a1').length, 1);
    assert.equal(results.filter((r) => r.result.modelId === 'b1').length, 3);
  });
});
