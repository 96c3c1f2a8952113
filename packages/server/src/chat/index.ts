/** Chat: Mates, conversations, messages, and the answers in flight behind them. */
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
