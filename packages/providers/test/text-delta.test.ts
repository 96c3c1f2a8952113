/**
 * The OpenAI text-delta fast path must never change what the parser says: for any chunk, the
 * events are those of the general path (JSON.parse). The oracle is the same parser fed the same
 * data behind one leading space, which JSON.parse ignores and the fast path always declines.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProviderEvent } from '@understudy/engine';
import { openaiParser } from '../src/openai/index.js';
import { textDelta } from '../src/openai/text-delta.js';

/** The parser's events for one chunk, or the error it threw; malformed details are not compared. */
function outcome(data: string): ProviderEvent[] | string {
  try {
    return openaiParser([])
      .event({ data })
      .map((e) => (e.type === 'malformed' ? { ...e, detail: '' } : e));
  } catch (e) {
    return `threw ${(e as Error).message}`;
  }
}

function assertSameAsGeneral(data: string): void {
  assert.deepEqual(outcome(data), outcome(` ${data}`), data);
}

const OPENAI_CHUNK =
  '{"id":"chatcmpl-C1x","object":"chat.completion.chunk","created":1764800000,"model":"gpt-4o-2024-08-06",' +
  '"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":' +
  '{"content":" Hello"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"q1w2"}';

test('text-delta: takes the chunks OpenAI and the simulator send, with escapes decoded', () => {
  assert.equal(textDelta(OPENAI_CHUNK), ' Hello');
  const first = JSON.stringify({
    id: 'x',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    system_fingerprint: null,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  });
  assert.equal(textDelta(first), '');
  const tricky = 'quote " backslash \\ newline \n tab \t \u0001 é 🎉 \u2028 </script>';
  const chunk = JSON.stringify({
    choices: [{ index: 0, delta: { content: tricky }, logprobs: null, finish_reason: null }],
  });
  assert.equal(textDelta(chunk), tricky);
  assert.deepEqual(openaiParser([]).event({ data: chunk }), [{ type: 'text', text: tricky }]);
  assert.deepEqual(openaiParser([]).event({ data: first }), []);
});

test('text-delta: declines every chunk that carries more than text, or is not plain JSON', () => {
  const c = (choice: string, extra = '') => `{"id":"x"${extra},"choices":[${choice}]}`;
  const plain = '{"index":0,"delta":{"content":"a"},"logprobs":null,"finish_reason":null}';
  assert.equal(textDelta(c(plain)), 'a');
  const declined = [
    c(plain.replace('null}', '"stop"}')), // a finish reason
    c(plain, ',"usage":{"prompt_tokens":1,"completion_tokens":1}'),
    c(plain, ',"error":null'),
    c(plain, ',"x_groq":{"id":"q"}'),
    c(`${plain},${plain.replace('"index":0', '"index":1')}`), // two choices
    c(plain.replace('"index":0', '"index":1')),
    c(plain.replace('{"content":"a"}', '{"content":"a","refusal":null}')),
    c(plain.replace('{"content":"a"}', '{"content":"a","tool_calls":[]}')),
    c(plain.replace('"logprobs":null', '"logprobs":{"content":[]}')),
    c(plain).replace('"id":"x"', '"id": "x"'), // whitespace
    c(plain.replace('"a"', '"a\u0001"')), // a raw control character: not JSON
    c(plain.replace('"a"', '"a\\x"')), // a bad escape: not JSON
    `${c(plain)}x`,
    c(plain).slice(0, -1),
    c(plain, ',"choices":[]'), // a second choices: JSON.parse keeps the last
  ];
  for (const data of declined) {
    assert.equal(textDelta(data), undefined, data);
    assertSameAsGeneral(data);
  }
});

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('text-delta: 20,000 generated chunks give the same events as the general path', () => {
  const rnd = random(20261203);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const pieces = [
    'a',
    ' ',
    '"',
    '\\',
    '\n',
    '\u0000',
    '\u001f',
    'é',
    '🎉',
    '\ud800',
    '\u2028',
    '{',
    '}',
    ',',
    ':',
  ];
  const text = () => Array.from({ length: Math.floor(rnd() * 6) }, () => pick(pieces)).join('');
  const scalar = () => pick<unknown>([text(), 0, -1.5e3, null, true, false, 42]);
  const keys = [
    'id',
    'object',
    'created',
    'model',
    'system_fingerprint',
    'usage',
    'error',
    'x_groq',
    'obfuscation',
  ];
  let fast = 0;
  for (let i = 0; i < 20_000; i++) {
    const delta: Record<string, unknown> = {};
    if (rnd() < 0.3) delta.role = pick(['assistant', 'user']);
    if (rnd() < 0.9) delta.content = pick<unknown>([text(), text(), null, 3]);
    if (rnd() < 0.1) delta.refusal = text();
    const choice: Record<string, unknown> = { index: pick([0, 0, 0, 1]), delta };
    if (rnd() < 0.9) choice.logprobs = null;
    choice.finish_reason = pick([null, null, null, 'stop', 'length']);
    const root: Record<string, unknown> = {};
    const extras = Array.from({ length: Math.floor(rnd() * 4) }, () => pick(keys));
    const at = Math.floor(rnd() * (extras.length + 1));
    extras.forEach((k, j) => {
      if (j === at) root.choices = [choice];
      root[k] = rnd() < 0.1 ? { prompt_tokens: 1, completion_tokens: 2 } : scalar();
    });
    if (!('choices' in root)) root.choices = rnd() < 0.05 ? [choice, choice] : [choice];
    let data = JSON.stringify(root);
    // Now and then damage it the way a broken server might.
    const damage = rnd();
    if (damage < 0.05) data = data.slice(0, Math.floor(rnd() * data.length));
    else if (damage < 0.1) data = data.replace('\\n', '\n');
    else if (damage < 0.15) data = data.replace('\\"', '\\q');
    if (textDelta(data) !== undefined) fast++;
    assertSameAsGeneral(data);
  }
  // The generator must exercise the fast path a good deal, not only the general one.
  assert.ok(fast > 1_000, `only ${fast} chunks took the fast path`);
});
