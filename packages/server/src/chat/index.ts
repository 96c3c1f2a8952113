/**
 * Chat: Mates, conversations, messages, and the answers in flight behind them.
 *
 * Lock order (PostgreSQL): every transaction that writes these rows locks a Mate before its
 * conversations, and a conversation before its messages; one that checks a Mate's model takes the
 * catalog's lock (the organization's row, `lockOrganization`) before the Mate's. Taken in another
 * order, two writers (say a delete, and the save of an answer that started meanwhile) can each
 * hold a row the other waits for, and PostgreSQL ends one of them as a deadlock.
 */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { registerAnswerRoutes } from './answers.js';
import { registerConversationRoutes } from './conversations.js';
import { registerMateRoutes } from './mates.js';

/** Registers the chat routes. */
export function registerChatRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerMateRoutes(app, ctx);
  registerConversationRoutes(app, ctx);
  registerAnswerRoutes(app, ctx);
}

export { AnswerRuns, type Run, type RunEvent } from './runs.js';
export { openSse } from './sse.js';
