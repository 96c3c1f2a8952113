/**
 * The OpenAI-compatible API with the official `openai` npm client, unmodified, streaming and not,
 * including through a fallback (with usage); errors in OpenAI's shape, in-band after content; a
 * client that disconnects cancels upstream. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { randomToken, tokenHash } from '../src/security/index.js';
import { newId, nowIso } from '../src/storage/index.js';
import { forEachBackend, setupOwner, startTestServer, tempDir, waitFor } from './helpers.js';
import { startRelay } from './relay.js';

test('OpenAI-compatible API', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '2', UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true' },
      // Longer than the file runs: fallback activity reaches the database only by the flush on read.
      activityFlushMs: 600_000,
    });
    const sim = server.demo!.simulator;
    try {
      const owner = await setupOwner(server);
      const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
        .id;
      const simA = server.demo!.simName(orgId, 'sim-a');
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'tests' })).body.key;
      const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 20_000 });
      const resetHealth = async () => {
        for (const [scope, id] of [
          ['provider', 'sim-a'],
          ['model', 'sim-a-large'],
        ] as const)
          await server.ctx.health.reset({ scope, id: `${orgId}/${id}` });
      };

      await t.test('GET /v1/models lists the enabled models', async () => {
        const list = await client.models.list();
        const ids = list.data.map((m) => m.id);
        assert.ok(ids.includes('sim-a-large') && ids.includes('sim-b-small'));
      });

      await t.test('GET /v1/models/{id} retrieves one model; default names the Default Model', async () => {
        const m = await client.models.retrieve('sim-b-small');
        assert.equal(m.id, 'sim-b-small');
        assert.equal(m.object, 'model');
        assert.equal(m.owned_by, 'sim-b');
        const d = await client.models.retrieve('default');
        assert.equal(d.id, 'sim-a-large');
        assert.equal((d as unknown as { default: boolean }).default, true);
        await assert.rejects(client.models.retrieve('no/such-model'), (e: unknown) => {
          assert.ok(e instanceof OpenAI.NotFoundError);
          assert.equal(e.code, 'model_not_found');
          return true;
        });
      });

      await t.test('non-streaming completion names the model that answered and reports usage', async () => {
        const { data, response } = await client.chat.completions
          .create({ model: 'default', messages: [{ role: 'user', content: 'Hello' }] })
          .withResponse();
        assert.equal(data.model, 'sim-a-large');
        assert.equal(data.object, 'chat.completion');
        assert.ok((data.choices[0]?.message.content ?? '').length > 0);
        assert.equal(data.choices[0]?.finish_reason, 'stop');
        assert.ok(data.usage && data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
        assert.equal(response.headers.get('x-understudy-model'), 'sim-a-large');
        assert.equal(response.headers.get('x-understudy-provider'), 'sim-a');
        assert.equal(response.headers.get('x-understudy-fallback-from'), null);
      });

      await t.test(
        'streaming: every chunk has a choice unless include_usage asks for a usage chunk',
        async () => {
          const { data: stream, response } = await client.chat.completions
            .create({ model: 'sim-b-medium', messages: [{ role: 'user', content: 'Hello' }], stream: true })
            .withResponse();
          assert.equal(response.headers.get('x-understudy-model'), 'sim-b-medium');
          let text = '';
          let usage: OpenAI.CompletionUsage | undefined | null;
          let finish: string | null | undefined;
          for await (const chunk of stream) {
            assert.equal(chunk.model, 'sim-b-medium');
            // The loop every OpenAI example writes: it throws on a chunk without choices.
            const [choice] = chunk.choices;
            assert.ok(choice, `a chunk without choices: ${JSON.stringify(chunk)}`);
            text += choice.delta.content ?? '';
            finish = choice.finish_reason ?? finish;
            // The usage still comes, on the finishing chunk.
            if (chunk.usage) usage = chunk.usage;
          }
          assert.ok(text.length > 0);
          assert.equal(finish, 'stop');
          assert.ok(usage && usage.completion_tokens > 0);

          // With include_usage, as OpenAI: the last chunk has no choices and carries the usage.
          const withUsage = await client.chat.completions.create({
            model: 'sim-b-medium',
            messages: [{ role: 'user', content: 'Hello' }],
            stream: true,
            stream_options: { include_usage: true },
          });
          const chunks: OpenAI.ChatCompletionChunk[] = [];
          for await (const chunk of withUsage) chunks.push(chunk);
          const last = chunks.at(-1);
          assert.deepEqual(last?.choices, []);
          assert.ok(last?.usage && last.usage.completion_tokens > 0);
          assert.ok(chunks.slice(0, -1).every((c) => c.choices.length === 1 && !c.usage));
        },
      );

      await t.test('an answer that is only a tool call has null content, as OpenAI', async () => {
        const data = await client.chat.completions.create({
          model: 'sim-b-medium',
          messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
          tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        });
        const message = data.choices[0]?.message;
        assert.equal(data.choices[0]?.finish_reason, 'tool_calls');
        assert.equal(
          message?.tool_calls?.[0]?.type === 'function' && message.tool_calls[0].function.name,
          'get_weather',
        );
        assert.equal(message?.content, null);
      });

      await t.test(
        'stop, top_p, seed, JSON mode, a JSON schema, tool_choice and parallel_tool_calls reach the provider',
        async () => {
          const relay = await startRelay(server.demo!.url);
          try {
            const added = await owner.post('/api/admin/providers', {
              id: 'rec',
              type: 'openai-compatible',
              label: 'Recorded',
              baseUrl: `${relay.url}/p/${simA}/v1`,
              apiKey: 'sk-rec-0123456789',
            });
            assert.equal(added.status, 201, JSON.stringify(added.body));
            const model = await owner.post('/api/admin/models', {
              id: 'rec-model',
              provider: 'rec',
              upstreamModel: 'sim-gamma',
              tier: 3,
            });
            assert.equal(model.status, 201, JSON.stringify(model.body));
            await client.chat.completions.create({
              model: 'rec-model',
              messages: [{ role: 'user', content: 'What is the weather?' }],
              stop: 'END',
              top_p: 0.5,
              seed: 7,
              response_format: { type: 'json_object' },
              tools: [
                {
                  type: 'function',
                  function: { name: 'get_weather', parameters: { type: 'object' }, strict: true },
                },
              ],
              tool_choice: { type: 'function', function: { name: 'get_weather' } },
              parallel_tool_calls: false,
            });
            const sent = relay.seen
              .filter((r) => r.method === 'POST')
              .map((r) => JSON.parse(r.body) as Record<string, unknown>);
            assert.equal(sent.length, 1);
            assert.deepEqual(sent[0]!.tools, [
              {
                type: 'function',
                function: { name: 'get_weather', parameters: { type: 'object' }, strict: true },
              },
            ]);
            assert.deepEqual(
              [
                sent[0]!.stop,
                sent[0]!.top_p,
                sent[0]!.seed,
                sent[0]!.response_format,
                sent[0]!.tool_choice,
                sent[0]!.parallel_tool_calls,
              ],
              [
                ['END'],
                0.5,
                7,
                { type: 'json_object' },
                { type: 'function', function: { name: 'get_weather' } },
                false,
              ],
            );
            const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
            await client.chat.completions.create({
              model: 'rec-model',
              messages: [{ role: 'user', content: 'x' }],
              response_format: { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } },
            });
            const second = relay.seen.filter((r) => r.method === 'POST')[1];
            assert.deepEqual((JSON.parse(second?.body ?? '{}') as Record<string, unknown>).response_format, {
              type: 'json_schema',
              json_schema: { name: 'place', schema, strict: true },
            });
            await assert.rejects(
              client.chat.completions.create({
                model: 'rec-model',
                messages: [{ role: 'user', content: 'x' }],
                response_format: { type: 'json_schema', json_schema: { name: 'a place', schema } },
              }),
              (e: unknown) =>
                e instanceof OpenAI.BadRequestError &&
                /response_format\.json_schema\.name: letters, digits/.test(e.message),
            );
            assert.equal(
              relay.seen.filter((r) => r.method === 'POST').length,
              2,
              'the refused one was not sent',
            );
            // A refusal the client was given, sent back in the history, reaches the model as what it said.
            await client.chat.completions.create({
              model: 'rec-model',
              messages: [
                { role: 'user', content: 'x' },
                { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
                { role: 'user', content: 'Why not?' },
              ],
            });
            const third = relay.seen.filter((r) => r.method === 'POST')[2];
            const history = (JSON.parse(third?.body ?? '{}') as { messages: { content: unknown }[] })
              .messages;
            assert.deepEqual(
              history.map((m) => m.content),
              ['x', 'I cannot help with that.', 'Why not?'],
            );
          } finally {
            await owner.del('/api/admin/models/rec-model');
            await owner.del('/api/admin/providers/rec');
            await relay.close();
          }
        },
      );

      await t.test(
        "OpenAI's newer parameters: identifiers and hints are accepted, audio, web search and functions refused saying so",
        async () => {
          const data = await client.chat.completions.create({
            model: 'sim-b-medium',
            messages: [{ role: 'user', content: 'Hello' }],
            user: 'u-1',
            safety_identifier: 'hashed-user-1',
            prompt_cache_key: 'team-chat',
            prompt_cache_retention: 'in_memory',
            verbosity: 'low',
            prediction: { type: 'content', content: 'Hello there' },
            modalities: ['text'],
          });
          assert.ok(data.choices[0]?.message.content, 'answered');
          const refused: [Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>, RegExp][] = [
            [{ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } }, /audio/],
            [{ web_search_options: {} }, /web_search_options: web search is not supported/],
            [
              { functions: [{ name: 'f', parameters: { type: 'object' } }], function_call: 'auto' },
              /functions: deprecated: use tools/,
            ],
            [{ verbosity: 'loud' as 'low' }, /verbosity/],
          ];
          for (const [extra, message] of refused)
            await assert.rejects(
              client.chat.completions.create({
                model: 'sim-b-medium',
                messages: [{ role: 'user', content: 'Hello' }],
                ...extra,
              }),
              (e: unknown) => {
                assert.ok(e instanceof OpenAI.BadRequestError, String(e));
                assert.match(e.message, message);
                assert.doesNotMatch(e.message, /unknown field/);
                return true;
              },
              JSON.stringify(extra),
            );
        },
      );

      await t.test('a fallback before content: model is the backup, headers say what happened', async () => {
        sim.setFault({ id: 'down', provider: simA, fault: 'overloaded' });
        try {
          const { data, response } = await client.chat.completions
            .create({ model: 'sim-a-large', messages: [{ role: 'user', content: 'Hello' }] })
            .withResponse();
          assert.notEqual(data.model, 'sim-a-large');
          assert.equal(response.headers.get('x-understudy-model'), data.model);
          assert.equal(response.headers.get('x-understudy-provider'), 'sim-b');
          assert.equal(response.headers.get('x-understudy-fallback-from'), 'sim-a-large');
          assert.equal(response.headers.get('x-understudy-fallback-provider'), 'sim-a');
          assert.equal(response.headers.get('x-understudy-fallback-reason'), 'overloaded');

          const { data: stream, response: r2 } = await client.chat.completions
            .create({ model: 'sim-a-large', messages: [{ role: 'user', content: 'Hello' }], stream: true })
            .withResponse();
          assert.equal(r2.headers.get('x-understudy-fallback-from'), 'sim-a-large');
          let text = '';
          const models = new Set<string>();
          for await (const chunk of stream) {
            models.add(chunk.model);
            text += chunk.choices[0]?.delta.content ?? '';
          }
          assert.ok(text.length > 0);
          assert.deepEqual([...models], [r2.headers.get('x-understudy-model')]);

          // Both answers were recorded without waiting for the database, and an admin sees them at
          // once: identical API fallbacks of one write window are one event that counts them.
          assert.equal(server.ctx.fallbacks.pendingAnswers, 2, 'written behind the answer');
          assert.equal(server.ctx.fallbacks.pendingCount, 1, 'coalesced into one row');
          const activity = await owner.get<{
            events: {
              surface: string;
              originalModel: string;
              backupProvider: string;
              reason: string;
              count: number;
            }[];
            countsByDay: { provider: string; count: number }[];
          }>('/api/admin/fallback-activity');
          assert.deepEqual(
            activity.body.events.map((e) => [
              e.surface,
              e.originalModel,
              e.backupProvider,
              e.reason,
              e.count,
            ]),
            [['api', 'sim-a-large', 'sim-b', 'overloaded', 2]],
          );
          assert.deepEqual(
            activity.body.countsByDay.map((c) => [c.provider, c.count]),
            [['sim-a', 2]],
          );
          assert.equal(server.ctx.fallbacks.pendingCount, 0);
        } finally {
          sim.removeFault('down');
          await resetHealth();
        }
      });

      await t.test(
        'a fallback after streaming began is announced in the stream and completes the answer',
        async () => {
          sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 4, times: 1 });
          try {
            const stream = await client.chat.completions.create({
              model: 'sim-a-large',
              messages: [{ role: 'user', content: 'Hello' }],
              stream: true,
            });
            const models: string[] = [];
            let announced: Record<string, unknown> | undefined;
            let text = '';
            let finish: string | null | undefined;
            for await (const chunk of stream) {
              models.push(chunk.model);
              const ext = (chunk as unknown as { understudy?: { fallback?: Record<string, unknown> } })
                .understudy;
              if (ext?.fallback) announced = ext.fallback;
              text += chunk.choices[0]?.delta.content ?? '';
              finish = chunk.choices[0]?.finish_reason ?? finish;
            }
            assert.equal(models[0], 'sim-a-large');
            assert.ok(announced, 'fallback announced in-band');
            assert.equal(announced.reason, 'interrupted');
            assert.notEqual(models.at(-1), 'sim-a-large');
            assert.equal(finish, 'stop');
            assert.ok(text.split(' ').length > 4);
          } finally {
            sim.removeFault('cut');
            await resetHealth();
          }
        },
      );

      await t.test(
        'a whole answer cut in a tool call comes from the backup: the client had seen nothing',
        async () => {
          // Upstream always streams: the cut lands after part of the call's arguments went by.
          sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 2, times: 1 });
          try {
            const { data, response } = await client.chat.completions
              .create({
                model: 'sim-a-large',
                messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
                tools: [
                  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
                ],
              })
              .withResponse();
            assert.equal(response.headers.get('x-understudy-fallback-reason'), 'interrupted');
            assert.equal(data.model, response.headers.get('x-understudy-model'));
            assert.equal(data.choices[0]?.finish_reason, 'tool_calls');
            const call = data.choices[0]?.message.tool_calls?.[0];
            assert.ok(call?.type === 'function' && call.function.name === 'get_weather');
            assert.doesNotThrow(() => JSON.parse(call.function.arguments), 'whole arguments');
            const ext = (data as unknown as { understudy: { fallback: { mode: string } } }).understudy;
            assert.equal(ext.fallback.mode, 'restart', 'the backup answered afresh');
          } finally {
            sim.removeFault('cut');
            await resetHealth();
          }
        },
      );

      await t.test("errors use OpenAI's shape with a meaningful status", async () => {
        await assert.rejects(
          client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
          (e: unknown) => {
            assert.ok(e instanceof OpenAI.NotFoundError);
            assert.equal(e.code, 'model_not_found');
            return true;
          },
        );
        const bad = new OpenAI({ apiKey: 'us-wrong', baseURL: `${server.url}/v1`, maxRetries: 0 });
        await assert.rejects(bad.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
        await assert.rejects(
          client.chat.completions.create({
            model: 'default',
            messages: [{ role: 'user', content: 'x' }],
            bogus: 1,
          } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming),
          (e: unknown) => e instanceof OpenAI.BadRequestError && /bogus/.test(e.message),
        );
        // Both primary and backup down (Specific backup on the same provider): a real status before content.
        await owner.put('/api/admin/settings', { fallback: { mode: 'specific', model: 'sim-a-medium' } });
        sim.setFault({ id: 'down', provider: simA, fault: 'unavailable' });
        try {
          await assert.rejects(
            client.chat.completions.create({
              model: 'sim-a-large',
              messages: [{ role: 'user', content: 'x' }],
            }),
            (e: unknown) => {
              assert.ok(e instanceof OpenAI.APIError);
              assert.ok(e.status === 502 || e.status === 503, String(e.status));
              // No model answered, so none is named as the one that did.
              assert.equal(e.headers?.get('x-understudy-model') ?? null, null);
              assert.equal(e.headers?.get('x-understudy-provider') ?? null, null);
              // The standard error names both failures, and no key.
              assert.match(e.message, /Sim A Large/);
              assert.match(e.message, /Sim A Medium/);
              assert.doesNotMatch(e.message, /simulator-key/);
              return true;
            },
          );
          await assert.rejects(
            (async () => {
              const s = await client.chat.completions.create({
                model: 'sim-a-large',
                messages: [{ role: 'user', content: 'x' }],
                stream: true,
              });
              for await (const _ of s) void _;
            })(),
            (e: unknown) => e instanceof OpenAI.APIError && (e.status === 502 || e.status === 503),
          );
        } finally {
          sim.removeFault('down');
          await resetHealth();
          await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
        }
      });

      await t.test(
        "a refused answer says when to try again: the provider's Retry-After, then health memory's",
        async () => {
          await owner.put('/api/admin/settings', { fallback: { mode: 'none' } });
          sim.setFault({ id: 'limited', provider: simA, fault: 'rate_limit', retryAfter: 20 });
          const ask = (stream: boolean) =>
            fetch(`${server.url}/v1/chat/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
              body: JSON.stringify({
                model: 'sim-a-large',
                stream,
                messages: [{ role: 'user', content: 'x' }],
              }),
              signal: AbortSignal.timeout(20_000),
            });
          try {
            const first = await ask(false);
            assert.equal(first.status, 429);
            assert.equal(first.headers.get('retry-after'), '20', "the provider's own");
            // Now health memory knows (a Retry-After past 3 s opens the breaker for that long).
            for (const stream of [false, true]) {
              const again = await ask(stream);
              assert.equal(again.status, 429, `stream: ${stream}`);
              const wait = Number(again.headers.get('retry-after'));
              assert.ok(wait >= 1 && wait <= 20, `health memory's wait, ${wait} s (stream: ${stream})`);
              await again.body?.cancel();
            }
            // A status without a known wait has no header.
            sim.removeFault('limited');
            await resetHealth();
            sim.setFault({ id: 'limited', provider: simA, fault: 'unavailable', times: 1 });
            const plain = await ask(false);
            assert.equal(plain.status, 502);
            assert.equal(plain.headers.get('retry-after'), null);
          } finally {
            sim.removeFault('limited');
            await resetHealth();
            await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
          }
        },
      );

      await t.test('a failure after content arrives in-band, as the error the server sent', async () => {
        await owner.put('/api/admin/settings', { fallback: { mode: 'none' } });
        sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 3, times: 1 });
        try {
          let text = '';
          let status: number | undefined;
          let caught: unknown;
          try {
            const { data: s, response } = await client.chat.completions
              .create({ model: 'sim-a-large', messages: [{ role: 'user', content: 'x' }], stream: true })
              .withResponse();
            status = response.status;
            for await (const c of s) text += c.choices[0]?.delta.content ?? '';
          } catch (e) {
            caught = e;
          }
          assert.equal(status, 200, 'the stream had begun');
          assert.ok(text.length > 0);
          // The error event the server wrote into the stream, not a broken connection.
          assert.ok(caught instanceof OpenAI.APIError, `an APIError, got ${String(caught)}`);
          assert.ok(
            !(caught instanceof OpenAI.APIConnectionError),
            `not a connection error: ${caught.message}`,
          );
          assert.equal(caught.status, undefined, 'no HTTP status: it came in-band');
          assert.equal(caught.type, 'server_error');
          assert.equal(caught.code, 'upstream_interrupted');
          const payload = caught.error as { message: string; type: string; code: string; param: unknown };
          assert.deepEqual(Object.keys(payload).sort(), ['code', 'message', 'param', 'type']);
          assert.equal(caught.message, payload.message);
          // The standard error names the model and provider that failed, and no key.
          assert.match(payload.message, /Sim A Large/);
          assert.match(payload.message, /Simulator A/);
          assert.doesNotMatch(payload.message, /simulator-key/);
        } finally {
          sim.removeFault('cut');
          await resetHealth();
          await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
        }
      });

      await t.test('usage is reported on answers that went through a fallback', async () => {
        const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
        const streamed = async (
          params: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'model' | 'messages'>,
        ) => {
          const { data: stream, response } = await client.chat.completions
            .create({ model: 'sim-a-large', messages: [{ role: 'user', content: 'Hello' }], ...params })
            .withResponse();
          let text = '';
          let fallback: Record<string, unknown> | undefined;
          let estimated: unknown;
          const usages: OpenAI.CompletionUsage[] = [];
          let afterUsage = 0;
          for await (const chunk of stream) {
            if (usages.length > 0) afterUsage += 1;
            text += chunk.choices[0]?.delta.content ?? '';
            const ext = (
              chunk as unknown as {
                understudy?: { fallback?: Record<string, unknown>; usage_estimated?: boolean };
              }
            ).understudy;
            if (ext?.fallback) fallback = ext.fallback;
            if (chunk.usage) {
              usages.push(chunk.usage);
              estimated = ext?.usage_estimated;
            }
          }
          assert.equal(usages.length, 1, 'one usage chunk');
          assert.equal(afterUsage, 0, 'usage is the last chunk');
          return { text, usage: usages[0]!, fallback, estimated, headers: response.headers };
        };

        // Before content: the backup answers alone, and its usage is the answer's.
        sim.setFault({ id: 'down', provider: simA, fault: 'overloaded' });
        try {
          const { data, response } = await client.chat.completions
            .create({ model: 'sim-a-large', messages: [{ role: 'user', content: 'Hello' }] })
            .withResponse();
          assert.equal(response.headers.get('x-understudy-fallback-from'), 'sim-a-large');
          const content = data.choices[0]?.message.content ?? '';
          assert.ok(data.usage, 'usage on a non-streaming fallback answer');
          assert.equal(data.usage.completion_tokens, words(content), 'the backup counted every word it sent');
          assert.ok(data.usage.prompt_tokens > 0);
          assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
          const whole = data as unknown as { understudy: { usage_estimated?: boolean } };
          assert.equal(whole.understudy.usage_estimated, undefined, 'the backup reported its usage');

          for (const params of [
            { stream: true as const },
            { stream: true as const, stream_options: { include_usage: true } },
          ]) {
            const s = await streamed(params);
            assert.equal(s.headers.get('x-understudy-fallback-from'), 'sim-a-large');
            assert.equal(s.usage.completion_tokens, words(s.text), JSON.stringify(params));
            assert.equal(s.usage.prompt_tokens, data.usage.prompt_tokens, 'same request, same prompt tokens');
            assert.equal(s.usage.total_tokens, s.usage.prompt_tokens + s.usage.completion_tokens);
            assert.equal(s.estimated, undefined, 'reported, not estimated');
          }
        } finally {
          sim.removeFault('down');
          await resetHealth();
        }

        // After content: both attempts are counted (the primary's partial text, then the backup's).
        sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 4, times: 1 });
        try {
          const s = await streamed({ stream: true });
          assert.ok(s.fallback, 'fallback announced in-band');
          assert.equal(s.fallback.reason, 'interrupted');
          assert.ok(
            s.usage.completion_tokens >= words(s.text),
            `${s.usage.completion_tokens} output tokens for ${words(s.text)} words`,
          );
          assert.ok(s.usage.prompt_tokens > 1, 'the takeover request counts too');
          assert.equal(s.usage.total_tokens, s.usage.prompt_tokens + s.usage.completion_tokens);
          // The cut primary reported no usage for its partial text: counted here, and marked so.
          assert.equal(s.estimated, true, 'an estimate is marked');
          sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 4, times: 1 });
          const data = await client.chat.completions.create({
            model: 'sim-a-large',
            messages: [{ role: 'user', content: 'Hello' }],
          });
          const whole = data as unknown as { understudy: { usage_estimated?: boolean } };
          assert.equal(whole.understudy.usage_estimated, true, 'marked on a whole answer too');
        } finally {
          sim.removeFault('cut');
          await resetHealth();
        }
      });

      await t.test(
        "a JSON schema: the SDK's parse() gets its shape, through a fallback too; a stream cut mid-JSON is completed",
        async () => {
          const schema = {
            type: 'object',
            properties: {
              city: { type: 'string' },
              days: { type: 'integer' },
              sights: { type: 'array', items: { type: 'string' } },
            },
            required: ['city', 'days', 'sights'],
            additionalProperties: false,
          };
          const params = {
            model: 'sim-a-large',
            messages: [{ role: 'user' as const, content: 'Plan a trip' }],
            response_format: {
              type: 'json_schema' as const,
              json_schema: { name: 'trip', schema, strict: true },
            },
          };
          type Trip = { city: string; days: number; sights: string[] };
          const direct = await client.chat.completions.parse(params);
          const trip = direct.choices[0]?.message.parsed as unknown as Trip;
          assert.equal(direct.model, 'sim-a-large');
          assert.ok(typeof trip.city === 'string' && trip.city.length > 0, JSON.stringify(trip));
          assert.ok(Number.isInteger(trip.days) && trip.sights.length === 2, JSON.stringify(trip));
          // The backup speaks Anthropic's protocol, which has no schema field: it is asked in words.
          sim.setFault({ id: 'down', provider: simA, fault: 'overloaded' });
          try {
            const { data, response } = await client.chat.completions.parse(params).withResponse();
            assert.equal(response.headers.get('x-understudy-fallback-from'), 'sim-a-large');
            assert.equal(response.headers.get('x-understudy-provider'), 'sim-b');
            assert.deepEqual(data.choices[0]?.message.parsed, trip);
          } finally {
            sim.removeFault('down');
            await resetHealth();
          }
          // Cut after a few words of JSON: the backup continues it to the same whole value.
          sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 2, times: 1 });
          try {
            const stream = await client.chat.completions.create({ ...params, stream: true });
            let text = '';
            let announced = false;
            for await (const chunk of stream) {
              text += chunk.choices[0]?.delta.content ?? '';
              if ((chunk as unknown as { understudy?: { fallback?: unknown } }).understudy?.fallback)
                announced = true;
            }
            assert.ok(announced, 'the takeover is announced in the stream');
            assert.deepEqual(JSON.parse(text), trip);
          } finally {
            sim.removeFault('cut');
            await resetHealth();
          }
          // A backup whose protocol constrains JSON (OpenAI's response_format) would write a whole
          // second value after the partial one: it continues with the schema asked in words.
          const specific = await owner.put('/api/admin/settings', {
            fallback: { mode: 'specific', model: 'sim-a-medium' },
          });
          assert.equal(specific.status, 200, JSON.stringify(specific.body));
          sim.setFault({ id: 'cut', provider: simA, fault: 'cut_after', after: 2, times: 1 });
          try {
            const { data: stream, response } = await client.chat.completions
              .create({ ...params, stream: true })
              .withResponse();
            let text = '';
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
            assert.equal(response.headers.get('x-understudy-model'), 'sim-a-large');
            assert.deepEqual(JSON.parse(text), trip);
          } finally {
            sim.removeFault('cut');
            await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
            await resetHealth();
          }
        },
      );

      await t.test("a backup on Anthropic's protocol is asked within the sampling it takes", async () => {
        // OpenAI takes a temperature up to 2 and top_p beside it; Anthropic refuses both (400).
        sim.setFault({ id: 'down', provider: simA, fault: 'overloaded' });
        try {
          const { data, response } = await client.chat.completions
            .create({
              model: 'sim-a-large',
              messages: [{ role: 'user', content: 'Hello' }],
              temperature: 1.5,
              top_p: 0.9,
              // Anthropic refuses a stop sequence of whitespace alone.
              stop: ['\n'],
            })
            .withResponse();
          assert.equal(response.headers.get('x-understudy-provider'), 'sim-b');
          assert.equal(response.headers.get('x-understudy-fallback-from'), 'sim-a-large');
          assert.ok(data.choices[0]?.message.content, 'the backup answered');
        } finally {
          sim.removeFault('down');
          await resetHealth();
        }
      });

      await t.test(
        'a reasoning backup (OpenAI o-series) is asked without the sampling parameters it refuses, within its reply limit',
        async () => {
          const relay = await startRelay(server.demo!.url);
          try {
            const added = await owner.post('/api/admin/providers', {
              id: 'reasoner',
              type: 'openai',
              label: 'Reasoner',
              baseUrl: `${relay.url}/p/o-sim/v1`,
              apiKey: 'sk-o-0123456789',
            });
            assert.equal(added.status, 201, JSON.stringify(added.body));
            // The simulator's +reasoning refuses temperature, top_p, stop and max_tokens with a 400.
            const model = await owner.post('/api/admin/models', {
              id: 'o-model',
              provider: 'reasoner',
              // …and, like a model whose replies are shorter than the primary's, more than 40 tokens.
              upstreamModel: 'sim-o+reasoning+max_output=40',
              maxOutputTokens: 40,
              tier: 5,
              capabilities: ['reasoning', 'tools', 'json'],
            });
            assert.equal(model.status, 201, JSON.stringify(model.body));
            const specific = await owner.put('/api/admin/settings', {
              fallback: { mode: 'specific', model: 'o-model' },
            });
            assert.equal(specific.status, 200, JSON.stringify(specific.body));
            // The simulator's answer depends only on the prompt: one of its words is the stop.
            const healthyAnswer = await client.chat.completions.create({
              model: 'sim-a-large',
              messages: [{ role: 'user', content: 'Hello' }],
            });
            const full = healthyAnswer.choices[0]!.message.content!;
            const stopWord = full.split(' ')[4]!;
            sim.setFault({ id: 'down', provider: simA, fault: 'overloaded' });
            const params = {
              messages: [{ role: 'user' as const, content: 'Hello' }],
              temperature: 0.2,
              top_p: 0.9,
              stop: [stopWord],
              max_tokens: 50,
              reasoning_effort: 'high' as const,
            };
            const { data, response } = await client.chat.completions
              .create({ ...params, model: 'sim-a-large' })
              .withResponse();
            assert.equal(response.headers.get('x-understudy-model'), 'o-model');
            assert.equal(response.headers.get('x-understudy-fallback-reason'), 'overloaded');
            // The stop sequence it was not sent is kept all the same: the answer ends before it.
            assert.equal(data.choices[0]?.message.content, full.slice(0, full.indexOf(stopWord)));
            assert.equal(data.choices[0]?.finish_reason, 'stop');
            const sent = relay.seen
              .filter((r) => r.method === 'POST')
              .map((r) => JSON.parse(r.body) as Record<string, unknown>);
            assert.equal(sent.length, 1);
            const keys = [
              'temperature',
              'top_p',
              'stop',
              'max_tokens',
              'max_completion_tokens',
              'reasoning_effort',
            ];
            assert.deepEqual(
              keys.map((k) => sent[0]![k]),
              [undefined, undefined, undefined, undefined, 40, 'high'],
            );
            // Asked directly, it answers the same request too.
            const direct = await client.chat.completions.create({
              ...params,
              model: 'o-model',
              stream: true,
            });
            let text = '';
            for await (const chunk of direct) text += chunk.choices[0]?.delta.content ?? '';
            assert.equal(text, full.slice(0, full.indexOf(stopWord)));
          } finally {
            sim.removeFault('down');
            await owner.put('/api/admin/settings', { fallback: { mode: 'automatic' } });
            await owner.del('/api/admin/models/o-model');
            await owner.del('/api/admin/providers/reasoner');
            await relay.close();
            await resetHealth();
          }
        },
      );

      await t.test(
        "a refusal under a JSON schema is the message's refusal, not its content, streamed or whole",
        async () => {
          const params = {
            model: 'sim-a-large',
            messages: [{ role: 'user' as const, content: 'Plan a trip' }],
            response_format: {
              type: 'json_schema' as const,
              json_schema: {
                name: 'trip',
                schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
              },
            },
          };
          const said = "I'm sorry, but I can't help with that request.";
          sim.setFault({ id: 'no', provider: simA, fault: 'refusal', times: 2 });
          try {
            // The SDK's parse() reads the refusal and parses nothing (it threw on the text before).
            const { data, response } = await client.chat.completions.parse(params).withResponse();
            const message = data.choices[0]!.message;
            assert.equal(message.refusal, said);
            assert.equal(message.content, null);
            assert.equal(message.parsed, null);
            assert.equal(data.choices[0]!.finish_reason, 'stop');
            // A refusal is the model's answer (SPEC §2.1): no fallback.
            assert.equal(response.headers.get('x-understudy-model'), 'sim-a-large');
            assert.equal(response.headers.get('x-understudy-fallback-from'), null);
            // Streamed, its words come in delta.refusal; the SDK's stream helper joins them.
            const stream = client.chat.completions.stream(params);
            let content = '';
            stream.on('content.delta', ({ delta }) => (content += delta));
            const final = await stream.finalChatCompletion();
            assert.equal(final.choices[0]!.message.refusal, said);
            assert.equal(final.choices[0]!.message.parsed, null);
            assert.equal(content, '', 'no content delta');
          } finally {
            sim.removeFault('no');
          }
          // The next answer is the schema's again.
          const after = await client.chat.completions.parse(params);
          assert.equal(after.choices[0]!.message.refusal, null);
          assert.equal(
            typeof (after.choices[0]!.message.parsed as unknown as { city?: unknown }).city,
            'string',
          );
        },
      );

      await t.test('a client that disconnects mid-stream cancels the upstream request', async () => {
        // The primary stalls after a few words: only the disconnect (not a timeout) can end it in time.
        sim.clearAttempts();
        sim.setFault({ id: 'stall', provider: simA, fault: 'stall_after', after: 3 });
        try {
          const ac = new AbortController();
          const stream = await client.chat.completions.create(
            { model: 'sim-a-large', messages: [{ role: 'user', content: 'Hello' }], stream: true },
            { signal: ac.signal },
          );
          let text = '';
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? '';
            if (text.trim().length > 0) break;
          }
          assert.ok(text.trim().length > 0, 'content arrived before the disconnect');
          assert.equal(sim.attempts({ provider: simA }).at(-1)?.clientAborted, false, 'still streaming');
          const abortedAt = Date.now();
          ac.abort();
          const attempt = await waitFor(
            'the upstream request aborted',
            async () => sim.attempts({ provider: simA }).find((a) => a.clientAborted),
            1000,
          );
          assert.ok(
            attempt.endedAt! - abortedAt < 1000,
            `upstream ended ${attempt.endedAt! - abortedAt} ms later`,
          );
          assert.equal(attempt.outcome, 'aborted');
          assert.equal(attempt.fault, 'stall_after');
          // Past the stall timeout: no retry and no backup was asked for an answer nobody reads.
          await new Promise((r) => setTimeout(r, 1800));
          assert.equal(sim.attempts().length, 1, JSON.stringify(sim.attempts().map((a) => a.provider)));
        } finally {
          sim.removeFault('stall');
          await resetHealth();
        }
      });

      await t.test('a revoked key stops working', async () => {
        const k = await owner.post<{ id: string; key: string }>('/api/admin/api-keys', { name: 'temp' });
        const c2 = new OpenAI({ apiKey: k.body.key, baseURL: `${server.url}/v1`, maxRetries: 0 });
        assert.ok((await c2.models.list()).data.length > 0);
        assert.equal((await owner.del(`/api/admin/api-keys/${k.body.id}`)).status, 204);
        await assert.rejects(c2.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
      });

      await t.test('a refused key is not remembered: it works as soon as it exists', async () => {
        // The guard caches keys; a refusal must not outlive the key's creation (here by a file or script).
        const key = randomToken('us-', 32);
        const c3 = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
        await assert.rejects(c3.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
        await server.ctx.db
          .insertInto('api_keys')
          .values({
            id: newId(),
            org_id: orgId,
            name: 'direct',
            prefix: key.slice(0, 10),
            key_hash: tokenHash(key),
            created_by: null,
            created_at: nowIso(),
            last_used_at: null,
            revoked_at: null,
          })
          .execute();
        assert.ok((await c3.models.list()).data.length > 0);
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
