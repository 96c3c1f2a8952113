/**
 * Generated concurrent chat actions and the checks on their outcome, shared by chat-concurrency
 * (one server) and cluster-concurrency (two instances on one database and one Redis): a member in
 * several tabs sends, stops, retries, follows and deletes in two conversations at generated
 * moments, each action through any instance, while a new conversation with their Mate may be
 * opened and the Mate itself (with all its conversations) deleted.
 */
import assert from 'node:assert/strict';
import { expectedAnswer, type Simulator } from '@understudy/simulator';
import fc from 'fast-check';
import type { RunningServer } from '../src/index.js';
import { rawPost, readSse, waitFor, type Client, type SseEvent } from './helpers.js';

/** A stored message, as the conversation API shows it. */
export interface Stored {
  id: string;
  role: string;
  content: string;
  status: string;
}

/** Actions through any of `instances` instances (0 … instances-1). */
export function actionArb(instances: number) {
  return fc.record({
    kind: fc.oneof(
      { arbitrary: fc.constant('send'), weight: 8 },
      { arbitrary: fc.constant('stop'), weight: 4 },
      { arbitrary: fc.constant('retry'), weight: 6 },
      { arbitrary: fc.constant('follow'), weight: 2 },
      { arbitrary: fc.constant('delete'), weight: 2 },
      // Rarer: once the Mate is gone, the rest of the run is mostly 404s.
      { arbitrary: fc.constant('open'), weight: 1 },
      { arbitrary: fc.constant('deleteMate'), weight: 1 },
    ),
    conv: fc.constantFrom(0, 1),
    via: fc.integer({ min: 0, max: instances - 1 }),
    /** When it starts, from the run's start (ms). */
    at: fc.integer({ min: 0, max: 400 }),
  });
}

export type Action = typeof actionArb extends (n: number) => fc.Arbitrary<infer T> ? T : never;

/** What one action got: its status, and for an answer stream, its events. */
export interface Done extends Action {
  status: number;
  /** A send's message. */
  text?: string;
  /** The conversation an open created. */
  opened?: string;
  events?: SseEvent[];
}

/** The statuses each action may get: 409 while an answer is written (or none is), 404 once deleted. */
const OK: Record<string, number[]> = {
  send: [200, 409, 404],
  stop: [200, 409, 404],
  retry: [200, 409, 404],
  follow: [200, 404],
  delete: [204, 404],
  open: [201, 404],
  deleteMate: [204, 404],
};

/** One run's Mate and its two conversations. */
export interface Stage {
  mate: string;
  convs: string[];
}

/** A member acting through one client per instance (sessions live in the database: one cookie). */
export class Member {
  private sent = 0;
  private mates = 0;
  constructor(private readonly clients: readonly Client[]) {}

  /** A new Mate (the run may delete it) and two conversations with it, for one run of actions. */
  async stage(): Promise<Stage> {
    const c = this.clients[0]!;
    const mate = (await c.post<{ id: string }>('/api/mates', { name: `Mate ${++this.mates}` })).body.id;
    const open = async () => (await c.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    return { mate, convs: [await open(), await open()] };
  }

  /** The conversation's messages, or undefined once it is deleted. */
  async messagesOf(conv: string): Promise<Stored[] | undefined> {
    const r = await this.clients[0]!.get<{ messages: Stored[] }>(`/api/conversations/${conv}`);
    return r.status === 404 ? undefined : r.body.messages;
  }

  /** The conversation's newest answer; one not yet there is waited for a little (else 'none', a 404). */
  private async lastAnswer(conv: string): Promise<string> {
    for (let i = 0; i < 6; i++) {
      const messages = await this.messagesOf(conv);
      const id = messages?.filter((m) => m.role === 'assistant').at(-1)?.id;
      if (id || !messages) return id ?? 'none';
      await new Promise((r) => setTimeout(r, 50));
    }
    return 'none';
  }

  /** Runs one action in `stage.convs[a.conv]` (or on its Mate); answers that stream are read to their end. */
  async act(a: Action, stage: Stage): Promise<Done> {
    const c = this.clients[a.via]!;
    const conv = stage.convs[a.conv]!;
    const base = `/api/conversations/${conv}/messages`;
    const streamed = async (res: Response, text?: string): Promise<Done> => ({
      ...a,
      status: res.status,
      ...(text !== undefined && { text }),
      ...(res.status === 200 ? { events: await readSse(res) } : (await res.text(), {})),
    });
    switch (a.kind) {
      case 'send': {
        const text = `Question number ${++this.sent}.`;
        return streamed(await rawPost(c, base, { content: text }), text);
      }
      case 'retry':
        return streamed(await rawPost(c, `${base}/${await this.lastAnswer(conv)}/retry`, {}));
      case 'follow':
        return streamed(
          await fetch(`${c.base}${base}/${await this.lastAnswer(conv)}/events`, {
            headers: { cookie: c.cookie ?? '' },
            signal: AbortSignal.timeout(20_000),
          }),
        );
      case 'stop':
        return { ...a, status: (await c.post(`${base}/${await this.lastAnswer(conv)}/stop`)).status };
      case 'open': {
        const r = await c.post<{ id: string }>('/api/conversations', { mateId: stage.mate });
        return { ...a, status: r.status, ...(r.status === 201 && { opened: r.body.id }) };
      }
      case 'deleteMate':
        return { ...a, status: (await c.del(`/api/mates/${stage.mate}`)).status };
      default:
        return { ...a, status: (await c.del(`/api/conversations/${conv}`)).status };
    }
  }

  /** Runs the actions, each at its moment, all at once; resolves when every one has ended. */
  actAll(actions: readonly Action[], stage: Stage): Promise<Done[]> {
    return Promise.all(
      actions.map((a) => new Promise((r) => setTimeout(r, a.at)).then(() => this.act(a, stage))),
    );
  }
}

/** A one-line account of the actions and their outcomes, for failure messages. */
export function describe(done: readonly Done[]): string {
  return JSON.stringify(
    done.map((d) => [d.kind, d.conv, d.via, d.status, d.events?.map((e) => e.event).join(',')]),
  );
}

/** Each action got one of its documented statuses, and each stream ended once; counts outcomes in `seen`. */
export function checkActions(done: readonly Done[], seen: Map<string, number>, said: string): void {
  for (const d of done) {
    assert.ok(OK[d.kind]!.includes(d.status), `${d.kind} got ${d.status}: ${said}`);
    seen.set(`${d.kind} ${d.status}`, (seen.get(`${d.kind} ${d.status}`) ?? 0) + 1);
    if (!d.events) continue;
    const ends = d.events.filter((e) => e.event === 'done' || e.event === 'error');
    assert.equal(ends.length, 1, `one end per stream: ${said}`);
    assert.equal(d.events.at(-1), ends[0], `the end is last: ${said}`);
  }
}

/** Waits until no answer runs on any of `servers` and no provider response is open. */
export async function untilQuiet(servers: readonly RunningServer[], sim: Simulator): Promise<void> {
  await waitFor(
    'no answer running',
    async () => (servers.every((s) => s.ctx.answers.size === 0) ? true : undefined),
    10_000,
  );
  await waitFor(
    'no provider response open',
    async () => (sim.sockets().active === 0 ? true : undefined),
    5000,
  );
}

/**
 * Once all is quiet: a conversation is gone exactly when a delete of it or of its Mate succeeded
 * (a conversation opened meanwhile included: none outlives its Mate); one that remains
 * alternates user and assistant with nothing in progress, holds each accepted message once, and
 * each answer as one of its streams ended it, a complete one being the whole answer (`words`
 * long) to its question.
 */
export async function checkConversations(
  member: Member,
  done: readonly Done[],
  stage: Stage,
  words: number,
  said: string,
): Promise<void> {
  const mateGone = done.some((d) => d.kind === 'deleteMate' && d.status === 204);
  for (const d of done.filter((x) => x.opened)) {
    const messages = await member.messagesOf(d.opened!);
    assert.equal(messages === undefined, mateGone, `an opened conversation is gone iff its Mate: ${said}`);
  }
  for (const [i, conv] of stage.convs.entries()) {
    const messages = await member.messagesOf(conv);
    const deleted = mateGone || done.some((d) => d.conv === i && d.kind === 'delete' && d.status === 204);
    assert.equal(messages === undefined, deleted, `a conversation is gone iff deleted: ${said}`);
    if (!messages) continue;
    const shown = JSON.stringify(messages.map((x) => [x.role, x.status, x.content.slice(0, 40)]));
    const accepted = done
      .filter((d) => d.conv === i && d.kind === 'send' && d.status === 200)
      .map((d) => d.text);
    const asked = messages.filter((m) => m.role === 'user').map((m) => m.content);
    assert.deepEqual([...asked].sort(), [...accepted].sort(), `each accepted message stored once: ${said}`);
    messages.forEach((m, k) => {
      assert.equal(m.role, k % 2 === 0 ? 'user' : 'assistant', `roles alternate: ${said} ${shown}`);
      assert.notEqual(m.status, 'in_progress', `nothing left in progress: ${said} ${shown}`);
    });
    for (const [k, m] of messages.entries()) {
      if (m.role !== 'assistant') continue;
      if (m.status === 'complete')
        assert.ok(
          questionsOf(messages, k).some((q) => m.content === expectedAnswer(q, words)),
          `whole answer: ${said} ${shown}`,
        );
      // The stored answer is what one of its streams ended with (the last run's).
      const finals = done
        .flatMap((d) => d.events?.at(-1) ?? [])
        .map((e) => e.data.message as Stored | undefined)
        .filter((x): x is Stored => x?.id === m.id);
      assert.ok(
        finals.some((f) => f.content === m.content && f.status === m.status),
        `stored answer = a stream's final message: ${said} ${JSON.stringify(m)} ${JSON.stringify(finals)}`,
      );
    }
  }
}

/**
 * The question the answer at `k` may be answering: its own; or, through an Anthropic-protocol
 * backup (whose turns must alternate, so the adapter joins consecutive user messages into one turn
 * and the simulator reads its texts joined by newlines), every question asked since the last answer
 * the model was shown (answers with no text are left out of the history).
 */
function questionsOf(messages: readonly Stored[], k: number): string[] {
  const since: string[] = [];
  for (let j = k - 1; j >= 0; j--) {
    const m = messages[j]!;
    if (m.role === 'user') since.unshift(m.content);
    else if (m.content !== '') break;
  }
  return [messages[k - 1]!.content, since.join('\n')];
}
