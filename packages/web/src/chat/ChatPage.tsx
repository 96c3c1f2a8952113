import { useCallback, useEffect, useState } from 'react';
import { chat } from '../api/endpoints.js';
import type { Conversation, Mate, ModelsForMembers } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { navigate } from '../ui/router.js';
import { ConversationList } from './ConversationList.js';
import { ConversationView } from './ConversationView.js';

/** The chat: Mates and conversations on the side, the open conversation in the middle. */
export function ChatPage({ path }: { path: string }) {
  const match = /^\/c\/([^/]+)/.exec(path);
  const activeId = match?.[1] ? decodeURIComponent(match[1]) : undefined;
  const [mates, setMates] = useState<Mate[]>([]);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [models, setModels] = useState<ModelsForMembers>({ defaultModel: null, models: [] });
  const [error, setError] = useState<string>();
  // The conversation "New chat" just started: its message box takes the focus when it shows. Only
  // this once: opening it again later leaves the focus where the member put it.
  const [started, setStarted] = useState<string>();
  if (started !== undefined && started !== activeId) setStarted(undefined);

  const refresh = useCallback(async () => {
    try {
      const [m, c, md] = await Promise.all([chat.mates(), chat.conversations(), chat.models()]);
      setMates(m);
      setConversations(c);
      setModels(md);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

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
        <ErrorText message={error} />
      </aside>
      <main className="chat-main" id="main" tabIndex={-1}>
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
