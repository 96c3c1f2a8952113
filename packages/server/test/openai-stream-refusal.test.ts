/**
 * A streamed refusal (OpenAI's structured-output `delta.refusal`) through a takeover: what a backup
 * writes to finish a cut refusal stays in the refusal field, so the client reads one refusal string;
 * after a restart the backup's answer is content again. The stream's writer alone, fed answer events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnswerEvent, AnswerResult, FallbackRecord, TakeoverMode } from '@understudy/engine';
import type { FastifyReply } from 'fastify';
import { ApiAnswers } from '../src/openai-api/in-flight.js';
// The module's own file: its index exposes only the routes.
import { streamCompletion } from '../src/openai-api/stream.js';

const takeover = (mode: TakeoverMode): FallbackRecord => ({
  originalModelId: 'primary',
  originalProviderId: 'p1',
  reason: 'interrupted',
  backupModelId: 'backup',
  backupProviderId: 'p2',
  mode,
  primaryFailure: { reason: 'interrupted', message: 'the stream broke' },
  skippedByHealth: false,
  explanation: 'the next best model',
});

const done = (text: string): AnswerEvent => {
  const result: AnswerResult = {
    status: 'complete',
    modelId: 'backup',
    providerId: 'p2',
    text,
    toolCalls: [],
    finishReason: 'stop',
    usage: { inputTokens: 1, outputTokens: 2, estimated: false },
    latencyMs: 1,
    malformedChunks: 0,
    attempts: [],
  };
  return { type: 'done', result };
};

/** The deltas a client reads from streaming `events`. */
async function deltas(events: AnswerEvent[]): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  // Only what streamCompletion uses of a reply: it hijacks it and writes to the raw response.
  const raw = {
    destroyed: false,
    writableNeedDrain: false,
    writeHead: () => raw,
    write: (s: string) => written.push(s),
    end: (s?: string) => void (s && written.push(s)),
  };
  const reply = { raw, hijack: () => undefined } as unknown as FastifyReply;
  async function* gen(): AsyncGenerator<AnswerEvent> {
    yield* events;
  }
  await streamCompletion(reply, gen(), {
    id: 'chatcmpl-test',
    created: 0,
    modelId: 'primary',
    providerId: 'p1',
    finish: () => undefined,
    answer: new ApiAnswers().begin(),
  });
  return written
    .join('')
    .split('\n\n')
    .filter((f) => f.startsWith('data: {'))
    .map((f) => JSON.parse(f.slice(6)) as { choices?: { delta: Record<string, unknown> }[] })
    .flatMap((c) => c.choices ?? [])
    .map((c) => c.delta)
    .filter((d) => 'content' in d || 'refusal' in d);
}

test('a backup continuing a cut refusal writes to the refusal field too', async () => {
  const got = await deltas([
    { type: 'text', text: "I'm sorry, but", refusal: true },
    { type: 'fallback', record: takeover('instruct') },
    // A backup continues the words in its own protocol, which has no refusal field.
    { type: 'text', text: " I can't help with that." },
    done("I'm sorry, but I can't help with that."),
  ]);
  assert.deepEqual(got, [
    { role: 'assistant', content: '' },
    { refusal: "I'm sorry, but" },
    { refusal: " I can't help with that." },
  ]);
});

test('after a restart takeover, the backup answer is content again', async () => {
  const got = await deltas([
    { type: 'text', text: "I'm sorry", refusal: true },
    { type: 'fallback', record: takeover('restart') },
    { type: 'text', text: '{"city":"Paris"}' },
    done('{"city":"Paris"}'),
  ]);
  assert.deepEqual(got, [
    { role: 'assistant', content: '' },
    { refusal: "I'm sorry" },
    { content: '{"city":"Paris"}' },
  ]);
});
