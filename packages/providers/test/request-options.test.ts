/**
 * The request options beyond messages, tools and temperature, in each protocol's own words: stop
 * sequences, top_p, seed, JSON mode and the tool choice. Where a protocol has no such option the
 * request says so by leaving it out (Anthropic has no seed) or asks in words (Anthropic's JSON).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Capability, ChatRequest } from '@understudy/engine';
import { buildAnthropicRequest } from '../src/anthropic/index.js';
import { buildGoogleRequest } from '../src/google/index.js';
import { buildOpenAIRequest } from '../src/openai/index.js';
import { model, provider } from './helpers.js';

const base: ChatRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather?' },
  ],
  tools: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }],
  topP: 0.5,
  stop: ['END', '###'],
  seed: 7,
  json: true,
};
const openai = (r: ChatRequest) =>
  buildOpenAIRequest({ provider: provider('openai', 'https://api.openai.com/v1'), model: model() }, r)
    .body as Record<string, unknown>;
const anthropic = (r: ChatRequest) =>
  buildAnthropicRequest({ provider: provider('anthropic', 'https://api.anthropic.com'), model: model() }, r)
    .http.body as Record<string, unknown>;
const google = (r: ChatRequest) =>
  buildGoogleRequest(
    { provider: provider('google', 'https://generativelanguage.googleapis.com'), model: model() },
    r,
  ).body as Record<string, unknown>;

test('OpenAI: stop, top_p, seed, response_format json_object and tool_choice as they are', () => {
  const b = openai({ ...base, toolChoice: { name: 'get_weather' } });
  assert.deepEqual(
    [b.stop, b.top_p, b.seed, b.response_format, b.tool_choice],
    [
      ['END', '###'],
      0.5,
      7,
      { type: 'json_object' },
      { type: 'function', function: { name: 'get_weather' } },
    ],
  );
  assert.equal(openai({ ...base, toolChoice: 'required' }).tool_choice, 'required');
  assert.equal(openai({ ...base, toolChoice: 'auto' }).tool_choice, undefined, 'the default is not sent');
  // A tool's strict flag goes as given; none is sent when none was given.
  assert.deepEqual(openai({ ...base, tools: [{ ...base.tools![0]!, strict: true }] }).tools, [
    {
      type: 'function',
      function: { name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: true },
    },
  ]);
  assert.equal(
    (openai(base).tools as { function: Record<string, unknown> }[])[0]!.function.strict,
    undefined,
  );
  const plain = openai({ messages: base.messages });
  for (const k of ['stop', 'top_p', 'seed', 'response_format', 'tool_choice'])
    assert.equal(plain[k], undefined, k);
});

test('Anthropic: stop_sequences, top_p, tool_choice any/tool; JSON asked in the system prompt; no seed', () => {
  const b = anthropic({ ...base, toolChoice: 'required' });
  assert.deepEqual(
    [b.stop_sequences, b.top_p, b.tool_choice, b.seed],
    [['END', '###'], 0.5, { type: 'any' }, undefined],
  );
  assert.match(String(b.system), /^Be brief\.\n\nRespond with one valid JSON object only/);
  assert.deepEqual(anthropic({ ...base, toolChoice: { name: 'get_weather' } }).tool_choice, {
    type: 'tool',
    name: 'get_weather',
  });
  // "none" has no tool_choice of its own here: the tools are not offered.
  assert.equal(anthropic({ ...base, toolChoice: 'none' }).tools, undefined);
  assert.equal(anthropic({ messages: base.messages }).system, 'Be brief.');
});

test('Gemini: generationConfig stopSequences, topP, seed, responseMimeType; toolConfig modes', () => {
  const b = google({ ...base, toolChoice: { name: 'get_weather' } });
  assert.deepEqual(b.generationConfig, {
    topP: 0.5,
    stopSequences: ['END', '###'],
    seed: 7,
    responseMimeType: 'application/json',
  });
  assert.deepEqual(b.toolConfig, {
    functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
  });
  assert.deepEqual(google({ ...base, toolChoice: 'none' }).toolConfig, {
    functionCallingConfig: { mode: 'NONE' },
  });
  assert.equal(google({ ...base, toolChoice: 'auto' }).toolConfig, undefined);
});

test("json_schema: OpenAI's response_format as given, Gemini's responseJsonSchema, Anthropic's schema in words", () => {
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  };
  const r: ChatRequest = {
    messages: base.messages,
    jsonSchema: { name: 'place', description: 'A place', schema, strict: true },
  };
  assert.deepEqual(openai(r).response_format, {
    type: 'json_schema',
    json_schema: { name: 'place', description: 'A place', schema, strict: true },
  });
  // It takes precedence over JSON mode, and what is not given is not sent.
  assert.deepEqual(openai({ ...r, json: true, jsonSchema: { name: 'any' } }).response_format, {
    type: 'json_schema',
    json_schema: { name: 'any' },
  });
  const { $schema: _dialect, ...withoutDialect } = schema;
  assert.deepEqual(google(r).generationConfig, {
    responseMimeType: 'application/json',
    responseJsonSchema: withoutDialect,
  });
  assert.deepEqual(google({ ...r, jsonSchema: { name: 'any' } }).generationConfig, {
    responseMimeType: 'application/json',
  });
  const system = String(anthropic(r).system);
  assert.match(system, /^Be brief\.\n\nRespond with one valid JSON object only: no prose, no code fences\. /);
  assert.equal(
    system.split('\n').at(-1)?.split('It must match this JSON Schema: ')[1],
    JSON.stringify(schema),
  );
  assert.match(
    String(anthropic({ ...r, jsonSchema: { name: 'any' } }).system),
    /Respond with one valid JSON object only: no prose, no code fences\.$/,
  );
});

test('Anthropic: temperature within its 0..1, and never beside top_p, which its newer models refuse', () => {
  const sampling = (r: Partial<ChatRequest>) => {
    const b = anthropic({ ...base, ...r });
    return [b.temperature, b.top_p];
  };
  assert.deepEqual(sampling({ temperature: 1.5, topP: 0.9 }), [1, undefined]);
  assert.deepEqual(sampling({ temperature: 0.3 }), [0.3, undefined]);
  assert.deepEqual(sampling({ topP: 0.9 }), [undefined, 0.9]);
});

test('Anthropic: a stop sequence of whitespace alone, which it refuses, is left to the engine', () => {
  assert.deepEqual(anthropic({ ...base, stop: ['\n', 'END', ' \t'] }).stop_sequences, ['END']);
  assert.equal(anthropic({ ...base, stop: ['\n\n'] }).stop_sequences, undefined);
});

test('parallel_tool_calls false: as is to OpenAI, disable_parallel_tool_use to Anthropic', () => {
  const one = { ...base, parallelToolCalls: false };
  assert.equal(openai(one).parallel_tool_calls, false);
  assert.equal(
    openai({ ...base, parallelToolCalls: true }).parallel_tool_calls,
    undefined,
    'the default is not sent',
  );
  assert.equal(openai(base).parallel_tool_calls, undefined);
  // OpenAI's reasoning models refuse it.
  const o3 = buildOpenAIRequest(
    {
      provider: provider('openai', 'https://api.openai.com/v1'),
      model: model({ capabilities: ['reasoning'] }),
    },
    one,
  ).body as Record<string, unknown>;
  assert.equal(o3.parallel_tool_calls, undefined);
  assert.deepEqual(anthropic(one).tool_choice, { type: 'auto', disable_parallel_tool_use: true });
  assert.deepEqual(anthropic({ ...one, toolChoice: 'required' }).tool_choice, {
    type: 'any',
    disable_parallel_tool_use: true,
  });
  assert.deepEqual(anthropic({ ...one, toolChoice: { name: 'get_weather' } }).tool_choice, {
    type: 'tool',
    name: 'get_weather',
    disable_parallel_tool_use: true,
  });
  assert.equal(anthropic(base).tool_choice, undefined);
});

test('Gemini: a tool that takes nothing is declared without parameters, which it refuses empty', () => {
  const decls = (parameters: Record<string, unknown>) =>
    (
      google({ ...base, tools: [{ name: 'now', parameters }] }).tools as { functionDeclarations: unknown[] }[]
    )[0]!.functionDeclarations;
  assert.deepEqual(decls({ type: 'object', properties: {} }), [{ name: 'now' }]);
  assert.deepEqual(decls({ type: 'object' }), [{ name: 'now' }]);
  assert.deepEqual(decls({ type: 'object', properties: { tz: { type: 'string' } } }), [
    { name: 'now', parameters: { type: 'object', properties: { tz: { type: 'string' } } } },
  ]);
});

test("OpenAI's reasoning models: no sampling parameters or stop, max_completion_tokens, reasoning_effort", () => {
  const r: ChatRequest = { ...base, temperature: 0.2, maxTokens: 100, reasoningEffort: 'high' };
  const body = (type: 'openai' | 'azure-openai' | 'openai-compatible', capabilities: Capability[]) =>
    buildOpenAIRequest(
      { provider: provider(type, 'https://example.test/v1'), model: model({ capabilities }) },
      r,
    ).body as Record<string, unknown>;
  const sent = (b: Record<string, unknown>) =>
    [
      'temperature',
      'top_p',
      'stop',
      'max_tokens',
      'max_completion_tokens',
      'reasoning_effort',
      'seed',
    ].filter((k) => b[k] !== undefined);
  // o3 on OpenAI or Azure refuses temperature, top_p and stop (400): left out; the effort is asked.
  for (const type of ['openai', 'azure-openai'] as const)
    assert.deepEqual(
      sent(body(type, ['reasoning'])),
      ['max_completion_tokens', 'reasoning_effort', 'seed'],
      type,
    );
  assert.equal(body('openai', ['reasoning']).reasoning_effort, 'high');
  // A model that does not reason is never asked for an effort, which OpenAI refuses.
  assert.deepEqual(sent(body('openai', [])), [
    'temperature',
    'top_p',
    'stop',
    'max_completion_tokens',
    'seed',
  ]);
  assert.deepEqual(sent(body('azure-openai', [])), ['temperature', 'top_p', 'stop', 'max_tokens', 'seed']);
  // A compatible server's reasoning model (DeepSeek R1 on vLLM …) takes its sampling parameters.
  assert.deepEqual(sent(body('openai-compatible', ['reasoning'])), [
    'temperature',
    'top_p',
    'stop',
    'max_tokens',
    'reasoning_effort',
    'seed',
  ]);
});
