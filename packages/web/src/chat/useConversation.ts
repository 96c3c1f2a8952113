/**
 * One conversation's state: its messages, the answer being written (streamed over SSE), and the
 * member's actions (send, stop, retry). An answer in progress when the conversation is opened is
 * reattached, so leaving and coming back shows answers that went on (or finished) meanwhile.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, streamAnswer } from '../api/client.js';
import { chat } from '../api/endpoints.js';
import type { AnswerEvent, ConversationDetail, Message } from '../api/types.js';

const TEMP_USER = 'pending-user';
const TEMP_ASSISTANT = 'pending-assistant';

function placeholder(id: string, conversationId: string, role: Message['role'], content: string): Message {
  return {
    id,
    conversationId,
    role,
    content,
    status: role === 'user' ? 'complete' : 'in_progress',
    model: null,
    provider: null,
    usage: null,
    latencyMs: null,
    fallback: null,
    error: null,
    createdAt: new Date().toISOString(),
  };
}

/** Applies one event of an answer to the message list. */
function apply(messages: Message[], e: AnswerEvent, targetId: string): Message[] {
  if (e.type === 'start') {
    return messages.map((m) =>
      m.id === TEMP_ASSISTANT
        ? { ...m, id: e.assistantMessageId, model: e.model ?? m.model }
        : m.id === TEMP_USER && e.userMessageId
          ? { ...m, id: e.userMessageId }
          : m,
    );
  }
  return messages.map((m) => {
    if (m.id !== targetId) return m;
    switch (e.type) {
      case 'text':
        return { ...m, content: m.content + e.text };
      case 'fallback':
        // A restart on the backup replaces the partial text the primary had written.
        return {
          ...m,
          content: e.discardText ? '' : m.content,
          fallback: e.fallback,
          model: e.fallback.backupModel,
        };
      case 'usage':
        return { ...m, usage: e.usage };
      case 'done':
      case 'error':
        return e.message;
    }
  });
}

export function useConversation(id: string) {
  const [detail, setDetail] = useState<ConversationDetail>();
  const [messages, setMessages] = useState<Message[]>([]);
  const [error, setError] = useState<string>();
  const [streamingId, setStreamingId] = useState<string>();
  // Aborting only closes our view of the stream: the answer goes on on the server (SPEC §2.4).
  const viewers = useRef(new Set<AbortController>());

  /** Follows an answer's event stream, applying each event. */
  const follow = useCallback(
    async (method: 'GET' | 'POST', path: string, body: unknown, initialTarget: string) => {
      const ctl = new AbortController();
      viewers.current.add(ctl);
      let target = initialTarget;
      setStreamingId(target);
      try {
        await streamAnswer(
          method,
          path,
          body,
          (e) => {
            if (e.type === 'start') {
              target = e.assistantMessageId;
              setStreamingId(target);
            }
            setMessages((ms) => apply(ms, e, target));
          },
          ctl.signal,
        );
        return true;
      } catch (err) {
        if (ctl.signal.aborted) return true;
        setError(err instanceof Error ? err.message : String(err));
        return false;
      } finally {
        viewers.current.delete(ctl);
        setStreamingId((s) => (s === target ? undefined : s));
      }
    },
    [],
  );

  useEffect(() => {
    let live = true;
    const current = viewers.current;
    setDetail(undefined);
    setMessages([]);
    setError(undefined);
    chat.conversation(id).then(
      (d) => {
        if (!live) return;
        setDetail(d);
        setMessages(d.messages);
        const running = d.messages.find((m) => m.status === 'in_progress');
        // The server replays what was written so far, so the partial text starts empty here.
        if (running) {
          setMessages(d.messages.map((m) => (m.id === running.id ? { ...m, content: '' } : m)));
          void follow('GET', chat.eventsPath(id, running.id), undefined, running.id);
        }
      },
      (e: unknown) =>
        live && setError(e instanceof ApiError && e.status === 404 ? 'Conversation not found.' : String(e)),
    );
    return () => {
      live = false;
      for (const c of current) c.abort();
      current.clear();
    };
  }, [id, follow]);

  const send = useCallback(
    async (content: string) => {
      setError(undefined);
      setMessages((ms) => [
        ...ms,
        placeholder(TEMP_USER, id, 'user', content),
        placeholder(TEMP_ASSISTANT, id, 'assistant', ''),
      ]);
      const ok = await follow('POST', chat.sendPath(id), { content }, TEMP_ASSISTANT);
      // Refused before anything was stored (e.g. 409): take the optimistic messages back.
      if (!ok) setMessages((ms) => ms.filter((m) => m.id !== TEMP_USER && m.id !== TEMP_ASSISTANT));
      return ok;
    },
    [id, follow],
  );

  const stop = useCallback(async () => {
    if (!streamingId || streamingId === TEMP_ASSISTANT) return;
    try {
      const m = await chat.stop(id, streamingId);
      setMessages((ms) => ms.map((x) => (x.id === m.id ? m : x)));
    } catch (err) {
      // 409: it finished on its own just before Stop arrived; the stream brings the final state.
      if (!(err instanceof ApiError && err.status === 409)) setError(String(err));
    }
  }, [id, streamingId]);

  const retry = useCallback(
    async (messageId: string) => {
      setError(undefined);
      setMessages((ms) =>
        ms.map((m) =>
          m.id === messageId
            ? {
                ...m,
                content: '',
                status: 'in_progress',
                error: null,
                fallback: null,
                usage: null,
                model: null,
              }
            : m,
        ),
      );
      const ok = await follow('POST', chat.retryPath(id, messageId), {}, messageId);
      // Refused (e.g. already being retried elsewhere): show the stored state again.
      if (!ok)
        await chat.conversation(id).then(
          (d) => setMessages(d.messages),
          () => undefined,
        );
    },
    [id, follow],
  );

  return { detail, messages, error, streamingId, send, stop, retry };
}
