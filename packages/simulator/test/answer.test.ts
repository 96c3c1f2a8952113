import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTINUE_INSTRUCTION, expectedAnswer } from '../src/index.js';
import { remainderAfter, toChunks } from '../src/answer.js';
import { FaultStore } from '../src/faults.js';
import { parseModelName } from '../src/model-options.js';
import { planAnswer, type ChatRequest } from '../src/plan.js';

function request(messages: ChatRequest['messages'], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { requestedModel: 'm', stream: true, includeUsage: true, system: '', messages, tools: [], ...extra };
}

describe('expectedAnswer', () => {
  it('is deterministic, N words, capitalised, ending with a period', () => {
    const a = expectedAnswer('hello world', 10);
    assert.equal(a, expectedAnswer('hello world', 10));
    assert.equal(a.split(' ').length, 10);
    assert.match(a, /^[A-Z][a-z]+( [a-z]+)*\.$/);
    assert.notEqual(a, expectedAnswer('hello world!', 10));
    assert.equal(expectedAnswer('x'), expectedAnswer('x', 24));
    assert.equal(expectedAnswer('x', 24).split(' ').length, 24);
    assert.equal(expectedAnswer('x', 0), '');
  });

  it('shares its first words across lengths', () => {
    const short = expectedAnswer('p', 5).slice(0, -1).split(' ');
    const long = expectedAnswer('p', 30).split(' ');
    assert.deepEqual(short.slice(0, 4), long.slice(0, 4));
  });

  it('chunks into one word each that join back exactly', () => {
    const a = expectedAnswer('q', 7);
    const chunks = toChunks(a);
    assert.equal(chunks.length, 7);
    assert.equal(chunks.join(''), a);
    assert.ok(chunks.slice(0, -1).every((c) => c.endsWith(' ')));
  });
});

describe('remainderAfter', () => {
  const full = expectedAnswer('r', 6);
  const words = full.split(' ');

  it('continues a prefix, with or without its trailing space', () => {
    const given = words.slice(0, 2).join(' ');
    assert.equal(given + remainderAfter(full, given), full);
    assert.equal(`${given} ${remainderAfter(full, `${given} `)}`, full);
    assert.equal(remainderAfter(full, full), '');
    assert.equal(remainderAfter(full, ''), full);
  });

  it('continues after as many words when the text is not a prefix', () => {
    assert.equal(remainderAfter(full, 'Totally different'), ` ${words.slice(2).join(' ')}`);
  });
});

describe('planAnswer', () => {
  const prompt = 'Explain circuit breakers';
  const full = expectedAnswer(prompt, 24);

  it('counts input words and answers the last user message', () => {
    const plan = planAnswer(request([{ role: 'user', text: prompt }], { system: 'be brief' }), 24);
    assert.equal(plan.inputTokens, 5);
    assert.equal(plan.chunks.join(''), full);
    assert.equal(plan.finish, 'stop');
    assert.equal(plan.prefill, false);
  });

  it('answers only the remainder of an assistant prefill', () => {
    const partial = full.split(' ').slice(0, 5).join(' ');
    const plan = planAnswer(
      request([
        { role: 'user', text: prompt },
        { role: 'assistant', text: partial },
      ]),
      24,
    );
    assert.equal(plan.prefill, true);
    assert.equal(partial + plan.chunks.join(''), full);
  });

  it('answers the remainder after a continuation instruction', () => {
    const partial = full.split(' ').slice(0, 3).join(' ') + ' ';
    const plan = planAnswer(
      request([
        { role: 'user', text: prompt },
        { role: 'assistant', text: partial },
        { role: 'user', text: CONTINUE_INSTRUCTION },
      ]),
      24,
    );
    assert.equal(plan.continuation, true);
    assert.equal(plan.prompt, prompt);
    assert.equal(partial + plan.chunks.join(''), full);
  });

  it('caps at max tokens with finish length', () => {
    const plan = planAnswer(request([{ role: 'user', text: prompt }], { maxTokens: 3 }), 24);
    assert.equal(plan.chunks.length, 3);
    assert.equal(plan.finish, 'length');
  });

  it('calls the first tool for weather, but answers text after a tool result', () => {
    const ask = request([{ role: 'user', text: 'What is the weather in Paris?' }], {
      tools: ['get_weather', 'other'],
    });
    const plan = planAnswer(ask, 24);
    assert.equal(plan.finish, 'tool');
    assert.equal(plan.tool?.name, 'get_weather');
    assert.deepEqual(JSON.parse(plan.chunks.join('')), { city: 'Paris' });
    assert.ok(plan.chunks.length >= 2);
    const after = planAnswer(
      request([...ask.messages, { role: 'tool', text: '18C' }], { tools: ['get_weather'] }),
      24,
    );
    assert.equal(after.finish, 'stop');
    assert.equal(after.chunks.join(''), expectedAnswer('What is the weather in Paris?', 24));
  });
});

describe('parseModelName', () => {
  it('reads fault and pacing options', () => {
    const o = parseModelName('alpha+fault=stall_after+after=5+tokens=64+delay=20+retry_after=2+finish=0');
    assert.equal(o.base, 'alpha');
    assert.equal(o.tokens, 64);
    assert.equal(o.chunkDelayMs, 20);
    assert.deepEqual(o.rule, { fault: 'stall_after', after: 5, retryAfter: 2, withFinish: false });
    assert.deepEqual(parseModelName('beta+ctx=100').rule, { fault: 'context_length', contextWindow: 100 });
    assert.equal(parseModelName('plain').rule, undefined);
  });

  it('rejects unknown options and faults', () => {
    assert.throws(() => parseModelName('a+colour=red'), /unknown model option 'colour'/);
    assert.throws(() => parseModelName('a+fault=nope'), /unknown fault 'nope'/);
    assert.throws(() => parseModelName('a+after=x'), /not a number/);
  });
});

describe('FaultStore', () => {
  it('matches the most recent rule, by provider and model', () => {
    const store = new FaultStore();
    store.add({ fault: 'overloaded' }, 0);
    store.add({ fault: 'rate_limit', provider: 'p1' }, 0);
    store.add({ fault: 'server_error', model: 'm2' }, 0);
    assert.equal(store.take('p1', 'm1', 'm1', 1)?.fault, 'rate_limit');
    assert.equal(store.take('p1', 'm2', 'm2+tokens=3', 1)?.fault, 'server_error');
    assert.equal(store.take('p2', 'm1', 'm1', 1)?.fault, 'overloaded');
  });

  it('expires rules after `times` and `durationMs`', () => {
    const store = new FaultStore();
    store.add({ fault: 'reset', times: 2 }, 0);
    store.add({ fault: 'unavailable', durationMs: 100, provider: 'x' }, 0);
    assert.equal(store.take('y', 'm', 'm', 1)?.fault, 'reset');
    assert.equal(store.list(1).find((r) => r.fault === 'reset')?.times, 1);
    assert.equal(store.take('y', 'm', 'm', 1)?.fault, 'reset');
    assert.equal(store.take('y', 'm', 'm', 1), undefined);
    assert.equal(store.take('x', 'm', 'm', 99)?.fault, 'unavailable');
    assert.equal(store.take('x', 'm', 'm', 100), undefined);
    store.add({ fault: 'flap' }, 0);
    assert.equal(store.list(4999).length, 1);
    assert.equal(store.list(5000).length, 0);
  });

  it('rejects invalid rules with a readable message', () => {
    const store = new FaultStore();
    assert.throws(() => store.add({ fault: 'boom' }, 0), /fault/);
    assert.throws(() => store.add({ fault: 'reset', times: 0 }, 0), /times/);
    assert.throws(() => store.add({ fault: 'reset', extra: 1 }, 0), /invalid fault rule/);
    assert.throws(() => store.add({ fault: 'flap', down: 'flap' }, 0), /down/);
  });
});
