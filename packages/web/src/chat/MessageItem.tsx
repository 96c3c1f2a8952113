import { memo } from 'react';
import type { Message } from '../api/types.js';
import { contextNote } from './contextNote.js';
import { failureText } from './failureText.js';
import { FallbackIcon } from './FallbackIcon.js';
import { MarkdownText } from './Markdown.js';

/** "1,234 tokens" ("~" when estimated); none for an answer that ended without any (a "0 tokens" says nothing). */
function tokenCounter(m: Message): string | null {
  if (!m.usage) return null;
  const total = m.usage.inputTokens + m.usage.outputTokens;
  if (total === 0 && m.status !== 'complete' && m.status !== 'in_progress') return null;
  return `${m.usage.estimated ? '~' : ''}${total.toLocaleString('en')} tokens`;
}

/**
 * One message. An assistant message has a header with the Mate's name, the model that answered,
 * the token counter and, after a fallback, the amber icon; below it, a quiet note when the answer
 * was asked without the start of a long conversation. Failed, interrupted and stopped answers
 * show the standard error message with Retry.
 */
export const MessageItem = memo(function MessageItem({
  message: m,
  mateName,
  label,
  canRetry,
  onRetry,
}: {
  message: Message;
  mateName: string;
  label: (modelId: string) => string;
  canRetry: boolean;
  /** Called with this message's id (one callback for all messages keeps them memoized). */
  onRetry: (messageId: string) => void;
}) {
  if (m.role === 'user') {
    return (
      <li className="msg msg-user">
        <div className="msg-body">{m.content}</div>
      </li>
    );
  }
  const tokens = tokenCounter(m);
  const writing = m.status === 'in_progress';
  const leftOut = contextNote(m, label);
  return (
    <li className="msg msg-assistant" data-status={m.status} aria-busy={writing}>
      <div className="msg-header">
        <span className="mate-name">{mateName}</span>
        {m.model && <span className="model-name">{label(m.model)}</span>}
        {(tokens || m.fallback) && (
          // One group, so that on a narrow screen the icon wraps with its counter, never alone.
          <span className="counter">
            {tokens && (
              <span
                className="tokens"
                title={m.usage ? `${m.usage.inputTokens} in, ${m.usage.outputTokens} out` : undefined}
              >
                {tokens}
              </span>
            )}
            {m.fallback && <FallbackIcon fallback={m.fallback} label={label} status={m.status} />}
          </span>
        )}
        {writing && <span className="writing">writing…</span>}
      </div>
      {leftOut && <p className="context-note">{leftOut}</p>}
      {m.content && <MarkdownText text={m.content} />}
      {m.status === 'failed' && (
        <div className="answer-error" role="alert">
          <strong>Something went wrong and {mateName} could not answer.</strong>{' '}
          <span>{failureText(m, label)}</span> Please retry.
        </div>
      )}
      {m.status === 'interrupted' && (
        <div className="answer-error" role="alert">
          <strong>The answer was interrupted.</strong> <span>{failureText(m, label)}</span>
        </div>
      )}
      {m.status === 'cancelled' && <div className="answer-note">Stopped.</div>}
      {canRetry && (m.status === 'failed' || m.status === 'interrupted' || m.status === 'cancelled') && (
        <button type="button" className="retry" onClick={() => onRetry(m.id)}>
          Retry
        </button>
      )}
    </li>
  );
});
