/**
 * Web chat over SSE against the in-process simulator, on SQLite and PostgreSQL: the message is
 * stored before any provider is called, fallback is streamed and recorded, Stop cancels upstream,
 * a disconnected browser does not stop the answer, Retry re-runs a failed answer; a Mate's own model,
 * instructions and history are what the provider receives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateRequestTokens, type ChatMessage } from '@understudy/engine';
import {
  addMember,
  forEachBackend,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
  type Client,
  type ErrorBody,
} from './helpers.js';
import { startRelay } from './relay.js';

interface Msg {
  id: string;
  role: string;
  content: string;
  status: string;
  model: string | null;
  provider: string | null;
  usage: { inputTokens: number; outputTokens: number; estimated: boolean } | null;
  latencyMs: number | null;
  fallback: {
    originalModel: string;
    originalProvider: string;
    originalProviderLabel: string;
    backupModelLabel: string;
    reason: string;
    backupModel: string;
    backupProvider: string;
    mode: string;
  } | null;
  error: { reason: string; message: string; primary: unknown; backup: unknown } | null;
  contextLeftOut: number | null;
}

const messagesOf = async (c: Client, conv: string) =>
  (await c.get<{ messages: Msg[] }>(`/api/conversations/${conv}`)).body.messages;

/** One request a provider received, as sent on the wire. */
interface Seen {
  path: string;
  body: { model: string; stream: boolean; messages: { role: string; content: unknown }[] };
}

/** A relay in front of the simulator, with the chat completions it passed on parsed. */
async function startRecorder(target: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const relay = await startRelay(target);
  return {
    url: relay.url,
    get seen(): Seen[] {
      return relay.seen
        .filter((r) => r.method === 'POST')
        .map((r) => ({ path: r.path, body: JSON.parse(r.body) as Seen['body'] }));
    },
    close: relay.close,
  };
}

test('web chat', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      // A provider of the organization's own points at a loopback relay.
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '5', UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true' },
      // Longer than the file runs: fallback activity reaches the database only by the flush on read.
      activityFlushMs: 600_000,
    });
    const sim = server.demo!.simulator;
    try {
      const owner = await setupOwner(server);
      const member = await addMember(server, owner, 'm@example.com', 'member');
      const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
        .id;
      const simA = server.demo!.simName(orgId, 'sim-a');
      const mate = (
        await owner.post<{ id: string }>('/api/mates', { name: 'Ada', instructions: 'Be brief.' })
      ).body.id;
      const newConv = async () =>
        (await member.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;

      await t.test('setup gives the organization a first Mate on the default model', async () => {
        const { mates } = (
          await member.get<{ mates: { name: string; model: string | null }[] }>('/api/mates')
        ).body;
        const first = mates.find((m) => m.name === 'Assistant');
        assert.ok(first, `no first Mate among ${JSON.stringify(mates.map((m) => m.name))}`);
        assert.equal(first.model, null);
      });

      await t.test(
        'answers over SSE and stores the message with model, provider, usage, latency',
        async () => {
          const conv = await newConv();
          const res = await rawPost(member, `/api/conversations/${conv}/messages`, {
            content: 'Hello there',
          });
          assert.equal(res.status, 200);
          assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
          const events = await readSse(res);
          assert.equal(events[0]?.event, 'start');
          const text = events
            .filter((e) => e.event === 'text')
            .map((e) => e.data.text)
            .join('');
          assert.ok(text.length > 0);
          assert.ok(events.some((e) => e.event === 'usage'));
          const done = events.at(-1)!;
          assert.equal(done.event, 'done');
          const msgs = await messagesOf(member, conv);
          assert.equal(msgs.length, 2);
          assert.deepEqual([msgs[0]!.role, msgs[0]!.content], ['user', 'Hello there']);
          const a = msgs[1]!;
          assert.equal(a.status, 'complete');
          assert.equal(a.content, text);
          assert.equal(a.model, 'sim-a-large');
          assert.equal(a.provider, 'sim-a');
          assert.ok(a.usage && a.usage.outputTokens > 0 && a.usage.inputTokens > 0);
          assert.ok(typeof a.latencyMs === 'number');
          assert.equal(a.fallback, null);
        },
      );

      await t.test(
        "a Mate's own model answers; its instructions and the history reach that model in order",
        async () => {
          const recorder = await startRecorder(server.demo!.url);
          try {
            assert.equal(
              (
                await owner.post('/api/admin/providers', {
                  id: 'rec',
                  type: 'openai-compatible',
                  label: 'Recorded',
                  baseUrl: `${recorder.url}/p/rec/v1`,
                  apiKey: 'sk-rec-0123456789',
                })
              ).status,
              201,
            );
            assert.equal(
              (
                await owner.post('/api/admin/models', {
                  id: 'rec-model',
                  provider: 'rec',
                  upstreamModel: 'sim-gamma',
                  tier: 3,
                })
              ).status,
              201,
            );
            const instructions = 'You are Grace.\nAnswer in one short paragraph.';
            const grace = (
              await owner.post<{ id: string; model: string }>('/api/mates', {
                name: 'Grace',
                instructions,
                model: 'rec-model',
              })
            ).body;
            assert.equal(grace.model, 'rec-model');
            const conv = (await member.post<{ id: string }>('/api/conversations', { mateId: grace.id })).body
              .id;
            sim.clearAttempts();
            for (const content of ['First question', 'Second question']) {
              const events = await readSse(
                await rawPost(member, `/api/conversations/${conv}/messages`, { content }),
              );
              assert.equal(events[0]?.data.model, 'rec-model');
              assert.equal(events.at(-1)?.event, 'done');
            }
            const msgs = await messagesOf(member, conv);
            assert.deepEqual(
              msgs.map((m) => [m.role, m.model, m.provider, m.status]),
              [
                ['user', null, null, 'complete'],
                ['assistant', 'rec-model', 'rec', 'complete'],
                ['user', null, null, 'complete'],
                ['assistant', 'rec-model', 'rec', 'complete'],
              ],
            );
            // Only the Mate's model was asked, not the organization default (sim-a-large).
            assert.deepEqual(
              sim.attempts().map((a) => [a.provider, a.model]),
              [
                ['rec', 'sim-gamma'],
                ['rec', 'sim-gamma'],
              ],
            );
            // What the model received: the instructions as the system prompt, then the history in order.
            assert.equal(recorder.seen.length, 2);
            for (const r of recorder.seen) {
              assert.equal(r.path, '/p/rec/v1/chat/completions');
              assert.equal(r.body.model, 'sim-gamma');
              assert.equal(r.body.stream, true, 'upstream requests always stream');
            }
            assert.deepEqual(recorder.seen[0]!.body.messages, [
              { role: 'system', content: instructions },
              { role: 'user', content: 'First question' },
            ]);
            assert.deepEqual(recorder.seen[1]!.body.messages, [
              { role: 'system', content: instructions },
              { role: 'user', content: 'First question' },
              { role: 'assistant', content: msgs[1]!.content },
              { role: 'user', content: 'Second question' },
            ]);

            // While Grace names it, her model can be neither disabled nor deleted: she could not answer.
            for (const r of [
              await owner.patch<ErrorBody>('/api/admin/models/rec-model', { enabled: false }),
              await owner.del<ErrorBody>('/api/admin/models/rec-model'),
            ]) {
              assert.equal(r.status, 409);
              assert.match(r.body.error.message, /Mates use this model: Grace; change their model first/);
            }

            // Editing the Mate's model changes which model answers (the conversation goes on).
            assert.equal(
              (await owner.patch(`/api/mates/${grace.id}`, { model: 'sim-b-medium' })).status,
              200,
            );
            sim.clearAttempts();
            let events = await readSse(
              await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'Third question' }),
            );
            assert.equal(events.at(-1)?.event, 'done');
            let last = (await messagesOf(member, conv)).at(-1)!;
            assert.deepEqual([last.model, last.provider, last.fallback], ['sim-b-medium', 'sim-b', null]);
            assert.deepEqual(
              sim.attempts().map((a) => [a.provider, a.model]),
              [[server.demo!.simName(orgId, 'sim-b'), 'sim-b-medium']],
            );
            assert.equal(recorder.seen.length, 2, 'the old model was not asked');

            // Back to the organization default.
            assert.equal((await owner.patch(`/api/mates/${grace.id}`, { model: null })).status, 200);
            sim.clearAttempts();
            events = await readSse(
              await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'Fourth question' }),
            );
            assert.equal(events.at(-1)?.event, 'done');
            last = (await messagesOf(member, conv)).at(-1)!;
            assert.deepEqual([last.model, last.provider], ['sim-a-large', 'sim-a']);
            assert.deepEqual(
              sim.attempts().map((a) => [a.provider, a.model]),
              [[simA, 'sim-a-large']],
            );
          } finally {
            await recorder.close();
            // Leave the organization's list as the other tests expect it.
            await owner.del('/api/admin/models/rec-model');
            await owner.del('/api/admin/providers/rec');
          }
        },
      );

      await t.test(
        "a conversation longer than the model's window: the newest turns that fit reach it, with the instructions",
        async () => {
          const recorder = await startRecorder(server.demo!.url);
          try {
            const created = [
              await owner.post('/api/admin/providers', {
                id: 'rec-small',
                type: 'openai-compatible',
                label: 'Recorded, small window',
                baseUrl: `${recorder.url}/p/rec-small/v1`,
                apiKey: 'sk-rec-0123456789',
              }),
              // 1,500 tokens of window less 500 of reply: 1,000 tokens of conversation.
              await owner.post('/api/admin/models', {
                id: 'small-window',
                provider: 'rec-small',
                upstreamModel: 'sim-gamma',
                tier: 3,
                contextWindow: 1500,
                maxOutputTokens: 500,
              }),
            ];
            assert.deepEqual(
              created.map((r) => r.status),
              [201, 201],
            );
            const instructions = 'You are Hedy.';
            const hedy = (
              await owner.post<{ id: string }>('/api/mates', {
                name: 'Hedy',
                instructions,
                model: 'small-window',
              })
            ).body.id;
            const conv = (await member.post<{ id: string }>('/api/conversations', { mateId: hedy })).body.id;
            // Each question about 300 tokens: the conversation outgrows the window by the fourth.
            const question = (i: number) => `Question ${i}: ${'lorem ipsum '.repeat(100).trim()}`;
            const starts: unknown[] = [];
            for (let i = 1; i <= 4; i++) {
              const events = await readSse(
                await rawPost(member, `/api/conversations/${conv}/messages`, { content: question(i) }),
              );
              assert.equal(events.at(-1)?.event, 'done', `answer ${i} completes`);
              starts.push(events.find((e) => e.event === 'start')?.data.contextLeftOut);
            }
            const sent = recorder.seen.map((r) => r.body.messages);
            assert.equal(sent.length, 4);
            // The first answers saw everything; the last one the instructions and the newest turns.
            assert.equal(sent[1]!.length, 4);
            const last = sent[3]!;
            assert.deepEqual(last[0], { role: 'system', content: instructions });
            assert.equal(last[1]!.role, 'user', 'the kept turns start with a question');
            assert.deepEqual(last.at(-1), { role: 'user', content: question(4) });
            assert.ok(!last.some((m) => m.content === question(1)), 'the oldest question is left out');
            const tokens = estimateRequestTokens({ messages: last as ChatMessage[] });
            assert.ok(tokens <= 1000, `what was sent fits the window beside the reply (${tokens} tokens)`);
            // The member's conversation itself keeps everything.
            const stored = await messagesOf(member, conv);
            assert.equal(stored.length, 8);
            // Each answer says how many earlier messages it was asked without: of the 2i+1 stored
            // before the answer i (from 0), those not sent beside the instructions (null: none).
            const leftOut = sent.map((m, i) => 2 * i + 1 - (m.length - 1) || null);
            assert.deepEqual(leftOut.slice(0, 2), [null, null], 'the first answers saw everything');
            assert.ok((leftOut[3] ?? 0) >= 2, 'the last was asked without the first turn at least');
            assert.deepEqual(starts, leftOut, 'the start events say so as the answer is written');
            assert.deepEqual(
              stored.filter((m) => m.role === 'assistant').map((m) => m.contextLeftOut),
              leftOut,
              'the stored answers say so',
            );
            // A retry asks again, so it counts again: of the same history, none once the Mate has a
            // model that holds it all, the same count back on the small window. The failure is set
            // in the row because the recorder does not fail; the route only checks the status.
            const lastAnswer = stored.at(-1)!.id;
            const retry = async () => {
              await server.ctx.db
                .updateTable('messages')
                .set({ status: 'failed' })
                .where('id', '=', lastAnswer)
                .execute();
              const events = await readSse(
                await rawPost(member, `/api/conversations/${conv}/messages/${lastAnswer}/retry`, {}),
              );
              assert.equal(events.at(-1)?.event, 'done', 'the retry completes');
              const row = (await messagesOf(member, conv)).at(-1)!;
              return [events.find((e) => e.event === 'start')?.data.contextLeftOut, row.contextLeftOut];
            };
            assert.equal((await owner.patch(`/api/mates/${hedy}`, { model: null })).status, 200);
            assert.deepEqual(await retry(), [null, null], 'a retry on a model that holds it all');
            assert.equal((await owner.patch(`/api/mates/${hedy}`, { model: 'small-window' })).status, 200);
            assert.deepEqual(await retry(), [leftOut[3], leftOut[3]], 'a retry on the small window again');
            // Back to the organization default, so that the model and provider can go.
            assert.equal((await owner.patch(`/api/mates/${hedy}`, { model: null })).status, 200);
          } finally {
            await recorder.close();
            // Leave the organization's list as the other tests expect it.
            await owner.del('/api/admin/models/small-window');
            await owner.del('/api/admin/providers/rec-small');
          }
        },
      );

      await t.test('falls back when the primary provider is down, streams and records it', async () => {
        await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'overloaded' });
        try {
          const conv = await newConv();
          const events = await readSse(
            await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'Hi' }),
          );
          const fb = events.find((e) => e.event === 'fallback');
          assert.ok(fb, JSON.stringify(events.map((e) => e.event)));
          const f = fb.data.fallback as Msg['fallback'];
          assert.equal(f?.originalModel, 'sim-a-large');
          assert.equal(f?.originalProvider, 'sim-a');
          assert.equal(
            f?.originalProviderLabel,
            'Simulator A (OpenAI protocol)',
            'the tooltip names the provider',
          );
          assert.equal(f?.backupProvider, 'sim-b');
          assert.equal(f?.reason, 'overloaded');
          assert.equal(events.at(-1)?.event, 'done');
          const a = (await messagesOf(member, conv))[1]!;
          assert.equal(a.status, 'complete');
          assert.equal(a.provider, 'sim-b');
          assert.equal(a.fallback?.originalProvider, 'sim-a');
          assert.equal(a.fallback?.originalProviderLabel, 'Simulator A (OpenAI protocol)');
          assert.match(a.fallback?.backupModelLabel ?? '', /Sim B/);
          assert.equal(a.fallback?.backupModel, a.model);
          const activity = await owner.get<{
            events: { originalProvider: string; mate: { name: string } }[];
            countsByDay: { provider: string; count: number }[];
            providers: { id: string; label: string }[];
            models: { id: string; label: string }[];
          }>('/api/admin/fallback-activity');
          assert.ok(
            activity.body.events.some((e) => e.originalProvider === 'sim-a' && e.mate.name === 'Ada'),
          );
          // Ids are named for the admin, providers in the order they were added (the chart's colours).
          assert.deepEqual(
            activity.body.providers.map((p) => p.label),
            ['Simulator A (OpenAI protocol)', 'Simulator B (Anthropic protocol)'],
          );
          assert.match(activity.body.models.find((m) => m.id === a.model)?.label ?? '', /Sim B/);
          assert.ok(activity.body.countsByDay.some((c) => c.provider === 'sim-a' && c.count >= 1));
          // The event points at the answer it came from.
          const row = await server.ctx.db
            .selectFrom('fallback_events')
            .select(['message_id', 'mate_id', 'surface', 'count'])
            .where('message_id', '=', a.id)
            .executeTakeFirst();
          assert.deepEqual(row, { message_id: a.id, mate_id: mate, surface: 'chat', count: 1 });
          // A second identical fallback in the same write window is a row of its own: chat
          // answers are never coalesced, each event keeps its message.
          const conv2 = await newConv();
          await readSse(await rawPost(member, `/api/conversations/${conv2}/messages`, { content: 'Hi' }));
          const b = (await messagesOf(member, conv2))[1]!;
          assert.equal(b.fallback?.originalProvider, 'sim-a');
          const again = await owner.get<{ events: { id: string; surface: string; count: number }[] }>(
            '/api/admin/fallback-activity',
          );
          assert.ok(again.body.events.filter((e) => e.surface === 'chat').every((e) => e.count === 1));
          const both = await server.ctx.db
            .selectFrom('fallback_events')
            .select(['message_id', 'count'])
            .where('message_id', 'in', [a.id, b.id])
            .orderBy('id')
            .execute();
          assert.deepEqual(both, [
            { message_id: a.id, count: 1 },
            { message_id: b.id, count: 1 },
          ]);
        } finally {
          await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'none' });
          await server.ctx.health.reset({ scope: 'provider', id: `${orgId}/sim-a` });
          await server.ctx.health.reset({ scope: 'model', id: `${orgId}/sim-a-large` });
        }
      });

      await t.test('a cut mid-answer is taken over; restart mode discards the partial text', async () => {
        sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 5, times: 1 });
        try {
          const conv = await newConv();
          const events = await readSse(
            await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'Tell me more' }),
          );
          const idx = events.findIndex((e) => e.event === 'fallback');
          assert.ok(idx > 0, JSON.stringify(events.map((e) => e.event)));
          const fb = events[idx]!.data;
          assert.equal((fb.fallback as { reason: string }).reason, 'interrupted');
          const after = events
            .slice(idx + 1)
            .filter((e) => e.event === 'text')
            .map((e) => e.data.text)
            .join('');
          const a = (await messagesOf(member, conv))[1]!;
          assert.equal(a.status, 'complete');
          if (fb.discardText) assert.equal(a.content, after);
          else assert.ok(a.content.endsWith(after));
          assert.ok(a.fallback);
        } finally {
          sim.removeFault('cut');
          await server.ctx.health.reset({ scope: 'provider', id: `${orgId}/sim-a` });
          await server.ctx.health.reset({ scope: 'model', id: `${orgId}/sim-a-large` });
        }
      });

      await t.test(
        'the member message is stored before any provider is called; Stop cancels upstream',
        async () => {
          sim.clearAttempts();
          sim.setFault({ id: 'slow', provider: simA, fault: 'stall_after', after: 3 });
          try {
            const conv = await newConv();
            const res = await rawPost(member, `/api/conversations/${conv}/messages`, {
              content: 'Long answer please',
            });
            const head = await readSse(res, { until: (e) => e.event === 'text' });
            const assistantId = head[0]!.data.assistantMessageId as string;
            const during = await messagesOf(member, conv);
            assert.equal(during[0]!.content, 'Long answer please');
            assert.equal(during[1]!.status, 'in_progress');
            // A page loaded now (a reload, another tab) shows who is answering.
            assert.equal(during[1]!.model, 'sim-a-large');
            assert.equal(during[1]!.provider, 'sim-a');
            const stopped = await member.post<Msg>(`/api/conversations/${conv}/messages/${assistantId}/stop`);
            assert.equal(stopped.status, 200);
            assert.equal(stopped.body.status, 'cancelled');
            await waitFor(
              'upstream cancelled',
              async () => (sim.attempts({ provider: simA }).some((a) => a.clientAborted) ? true : undefined),
              5000,
            );
            // Nothing else was asked: Stop is not a reason to fall back.
            assert.equal(sim.attempts().filter((a) => a.provider !== simA).length, 0);
            assert.equal(
              (await member.post(`/api/conversations/${conv}/messages/${assistantId}/stop`)).status,
              409,
            );
          } finally {
            sim.removeFault('slow');
          }
        },
      );

      await t.test(
        'a browser that disconnects does not stop the answer; it is saved and shown on return',
        async () => {
          sim.clearAttempts();
          const conv = await newConv();
          const ac = new AbortController();
          const res = await rawPost(
            member,
            `/api/conversations/${conv}/messages`,
            { content: 'Go on without me' },
            ac.signal,
          );
          const head = await readSse(res, { until: (e) => e.event === 'text' });
          const assistantId = head[0]!.data.assistantMessageId as string;
          ac.abort();
          const final = await waitFor('answer saved', async () => {
            const a = (await messagesOf(member, conv)).find((m) => m.id === assistantId);
            return a && a.status !== 'in_progress' ? a : undefined;
          });
          assert.equal(final.status, 'complete');
          assert.ok(final.content.length > 0);
          assert.ok(sim.attempts({ provider: simA }).every((a) => !a.clientAborted));
          // Reattaching after the end replays the final state.
          const again = await fetch(
            `${server.url}/api/conversations/${conv}/messages/${assistantId}/events`,
            { headers: { cookie: member.cookie! } },
          );
          const ev = await readSse(again);
          assert.equal(ev.at(-1)?.event, 'done');
        },
      );

      await t.test('with fallback None a failure shows the standard error; Retry re-runs it', async () => {
        assert.equal((await owner.put('/api/admin/settings', { fallback: { mode: 'none' } })).status, 200);
        await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'unavailable' });
        try {
          const conv = await newConv();
          const events = await readSse(
            await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'Hi' }),
          );
          const err = events.at(-1)!;
          assert.equal(err.event, 'error');
          assert.ok(!events.some((e) => e.event === 'fallback'));
          const a = (await messagesOf(member, conv))[1]!;
          assert.equal(a.status, 'failed');
          assert.ok(a.error?.message);
          assert.doesNotMatch(JSON.stringify(a.error), /simulator-key/);
          // Named as the tooltip names it (the chat shows the label, not the id).
          assert.deepEqual(
            [(a.error?.primary as { provider: string; providerLabel: string }).provider],
            ['sim-a'],
          );
          assert.match((a.error?.primary as { providerLabel: string }).providerLabel, /^Simulator A/);
          await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'none' });
          await server.ctx.health.reset({ scope: 'provider', id: `${orgId}/sim-a` });
          await server.ctx.health.reset({ scope: 'model', id: `${orgId}/sim-a-large` });
          const retry = await readSse(
            await rawPost(member, `/api/conversations/${conv}/messages/${a.id}/retry`, {}),
          );
          assert.equal(retry.at(-1)?.event, 'done');
          const b = (await messagesOf(member, conv))[1]!;
          assert.equal(b.id, a.id);
          assert.equal(b.status, 'complete');
          assert.equal(b.error, null);
          // A complete answer cannot be retried.
          assert.equal((await member.post(`/api/conversations/${conv}/messages/${a.id}/retry`)).status, 409);
        } finally {
          await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'none' });
          await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
        }
      });

      await t.test('two sends at once: one answers, the other is told to wait', async () => {
        const conv = await newConv();
        const [a, b] = await Promise.all([
          rawPost(member, `/api/conversations/${conv}/messages`, { content: 'one' }),
          rawPost(member, `/api/conversations/${conv}/messages`, { content: 'two' }),
        ]);
        assert.deepEqual([a.status, b.status].sort(), [200, 409]);
        const ok = a.status === 200 ? a : b;
        await (a.status === 200 ? b : a).body?.cancel();
        assert.equal((await readSse(ok)).at(-1)?.event, 'done');
        assert.equal((await messagesOf(member, conv)).length, 2);
      });

      await t.test('the first message names a conversation; a title the member chose is kept', async () => {
        type Conv = { title: string };
        const conv = await newConv();
        assert.equal((await member.get<Conv>(`/api/conversations/${conv}`)).body.title, 'Chat with Ada');
        const first = await readSse(
          await rawPost(member, `/api/conversations/${conv}/messages`, {
            content: '\n  What   is the capital\nof France?',
          }),
        );
        assert.equal(first[0]?.data.conversationTitle, 'What is the capital');
        assert.equal(
          (await member.get<Conv>(`/api/conversations/${conv}`)).body.title,
          'What is the capital',
        );
        const second = await readSse(
          await rawPost(member, `/api/conversations/${conv}/messages`, { content: 'And of Spain?' }),
        );
        assert.equal(second[0]?.data.conversationTitle, undefined, 'only the first message names it');
        assert.equal(
          (await member.get<Conv>(`/api/conversations/${conv}`)).body.title,
          'What is the capital',
        );

        const long = await newConv();
        await readSse(
          await rawPost(member, `/api/conversations/${long}/messages`, { content: 'word '.repeat(40) }),
        );
        const t1 = (await member.get<Conv>(`/api/conversations/${long}`)).body.title;
        assert.ok(t1.length <= 60 && t1.endsWith('…') && !t1.includes('  '), t1);

        const named = (
          await member.post<{ id: string }>('/api/conversations', { mateId: mate, title: 'Trip plans' })
        ).body.id;
        await readSse(await rawPost(member, `/api/conversations/${named}/messages`, { content: 'Hi' }));
        assert.equal((await member.get<Conv>(`/api/conversations/${named}`)).body.title, 'Trip plans');
      });

      await t.test('the conversation list comes in pages, most recently active first', async () => {
        const pager = await addMember(server, owner, 'pager@example.com', 'member');
        type Page = { conversations: { id: string; updatedAt: string }[]; next: string | null };
        const made: string[] = [];
        for (let i = 0; i < 5; i++)
          made.push((await pager.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id);
        // Activity moves a conversation up: the oldest one gets a message.
        await readSse(await rawPost(pager, `/api/conversations/${made[0]}/messages`, { content: 'Hi' }));
        const all = (await pager.get<Page>('/api/conversations')).body;
        assert.equal(all.next, null);
        assert.equal(all.conversations.length, 5);
        assert.equal(all.conversations[0]?.id, made[0], 'the one with activity is first');
        const key = (c: { id: string; updatedAt: string }) => `${c.updatedAt} ${c.id}`;
        const sorted = [...all.conversations].sort((a, b) => (key(a) < key(b) ? 1 : -1));
        assert.deepEqual(all.conversations, sorted, 'newest activity first, ties by id');

        const seen: string[] = [];
        let next: string | null = null;
        let pages = 0;
        do {
          const qs: string = next ? `&before=${encodeURIComponent(next)}` : '';
          const res = await pager.get<Page>(`/api/conversations?limit=2${qs}`);
          assert.equal(res.status, 200);
          assert.ok(res.body.conversations.length <= 2);
          seen.push(...res.body.conversations.map((c) => c.id));
          next = res.body.next;
          pages++;
        } while (next !== null && pages < 10);
        assert.equal(pages, 3);
        assert.deepEqual(
          seen,
          all.conversations.map((c) => c.id),
          'every conversation once, in order',
        );

        for (const bad of ['limit=0', 'limit=501', 'limit=two', 'before=nonsense', 'before=W10', 'page=2']) {
          const res = await pager.get<{ error: { message: string } }>(`/api/conversations?${bad}`);
          assert.equal(res.status, 400, bad);
          assert.match(res.body.error.message, /^query\b/, bad);
        }
      });

      await t.test('members see only their own conversations', async () => {
        const conv = await newConv();
        assert.equal((await owner.get(`/api/conversations/${conv}`)).status, 404);
        assert.equal(
          (await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'x' })).status,
          404,
        );
        const list = await owner.get<{ conversations: { id: string }[] }>('/api/conversations');
        assert.ok(!list.body.conversations.some((c) => c.id === conv));
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
