/** Canonical request → OpenAI Chat Completions, Azure and OpenAI-compatible servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatRequest } from '@understudy/engine';
import { buildOpenAIRequest } from '../src/openai/index.js';
import { KEY, model, provider } from './helpers.js';

const conversation: ChatRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
        { type: 'image', mediaType: 'image/jpeg', url: 'https://example.com/cat.jpg' },
      ],
    },
    {
      role: 'assistant',
      content: '',
      toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"cat"}' }],
    },
    { role: 'tool', toolCallId: 'call_1', content: '{"answer":"a cat"}' },
    { role: 'assistant', content: 'It is a ' },
  ],
  tools: [{ name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: {} } }],
  maxTokens: 256,
  temperature: 0.3,
};

test('openai: URL, Bearer auth, streaming with usage, max_completion_tokens, tools, images, prefill', () => {
  const call = buildOpenAIRequest(
    { provider: provider('openai', 'https://api.openai.com/v1/'), model: model({ upstreamModel: 'gpt-4o' }) },
    conversation,
  );
  assert.equal(call.url, 'https://api.openai.com/v1/chat/completions');
  assert.equal(call.headers.authorization, `Bearer ${KEY}`);
  assert.equal(call.headers['content-type'], 'application/json');
  assert.deepEqual(call.body, {
    model: 'gpt-4o',
    stream: true,
    stream_options: { include_usage: true },
    max_completion_tokens: 256,
    temperature: 0.3,
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"answer":"a cat"}' },
      // The final assistant message goes as-is: servers that support it continue it.
      { role: 'assistant', content: 'It is a ' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'lookup',
          description: 'Looks things up',
          parameters: { type: 'object', properties: {} },
        },
      },
    ],
  });
});

test('openai-compatible: max_tokens, no Authorization without a key, extra headers kept', () => {
  const call = buildOpenAIRequest(
    {
      provider: provider('openai-compatible', 'http://localhost:11434/v1', {
        apiKey: undefined,
        headers: { 'x-team': 'a' },
      }),
      model: model({ upstreamModel: 'llama3.1:8b' }),
    },
    { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 5 },
  );
  assert.equal(call.url, 'http://localhost:11434/v1/chat/completions');
  assert.equal(call.headers.authorization, undefined);
  assert.equal(call.headers['x-team'], 'a');
  const body = call.body as Record<string, unknown>;
  assert.equal(body.max_tokens, 5);
  assert.equal(body.max_completion_tokens, undefined);
  assert.deepEqual(body.messages, [{ role: 'user', content: 'Hi' }]);
  assert.equal(body.tools, undefined);
  assert.equal(body.temperature, undefined);
});

test('azure-openai: deployment URL, api-version (default and configured), api-key header, no Bearer', () => {
  const target = (apiVersion?: string) => ({
    provider: provider('azure-openai', 'https://acme.openai.azure.com/', apiVersion ? { apiVersion } : {}),
    model: model({ upstreamModel: 'gpt4o-prod' }),
  });
  const call = buildOpenAIRequest(target(), { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 9 });
  assert.equal(
    call.url,
    'https://acme.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
  );
  assert.equal(call.headers['api-key'], KEY);
  assert.equal(call.headers.authorization, undefined);
  assert.equal((call.body as Record<string, unknown>).max_tokens, 9);
  assert.match(
    buildOpenAIRequest(target('2025-01-01-preview'), { messages: [] }).url,
    /api-version=2025-01-01-preview$/,
  );
});

test('configured headers never override the key header', () => {
  const call = buildOpenAIRequest(
    {
      provider: provider('openai', 'https://x/v1', {
        headers: { Authorization: 'Bearer other', 'OpenAI-Organization': 'org-1' },
      }),
      model: model(),
    },
    { messages: [] },
  );
  assert.equal(call.headers.authorization, `Bearer ${KEY}`);
  assert.equal(call.headers.Authorization, undefined);
  assert.equal(call.headers['OpenAI-Organization'], 'org-1');
});
