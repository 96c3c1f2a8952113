/**
 * The part of a conversation a model can be sent. A team's conversation grows all day; sent whole,
 * it outgrows the model's context window, and every answer then fails as `context_too_long` (or
 * falls back to a larger model for no other reason). The chat sends the newest turns that fit,
 * with the Mate's instructions; the OpenAI-compatible API never trims: its client chose the messages.
 */
import { messageTokens } from '../tokens.js';
import type { ModelConfig } from '../types/catalog.js';
import type { ChatMessage, ChatRequest } from '../types/chat.js';

/** The reply's room when neither the request nor the model says (as the backup choice assumes). */
export const DEFAULT_REPLY_TOKENS = 1024;

/**
 * Tokens of the conversation `model` can hold beside its reply, or undefined when its context
 * window is unknown. The same reckoning as the backup choice's "cannot hold the conversation plus
 * the reply", so a trimmed request is one the choice would let this model answer.
 */
export function historyBudget(
  model: Pick<ModelConfig, 'contextWindow' | 'maxOutputTokens'>,
  request: Pick<ChatRequest, 'maxTokens'>,
  defaultReplyTokens = DEFAULT_REPLY_TOKENS,
): number | undefined {
  if (model.contextWindow === undefined) return undefined;
  const reply = request.maxTokens ?? model.maxOutputTokens ?? defaultReplyTokens;
  return model.contextWindow - Math.min(reply, model.maxOutputTokens ?? reply);
}

/** A request cut to fit, and how many of its messages were left out (0: it fitted whole). */
export interface FittedHistory {
  request: ChatRequest;
  leftOut: number;
}

/**
 * The newest messages of `request` that fit `budget` tokens, after its leading system messages
 * (the Mate's instructions), which are always kept, as is the last message (the one to answer,
 * even alone too long: the provider's refusal then leads to a larger model). The kept part starts
 * with a user message, as providers require, so whole turns are left out.
 */
export function fitHistory(request: ChatRequest, budget: number | undefined): FittedHistory {
  const all = request.messages;
  if (budget === undefined || all.length === 0) return { request, leftOut: 0 };
  let head = 0;
  while (head < all.length - 1 && all[head]?.role === 'system') head++;
  let used = 0;
  for (let i = 0; i < head; i++) used += messageTokens(all[i] as ChatMessage);
  // From the newest back: the first message that does not fit ends what is kept.
  let from = all.length - 1;
  used += messageTokens(all[from] as ChatMessage);
  while (from > head) {
    const t = messageTokens(all[from - 1] as ChatMessage);
    if (used + t > budget) break;
    used += t;
    from--;
  }
  if (from === head) return { request, leftOut: 0 };
  // Not starting on an assistant's words (or a tool result) without the question they answer.
  while (from < all.length - 1 && all[from]?.role !== 'user') from++;
  return {
    request: { ...request, messages: [...all.slice(0, head), ...all.slice(from)] },
    leftOut: from - head,
  };
}
