/**
 * Conversations: the member's list (paged), create, read with its messages (paged), rename and delete. The
 * routes that send, follow, stop and retry an answer are in answers.ts.
 */
import type { Kysely } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ANY_MEMBER, userOf } from '../auth/index.js';
import type { AppContext } from '../context.js';
import { cursorParam, IdParams, notFound, pageCursor, parse } from '../http/index.js';
import { locking, newId, nowIso, type ConversationsTable, type Database } from '../storage/index.js';
import { messageView } from './messages.js';
import { stopAnswersIn } from './runs.js';
import { defaultTitle } from './titles.js';

/** Said to whoever sends a longer title (the chat page shows it under the rename box). */
const TITLE_TOO_LONG = 'a title is at most 200 characters';
const CreateBody = z.strictObject({
  mateId: z.string().min(1).max(100),
  title: z.string().trim().max(200, TITLE_TOO_LONG).optional(),
});
const PatchBody = z.strictObject({
  title: z.string().trim().min(1, 'a title cannot be empty').max(200, TITLE_TOO_LONG),
});
/**
 * A page of the conversation list, most recently active first: `before` is the `next` of the page
 * before it. A conversation that becomes active while a member pages moves to the top (a client
 * that keeps its list merges by id).
 */
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: cursorParam.optional(),
});

/**
 * A page of an open conversation: its newest `limit` messages, or those before the `before` seq
 * (the `older` of the page after them). A year-long conversation is megabytes of Markdown, and a
 * page reads only what the member scrolls to.
 */
const DetailQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** A conversation as the API shows it. */
export function conversationView(r: ConversationsTable) {
  return { id: r.id, mateId: r.mate_id, title: r.title, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** A conversation of the caller (members see only their own; others' ids answer 404). */
export async function findConversation(db: Kysely<Database>, orgId: string, userId: string, id: string) {
  const row = await db
    .selectFrom('conversations')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('conversation');
  return row;
}

/** Registers conversation routes. */
export function registerConversationRoutes(app: FastifyInstance, ctx: AppContext): void {
  const { db } = ctx;

  app.get('/api/conversations', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const query = parse(ListQuery, request.query, 'query');
    let q = db
      .selectFrom('conversations')
      .selectAll()
      .where('org_id', '=', u.orgId)
      .where('user_id', '=', u.userId);
    if (query.before) {
      const { at, id } = query.before;
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
      // Where the page ends: its last conversation's (updated_at, id).
      next: rows.length > query.limit && last ? pageCursor(last.updated_at, last.id) : null,
    };
  });

  app.post('/api/conversations', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const body = parse(CreateBody, request.body);
    const row = await db.transaction().execute(async (trx) => {
      // Held until the insert commits: a Mate deleted meanwhile waits, then takes this conversation
      // with it; one deleted first is not found here (else the conversation outlives its Mate).
      const read = trx
        .selectFrom('mates')
        .select(['id', 'name'])
        .where('org_id', '=', u.orgId)
        .where('id', '=', body.mateId);
      const mate = await locking(ctx.storage.kind, read, 'share').executeTakeFirst();
      if (!mate) throw notFound('Mate');
      const now = nowIso();
      const created: ConversationsTable = {
        id: newId(),
        org_id: u.orgId,
        user_id: u.userId,
        mate_id: mate.id,
        title: body.title || defaultTitle(mate.name),
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('conversations').values(created).execute();
      return created;
    });
    reply.code(201);
    return conversationView(row);
  });

  app.get('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const query = parse(DetailQuery, request.query, 'query');
    const conv = await findConversation(db, u.orgId, u.userId, id);
    let q = db.selectFrom('messages').selectAll().where('conversation_id', '=', id);
    if (query.before !== undefined) q = q.where('seq', '<', query.before);
    // Newest first through the (conversation_id, seq) index, one past the page to tell if older exist.
    const newest = await q
      .orderBy('seq', 'desc')
      .limit(query.limit + 1)
      .execute();
    const rows = newest.slice(0, query.limit).reverse();
    const first = rows[0];
    const mate = await db
      .selectFrom('mates')
      .select(['id', 'name'])
      .where('id', '=', conv.mate_id)
      .executeTakeFirst();
    return {
      ...conversationView(conv),
      mate: mate ?? null,
      messages: rows.map(messageView),
      older: newest.length > query.limit && first ? first.seq : null,
    };
  });

  app.patch('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const { title } = parse(PatchBody, request.body);
    const conv = await findConversation(db, u.orgId, u.userId, id);
    await db.updateTable('conversations').set({ title }).where('id', '=', conv.id).execute();
    return conversationView({ ...conv, title });
  });

  app.delete('/api/conversations/:id', { config: { access: ANY_MEMBER } }, async (request, reply) => {
    const u = userOf(request);
    const { id } = parse(IdParams, request.params, 'params');
    const conv = await findConversation(db, u.orgId, u.userId, id);
    await stopAnswersIn(ctx, { orgId: u.orgId, conversationId: conv.id });
    await db.transaction().execute(async (trx) => {
      // The conversation before its messages (the lock order in index.ts): a send that got in
      // first has committed.
      await locking(
        ctx.storage.kind,
        trx.selectFrom('conversations').select('id').where('id', '=', conv.id),
      ).execute();
      await trx.deleteFrom('messages').where('conversation_id', '=', conv.id).execute();
      await trx.deleteFrom('conversations').where('id', '=', conv.id).execute();
    });
    reply.code(204);
  });
}
