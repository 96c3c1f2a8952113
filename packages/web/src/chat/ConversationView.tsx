import { useEffect, useRef } from 'react';
import { ErrorText } from '../ui/ErrorText.js';
import { Composer } from './Composer.js';
import { MessageItem } from './MessageItem.js';
import { useConversation } from './useConversation.js';

/** The open conversation: its messages (streaming in) and the composer. */
export function ConversationView({
  id,
  label,
  onTitle,
}: {
  id: string;
  label: (modelId: string) => string;
  /** Called when the conversation gets a title from its first message. */
  onTitle?: (title: string) => void;
}) {
  const { detail, messages, error, streamingId, send, stop, retry } = useConversation(id, onTitle);
  const end = useRef<HTMLDivElement>(null);
  const last = messages[messages.length - 1];
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages.length, last?.content.length]);

  if (!detail)
    return (
      <section className="conversation">
        {error ? <ErrorText message={error} /> : <p className="loading">Loading…</p>}
      </section>
    );
  const mateName = detail.mate?.name ?? 'Mate';
  return (
    <section className="conversation" aria-label={detail.title}>
      <h2 className="conv-title">{detail.title}</h2>
      <ol className="messages" aria-live="polite">
        {messages.length === 0 && <li className="empty">Say hello to {mateName}.</li>}
        {messages.map((m) => (
          <MessageItem
            key={m.id}
            message={m}
            mateName={mateName}
            label={label}
            canRetry={m === last && !streamingId}
            onRetry={() => void retry(m.id)}
          />
        ))}
      </ol>
      <div ref={end} />
      <ErrorText message={error} />
      <Composer busy={streamingId !== undefined} onSend={send} onStop={() => void stop()} />
    </section>
  );
}
