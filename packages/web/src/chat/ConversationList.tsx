import { useRef, useState, type KeyboardEvent } from 'react';
import type { Conversation } from '../api/types.js';
import { PencilIcon, TrashIcon } from '../ui/icons.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { asSentence } from '../ui/sentence.js';

/** The server's limit on a title (its trimmed length). */
const MAX_TITLE = 200;

/** A refused rename's reason as a sentence: the server's `body.title: ` field prefix dropped. */
function refusal(err: unknown): string {
  return asSentence((err instanceof Error ? err.message : String(err)).replace(/^body\.title: /, ''));
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
  tabStop,
  onRename,
  onDelete,
}: {
  c: Conversation;
  active: boolean;
  /** The list's one Tab stop is in this row: its link and buttons take the focus from Tab. */
  tabStop: boolean;
  onRename: (title: string) => Promise<void>;
  onDelete: () => Promise<void>;
}) {
  const tabIndex = tabStop ? 0 : -1;
  const [editing, setEditing] = useState(false);
  // Once the form closes, the pencil that opened it takes the focus back (not <body>).
  const [renamed, setRenamed] = useState(false);
  // The form mounts when editing starts, so its draft is the title of that moment.
  if (editing)
    return (
      <li className="conv-row" data-id={c.id}>
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
    <li className={`conv-row${active ? ' active' : ''}`} data-id={c.id}>
      <Link
        href={`/c/${c.id}`}
        aria-current={active ? 'page' : undefined}
        aria-describedby={tabStop ? KEYS_HINT : undefined}
        className="conv-link"
        tabIndex={tabIndex}
      >
        {c.title}
      </Link>
      <button
        type="button"
        className="icon-button"
        aria-label={`Rename ${c.title}`}
        onClick={() => setEditing(true)}
        autoFocus={renamed}
        tabIndex={tabIndex}
      >
        <PencilIcon />
      </button>
      <ConfirmButton
        tabIndex={tabIndex}
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

/** The id of the hint the list's Tab stop points at. */
const KEYS_HINT = 'conv-list-keys';

/** The row an arrow key, Home or End moves to from row `i` of `n`, if it is one of those keys. */
function moveTo(key: string, i: number, n: number): number | undefined {
  if (key === 'ArrowDown') return Math.min(i + 1, n - 1);
  if (key === 'ArrowUp') return Math.max(i - 1, 0);
  if (key === 'Home') return 0;
  if (key === 'End') return n - 1;
  return undefined;
}

/**
 * The member's conversations: open, rename (inline) and delete (with a confirming second click).
 * The list is one Tab stop (the row last focused, else the open conversation, else the first), so
 * a keyboard user passes hundreds of conversations with one Tab; Up, Down, Home and End move
 * between them, and Tab reaches the focused row's Rename and Delete.
 */
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
  const [focusedId, setFocusedId] = useState<string>();
  const list = useRef<HTMLUListElement>(null);
  if (conversations.length === 0) return <p className="muted small">No conversations yet.</p>;
  const has = (id: string | undefined) => id !== undefined && conversations.some((c) => c.id === id);
  const stop = has(focusedId) ? focusedId : has(activeId) ? activeId : conversations[0]?.id;

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    // Keys typed in the rename box move its caret, not the focus.
    if (!(e.target instanceof HTMLElement) || e.target.closest('form')) return;
    const row = e.target.closest<HTMLElement>('li[data-id]');
    const i = conversations.findIndex((c) => c.id === row?.dataset.id);
    const to = i < 0 ? undefined : moveTo(e.key, i, conversations.length);
    if (to === undefined) return;
    e.preventDefault();
    const next = conversations[to];
    if (!next) return;
    setFocusedId(next.id);
    list.current?.querySelector<HTMLElement>(`li[data-id="${CSS.escape(next.id)}"] a.conv-link`)?.focus();
  };
  return (
    <>
      <p id={KEYS_HINT} className="visually-hidden">
        Up and Down arrows move between conversations.
      </p>
      <ul
        className="conv-list"
        ref={list}
        onKeyDown={onKeyDown}
        onFocus={(e) => {
          const id = e.target.closest<HTMLElement>('li[data-id]')?.dataset.id;
          if (id !== undefined) setFocusedId(id);
        }}
      >
        {conversations.map((c) => (
          <Row
            key={c.id}
            c={c}
            active={c.id === activeId}
            tabStop={c.id === stop}
            onRename={(t) => onRename(c.id, t)}
            onDelete={() => onDelete(c.id)}
          />
        ))}
      </ul>
    </>
  );
}
