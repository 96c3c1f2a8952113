/**
 * Conversations and messages. Sending stores the member's message and an in-progress assistant
 * message before any provider is called, then streams the answer over SSE (text, fallback, usage,
 * done | error). Stop cancels upstream; Retry re-runs a failed, interrupted or stopped answer; a
 * client can reattach to an answer in flight.
 */
import type { ChatMessage, ChatRequest } from '@understudy/engine';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ANY_MEMBER, userOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { conflict, HttpError, IdParams, notFound, parse } from '../http/index.js';
import { newId, nowIso, type ConversationsTable, type MessagesTable } from '../storage/index.js';
import { blankAnswerColumns, messageView } from './messages.js';
import { stopAnswersIn } from './runs.js';
import { openSse } from './sse.js';
import { defaultTitle, titleFromMessage } from './titles.js';
import { streamRun } from './viewer.js';

/** Said to whoever sends a longer title (the chat page shows it under the rename box). */
const TITLE_TOO_LONG = 'a title is at most 200 characters';
const CreateBody = z.strictObject({
  mateId: z.string().min(1).max(100),
  title: z.string().trim().max(200, TITLE_TOO_LONG).optional(),
});
const PatchBody = z.strictObject({
  title: z.string().trim().min(1, 'a title cannot be empty').max(200, TITLE_TOO_LONG),
});
const SendBody = z.strictObject({ content: z.string().trim().min(1, 'must not be empty').max(200_000) });
const MessageParams = z.strictObject({
  id: z.string().min(1).max(100),
  messageId: z.string().min(1).max(100),
});

/** Where a page of the list ends: its last conversation's (updated_at, id), opaque to clients. */
const cursorOf = (r: ConversationsTable) =>
  Buffer.from(JSON.stringify([r.updated_at, r.id])).toString('base64url');
const Cursor = z.tuple([z.string().max(40), z.string().min(1).max(100)]);
/**
 * A page of the conversation list, most recently active first: `before` is the `next` of the page
 * before it. A conversation that becomes active while a member pages moves to the top (a client
 * that keeps its list merges by id).
 */
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z
    .string()
    .max(400)
    .transform((s, c) => {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
      } catch {
        value = undefined;
      }
      const r = Cursor.safeParse(value);
      if (r.success) return r.data;
      c.addIssue({ code: 'custom', message: "not a cursor this server gave (use a page's next)" });
      return z.NEVER;
    })
    .optional(),
});

function conversationView(r: ConversationsTable) {
  return { id: r.id, mateId: r.mate_id, title: r.title, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** How often an answer written by another instance is read back, and for how long at most. */
const FOLLOW_POLL_MS = 250;
const FOLLOW_MAX_MS = 15 * 60_000;

/** Registers conversation routes. */
export function registerConversationRoutes(app: FastifyInstance, ctx: AppContext): void {
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
      let row: MessagesTable | undefined = first;
      while (!sse.closed && row && Date.now() < until) {
        if (row.content.startsWith(sent) && row.content.length > sent.length) {
          sse.send('text', { text: row.content.slice(sent.length) });
          sent = row.content;
        }
        if (row.status !== 'in_progress') {
          const message = messageView(row);
          if (row.status === 'complete') sse.send('done', { message });
          else
            sse.send('error', {
              error: message.error ?? { reason: row.status, message: `the answer is ${row.status}` },
              message,
            });
          break;
        }
        // A slow viewer is sent the text saved meanwhile in one piece once it has read the last.
        await sse.ready();
        await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
        row = await db.selectFrom('messages').selectAll().where('id', '=', first.id).executeTakeFirst();
      }
      sse.end();
    })().catch((err: unknown) => {
      ctx.log.warn({ err }, 'following an answer failed');
      sse.end();
    });
  };

  /** A conversation of the caller (members see only their own; others' ids answer 404). */
  const findConversation = async (orgId: string, userId: string, id: string) => {
    const row = await db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('conversation');
    return row;
  };

  /** The request for answering `upTo` (exclusive seq): the Mate's instructions, then the history. */
  const buildRequest = async (conv: ConversationsTable, upToSeq: number): Promise<ChatRequest> => {
    const mate = await db
      .selectFrom('mates')
      .select('instructions')
      .where('id', '=', conv.mate_id)
      .executeTakeFirst();
    const rows = await db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conv.id)
      .where('seq', '<', upToSeq)
      .orderBy('seq')
      .execute();
    const messages: ChatMessage[] = [];
    if (mate?.instructions.trim()) messages.push({ role: 'system', content: mate.instructions });
    for (const r of rows) {
      if (r.role === 'user') messages.push({ role: 'user', content: r.content });
      // Failed answers with nothing to show are not part of the history the model sees.
      else if (r.content.length > 0) messages.push({ role: 'assistant', content: r.content });
    }
    return { messages };
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

  app.get('/api/conversations', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const query = parse(ListQuery, request.query, 'query');
    let q = db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', u.orgId)
      .where('user_id', '=', u.userId);
    if (query.before) {
      const [at, id] = query.before;
      q = q.where((eb) =>
        eb.or([eb('updated_at', '<', at), eb.and([eb('updated_at', '=', at), eb('id', '<', id)])]),
      );
    }
    // One row more than asked tells whether there is a next page without counting.
    const rows = await q
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit + 1)
      .execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      conversations: page.map(conversationView),
      next: rows.length > query.limit && last ? cursorOf(last) : null,
    };
  });

  app.post('/api/conversations', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(CreateBody, request.body);
    const mate = await db
      .selectFrom('mates')
      .select(['id', 'name'])
      .where('org_id', '=', u.orgId)
      .where('id', '=', body.mateId)
      .executeTakeFirst();
    if (!mate) throw notFound('Mate');
    const now = nowIso();
    const row: ConversationsTable = {
      id: newId(),
      org_id: u.orgId,
      user_id: u.userId,
      mate_id: mate.id,
      title: body.title || defaultTitle(mate.name),
      created_at: now,
      updated_at: now,
    };
    await db.insertInto('conversations').values(row).execute();
    reply.code(201);
    return conversationView(row);
  });

  app.get('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const conv = await findConversation(u.orgId, u.userId, id);
    const rows = await db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', id)
      .orderBy('seq')
      .execute();
    const mate = await db
      .selectFrom('mates')
      .select(['id', 'name'])
      .where('id', '=', conv.mate_id)
      .executeTakeFirst();
    return { ...conversationView(conv), mate: mate ?? null, messages: rows.map(messageView) };
  });

  app.patch('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const { title } = parse(PatchBody, request.body);
    const conv = await findConversation(u.orgId, u.userId, id);
    await db.updateTable('conversations').set({ title }).where('id', '=', conv.id).execute();
    return conversationView({ ...conv, title });
  });

  app.delete('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const conv = await findConversation(u.orgId, u.userId, id);
    await stopAnswersIn(ctx, { orgId: u.orgId, conversationId: conv.id });
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('messages').where('conversation_id', '=', conv.id).execute();
      await trx.deleteFrom('conversations').where('id', '=', conv.id).execute();
    });
    reply.code(204);
  });

  app.post('/api/conversations/:id/messages', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const { content } = parse(SendBody, request.body);
    const conv = await findConversation(u.orgId, u.userId, id);
    const { catalog, modelId } = await resolveModel(u.orgId, conv.mate_id);
    const now = nowIso();
    const userMsg = newId();
    const asstMsg = newId();
    // Stored before any provider is called: the member's message is never lost.
    const { seq, title } = await db.transaction().execute(async (trx) => {
      // PostgreSQL: lock the conversation so two sends cannot both pass the check (SQLite serialises writers).
      if (ctx.storage.kind === 'postgres') {
        await trx.selectFrom('conversations').select('id').where('id', '=', id).forUpdate().execute();
      }
      const busy = await trx
        .selectFrom('messages')
        .select('id')
        .where('conversation_id', '=', id)
        .where('status', '=', 'in_progress')
        .executeTakeFirst();
      if (busy)
        throw conflict('an answer is still being written in this conversation; wait or stop it first');
      const last = await trx
        .selectFrom('messages')
        .select('seq')
        .where('conversation_id', '=', id)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
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
    const chatRequest = await buildRequest(conv, seq);
    const run = ctx.answers.start({
      orgId: u.orgId,
      conversationId: id,
      messageId: asstMsg,
      mateId: conv.mate_id,
      catalog,
      modelId,
      request: chatRequest,
    });
    streamRun(reply, run, ctx.log, {
      event: 'start',
      data: {
        userMessageId: userMsg,
        assistantMessageId: asstMsg,
        model: modelId,
        ...(title !== undefined && { conversationTitle: title }),
      },
    });
  });

  app.get(
    '/api/conversations/:id/messages/:messageId/events',
    { config: { access: ANY_MEMBER } },
    async (request, reply) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      await findConversation(u.orgId, u.userId, id);
      const row = await db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', id)
        .where('id', '=', messageId)
        .executeTakeFirst();
      if (!row) throw notFound('message');
      const run = ctx.answers.get(messageId);
      if (run)
        return streamRun(reply, run, ctx.log, {
          event: 'start',
          data: { assistantMessageId: messageId, resumed: true },
        });
      // Written by another instance (several behind a load balancer): follow it in the database.
      if (row.status === 'in_progress') return followRemote(reply, row);
      // Already finished: one final event with the stored message.
      const sse = openSse(reply);
      const message = messageView(row);
      if (row.status === 'complete') sse.send('done', { message });
      else
        sse.send('error', {
          error: message.error ?? { reason: row.status, message: `the answer is ${row.status}` },
          message,
        });
      sse.end();
    },
  );

  app.post(
    '/api/conversations/:id/messages/:messageId/stop',
    { config: { access: ANY_MEMBER } },
    async (request) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      await findConversation(u.orgId, u.userId, id);
      const run = ctx.answers.get(messageId);
      if (run && run.conversationId === id) {
        ctx.answers.stop(messageId);
        await run.finished;
      } else {
        // Maybe another instance is writing it: ask it (through Redis) and wait for the saved state.
        const row = await db
          .selectFrom('messages')
          .select('status')
          .where('conversation_id', '=', id)
          .where('id', '=', messageId)
          .executeTakeFirst();
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
      const row = await db
        .selectFrom('messages')
        .selectAll()
        .where('id', '=', messageId)
        .executeTakeFirstOrThrow();
      return messageView(row);
    },
  );

  app.post(
    '/api/conversations/:id/messages/:messageId/retry',
    { config: { access: ANY_MEMBER } },
    async (request, reply) => {
      const u = userOf(request);
      const { id, messageId } = parse(MessageParams, request.params, 'params');
      const conv = await findConversation(u.orgId, u.userId, id);
      const row = await db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', id)
        .where('id', '=', messageId)
        .executeTakeFirst();
      if (!row || row.role !== 'assistant') throw notFound('assistant message');
      if (!['failed', 'interrupted', 'cancelled'].includes(row.status))
        throw conflict(
          `only a failed, interrupted or stopped answer can be retried (this one is ${row.status})`,
        );
      const last = await db
        .selectFrom('messages')
        .select('id')
        .where('conversation_id', '=', id)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (last?.id !== messageId) throw conflict('only the last answer of a conversation can be retried');
      const { catalog, modelId } = await resolveModel(u.orgId, conv.mate_id);
      const upd = await db
        .updateTable('messages')
        .set({
          content: '',
          status: 'in_progress',
          ...blankAnswerColumns(),
          owner_instance: ctx.instanceId,
          updated_at: nowIso(),
        })
        .where('id', '=', messageId)
        .where('status', '=', row.status)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) throw conflict('that answer is already being retried');
      const chatRequest = await buildRequest(conv, row.seq);
      const run = ctx.answers.start({
        orgId: u.orgId,
        conversationId: id,
        messageId,
        mateId: conv.mate_id,
        catalog,
        modelId,
        request: chatRequest,
      });
      streamRun(reply, run, ctx.log, {
        event: 'start',
        data: { assistantMessageId: messageId, model: modelId, retry: true },
      });
    },
  );
}
