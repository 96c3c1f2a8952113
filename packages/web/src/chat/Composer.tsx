import type { FormEvent, KeyboardEvent, Ref } from 'react';
import { useState } from 'react';

/** The message box: Enter sends, Shift+Enter adds a line; Stop replaces Send while an answer is written. */
export function Composer({
  busy,
  onSend,
  onStop,
  inputRef,
  autoFocus = false,
}: {
  busy: boolean;
  onSend: (text: string) => Promise<boolean>;
  onStop: () => void;
  /** The message box, for a caller that moves the focus to it (after Stop or Retry). */
  inputRef?: Ref<HTMLTextAreaElement>;
  /** Focus the message box when it appears (a conversation just started). */
  autoFocus?: boolean;
}) {
  const [text, setText] = useState('');
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t || busy) return;
    setText('');
    // Refused (e.g. the Mate has no model): give the text back so nothing typed is lost.
    if (!(await onSend(t))) setText(t);
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) void submit(e);
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        ref={inputRef}
        id="composer-input"
        autoFocus={autoFocus}
        rows={2}
        value={text}
        placeholder="Write a message…"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKey}
      />
      {busy ? (
        <button type="button" className="stop" onClick={onStop}>
          Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={!text.trim()}>
          Send
        </button>
      )}
    </form>
  );
}
