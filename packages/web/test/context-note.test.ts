/**
 * The note on an answer asked without the start of a long conversation (pure): its sentence names
 * how many earlier messages did not fit and the model first asked; a send's or retry's `start`
 * event brings the count while the answer is written, a reattaching one keeps the stored count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FallbackInfo, Message } from '../src/api/types.js';
import { apply, placeholder, TEMP_ASSISTANT } from '../src/chat/answerEvents.js';
import { contextNote } from '../src/chat/contextNote.js';

const LABELS: Record<string, string> = { 'sim-a-large': 'Sim A Large', 'sim-b-large': 'Sim B Large' };
const label = (id: string) => LABELS[id] ?? id;

const answer = (over: Partial<Message> = {}): Message => ({
  ...placeholder('m2', 'c1', 'assistant', 'Hello'),
  status: 'complete',
  model: 'sim-a-large',
  ...over,
});

test('the note says how many earlier messages did not fit the model’s window', () => {
  assert.equal(
    contextNote(answer({ contextLeftOut: 12 }), label),
    'Answered from the latest messages: 12 earlier ones did not fit the context window of Sim A Large.',
  );
  assert.equal(
    contextNote(answer({ contextLeftOut: 1 }), label),
    'Answered from the latest messages: 1 earlier one did not fit the context window of Sim A Large.',
  );
  assert.equal(
    contextNote(answer({ contextLeftOut: 1234, status: 'in_progress' }), label),
    'Answering from the latest messages: 1,234 earlier ones did not fit the context window of Sim A Large.',
  );
  assert.equal(
    contextNote(answer({ contextLeftOut: 3, status: 'failed' }), label),
    'Asked with the latest messages: 3 earlier ones did not fit the context window of Sim A Large.',
  );
});

test('no note when the whole conversation was sent', () => {
  assert.equal(contextNote(answer({ contextLeftOut: null }), label), null);
  assert.equal(contextNote(answer({ contextLeftOut: 0 }), label), null);
});

test('after a fallback the note names the model whose window decided, not the backup', () => {
  const fallback = { originalModel: 'sim-a-large', backupModel: 'sim-b-large' } as FallbackInfo;
  assert.match(
    contextNote(answer({ contextLeftOut: 4, model: 'sim-b-large', fallback }), label) ?? '',
    /did not fit the context window of Sim A Large/,
  );
});

test('start brings the count as the answer is written; a reattaching start keeps the stored one', () => {
  const [sent] = apply(
    [placeholder(TEMP_ASSISTANT, 'c1', 'assistant', '')],
    { type: 'start', assistantMessageId: 'm2', model: 'sim-a-large', contextLeftOut: 12 },
    TEMP_ASSISTANT,
  );
  assert.equal(sent?.contextLeftOut, 12);
  const [retried] = apply(
    [answer({ contextLeftOut: 12, content: '', status: 'in_progress' })],
    { type: 'start', assistantMessageId: 'm2', model: 'sim-a-large', contextLeftOut: null },
    'm2',
  );
  assert.equal(retried?.contextLeftOut, null, 'a retry that now fits has no note');
  const [resumed] = apply([answer({ contextLeftOut: 7 })], { type: 'start', assistantMessageId: 'm2' }, 'm2');
  assert.equal(resumed?.contextLeftOut, 7);
});
