/** Canonical request → Gemini: roles, systemInstruction, generationConfig, tools, images. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGoogleRequest, geminiSchema } from '../src/google/index.js';
import { KEY, model, provider } from './helpers.js';

const target = (upstreamModel = 'gemini-2.5-flash') => ({
  provider: provider('google', 'https://generativelanguage.googleapis.com/'),
  model: model({ upstreamModel }),
});

test('URL with alt=sse, key header (never in the URL), system and generation config', () => {
  const call = buildGoogleRequest(target('models/gemini-2.5-flash'), {
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ],
    maxTokens: 100,
    temperature: 0.5,
  });
  assert.equal(
    call.url,
    'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
  );
  assert.ok(!call.url.includes(KEY));
  assert.equal(call.headers['x-goog-api-key'], KEY);
  assert.deepEqual(call.body, {
    contents: [
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello' }] },
    ],
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    generationConfig: { maxOutputTokens: 100, temperature: 0.5 },
  });
  const bare = buildGoogleRequest(target(), { messages: [{ role: 'user', content: 'Hi' }] }).body as Record<
    string,
    unknown
  >;
  assert.equal(bare.generationConfig, undefined);
  assert.equal(bare.systemInstruction, undefined);
});

test('function calls and responses (named from the call), merged turns, images, tools', () => {
  const body = buildGoogleRequest(target(), {
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather here?' },
          { type: 'image', mediaType: 'image/png', data: 'AAAA' },
          { type: 'image', mediaType: 'image/jpeg', url: 'https://example.com/a.jpg' },
          { type: 'image', mediaType: 'image/png', url: 'data:image/png;base64,QUJD' },
        ],
      },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'call_0', name: 'weather', arguments: '{"city":"Zürich"}' },
          { id: 'call_1', name: 'time', arguments: '{}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_0', content: '{"tempC":12}' },
      { role: 'tool', toolCallId: 'call_1', content: '10:00' },
    ],
    tools: [
      {
        name: 'weather',
        description: 'Weather',
        parameters: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: { city: { type: 'string' } },
          additionalProperties: false,
        },
      },
    ],
  }).body as Record<string, unknown>;
  assert.deepEqual(body.contents, [
    {
      role: 'user',
      parts: [
        { text: 'Weather here?' },
        { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
        { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/a.jpg' } },
        { inlineData: { mimeType: 'image/png', data: 'QUJD' } },
      ],
    },
    {
      role: 'model',
      parts: [
        { functionCall: { name: 'weather', args: { city: 'Zürich' } } },
        { functionCall: { name: 'time', args: {} } },
      ],
    },
    {
      role: 'user',
      parts: [
        { functionResponse: { name: 'weather', response: { tempC: 12 } } },
        { functionResponse: { name: 'time', response: { result: '10:00' } } },
      ],
    },
  ]);
  assert.deepEqual(body.tools, [
    {
      functionDeclarations: [
        {
          name: 'weather',
          description: 'Weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    },
  ]);
});

test('geminiSchema strips unsupported keywords at every depth and leaves the rest', () => {
  assert.deepEqual(
    geminiSchema({
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: { a: { $comment: 'x', type: 'string' } },
      },
    }),
    { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } } },
  );
});
