/**
 * Bad input never yields a 500 or a crash, always a clear 4xx, and nothing is stored half-way.
 * On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachBackend, rawPost, setupOwner, startTestServer, tempDir, type ErrorBody } from './helpers.js';

test('bad input', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_BODY_LIMIT_BYTES: '65536', UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
    });
    try {
      const owner = await setupOwner(server);
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const countRows = async () => {
        const tables = [
          'providers',
          'models',
          'mates',
          'conversations',
          'messages',
          'api_keys',
          'users',
          'invitations',
        ] as const;
        const out: Record<string, number> = {};
        for (const tname of tables)
          out[tname] = (await server.ctx.db.selectFrom(tname).select('id').execute()).length;
        return out;
      };
      const before = await countRows();
      const settingsBefore = await owner.get('/api/admin/settings');

      const cases: [string, string, string | undefined, Record<string, string>, number, RegExp][] = [
        ['POST', '/api/mates', '{"name": "x",', {}, 400, /JSON/],
        [
          'POST',
          '/api/mates',
          'name=x',
          { 'content-type': 'application/x-www-form-urlencoded' },
          415,
          /JSON/,
        ],
        [
          'POST',
          '/api/mates',
          JSON.stringify({ name: 'x', colour: 'red' }),
          {},
          400,
          /unknown field.*colour/,
        ],
        ['POST', '/api/mates', JSON.stringify({ name: '' }), {}, 400, /name/],
        [
          'POST',
          '/api/mates',
          JSON.stringify({ name: 'x', model: 'no-such-model' }),
          {},
          400,
          /not in the available list/,
        ],
        ['POST', '/api/mates', JSON.stringify([1, 2]), {}, 400, /object/],
        ['POST', '/api/mates', 'null', {}, 400, /body/],
        ['POST', '/api/mates', JSON.stringify({ name: 'x'.repeat(70_000) }), {}, 413, /larger than/],
        [
          'POST',
          '/api/admin/providers',
          JSON.stringify({ id: 'Bad Id!', type: 'openai', label: 'x' }),
          {},
          400,
          /id/,
        ],
        [
          'POST',
          '/api/admin/providers',
          JSON.stringify({ id: 'x', type: 'nope', label: 'x' }),
          {},
          400,
          /type/,
        ],
        [
          'POST',
          '/api/admin/providers',
          JSON.stringify({ id: 'x', type: 'openai-compatible', label: 'x' }),
          {},
          400,
          /baseUrl/,
        ],
        ['PUT', '/api/admin/settings', JSON.stringify({}), {}, 400, /defaultModel and\/or fallback/],
        [
          'PUT',
          '/api/admin/settings',
          JSON.stringify({ fallback: { mode: 'sometimes' } }),
          {},
          400,
          /fallback/,
        ],
        ['PUT', '/api/admin/settings', JSON.stringify({ fallback: { mode: 'specific' } }), {}, 400, /model/],
        [
          'PUT',
          '/api/admin/settings',
          JSON.stringify({
            defaultModel: 'sim-b-large',
            fallback: { mode: 'specific', model: 'sim-b-large' },
          }),
          {},
          400,
          /Default Model/,
        ],
        ['PATCH', '/api/admin/models/sim-a-small', JSON.stringify({ tier: 'high' }), {}, 400, /tier/],
        [
          'PATCH',
          '/api/admin/models/sim-a-small',
          JSON.stringify({ capabilities: ['telepathy'] }),
          {},
          400,
          /capabilities/,
        ],
        ['PATCH', '/api/admin/models/nope', JSON.stringify({ tier: 1 }), {}, 404, /not found/],
        ['GET', '/api/mates/does-not-exist', undefined, {}, 404, /not found/],
        ['GET', `/api/conversations/${'x'.repeat(300)}`, undefined, {}, 400, /id/],
        ['POST', `/api/conversations/${conv}/messages`, JSON.stringify({ content: '' }), {}, 400, /content/],
        [
          'POST',
          `/api/conversations/${conv}/messages`,
          JSON.stringify({ content: 'hi', extra: true }),
          {},
          400,
          /extra/,
        ],
        [
          'POST',
          '/api/conversations/nope/messages',
          JSON.stringify({ content: 'hi' }),
          {},
          404,
          /conversation/,
        ],
        ['POST', `/api/conversations/${conv}/messages/nope/retry`, '{}', {}, 404, /message/],
        ['GET', '/api/admin/audit?limit=abc', undefined, {}, 400, /limit/],
        ['GET', '/api/admin/audit?colour=red', undefined, {}, 400, /colour/],
        [
          'PUT',
          '/api/admin/demo/providers/sim-a/outage',
          JSON.stringify({ fault: 'meteor' }),
          {},
          400,
          /fault/,
        ],
        ['GET', '/api/nothing-here', undefined, {}, 404, /no route/],
        ['POST', '/api/auth/login', JSON.stringify({ email: 'a' }), {}, 400, /password/],
        // A JSON null is no body: said so, not "expected object, received undefined".
        ['POST', '/api/auth/login', 'null', {}, 400, /^a JSON body is required$/],
        // The web API takes no free-form JSON: a deep value is an unknown field, never measured.
        [
          'POST',
          `/api/conversations/${conv}/messages`,
          `{"content":"hi","extra":${'['.repeat(5000)}${']'.repeat(5000)}}`,
          {},
          400,
          /unknown field.*extra/,
        ],
      ];
      const failures: string[] = [];
      for (const [method, path, body, headers, status, message] of cases) {
        const r = await owner.req<ErrorBody>(method, path, body, headers);
        const msg = r.body?.error?.message ?? '';
        if (r.status !== status || !message.test(msg))
          failures.push(`${method} ${path.slice(0, 60)}: ${r.status} ${msg.slice(0, 200)}`);
      }
      assert.deepEqual(failures, []);

      // The OpenAI-compatible API answers bad input in OpenAI's shape.
      const v1 = (body: string) =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        });
      for (const [body, status] of [
        ['{"model":', 400],
        [JSON.stringify({ model: 'default' }), 400],
        [JSON.stringify({ model: 'default', messages: [{ role: 'wizard', content: 'x' }] }), 400],
        [JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'x' }], n: 3 }), 400],
        [
          JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'x' }], temperature: 9 }),
          400,
        ],
        [JSON.stringify({ model: 'ghost', messages: [{ role: 'user', content: 'x' }] }), 404],
      ] as const) {
        const r = await v1(body);
        const j = (await r.json()) as { error: { message: string; type: string } };
        assert.equal(r.status, status, body);
        assert.ok(j.error.message && j.error.type, body);
      }
      // A value that fits none of a field's forms hears what is wrong with the form it came closest
      // to, not "Invalid input": a file part in a user's content, a tool choice of another shape.
      for (const [extra, said] of [
        [
          { messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:…' } }] }] },
          "body.messages.0.content.0.type: Invalid discriminator value. Expected 'text' | 'image_url'",
        ],
        [
          { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } },
          'body.tool_choice.type: Invalid input: expected "function"',
        ],
      ] as const) {
        const r = await v1(
          JSON.stringify({ model: 'default', ...{ messages: [{ role: 'user', content: 'x' }] }, ...extra }),
        );
        const j = (await r.json()) as { error: { message: string } };
        assert.equal(r.status, 400);
        assert.ok(j.error.message.startsWith(said), j.error.message);
      }

      // Framework refusals carry codes of ours, never Fastify's internals, and /v1 keeps OpenAI's shape.
      type OpenAIBody = {
        error: { message: string; type: string; param: string | null; code: string | null };
      };

      // Free-form JSON nested past any real schema (5000 arrays in 10 KB) is refused by name, not
      // left to overflow the stack where the request is measured or sent on (a 500 before).
      // Built as text: JSON.stringify itself cannot write a value this deep.
      const nest = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
      const DEEP = '__deep__';
      const deep = nest(5000);
      const withDeep = (body: unknown, value = deep) => JSON.stringify(body).replace(`"${DEEP}"`, value);
      const toolCallTurn = (args: string) => [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
      ];
      const tool = (parameters: unknown) => [{ type: 'function', function: { name: 'f', parameters } }];
      const completion = (body: object) => ({
        model: 'sim-b-large',
        messages: [{ role: 'user', content: 'x' }],
        ...body,
      });
      // sim-b speaks Anthropic's protocol, whose adapter turns tool call arguments into objects.
      const deepFailures: string[] = [];
      for (const [what, body, param] of [
        [
          'tool parameters',
          withDeep(completion({ tools: tool({ type: 'object', properties: { x: { default: DEEP } } }) })),
          'tools.0.function.parameters',
        ],
        [
          'tool parameters (65 levels)',
          withDeep(completion({ tools: tool({ type: 'object', x: DEEP }) }), nest(64)),
          'tools.0.function.parameters',
        ],
        [
          'tool call arguments',
          JSON.stringify(completion({ messages: toolCallTurn(`{"x":${deep}}`) })),
          'messages.1.tool_calls.0.function.arguments',
        ],
        [
          'a tool result that is JSON',
          JSON.stringify(
            completion({
              messages: [
                ...toolCallTurn('{}').slice(0, 2),
                { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: `{"x":${deep}}` }] },
              ],
            }),
          ),
          'messages.2.content',
        ],
        ['metadata', withDeep(completion({ metadata: { x: DEEP } })), 'metadata.x'],
        [
          'a JSON schema',
          withDeep(
            completion({
              response_format: {
                type: 'json_schema',
                json_schema: { name: 'deep', schema: { type: 'object', x: DEEP } },
              },
            }),
          ),
          'response_format.json_schema.schema',
        ],
      ] as const) {
        const r = await v1(body);
        const j = (await r.json()) as Partial<OpenAIBody>;
        const said = [r.status, j.error?.type, j.error?.param].join(' ');
        const message = what === 'metadata' ? /expected string/ : /nested deeper than 64 levels/;
        if (said !== `400 invalid_request_error ${param}` || !message.test(j.error?.message ?? ''))
          deepFailures.push(`${what}: ${said} ${JSON.stringify(j).slice(0, 200)}`);
      }
      assert.deepEqual(deepFailures, []);
      // Deep but sane nesting (64 levels in all), and text that only looks deep, are fine.
      const fine = await v1(
        withDeep(
          completion({
            messages: [
              ...toolCallTurn(`{"x":${nest(63)}}`).slice(0, 2),
              { role: 'tool', tool_call_id: 'c1', content: `not JSON: ${'['.repeat(100)}` },
            ],
            tools: tool({ type: 'object', properties: { x: { default: DEEP } } }),
          }),
          nest(61),
        ),
      );
      // A field of response_format we do not read is dropped, however deep: nothing measures it.
      const dropped = await v1(withDeep(completion({ response_format: { type: 'text', x: DEEP } })));
      assert.equal(dropped.status, 200, await dropped.text());
      assert.equal(fine.status, 200, await fine.text());
      const badJson = await v1('{"model":');
      const badJsonBody = (await badJson.json()) as OpenAIBody;
      assert.deepEqual(
        [badJson.status, badJsonBody.error.type, badJsonBody.error.code],
        [400, 'invalid_request_error', 'invalid_json'],
      );
      assert.ok('param' in badJsonBody.error);
      const textBody = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/xml' },
        body: '<hello/>',
      });
      const textJson = (await textBody.json()) as OpenAIBody;
      assert.deepEqual([textBody.status, textJson.error.code], [415, 'unsupported_media_type']);
      const auth = { authorization: `Bearer ${key}` };
      const wrongMethod = await fetch(`${server.url}/v1/chat/completions`, { headers: auth });
      const wrongMethodBody = (await wrongMethod.json()) as OpenAIBody;
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get('allow'), 'POST');
      assert.deepEqual(
        [wrongMethodBody.error.type, wrongMethodBody.error.code, wrongMethodBody.error.param],
        ['invalid_request_error', 'method_not_allowed', null],
      );
      const noRoute = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: auth });
      const noRouteBody = (await noRoute.json()) as OpenAIBody;
      assert.equal(noRoute.status, 404);
      assert.deepEqual(
        [noRouteBody.error.type, noRouteBody.error.code],
        ['invalid_request_error', 'not_found'],
      );
      assert.match(noRouteBody.error.message, /no route POST \/v1\/completions/);
      // The app's own API: the same rules in its own shape.
      const getLogin = await owner.req<ErrorBody & { error: { code: string } }>('GET', '/api/auth/login');
      assert.deepEqual([getLogin.status, getLogin.body?.error.code], [405, 'method_not_allowed']);
      const badApiJson = await owner.req<ErrorBody & { error: { code: string } }>(
        'POST',
        '/api/auth/login',
        '{"email":',
      );
      assert.deepEqual([badApiJson.status, badApiJson.body?.error.code], [400, 'invalid_json']);

      // Nothing was stored half-way, settings unchanged, and the server still answers.
      assert.deepEqual(await countRows(), before);
      assert.deepEqual((await owner.get('/api/admin/settings')).body, settingsBefore.body);
      const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'still alive?' });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
