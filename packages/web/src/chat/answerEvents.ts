/**
 * How an answer's events change the message list, kept free of React so a plain Node test can
 * check them: the optimistic messages of a send, each event applied, and a stream lost midway.
 */
import type { AnswerEvent, Message } from '../api/types.js';

/** The ids of a send's optimistic messages, until the server's `start` event names them. */
export const TEMP_USER = 'pending-user';
export const TEMP_ASSISTANT = 'pending-assistant';

/** An optimistic message: the member's (complete) or the answer about to be written (in progress). */
export function placeholder(
  id: string,
  conversationId: string,
  role: Message['role'],
  content: string,
): Message {
  return {
    id,
    conversationId,
    role,
    content,
    status: role === 'user' ? 'complete' : 'in_progress',
    model: null,
    provider: null,
    usage: null,
    latencyMs: null,
    fallback: null,
    error: null,
    contextLeftOut: null,
    createdAt: new Date().toISOString(),
  };
}

/** Applies one event of an answer to the message list. */
export function apply(messages: Message[], e: AnswerEvent, targetId: string): Message[] {
  if (e.type === 'start') {
    // A send's answer gets its id here; a retried answer already has it but was cleared, so it
    // too takes the model the server names (a reattaching `start` names none: the stored one
    // stays), and so with the earlier messages left out of what the model is asked.
    return messages.map((m) =>
      m.id === TEMP_ASSISTANT || m.id === e.assistantMessageId
        ? {
            ...m,
            id: e.assistantMessageId,
            model: e.model ?? m.model,
            contextLeftOut: e.contextLeftOut === undefined ? m.contextLeftOut : e.contextLeftOut,
          }
        : m.id === TEMP_USER && e.userMessageId
          ? { ...m, id: e.userMessageId }
          : m,
    );
  }
  return messages.map((m) => {
    if (m.id !== targetId) return m;
    switch (e.type) {
      case 'text':
        return { ...m, content: m.content + e.text };
      case 'fallback':
        // A restart on the backup replaces the partial text the primary had written.
        return {
          ...m,
          content: e.discardText ? '' : m.content,
          fallback: e.fallback,
          model: e.fallback.backupModel,
        };
      case 'usage':
        return { ...m, usage: e.usage };
      case 'done':
      case 'error':
        return e.message;
    }
  });
}

/** The answer whose stream ended without its final event: interrupted (with Retry), text kept. */
export function lost(messages: Message[], targetId: string): Message[] {
  return messages.map((m) =>
    m.id === targetId && m.status === 'in_progress'
      ? {
          ...m,
          status: 'interrupted',
          error: {
            reason: 'connection_lost',
            message: 'The connection to the server was lost before the answer finished.',
          },
        }
      : m,
  );
}
