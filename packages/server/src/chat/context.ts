/**
 * What the model is asked with for an answer in the web chat: the Mate's instructions and the
 * newest whole turns of the conversation that fit the model's context window beside its reply
 * (the engine's fitHistory), and how many earlier messages that left out, which the answer keeps
 * so that the member learns why the Mate seems to have forgotten the start of the thread.
 */
import {
  fitHistory,
  historyBudget,
  type ChatMessage,
  type ChatRequest,
  type ModelConfig,
} from '@understudy/engine';
import type { Kysely } from 'kysely';
import type { ConversationsTable, Database } from '../storage/index.js';

/** The request for one answer and how many stored messages before it the model does not see. */
export interface AnswerContext {
  request: ChatRequest;
  /** Stored messages of the conversation left out (0: the whole conversation was sent). */
  leftOut: number;
}

/**
 * The model's request for the answer at `upToSeq` (exclusive): the Mate's instructions and the
 * newest turns that fit `model`'s context window (everything when its window is unknown).
 */
export async function answerContext(
  db: Kysely<Database>,
  conv: ConversationsTable,
  upToSeq: number,
  model: ModelConfig | undefined,
): Promise<AnswerContext> {
  const mate = await db
    .selectFrom('mates')
    .select('instructions')
    .where('id', '=', conv.mate_id)
    .executeTakeFirst();
  const rows = await db
    .selectFrom('messages')
    .select(['role', 'content'])
    .where('conversation_id', '=', conv.id)
    .where('seq', '<', upToSeq)
    .orderBy('seq')
    .execute();
  const messages: ChatMessage[] = [];
  // Which stored row each message came from: the count the member is told is of the messages
  // they see, and failed answers with nothing to show are among them though the model is not sent them.
  const rowOf: number[] = [];
  if (mate?.instructions.trim()) messages.push({ role: 'system', content: mate.instructions });
  rows.forEach((r, i) => {
    if (r.role === 'user') messages.push({ role: 'user', content: r.content });
    else if (r.content.length > 0) messages.push({ role: 'assistant', content: r.content });
    else return;
    rowOf.push(i);
  });
  const request: ChatRequest = { messages };
  const fitted = fitHistory(request, model && historyBudget(model, request));
  if (fitted.leftOut === 0) return { request: fitted.request, leftOut: 0 };
  // fitHistory keeps the leading instructions, then a contiguous tail: its first kept message
  // is the one `leftOut` places after the instructions.
  return { request: fitted.request, leftOut: rowOf[fitted.leftOut] ?? rows.length };
}
