/**
 * How an answer's events change the message list (pure): a send's `start` names its optimistic
 * messages and the model; a retried answer, cleared for its new attempt, is named by the model
 * the retry's `start` gives, as a send's is; a reattaching `start` (no model) keeps the stored one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../src/api/types.js';
import { apply, placeholder, TEMP_ASSISTANT, TEMP_USER } from '../src/chat/answerEvents.js';

const answer = (over: Partial<Message> = {}): Message => ({
  ...placeholder('m2', 'c1', 'assistant', ''),
  ...over,
});

test('a send: start names the optimistic messages and the model that answers', () => {
  const list = [
    placeholder(TEMP_USER, 'c1', 'user', 'Hi'),
    placeholder(TEMP_ASSISTANT, 'c1', 'assistant', ''),
  ];
  const [user, asst] = apply(
    list,
    { type: 'start', userMessageId: 'm1', assistantMessageId: 'm2', model: 'sim-a-large' },
    TEMP_ASSISTANT,
  );
  assert.equal(user?.id, 'm1');
  assert.equal(asst?.id, 'm2');
  assert.equal(asst?.model, 'sim-a-large');
});

test('a retry: start names the model of the new attempt, while it is written', () => {
  // As useConversation's retry leaves the failed answer: cleared, in progress, no model.
  const list = [placeholder('m1', 'c1', 'user', 'Hi'), answer({ id: 'm2', model: null })];
  const [, asst] = apply(list, { type: 'start', assistantMessageId: 'm2', model: 'sim-a-large' }, 'm2');
  assert.equal(asst?.model, 'sim-a-large');
  assert.equal(asst?.status, 'in_progress');
});

test('a reattaching start names no model: the stored one stays', () => {
  const list = [answer({ id: 'm2', model: 'sim-b-large', content: '' })];
  const [asst] = apply(list, { type: 'start', assistantMessageId: 'm2' }, 'm2');
  assert.equal(asst?.model, 'sim-b-large');
});
