/**
 * The part of a conversation a model can be sent: the newest whole turns that fit beside the reply,
 * with the instructions and the message to answer always kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBackup } from '../src/policy/backup.js';
import { fitHistory, historyBudget } from '../src/policy/history.js';
import { estimateRequestTokens, messageTokens } from '../src/tokens.js';
import type { ChatMessage, ChatRequest } from '../src/types/chat.js';
import { catalog, model } from './fakes.js';

/** A message whose estimate is exactly `tokens` (4 of overhead, then 4 characters a token). */
const msg = (role: ChatMessage['role'], tokens: number, tag: string = role): ChatMessage => {
  const m = { role, content: `${tag}:`.padEnd((tokens - 4) * 4, 'x') } as ChatMessage;
  assert.equal(messageTokens(m), tokens);
  return m;
};
/** system + 10 turns of 100-token messages (u0 a0 … u9) + the question (u10): 2,150 tokens. */
function conversation(): ChatRequest {
  const messages: ChatMessage[] = [msg('system', 50, 'sys')];
  for (let i = 0; i < 10; i++) messages.push(msg('user', 100, `u${i}`), msg('assistant', 100, `a${i}`));
  messages.push(msg('user', 100, 'u10'));
  return { messages };
}
const tags = (r: ChatRequest) => r.messages.map((m) => String(m.content).split(':')[0]);

describe('historyBudget', () => {
  it('is the window less the reply: the request’s max tokens, else the model’s, else 1024', () => {
    assert.equal(historyBudget({ contextWindow: 8000 }, {}), 8000 - 1024);
    assert.equal(historyBudget({ contextWindow: 8000, maxOutputTokens: 2000 }, {}), 6000);
    assert.equal(historyBudget({ contextWindow: 8000, maxOutputTokens: 2000 }, { maxTokens: 500 }), 7500);
    // A request asking more than the model can write reserves only what it can.
    assert.equal(historyBudget({ contextWindow: 8000, maxOutputTokens: 2000 }, { maxTokens: 9000 }), 6000);
    assert.equal(historyBudget({}, {}), undefined);
  });
});

describe('fitHistory', () => {
  it('keeps a conversation that fits whole, and any when the window is unknown', () => {
    const r = conversation();
    assert.equal(estimateRequestTokens(r), 2150);
    for (const budget of [2150, 100_000, undefined]) {
      const f = fitHistory(r, budget);
      assert.equal(f.request, r);
      assert.equal(f.leftOut, 0);
    }
  });

  it('leaves out the oldest whole turns, keeping the instructions and the question', () => {
    // 2,149: one token short, so the oldest turn goes (an assistant answer alone would open the rest).
    const one = fitHistory(conversation(), 2149);
    assert.deepEqual(tags(one.request).slice(0, 3), ['sys', 'u1', 'a1']);
    assert.equal(one.leftOut, 2);
    // 50 (instructions) + 100 (question) + 3 more messages fit 500; starting on a1 is not allowed.
    const few = fitHistory(conversation(), 500);
    assert.deepEqual(tags(few.request), ['sys', 'u9', 'a9', 'u10']);
    assert.equal(few.leftOut, 18);
    assert.ok(estimateRequestTokens(few.request) <= 500);
  });

  it('sends the question alone (with the instructions) when nothing else fits, even over budget', () => {
    const f = fitHistory(conversation(), 120);
    assert.deepEqual(tags(f.request), ['sys', 'u10']);
    assert.equal(f.leftOut, 20);
  });

  it('keeps the other request fields', () => {
    const r = { ...conversation(), maxTokens: 300, temperature: 0.2 };
    const f = fitHistory(r, 1000);
    assert.equal(f.request.maxTokens, 300);
    assert.equal(f.request.temperature, 0.2);
  });

  it('a trimmed request is one the backup choice lets the same model hold', () => {
    const primary = model('a1', 'a', 3, { contextWindow: 1500, maxOutputTokens: 500 });
    const backup = model('b1', 'b', 3, { contextWindow: 1500, maxOutputTokens: 500 });
    const cat = catalog({ models: [primary, backup], defaultModelId: 'a1' });
    const whole = conversation();
    const query = (request: ChatRequest) =>
      chooseBackup({ catalog: cat, primary, request, health: new Map() }).model?.id;
    assert.equal(query(whole), undefined, 'whole, it fits neither');
    const fitted = fitHistory(whole, historyBudget(primary, whole));
    assert.equal(query(fitted.request), 'b1', 'fitted to the primary, the twin backup can take it');
  });
});
