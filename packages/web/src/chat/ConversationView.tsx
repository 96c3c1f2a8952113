import { useCallback, useLayoutEffect, useRef } from 'react';
import { ErrorText } from '../ui/ErrorText.js';
import { useWhenSeen } from '../ui/useWhenSeen.js';
import { Composer } from './Composer.js';
import { MessageItem } from './MessageItem.js';
import { useConversation } from './useConversation.js';

/**
 * The open conversation: its messages (streaming in) and the composer. A long one shows its newest
 * messages first and loads older ones as the member scrolls up to them. Stop and Retry go away once
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
  const { detail, messages, older, loadOlder, error, streamingId, send, stop, retry } = useConversation(
    id,
    onTitle,
  );
  const end = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const last = messages[messages.length - 1];
  // The newest message, not the count: older messages put on top leave the view where it was.
  // Before the first paint, so the top of a long conversation (which loads older ones) never shows.
  useLayoutEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [last?.id, last?.content.length]);
  // Older messages go on top of the one shown first: it stays where it was on the screen (the
  // browser's own scroll anchoring does not act at the very top, where the loading starts).
  const list = useRef<HTMLOListElement>(null);
  const anchor = useRef<{ el: Element; top: number }>(undefined);
  const loadEarlier = useCallback(() => {
    const el = list.current?.firstElementChild;
    anchor.current = el ? { el, top: el.getBoundingClientRect().top } : undefined;
    void loadOlder();
  }, [loadOlder]);
  useLayoutEffect(() => {
    const a = anchor.current;
    anchor.current = undefined;
    if (a?.el.isConnected) window.scrollBy(0, a.el.getBoundingClientRect().top - a.top);
  }, [messages[0]?.id]);
  const top = useWhenSeen(loadEarlier);
  // One callback for every message: with the same props, MessageItem skips rendering again, so
  // a streamed chunk or a keystroke renders one message, not the whole conversation.
  const onRetry = useCallback(
    (messageId: string) => {
      input.current?.focus();
      void retry(messageId);
    },
    [retry],
  );

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
      {older !== null && (
        // Keyed by its page: a new button is observed afresh, so one still in view loads the next.
        <button key={older} type="button" ref={top} className="small show-older" onClick={loadEarlier}>
          Show earlier messages
        </button>
      )}
      <ol className="messages" aria-live="polite" ref={list}>
        {messages.length === 0 && <li className="empty">Say hello to {mateName}.</li>}
        {messages.map((m) => (
          <MessageItem
            key={m.id}
            message={m}
            mateName={mateName}
            label={label}
            canRetry={m === last && !streamingId}
            onRetry={onRetry}
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
