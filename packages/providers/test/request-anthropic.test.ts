/** Canonical request → Anthropic Messages: system, alternation, tools, images, prefill. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatRequest, ProviderEvent } from '@understudy/engine';
import { PrefillJoiner, anthropicParser, buildAnthropicRequest } from '../src/anthropic/index.js';
import { KEY, model, provider } from './helpers.js';

const target = (extra = {}) => ({
  provider: provider('anthropic', 'https://api.anthropic.com/'),
  model: model({ upstreamModel: 'claude-sonnet-4-5', ...extra }),
});

test('URL, headers, system joined, max_tokens defaults', () => {
  const { http } = buildAnthropicRequest(target(), {
    messages: [
      { role: 'system', content: 'You are Sam.' },
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ],
  });
  assert.equal(http.url, 'https://api.anthropic.com/v1/messages');
  assert.equal(http.headers['x-api-key'], KEY);
  assert.equal(http.headers['anthropic-version'], '2023-06-01');
  assert.equal(http.headers.authorization, undefined);
  assert.deepEqual(http.body, {
    model: 'claude-sonnet-4-5',
    max_tokens: 4096,
    stream: true,
    system: 'You are Sam.\n\nBe brief.',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  });
  const withModelMax = buildAnthropicRequest(target({ maxOutputTokens: 64000 }), { messages: [] }).http.body;
  assert.equal((withModelMax as Record<string, unknown>).max_tokens, 64000);
  const withRequestMax = buildAnthropicRequest(target({ maxOutputTokens: 64000 }), {
    messages: [],
    maxTokens: 1,
  });
  assert.equal((withRequestMax.http.body as Record<string, unknown>).max_tokens, 1);
});

test('roles alternate: same-role turns merge, tool results become a user turn first, tool_use blocks', () => {
  const request: ChatRequest = {
    messages: [
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'Weather in Zürich' },
      { role: 'user', content: [{ type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
      {
        role: 'assistant',
        content: 'Checking.',
        toolCalls: [
          { id: 'toolu_1', name: 'weather', arguments: '{"city":"Zürich"}' },
          { id: 'toolu_2', name: 'time', arguments: '' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: '12°C' },
      { role: 'tool', toolCallId: 'toolu_2', content: '10:00' },
      { role: 'user', content: 'And tomorrow?' },
      { role: 'user', content: '' },
    ],
    tools: [{ name: 'weather', parameters: { type: 'object' } }],
    temperature: 0,
  };
  const body = buildAnthropicRequest(target(), request).http.body as Record<string, unknown>;
  assert.deepEqual(body.messages, [
    // A conversation must start with the user: a minimal stand-in turn comes first.
    { role: 'user', content: [{ type: 'text', text: '…' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Hello! How can I help?' }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Weather in Zürich' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Zürich' } },
        { type: 'tool_use', id: 'toolu_2', name: 'time', input: {} },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: '12°C' },
        { type: 'tool_result', tool_use_id: 'toolu_2', content: '10:00' },
        { type: 'text', text: 'And tomorrow?' },
      ],
    },
  ]);
  assert.deepEqual(body.tools, [{ name: 'weather', input_schema: { type: 'object' } }]);
  assert.equal(body.temperature, 0);
});

test('image URLs: http as url source, data URLs as base64', () => {
  const body = buildAnthropicRequest(target(), {
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image', mediaType: 'image/jpeg', url: 'https://example.com/a.jpg' },
          { type: 'image', mediaType: 'image/png', url: 'data:image/png;base64,QUJD' },
        ],
      },
    ],
  }).http.body as { messages: { content: unknown[] }[] };
  assert.deepEqual(body.messages[0]?.content, [
    { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'QUJD' } },
  ]);
});

test('prefill: trailing whitespace is trimmed for Anthropic and owed back to the output', () => {
  const call = buildAnthropicRequest(target(), {
    messages: [
      { role: 'user', content: 'Write to Sam' },
      { role: 'assistant', content: 'Dear Sam,\n\n' },
    ],
  });
  const body = call.http.body as { messages: { role: string; content: unknown }[] };
  assert.deepEqual(body.messages.at(-1), {
    role: 'assistant',
    content: [{ type: 'text', text: 'Dear Sam,' }],
  });
  assert.equal(call.trimmedPrefill, '\n\n');
  // A whitespace-only prefill is dropped entirely (Anthropic rejects empty text).
  const blank = buildAnthropicRequest(target(), {
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '  ' },
    ],
  });
  assert.equal((blank.http.body as { messages: unknown[] }).messages.length, 1);
  assert.equal(blank.trimmedPrefill, '  ');
});

test('prefill joiner: the re-created whitespace is dropped once, across deltas; other output kept', () => {
  const j = (owed: string, parts: string[]) => {
    const p = new PrefillJoiner(owed);
    return parts.map((t) => p.take(t));
  };
  // The engine holds "Dear Sam,\n\n"; the model continues from "Dear Sam," with "\n\nThanks".
  assert.deepEqual(j('\n\n', ['\n', '\nThanks', ' you']), ['', 'Thanks', ' you']);
  assert.equal(j('\n\n', ['\n\nThanks'])[0], 'Thanks');
  // The model starts with a word: nothing is dropped; the engine's whitespace stays in between.
  assert.deepEqual(j(' ', ['Thanks', ' you']), ['Thanks', ' you']);
  // More whitespace than was trimmed: the surplus is the model's, kept.
  assert.deepEqual(j(' ', ['  x']), [' x']);
  // Different whitespace: kept as the model wrote it.
  assert.deepEqual(j(' ', ['\nx']), ['\nx']);
  assert.deepEqual(j('', [' x']), [' x']);
});

test('prefill joiner wired into the parser: yielded text continues the original prefill', () => {
  const parser = anthropicParser([KEY], ' ');
  const ev = (t: string) => ({
    data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }),
  });
  const out: ProviderEvent[] = [...parser.event(ev(' ')), ...parser.event(ev(' world'))];
  assert.deepEqual(out, [{ type: 'text', text: ' world' }]);
});
