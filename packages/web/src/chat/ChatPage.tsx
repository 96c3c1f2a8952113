import { useCallback, useEffect, useState } from 'react';
import { chat } from '../api/endpoints.js';
import type { Conversation, Mate, ModelsForMembers } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { navigate } from '../ui/router.js';
import { onCatchUp } from '../ui/tabReturn.js';
import { useOlderPages } from '../ui/useOlderPages.js';
import { ConversationList } from './ConversationList.js';
import { ConversationView } from './ConversationView.js';

/** The chat: Mates and conversations on the side, the open conversation in the middle. */
export function ChatPage({ path }: { path: string }) {
  const match = /^\/c\/([^/]+)/.exec(path);
  const activeId = match?.[1] ? decodeURIComponent(match[1]) : undefined;
  const [mates, setMates] = useState<Mate[]>([]);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  // Where the next (older) page of the list starts; null once every conversation is shown.
  const [older, setOlder] = useState<string | null>(null);
  const [models, setModels] = useState<ModelsForMembers>({ defaultModel: null, models: [] });
  const [error, setError] = useState<string>();
  // The conversation "New chat" just started: its message box takes the focus when it shows. Only
  // this once: opening it again later leaves the focus where the member put it.
  const [started, setStarted] = useState<string>();
  if (started !== undefined && started !== activeId) setStarted(undefined);

  const refresh = useCallback(async (again: boolean) => {
    try {
      const [m, c, md] = await Promise.all([chat.mates(), chat.conversations(), chat.models()]);
      setMates(m);
      // The same list keeps its object: every message's model label is memoized on it.
      setModels((old) => (JSON.stringify(old) === JSON.stringify(md) ? old : md));
      if (!again) {
        setConversations(c.conversations);
        setOlder(c.next);
        return;
      }
      // Read again: the newest page as it is now, then the older ones this tab had shown beyond it.
      // With no next page the fresh one is the whole list (conversations deleted elsewhere go).
      const fresh = new Set(c.conversations.map((x) => x.id));
      const end = c.next === null ? undefined : c.conversations.at(-1);
      const beyond = (x: Conversation) =>
        end !== undefined &&
        !fresh.has(x.id) &&
        (x.updatedAt < end.updatedAt || (x.updatedAt === end.updatedAt && x.id < end.id));
      setConversations((cs) => [...c.conversations, ...cs.filter(beyond)]);
      setOlder((o) => (c.next === null ? null : o));
    } catch (e) {
      if (!again) setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void refresh(false);
    // Conversations started, renamed or deleted in another tab or device, and Mates an admin
    // added, show when the member comes back to this tab, and every few seconds while it shows.
    return onCatchUp(() => void refresh(true));
  }, [refresh]);

  // One page at a time: the button shows again (and is seen again) once this page is in.
  // Clicked or scrolled to, the end of the list shows the older conversations.
  const { olderRef, showOlder } = useOlderPages(
    async () => {
      if (older === null) return undefined;
      try {
        const page = await chat.conversations(older);
        // By id: a conversation that became active while paging is already at the top.
        setConversations((cs) => {
          const shown = new Set(cs.map((x) => x.id));
          return [...cs, ...page.conversations.filter((c) => !shown.has(c.id))];
        });
        setOlder(page.next);
        return page.conversations[0]?.id;
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
        return undefined;
      }
    },
    (id) =>
      document.querySelector<HTMLElement>(`.conv-list a.conv-link[href="/c/${CSS.escape(id)}"]`)?.focus(),
    conversations,
  );

  // Disabled models are not in the members' list; their id is the best name we have.
  const label = useCallback((id: string) => models.models.find((m) => m.id === id)?.label ?? id, [models]);

  const newChat = async (mateId: string) => {
    try {
      const c = await chat.createConversation(mateId);
      setConversations((cs) => [c, ...cs]);
      navigate(`/c/${c.id}`);
      setStarted(c.id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const rename = async (id: string, title: string) => {
    const c = await chat.rename(id, title);
    setConversations((cs) => cs.map((x) => (x.id === id ? c : x)));
  };
  const remove = async (id: string) => {
    await chat.remove(id);
    setConversations((cs) => cs.filter((x) => x.id !== id));
    if (id === activeId) navigate('/');
  };

  const mateModel = (m: Mate) => label(m.model ?? models.defaultModel ?? '') || 'no model';
  return (
    <div className={`chat${activeId ? ' has-conversation' : ''}`}>
      <aside className="sidebar" aria-label="Mates and conversations">
        <h2>Mates</h2>
        <ul className="mate-list">
          {mates.map((m) => (
            <li key={m.id}>
              <span className="mate-line">
                <span className="mate-name">{m.name}</span>
                <span className="muted small">{mateModel(m)}</span>
              </span>
              <button
                type="button"
                className="small"
                onClick={() => void newChat(m.id)}
                aria-label={`New chat with ${m.name}`}
              >
                New chat
              </button>
            </li>
          ))}
          {mates.length === 0 && (
            <li className="muted small">
              No Mates yet: an Owner or Admin adds them in Organization Settings → Mates.
            </li>
          )}
        </ul>
        <h2>Conversations</h2>
        <ConversationList
          conversations={conversations}
          activeId={activeId}
          onRename={rename}
          onDelete={remove}
        />
        {older !== null && (
          // Keyed by its page: a new button is observed afresh, so one still in view loads the next.
          <button
            key={older}
            type="button"
            ref={olderRef}
            className="small show-older"
            onClick={() => void showOlder()}
          >
            Show older conversations
          </button>
        )}
        <ErrorText message={error} />
      </aside>
      <main className="chat-main" id="main" tabIndex={-1}>
        {/* The page's title for screen readers (and their heading list); the layout shows what it is. */}
        <h1 className="visually-hidden">Chat</h1>
        {activeId ? (
          <>
            <Link href="/" className="back-link">
              ← Conversations
            </Link>
            <ConversationView
              key={activeId}
              id={activeId}
              label={label}
              title={conversations.find((x) => x.id === activeId)?.title}
              focusComposer={started === activeId}
              onTitle={(title) =>
                setConversations((cs) => cs.map((x) => (x.id === activeId ? { ...x, title } : x)))
              }
            />
          </>
        ) : (
          <p className="placeholder muted">Pick a Mate and start a new chat, or open a conversation.</p>
        )}
      </main>
    </div>
  );
}
