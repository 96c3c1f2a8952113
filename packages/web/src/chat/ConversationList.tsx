import { useState } from 'react';
import type { Conversation } from '../api/types.js';
import { PencilIcon, TrashIcon } from '../ui/icons.js';
import { ConfirmButton } from '../ui/ConfirmButton.js';
import { Link } from '../ui/Link.js';

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
  const [title, setTitle] = useState(c.title);
  if (editing)
    return (
      <li className="conv-row">
        <form
          className="rename"
          onSubmit={(e) => {
            e.preventDefault();
            void onRename(title.trim() || c.title).then(() => setEditing(false));
          }}
        >
          <label className="visually-hidden" htmlFor={`rename-${c.id}`}>
            New title
          </label>
          <input id={`rename-${c.id}`} value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
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
