import { useEffect, useRef } from 'react';
import { ErrorText } from '../ui/ErrorText.js';
import { Composer } from './Composer.js';
import { MessageItem } from './MessageItem.js';
import { useConversation } from './useConversation.js';

/**
 * The open conversation: its messages (streaming in) and the composer. Stop and Retry go away once
 * pressed, so they hand the keyboard focus to the message box rather than let it fall to <body>.
 */
export function ConversationView({
  id,
  label,
  title,
  onTitle,
  focusComposer = false,
}: {
  id: string;
  label: (modelId: string) => string;
  /** The title as the conversation list knows it (a rename there): shown over the loaded one. */
  title?: string;
  /** Called when the conversation gets a title from its first message. */
  onTitle?: (title: string) => void;
  /** Put the focus in the message box once it is shown (a conversation just started). */
  focusComposer?: boolean;
}) {
  const { detail, messages, error, streamingId, send, stop, retry } = useConversation(id, onTitle);
  const end = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
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
  const heading = title ?? detail.title;
  return (
    <section className="conversation" aria-label={heading}>
      <h2 className="conv-title" title={heading}>
        {heading}
      </h2>
      <ol className="messages" aria-live="polite">
        {messages.length === 0 && <li className="empty">Say hello to {mateName}.</li>}
        {messages.map((m) => (
          <MessageItem
            key={m.id}
            message={m}
            mateName={mateName}
            label={label}
            canRetry={m === last && !streamingId}
            onRetry={() => {
              input.current?.focus();
              void retry(m.id);
            }}
          />
        ))}
      </ol>
      <div ref={end} />
      <ErrorText message={error} />
      <Composer
        busy={streamingId !== undefined}
        onSend={send}
        onStop={() => {
          input.current?.focus();
          void stop();
        }}
        inputRef={input}
        autoFocus={focusComposer}
      />
    </section>
  );
}
