/** Parser edge cases beyond the recorded fixtures: compatible-server quirks and odd shapes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProviderError, type ProviderEvent } from '@understudy/engine';
import { anthropicParser } from '../src/anthropic/index.js';
import { googleParser } from '../src/google/index.js';
import { openaiParser } from '../src/openai/index.js';
import { sseEvents } from '../src/run.js';
import type { ResponseParser } from '../src/protocol.js';
import { KEY } from './helpers.js';

function feed(parser: ResponseParser, chunks: unknown[]): ProviderEvent[] {
  return [
    ...chunks.flatMap((c) => parser.event({ data: typeof c === 'string' ? c : JSON.stringify(c) })),
    ...parser.end(),
  ];
}

const delta = (d: unknown, finish: string | null = null) => ({
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

test('openai: tool calls without an index are told apart by id; pieces without id continue the last', () => {
  const events = feed(openaiParser([KEY]), [
    delta({ tool_calls: [{ id: 'a', function: { name: 'f', arguments: '{"x":' } }] }),
    delta({ tool_calls: [{ function: { arguments: '1}' } }] }),
    delta({ tool_calls: [{ id: 'b', function: { name: 'g', arguments: '{}' } }] }),
    delta({}, 'tool_calls'),
  ]);
  assert.deepEqual(events, [
    { type: 'tool_call', index: 0, id: 'a', name: 'f', argumentsDelta: '{"x":' },
    { type: 'tool_call', index: 0, argumentsDelta: '1}' },
    { type: 'tool_call', index: 1, id: 'b', name: 'g', argumentsDelta: '{}' },
    { type: 'finish', reason: 'tool_calls' },
  ]);
});

test('openai: legacy function_call, Groq usage, refusal text, unknown finish words, [DONE] stops', () => {
  const parser = openaiParser([KEY]);
  const events = feed(parser, [
    delta({ function_call: { name: 'f', arguments: '' } }),
    delta({ function_call: { arguments: '{}' } }),
    delta({ refusal: 'I cannot.' }),
    { ...delta({}, 'function_call'), x_groq: { usage: { prompt_tokens: 3, completion_tokens: 2 } } },
    '[DONE]',
    delta({ content: 'after the end' }),
  ]);
  assert.deepEqual(events, [
    { type: 'tool_call', index: 0, name: 'f', argumentsDelta: '' },
    { type: 'tool_call', index: 0, argumentsDelta: '{}' },
    { type: 'text', text: 'I cannot.', refusal: true },
    { type: 'finish', reason: 'tool_calls' },
    { type: 'usage', inputTokens: 3, outputTokens: 2 },
  ]);
  assert.equal(parser.done, true);
  assert.deepEqual(feed(openaiParser([]), [delta({}, 'eos')]), [{ type: 'finish', reason: 'stop' }]);
});

test('openai: an `event: error` with plain text data, and JSON that is not an object', () => {
  const parser = openaiParser([KEY]);
  assert.throws(
    () => parser.event({ event: 'error', data: `upstream failed for ${KEY}` }),
    (e: unknown) => e instanceof ProviderError && e.reason === 'provider_error' && !e.message.includes(KEY),
  );
  assert.equal(openaiParser([]).event({ data: '42' })[0]?.type, 'malformed');
});

test('anthropic: unknown events ignored; a final input count in message_delta wins', () => {
  const events = feed(anthropicParser([KEY]), [
    { type: 'message_start', message: { usage: { input_tokens: 10, output_tokens: 1 } } },
    { type: 'some_future_event', whatever: true },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: 'Hi' } },
    {
      type: 'message_delta',
      delta: { stop_reason: 'stop_sequence' },
      usage: { input_tokens: 12, output_tokens: 5 },
    },
  ]);
  assert.deepEqual(events, [
    { type: 'text', text: 'Hi' },
    { type: 'usage', inputTokens: 12, outputTokens: 5 },
    { type: 'finish', reason: 'stop' },
  ]);
});

test('google: usage that changes after the finish chunk is reported again at the end', () => {
  const events = feed(googleParser([KEY]), [
    {
      candidates: [{ content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1 },
    },
    { usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2 } },
  ]);
  assert.deepEqual(events, [
    { type: 'text', text: 'a' },
    { type: 'usage', inputTokens: 4, outputTokens: 1 },
    { type: 'finish', reason: 'stop' },
    { type: 'usage', inputTokens: 4, outputTokens: 2 },
  ]);
});

test('the driver merges the text deltas of one network read, and passes each read on as it arrives', async () => {
  const line = (text: string) => `data: ${JSON.stringify(delta({ content: text }))}\n\n`;
  const utf8 = new TextEncoder();
  // The second read is held back until the test lets it go.
  let asked = false;
  let release: () => void = () => {};
  async function* reads(): AsyncGenerator<Uint8Array> {
    yield utf8.encode(line('Hel') + line('lo') + line(','));
    asked = true;
    await new Promise<void>((r) => (release = r));
    yield utf8.encode(line(' world') + `data: ${JSON.stringify(delta({}, 'stop'))}\n\ndata: [DONE]\n\n`);
  }
  const it = sseEvents(openaiParser([KEY]), reads(), 1024)[Symbol.asyncIterator]();
  // The first read's text comes out whole, before the second read was even asked for.
  assert.deepEqual((await it.next()).value, { type: 'text', text: 'Hello,' });
  assert.equal(asked, false);
  const second = it.next();
  await new Promise((r) => setImmediate(r));
  assert.equal(asked, true);
  release();
  const rest: ProviderEvent[] = [];
  for (let r = await second; !r.done; r = await it.next()) rest.push(r.value);
  assert.deepEqual(rest, [
    { type: 'text', text: ' world' },
    { type: 'finish', reason: 'stop' },
  ]);
});

test('the driver passes on the text of a read before the error event that ends it', async () => {
  const utf8 = new TextEncoder();
  async function* reads(): AsyncGenerator<Uint8Array> {
    yield utf8.encode(
      `data: ${JSON.stringify(delta({ content: 'partial' }))}\n\n` +
        `data: ${JSON.stringify({ error: { message: 'boom', type: 'server_error' } })}\n\n`,
    );
  }
  const got: ProviderEvent[] = [];
  await assert.rejects(async () => {
    for await (const ev of sseEvents(openaiParser([KEY]), reads(), 1024)) got.push(ev);
  }, ProviderError);
  assert.deepEqual(got, [{ type: 'text', text: 'partial' }]);
});
