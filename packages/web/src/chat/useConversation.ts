import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, streamAnswer } from '../api/client.js';
import { chat } from '../api/endpoints.js';
import type { ConversationDetail, Message } from '../api/types.js';
import { onCatchUp } from '../ui/tabReturn.js';
import { apply, lost, placeholder, TEMP_ASSISTANT, TEMP_USER } from './answerEvents.js';
import { prependOlder, withOlder, type Shown } from './pages.js';

/** Shown when a send was refused because an answer is being written (in another tab, say). */
const BUSY_NOTE =
  'Your message was not sent: an answer is still being written in this conversation. It is back in the message box; send it once this answer is finished.';
/** The same refusal, when that answer finished before this page could follow it. */
const BUSY_DONE_NOTE =
  'Your message was not sent: another answer was being written at that moment. It has finished now; your message is back in the message box.';

/**
 * One conversation's state: its messages, the answer being written (streamed over SSE), and the
 * member's actions (send, stop, retry). An answer in progress when the conversation is opened is
 * reattached, so leaving and coming back shows answers that went on (or finished) meanwhile.
 */
export function useConversation(id: string, onTitle?: (title: string) => void) {
  const [detail, setDetail] = useState<ConversationDetail>();
  const [messages, setMessages] = useState<Message[]>([]);
  const [error, setError] = useState<string>();
  const [streamingId, setStreamingId] = useState<string>();
  // Where the page of older messages starts (null: the first message is shown). A long
  // conversation is read a page at a time: the newest first, older ones as the member scrolls up.
  const [older, setOlder] = useState<number | null>(null);
  // What shows now, for the reads that merge a fresh page into it (they run outside render).
  const shown = useRef<Shown>({ messages: [], older: null });
  shown.current = { messages, older };
  const loadingOlder = useRef(false);
  // Aborting only closes our view of the stream: the answer goes on on the server (SPEC §2.4).
  const viewers = useRef(new Set<AbortController>());

  // Stop pressed before the server named the answer (its `start` event): sent once it does.
  const stopWhenStarted = useRef(false);
  // A ref, so that a caller's new callback each render does not re-create `follow` (and reattach).
  const titled = useRef(onTitle);
  titled.current = onTitle;

  const stopMessage = useCallback(
    async (messageId: string) => {
      try {
        const m = await chat.stop(id, messageId);
        setMessages((ms) => ms.map((x) => (x.id === m.id ? m : x)));
      } catch (err) {
        // 409: it finished on its own just before Stop arrived; the stream brings the final state.
        if (!(err instanceof ApiError && err.status === 409)) setError(String(err));
      }
    },
    [id],
  );

  /** Shows the newest page as read now, keeping the older messages loaded beyond it. */
  const showPage = useCallback((page: Shown) => {
    const next = withOlder(shown.current, page);
    setMessages(next.messages);
    setOlder(next.older);
  }, []);

  /**
   * Follows an answer's event stream, applying each event. Resolves with the refusal (an error)
   * when the request was refused before the answer existed, else with undefined. A stream that
   * ends (or breaks) without its final event leaves the answer marked interrupted, with Retry,
   * rather than "writing…" for ever.
   */
  const follow = useCallback(
    async (
      method: 'GET' | 'POST',
      path: string,
      body: unknown,
      initialTarget: string,
    ): Promise<Error | undefined> => {
      const ctl = new AbortController();
      viewers.current.add(ctl);
      let target = initialTarget;
      let ended = false;
      setStreamingId(target);
      try {
        await streamAnswer(
          method,
          path,
          body,
          (e) => {
            if (e.type === 'start') {
              target = e.assistantMessageId;
              const title = e.conversationTitle;
              if (title !== undefined) {
                setDetail((d) => d && { ...d, title });
                titled.current?.(title);
              }
              setStreamingId(target);
              if (stopWhenStarted.current) {
                stopWhenStarted.current = false;
                void stopMessage(target);
              }
            }
            if (e.type === 'done' || e.type === 'error') ended = true;
            setMessages((ms) => apply(ms, e, target));
          },
          ctl.signal,
        );
        if (!ended && !ctl.signal.aborted) {
          // Ended before the server even named the answer: show what it stored, if anything.
          if (target === TEMP_ASSISTANT)
            await chat.conversation(id).then(
              (d) => showPage(d),
              () => setMessages((ms) => lost(ms, target)),
            );
          else setMessages((ms) => lost(ms, target));
        }
        return undefined;
      } catch (err) {
        if (ctl.signal.aborted) return undefined;
        // Refused (e.g. 409), or lost before the answer existed: the caller restores its state.
        if (err instanceof ApiError || target === TEMP_ASSISTANT) {
          setError(err instanceof Error ? err.message : String(err));
          return err instanceof Error ? err : new Error(String(err));
        }
        setMessages((ms) => lost(ms, target));
        return undefined;
      } finally {
        viewers.current.delete(ctl);
        if (target === TEMP_ASSISTANT) stopWhenStarted.current = false;
        setStreamingId((s) => (s === target ? undefined : s));
      }
    },
    [id, stopMessage, showPage],
  );

  /**
   * Shows the stored messages. Returns, when an answer is still being written (another tab's, or
   * ours whose view was lost), a function that follows it until it ends: the server replays what
   * was written so far, so that answer's partial text starts empty here.
   */
  const display = useCallback(
    (d: ConversationDetail) => {
      const running = d.messages.find((m) => m.status === 'in_progress');
      showPage({
        messages: running ? d.messages.map((m) => (m === running ? { ...m, content: '' } : m)) : d.messages,
        older: d.older,
      });
      return running
        ? () => follow('GET', chat.eventsPath(id, running.id), undefined, running.id)
        : undefined;
    },
    [id, follow, showPage],
  );

  /** Puts the page of older messages before those shown (the member scrolled up to them). */
  const loadOlder = useCallback(async () => {
    const before = shown.current.older;
    if (before === null || loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      const d = await chat.conversation(id, before);
      setMessages((ms) => prependOlder({ messages: ms, older: null }, d).messages);
      setOlder(d.older);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      loadingOlder.current = false;
    }
  }, [id]);

  useEffect(() => {
    let live = true;
    const current = viewers.current;
    setDetail(undefined);
    setMessages([]);
    setOlder(null);
    setError(undefined);
    // What the last read returned: a read that finds the conversation as it was changes nothing
    // on the page (a member selecting text is not disturbed every few seconds).
    let shown = '';
    /** Shows the stored conversation, following an answer still being written. */
    const show = (d: ConversationDetail, again = false) => {
      const read = JSON.stringify(d);
      if (again && read === shown) return;
      shown = read;
      setDetail(d);
      // Renamed elsewhere: the conversation list follows too.
      if (again) titled.current?.(d.title);
      void display(d)?.();
    };
    chat.conversation(id).then(
      (d) => live && show(d),
      (e: unknown) =>
        live && setError(e instanceof ApiError && e.status === 404 ? 'Conversation not found.' : String(e)),
    );
    // Another tab or device may have added to the conversation: coming back to this tab reads it
    // again, and so does every few seconds in front. Not while this tab is following an answer
    // (it is current), nor over a send that began while the read was on its way.
    const stopResync = onCatchUp(() => {
      if (current.size > 0) return;
      chat.conversation(id).then(
        (d) => live && current.size === 0 && show(d, true),
        () => undefined,
      );
    });
    return () => {
      live = false;
      stopResync();
      for (const c of current) c.abort();
      current.clear();
    };
  }, [id, display]);

  /**
   * After a refused send or retry: shows the conversation as the server has it. Resolves with its
   * messages and the follower of an answer still being written (see display).
   */
  const showStored = useCallback(async () => {
    const d = await chat.conversation(id);
    return { messages: d.messages, followRunning: display(d) };
  }, [id, display]);

  /**
   * A send refused because an answer is being written: this page follows that answer (with Stop),
   * saying why the message was not sent until the answer ends.
   */
  const followBusy = useCallback(async () => {
    try {
      const { followRunning } = await showStored();
      if (!followRunning) {
        setError(BUSY_DONE_NOTE);
        return;
      }
      setError(BUSY_NOTE);
      await followRunning();
      setError((e) => (e === BUSY_NOTE ? undefined : e));
    } catch {
      // The conversation could not be read: the refusal is still shown.
    }
  }, [showStored]);

  const send = useCallback(
    async (content: string) => {
      setError(undefined);
      setMessages((ms) => [
        ...ms,
        placeholder(TEMP_USER, id, 'user', content),
        placeholder(TEMP_ASSISTANT, id, 'assistant', ''),
      ]);
      const refused = await follow('POST', chat.sendPath(id), { content }, TEMP_ASSISTANT);
      if (refused === undefined) return true;
      // Refused before anything was stored: take the optimistic messages back.
      setMessages((ms) => ms.filter((m) => m.id !== TEMP_USER && m.id !== TEMP_ASSISTANT));
      // An answer is being written (sent from another tab, say). Not awaited: the caller puts
      // the draft back in the message box now, not once that answer ends.
      if (refused instanceof ApiError && refused.code === 'answer_in_progress') {
        setError(BUSY_NOTE);
        void followBusy();
      }
      return false;
    },
    [id, follow, followBusy],
  );

  const stop = useCallback(async () => {
    if (!streamingId) return;
    // The server has not named the answer yet: stop it as soon as it does.
    if (streamingId === TEMP_ASSISTANT) stopWhenStarted.current = true;
    else await stopMessage(streamingId);
  }, [streamingId, stopMessage]);

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
                contextLeftOut: null,
              }
            : m,
        ),
      );
      const refused = await follow('POST', chat.retryPath(id, messageId), {}, messageId);
      if (refused === undefined) return;
      // Refused (e.g. it finished meanwhile, or is still being written after our view of it was
      // lost): show the stored state again, following the answer if it is still being written.
      try {
        const { messages: stored, followRunning } = await showStored();
        // Written after all (or still being written): the refusal is no news to the member.
        if (followRunning || stored.find((m) => m.id === messageId)?.status === 'complete')
          setError(undefined);
        await followRunning?.();
      } catch {
        // The error of the refused retry is already shown.
      }
    },
    [id, follow, showStored],
  );

  return { detail, messages, older, loadOlder, error, streamingId, send, stop, retry };
}
