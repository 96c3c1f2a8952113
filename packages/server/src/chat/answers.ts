/**
 * Answers in a conversation. Sending stores the member's message and an in-progress assistant
 * message before any provider is called, then streams the answer over SSE (text, fallback, usage,
 * done | error). Stop cancels upstream; Retry re-runs a failed, interrupted or stopped answer; a
 * client can reattach to an answer in flight, on this instance or another.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ANY_MEMBER, userOf } from '../auth/index.js';
import type { OrgCatalog } from '../catalog/index.js';
import type { AppContext } from '../context.js';
import { conflict, HttpError, IdParams, notFound, parse, refuseDrained } from '../http/index.js';
import {
  locking,
  newId,
  nowIso,
  type ConversationsTable,
  type Database,
  type MessagesTable,
} from '../storage/index.js';
import { answerContext } from './context.js';
import { findConversation } from './conversations.js';
import { blankAnswerColumns, messageView, startedAnswerColumns } from './messages.js';
import { DELETED_WHILE_WRITTEN } from './runs.js';
import { openSse, type SseStream } from './sse.js';
import { defaultTitle, titleFromMessage } from './titles.js';
import { streamRun } from './viewer.js';

const SendBody = z.strictObject({ content: z.string().trim().min(1, 'must not be empty').max(200_000) });
const MessageParams = z.strictObject({
  id: z.string().min(1).max(100),
  messageId: z.string().min(1).max(100),
});

/** How often an answer written by another instance is read back, and for how long at most. */
const FOLLOW_POLL_MS = 250;
const FOLLOW_MAX_MS = 15 * 60_000;

/** The newest message of a conversation (in or out of a transaction), if it has any. */
const lastMessage = (db: Kysely<Database>, conversationId: string) =>
  db
    .selectFrom('messages')
    .select(['id', 'seq'])
    .where('conversation_id', '=', conversationId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();

/** The last event of a finished answer: `done` with the stored message, or `error` with why. */
function sendFinal(sse: SseStream, row: MessagesTable): void {
  const message = messageView(row);
  if (row.status === 'complete') sse.send('done', { message });
  else
    sse.send('error', {
      error: message.error ?? { reason: row.status, message: `the answer is ${row.status}` },
      message,
    });
}

/** Registers the routes that send, follow, stop and retry answers. */
export function registerAnswerRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;

  /**
   * Streams an answer another instance is writing: its text as it is saved (every second), then the
   * final message. The client sees the same events as from the writing instance.
   */
  const followRemote = (reply: FastifyReply, first: MessagesTable): void => {
    const sse = openSse(reply);
    sse.send('start', { assistantMessageId: first.id, resumed: true });
    let sent = '';
    void (async () => {
      const until = Date.now() + FOLLOW_MAX_MS;
      let row: MessagesTable = first;
      while (!sse.closed && Date.now() < until) {
        if (row.content.startsWith(sent) && row.content.length > sent.length) {
          sse.send('text', { text: row.content.slice(sent.length) });
          sent = row.content;
        }
        if (row.status !== 'in_progress') {
          sendFinal(sse, row);
          break;
        }
        // A slow viewer is sent the text saved meanwhile in one piece once it has read the last.
        await sse.ready();
        await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
        const next = await db
          .selectFrom('messages')
          .selectAll()
          .where('id', '=', first.id)
          .executeTakeFirst();
        if (!next) {
          // Its conversation was deleted meanwhile: the same final event the writing instance sends.
          sse.send('error', {
            error: DELETED_WHILE_WRITTEN,
            message: messageView({ ...row, status: 'failed' }),
          });
          break;
        }
        row = next;
      }
      sse.end();
    })().catch((err: unknown) => {
      ctx.log.warn({ err }, 'following an answer failed');
      sse.end();
    });
  };

  /**
   * Starts the answer `messageId` (stored in progress) to the history before `upToSeq` and streams
   * it to the caller, after a `start` event carrying `start`.
   */
  const answer = async (
    reply: FastifyReply,
    a: { conv: ConversationsTable; messageId: string; upToSeq: number; catalog: OrgCatalog; modelId: string },
    start: Record<string, unknown>,
  ): Promise<void> => {
    const model = a.catalog.models.find((m) => m.id === a.modelId);
    const { request, leftOut } = await answerContext(db, a.conv, a.upToSeq, model);
    // Stored before the answer runs, so a page that loads it while it is written shows the note
    // too; the row starts with null (startedAnswerColumns), so a retry that fits has none.
    if (leftOut > 0)
      await db
        .updateTable('messages')
        .set({ context_left_out: leftOut })
        .where('id', '=', a.messageId)
        .execute();
    const run = ctx.answers.start({
      orgId: a.conv.org_id,
      conversationId: a.conv.id,
      messageId: a.messageId,
      mateId: a.conv.mate_id,
      catalog: a.catalog,
      modelId: a.modelId,
      request,
    });
    streamRun(reply, run, ctx.log, {
      event: 'start',
      data: { ...start, contextLeftOut: leftOut > 0 ? leftOut : null },
    });
  };

  /** A message of the conversation `id` (already the caller's), if any, read through `q` (a transaction). */
  const findMessage = (id: string, messageId: string, q: Kysely<Database> = db) =>
    q
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', id)
      .where('id', '=', messageId)
      .executeTakeFirst();

  /**
   * Inside a transaction that starts an answer: the conversation still exists (another tab may
   * have deleted it since it was read: 404, rather than a foreign-key failure on insert) and has
   * no answer being written but `retried` (409). Its row is locked (before any message: the lock
   * order in index.ts) so that two sends, or a send and a retry, cannot both pass.
   */
  const claimConversation = async (trx: Kysely<Database>, id: string, retried?: string): Promise<void> => {
    const row = trx.selectFrom('conversations').select('id').where('id', '=', id);
    if (!(await locking(ctx.storage.kind, row).executeTakeFirst())) throw notFound('conversation');
    let busy = trx
      .selectFrom('messages')
      .select('id')
      .where('conversation_id', '=', id)
      .where('status', '=', 'in_progress');
    if (retried !== undefined) busy = busy.where('id', '!=', retried);
    if (await busy.executeTakeFirst())
      // A code of its own: the web app then follows that answer instead of only showing the refusal.
      throw new HttpError(
        409,
        'answer_in_progress',
        'an answer is still being written in this conversation; wait or stop it first',
      );
  };

  /** The model this conversation's Mate answers with, or a clear 409 when it cannot answer. */
  const resolveModel = async (orgId: string, mateId: string) => {
    const mate = await db
      .selectFrom('mates')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', mateId)
      .executeTakeFirst();
    if (!mate) throw notFound('Mate');
    const catalog = await ctx.catalogs.get(orgId);
    const modelId = mate.model_id ?? catalog.defaultModelId;
    if (!modelId)
      throw new HttpError(
        409,
        'not_configured',
        'no Default Model is set; an Owner or Admin must choose one in Models Management → Settings',
      );
    if (!catalog.models.some((m) => m.id === modelId)) {
      throw new HttpError(
        409,
        'model_unavailable',
        `the model "${modelId}" of this Mate is disabled or missing; an Owner or Admin must fix it`,
      );
    }
    return { catalog, modelId, mate };
  };

  app.post('/api/conversations/:id/messages', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const { content } = parse(SendBody, request.body);
    const conv = await findConversation(db, u.orgId, u.userId, id);
    const { catalog, modelId } = await resolveModel(u.orgId, conv.mate_id);
    const now = nowIso();
    const userMsg = newId();
    const asstMsg = newId();
    // Stored before any provider is called: the member's message is never lost.
    const { seq, title } = await db.transaction().execute(async (trx) => {
      await claimConversation(trx, id);
      const last = await lastMessage(trx, id);
      const s = (last?.seq ?? 0) + 1;
      const base = {
        org_id: u.orgId,
        conversation_id: id,
        ...blankAnswerColumns(),
        created_at: now,
        updated_at: now,
      };
      const rows: MessagesTable[] = [
        { ...base, id: userMsg, seq: s, role: 'user', content, status: 'complete' },
        {
          ...base,
          id: asstMsg,
          seq: s + 1,
          role: 'assistant',
          content: '',
          status: 'in_progress',
          ...startedAnswerColumns(catalog, modelId),
          owner_instance: ctx.instanceId,
        },
      ];
      await trx.insertInto('messages').values(rows).execute();
      // The first message names a conversation that still has its Mate's default title.
      let title: string | undefined;
      if (!last) {
        const mate = await trx
          .selectFrom('mates')
          .select('name')
          .where('id', '=', conv.mate_id)
          .executeTakeFirst();
        if (mate && conv.title === defaultTitle(mate.name)) title = titleFromMessage(content);
      }
      await trx
        .updateTable('conversations')
        .set({ updated_at: now, ...(title !== undefined && { title }) })
        .where('id', '=', id)
        .execute();
      return { seq: s + 1, title };
    });
    await answer(
      reply,
      { conv, messageId: asstMsg, upToSeq: seq, catalog, modelId },
      {
        userMessageId: userMsg,
        assistantMessageId: asstMsg,
        model: modelId,
        ...(title !== undefined && { conversationTitle: title }),
      },
    );
  });

  app.get(
    '/api/conversations/:id/messages/:messageId/events',
    // A draining instance still lets a member follow an answer it is writing (a page reattaching
    // to it), and only that: reading a finished answer, or following another instance's from the
    // database, is work another instance does as well (see `drain: 'follows-work'`).
    { config: { access: ANY_MEMBER, drain: 'follows-work' } },
    async (request, reply) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      // Taken before the reads below: an answer that ends meanwhile is still replayed to its end.
      const local = ctx.answers.get(messageId);
      if (request.draining && !local) return refuseDrained(reply);
      await findConversation(db, u.orgId, u.userId, id);
      const row = await findMessage(id, messageId);
      if (!row) throw notFound('message');
      const run = local ?? ctx.answers.get(messageId);
      if (run)
        return streamRun(
          reply,
          run,
          ctx.log,
          { event: 'start', data: { assistantMessageId: messageId, resumed: true } },
          { close: request.draining },
        );
      // Written by another instance (several behind a load balancer): follow it in the database.
      if (row.status === 'in_progress') return followRemote(reply, row);
      // Already finished: one final event with the stored message.
      const sse = openSse(reply);
      sendFinal(sse, row);
      sse.end();
    },
  );

  app.post(
    '/api/conversations/:id/messages/:messageId/stop',
    // Stop only ends an answer in flight: a draining instance still takes it (new work gets 503).
    { config: { access: ANY_MEMBER, drain: 'ends-work' } },
    async (request) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      await findConversation(db, u.orgId, u.userId, id);
      const run = ctx.answers.get(messageId);
      if (run && run.conversationId === id) {
        ctx.answers.stop(messageId);
        await run.finished;
      } else {
        // Maybe another instance is writing it: ask it (through Redis) and wait for the saved state.
        const row = await findMessage(id, messageId);
        if (row?.status !== 'in_progress' || !(await ctx.cluster.requestStop(messageId)))
          throw conflict('that answer is not being written (nothing to stop)');
        const until = Date.now() + 10_000;
        while (Date.now() < until) {
          const cur = await db
            .selectFrom('messages')
            .select('status')
            .where('id', '=', messageId)
            .executeTakeFirst();
          if (cur?.status !== 'in_progress') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Gone if its conversation was deleted meanwhile (by another tab, through any instance).
      const row = await findMessage(id, messageId);
      if (!row) throw notFound('message');
      return messageView(row);
    },
  );

  app.post(
    '/api/conversations/:id/messages/:messageId/retry',
    { config: { access: ANY_MEMBER } },
    async (request, reply) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      const conv = await findConversation(db, u.orgId, u.userId, id);
      const row = await findMessage(id, messageId);
      if (!row || row.role !== 'assistant') throw notFound('assistant message');
      if (!['failed', 'interrupted', 'cancelled'].includes(row.status))
        throw conflict(
          `only a failed, interrupted or stopped answer can be retried (this one is ${row.status})`,
        );
      const { catalog, modelId } = await resolveModel(u.orgId, conv.mate_id);
      // One transaction with the send's claim: a message sent meanwhile, or a delete, is seen here.
      // The claim locks the conversation before the update locks the message (index.ts).
      await db.transaction().execute(async (trx) => {
        await claimConversation(trx, id, messageId);
        const upd = await trx
          .updateTable('messages')
          .set({
            content: '',
            status: 'in_progress',
            ...startedAnswerColumns(catalog, modelId),
            owner_instance: ctx.instanceId,
            updated_at: nowIso(),
          })
          .where('id', '=', messageId)
          .where('status', '=', row.status)
          .executeTakeFirst();
        if (Number(upd.numUpdatedRows) !== 1) {
          // Read in the transaction: on SQLite its one connection is held by it.
          const still = await findMessage(id, messageId, trx);
          throw still ? conflict('that answer is already being retried') : notFound('assistant message');
        }
        const last = await lastMessage(trx, id);
        if (last?.id !== messageId) throw conflict('only the last answer of a conversation can be retried');
      });
      await answer(
        reply,
        { conv, messageId, upToSeq: row.seq, catalog, modelId },
        { assistantMessageId: messageId, model: modelId, retry: true },
      );
    },
  );
}
