import { useState } from 'react';
import type { Conversation } from '../api/types.js';
import { PencilIcon, TrashIcon } from '../ui/icons.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';

/** The server's limit on a title (its trimmed length). */
const MAX_TITLE = 200;

/** A refused rename's reason as a sentence: the server's `body.title: ` field prefix dropped. */
function refusal(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/^body\.title: /, '');
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}

/**
 * The inline rename form. Its draft starts from the title as it is when the form opens (the first
 * message may have set it since the row was shown). A refused rename keeps the form open with the
 * server's reason; Escape or Cancel leaves it.
 */
function RenameForm({
  c,
  onRename,
  onDone,
}: {
  c: Conversation;
  onRename: (title: string) => Promise<void>;
  onDone: () => void;
}) {
  const [title, setTitle] = useState(c.title);
  const [error, setError] = useState<string>();
  const inputId = `rename-${c.id}`;
  return (
    <form
      className="rename"
      onSubmit={(e) => {
        e.preventDefault();
        setError(undefined);
        onRename(title.trim() || c.title).then(onDone, (err: unknown) => setError(refusal(err)));
      }}
    >
      <label className="visually-hidden" htmlFor={inputId}>
        New title
      </label>
      <input
        id={inputId}
        value={title}
        maxLength={MAX_TITLE}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${inputId}-error` : undefined}
        onChange={(e) => setTitle(e.target.value)}
        onKeyDown={(e) => e.key === 'Escape' && onDone()}
        autoFocus
      />
      <button type="submit">Save</button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      <ErrorText message={error} id={`${inputId}-error`} className="rename-error" />
    </form>
  );
}

function Row({
  c,
  active,
  onRename,
  onDelete,
}: {
  c: Conversation;
  active: boolean;
  onRename: (title: string) => Promise<void>;
  onDelete: () => Promise<void>;
}) {
  const [editing, setEditing] = useState(false);
  // Once the form closes, the pencil that opened it takes the focus back (not <body>).
  const [renamed, setRenamed] = useState(false);
  // The form mounts when editing starts, so its draft is the title of that moment.
  if (editing)
    return (
      <li className="conv-row">
        <RenameForm
          c={c}
          onRename={onRename}
          onDone={() => {
            setEditing(false);
            setRenamed(true);
          }}
        />
      </li>
    );
  return (
    <li className={`conv-row${active ? ' active' : ''}`}>
      <Link href={`/c/${c.id}`} aria-current={active ? 'page' : undefined} className="conv-link">
        {c.title}
      </Link>
      <button
        type="button"
        className="icon-button"
        aria-label={`Rename ${c.title}`}
        onClick={() => setEditing(true)}
        autoFocus={renamed}
      >
        <PencilIcon />
      </button>
      <ConfirmButton
        className="icon-button"
        label={`Delete ${c.title}`}
        confirm="Delete?"
        confirmLabel={`Confirm deletion of ${c.title}`}
        onConfirm={onDelete}
      >
        <TrashIcon />
      </ConfirmButton>
    </li>
  );
}

/** The member's conversations: open, rename (inline) and delete (with a confirming second click). */
export function ConversationList({
  conversations,
  activeId,
  onRename,
  onDelete,
}: {
  conversations: Conversation[];
  activeId: string | undefined;
  onRename: (id: string, title: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
}) {
  if (conversations.length === 0) return <p className="muted small">No conversations yet.</p>;
  return (
    <ul className="conv-list">
      {conversations.map((c) => (
        <Row
          key={c.id}
          c={c}
          active={c.id === activeId}
          onRename={(t) => onRename(c.id, t)}
          onDelete={() => onDelete(c.id)}
        />
      ))}
    </ul>
  );
}
