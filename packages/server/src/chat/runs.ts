/**
 * Answers in flight for the web chat. An answer runs detached from the HTTP request that started
 * it: a browser that disconnects only unsubscribes, the answer finishes and is saved (SPEC §2.4).
 * Stop aborts the engine's signal, which cancels the upstream request. Partial text is flushed to
 * the database every second, so a crash loses at most a second and leaves an interrupted message.
 */
import type { AnswerResult, ChatRequest, Engine, Usage } from '@understudy/engine';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { FallbackRecorder } from '../activity/index.js';
import type { OrgCatalog } from '../catalog/index.js';
import type { AppContext } from '../context.js';
import type { Metrics } from '../metrics/index.js';
import { nowIso, type Database, type MessagesTable } from '../storage/index.js';
import type { errorPublic } from './messages.js';
import { blankAnswerColumns, fallbackPublic, messageView, resultColumns, statusOf } from './messages.js';

/** What a chat client receives over SSE. */
export type RunEvent =
  | { type: 'text'; text: string }
  | { type: 'fallback'; fallback: ReturnType<typeof fallbackPublic>; discardText: boolean }
  | { type: 'usage'; usage: Usage }
  | { type: 'done'; message: ReturnType<typeof messageView> }
  | {
      type: 'error';
      error: ReturnType<typeof errorPublic> | { reason: string; message: string };
      message: ReturnType<typeof messageView>;
    };

/** One answer in flight. */
export interface Run {
  orgId: string;
  conversationId: string;
  messageId: string;
  /** Every event so far, for a client that (re)attaches. */
  readonly events: readonly RunEvent[];
  /** Resolves once the message is saved in its final state. */
  finished: Promise<void>;
  subscribe(listener: (e: RunEvent) => void): () => void;
}

/** What starting an answer needs. */
export interface RunInput {
  orgId: string;
  conversationId: string;
  messageId: string;
  mateId: string;
  catalog: OrgCatalog;
  modelId: string;
  request: ChatRequest;
}

const FLUSH_MS = 1000;

/** How a finished answer that has no row any more looks to the clients still following it. */
function unsavedView(input: RunInput, columns: Partial<MessagesTable>) {
  const now = nowIso();
  return messageView({
    id: input.messageId,
    org_id: input.orgId,
    conversation_id: input.conversationId,
    seq: 0,
    role: 'assistant',
    content: '',
    status: 'failed',
    ...blankAnswerColumns(),
    created_at: now,
    updated_at: now,
    ...columns,
  });
}

/** The final error of an answer whose conversation (or Mate) was deleted while it was written. */
export const DELETED_WHILE_WRITTEN = {
  reason: 'deleted',
  message: 'this conversation was deleted while the answer was being written',
};

/** The registry of answers in flight. */
export class AnswerRuns {
  private readonly runs = new Map<
    string,
    { run: Run; abort: AbortController; abortedBy?: 'stop' | 'shutdown' }
  >();

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      metrics: Metrics;
      log: Logger;
      fallbacks: FallbackRecorder;
      engineFor(orgId: string): Engine;
    },
  ) {}

  /** Answers started since this registry exists (the drain counts those started during it). */
  private started = 0;

  /** Answers in flight. */
  get size(): number {
    return this.runs.size;
  }

  /** The run answering this message, if any. */
  get(messageId: string): Run | undefined {
    return this.runs.get(messageId)?.run;
  }

  /** The member pressed Stop: cancels upstream at once. False when nothing is running. */
  stop(messageId: string): boolean {
    const entry = this.runs.get(messageId);
    if (!entry) return false;
    entry.abortedBy ??= 'stop';
    entry.abort.abort(new Error('stopped by the member'));
    return true;
  }

  /**
   * Stops this instance's answers in these conversations and waits until each is saved, so that
   * the conversations can be deleted afterwards. Returns the ids of the messages it stopped.
   */
  async stopIn(conversationIds: readonly string[]): Promise<Set<string>> {
    const ids = new Set(conversationIds);
    const stopped = [...this.runs.values()].filter((e) => ids.has(e.run.conversationId));
    for (const e of stopped) this.stop(e.run.messageId);
    await Promise.all(stopped.map((e) => e.run.finished));
    return new Set(stopped.map((e) => e.run.messageId));
  }

  /** Starts answering in the background. */
  start(input: RunInput): Run {
    const abort = new AbortController();
    const events: RunEvent[] = [];
    const listeners = new Set<(e: RunEvent) => void>();
    const emit = (e: RunEvent) => {
      events.push(e);
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // A broken subscriber (closed socket) must not stop the answer.
        }
      }
    };
    const entry: { run: Run; abort: AbortController; abortedBy?: 'stop' | 'shutdown' } = {
      abort,
      run: {
        orgId: input.orgId,
        conversationId: input.conversationId,
        messageId: input.messageId,
        events,
        finished: Promise.resolve(),
        subscribe(l) {
          listeners.add(l);
          return () => listeners.delete(l);
        },
      },
    };
    this.runs.set(input.messageId, entry);
    this.started++;
    entry.run.finished = this.execute(input, entry, emit)
      // Nothing awaits every run's promise: a rejection here would be unhandled and end the process.
      .catch((err: unknown) => {
        this.deps.log.error({ err, messageId: input.messageId }, 'answer run failed');
        const last = events.at(-1)?.type;
        if (last !== 'done' && last !== 'error') {
          const error = { reason: 'internal', message: 'the answer failed unexpectedly' };
          emit({ type: 'error', error, message: unsavedView(input, {}) });
        }
      })
      .finally(() => {
        this.runs.delete(input.messageId);
        listeners.clear();
      });
    return entry.run;
  }

  private async execute(
    input: RunInput,
    entry: { abort: AbortController; abortedBy?: 'stop' | 'shutdown' },
    emit: (e: RunEvent) => void,
  ): Promise<void> {
    const { db, log } = this.deps;
    let text = '';
    let flushed = '';
    let result: AnswerResult | undefined;
    const flush = async () => {
      if (text === flushed) return;
      const snapshot = text;
      await db
        .updateTable('messages')
        .set({ content: snapshot, updated_at: nowIso() })
        .where('id', '=', input.messageId)
        .where('status', '=', 'in_progress')
        .execute();
      flushed = snapshot;
    };
    const timer = setInterval(
      () => void flush().catch((err: unknown) => log.warn({ err }, 'flushing partial answer failed')),
      FLUSH_MS,
    );
    try {
      const stream = this.deps.engineFor(input.orgId).answer({
        catalog: input.catalog,
        modelId: input.modelId,
        request: input.request,
        signal: entry.abort.signal,
        takeover: 'restart',
      });
      for await (const ev of stream) {
        if (ev.type === 'text') {
          text += ev.text;
          emit({ type: 'text', text: ev.text });
        } else if (ev.type === 'fallback') {
          const discardText = ev.record.mode === 'restart';
          if (discardText) text = '';
          emit({ type: 'fallback', fallback: fallbackPublic(ev.record, input.catalog), discardText });
        } else if (ev.type === 'usage') {
          emit({ type: 'usage', usage: ev.usage });
        } else if (ev.type === 'done' || ev.type === 'error') {
          result = ev.result;
        }
      }
    } catch (err) {
      // The engine promises not to throw; if it does, the message still ends in a final state.
      log.error({ err }, 'engine failed unexpectedly');
    } finally {
      clearInterval(timer);
    }
    const status = result
      ? statusOf(result, entry.abortedBy)
      : entry.abortedBy === 'stop'
        ? 'cancelled'
        : 'failed';
    const columns = result
      ? resultColumns(result, status, input.catalog)
      : {
          content: text,
          status,
          error_json: JSON.stringify({ reason: 'internal', message: 'the answer failed unexpectedly' }),
        };
    if (result) {
      this.deps.metrics.answer('chat', result);
      this.deps.fallbacks.record({
        orgId: input.orgId,
        surface: 'chat',
        mateId: input.mateId,
        messageId: input.messageId,
        result,
      });
    }
    let row: MessagesTable | undefined;
    let saveFailed = false;
    try {
      row = await this.save(input, columns);
    } catch (err) {
      saveFailed = true;
      log.error({ err, messageId: input.messageId }, 'saving a finished answer failed');
    }
    if (!row) {
      // Deleted while being written (its conversation or Mate, possibly through another instance),
      // or the database failed: followers still get a final event, so that their streams end.
      if (!saveFailed)
        log.info({ messageId: input.messageId }, 'answer finished after its message was deleted');
      const error = saveFailed
        ? { reason: 'internal', message: 'the answer could not be saved; the server log has details' }
        : DELETED_WHILE_WRITTEN;
      emit({ type: 'error', error, message: unsavedView(input, { content: text, ...columns }) });
      return;
    }
    const message = messageView(row);
    if (status === 'complete') emit({ type: 'done', message });
    else
      emit({
        type: 'error',
        error: message.error ?? { reason: status, message: `the answer was ${status}` },
        message,
      });
  }

  /** Writes a finished answer; the saved row, or undefined when the message no longer exists. */
  private async save(input: RunInput, columns: Partial<MessagesTable>): Promise<MessagesTable | undefined> {
    const { db } = this.deps;
    const now = nowIso();
    // The conversation before its message: the lock order of every writer (index.ts).
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('conversations')
        .set({ updated_at: now })
        .where('id', '=', input.conversationId)
        .execute();
      await trx
        .updateTable('messages')
        .set({ ...columns, updated_at: now })
        .where('id', '=', input.messageId)
        .execute();
    });
    return db.selectFrom('messages').selectAll().where('id', '=', input.messageId).executeTakeFirst();
  }

  /**
   * Graceful shutdown: lets answers in flight finish for up to `graceMs`, then cancels the rest,
   * which are saved as interrupted (retryable). Says how many there were and how they ended.
   */
  async shutdown(graceMs: number): Promise<{ inFlight: number; finished: number; interrupted: number }> {
    const inFlight = this.runs.size;
    const startedBefore = this.started;
    const all = () => Promise.allSettled([...this.runs.values()].map((e) => e.run.finished));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const interrupted = this.runs.size;
    for (const e of this.runs.values()) {
      e.abortedBy = 'shutdown';
      e.abort.abort(new Error('server shutting down'));
    }
    await Promise.race([all(), new Promise((r) => setTimeout(r, 5000).unref())]);
    // One that slipped in as the drain began is counted with the others.
    const seen = inFlight + this.started - startedBefore;
    return { inFlight: seen, finished: seen - interrupted, interrupted };
  }
}

/**
 * Stops every answer being written in a conversation, or in all of a Mate's, before they are
 * deleted: this instance's are stopped and awaited (so no save races the delete); another
 * instance's are asked to stop through Redis (its save tolerates the row being gone).
 */
export async function stopAnswersIn(
  ctx: AppContext,
  scope: { orgId: string; conversationId: string } | { orgId: string; mateId: string },
): Promise<void> {
  let conversations = ctx.db.selectFrom('conversations').select('id').where('org_id', '=', scope.orgId);
  conversations =
    'mateId' in scope
      ? conversations.where('mate_id', '=', scope.mateId)
      : conversations.where('id', '=', scope.conversationId);
  const ids = (await conversations.execute()).map((c) => c.id);
  const local = await ctx.answers.stopIn(ids);
  const remote = await ctx.db
    .selectFrom('messages')
    .select('id')
    .where('conversation_id', 'in', conversations)
    .where('status', '=', 'in_progress')
    .execute();
  for (const m of remote) {
    if (!local.has(m.id))
      void ctx.cluster
        .requestStop(m.id)
        .catch((err: unknown) => ctx.log.warn({ err }, 'stop request failed'));
  }
}
