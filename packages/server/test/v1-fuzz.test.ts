/**
 * `POST /v1/chat/completions` under generated bodies: each field of a real request is either
 * well-formed or any JSON value, messages mix every role with odd contents and tool calls, unknown
 * fields come and go, and both streaming and whole answers are asked for. Whatever arrives, the
 * server answers a 200 that is a whole completion (or a stream ending in `[DONE]` or an error
 * event), or a 4xx in OpenAI's error shape: never a 5xx, a hang or a crash (bad-input.test has the
 * named cases; this one searches between them). SQLite only: the edge is the same on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { withInstantDemo } from './helpers.js';

const anyJson = fc.jsonValue({ maxDepth: 3 });
const text = fc.oneof(fc.constantFrom('Hello', '', 'Tell me a story.'), fc.string({ maxLength: 40 }));
const parts = fc.array(
  fc.oneof(
    fc.record({ type: fc.constant('text'), text }),
    fc.record({
      type: fc.constant('image_url'),
      image_url: fc.record({
        url: fc.constantFrom('data:image/png;base64,iVBORw0KGgo=', 'https://x.invalid/a.png'),
      }),
    }),
  ),
  { minLength: 1, maxLength: 3 },
);
const toolCall = fc.record({
  id: fc.constantFrom('c1', 'c2'),
  type: fc.constant('function'),
  function: fc.record({
    name: fc.constantFrom('f', 'lookup'),
    arguments: fc.constantFrom('{}', '{"q":1}', 'not json'),
  }),
});
/** Messages of every role, well-formed as OpenAI's clients send them. */
const message = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'system', 'developer'), content: fc.oneof(text, parts) }),
  fc.record(
    {
      role: fc.constant('assistant'),
      content: fc.oneof(text, fc.constant(null)),
      tool_calls: fc.array(toolCall, { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ['role'] },
  ),
  fc.record({ role: fc.constant('tool'), content: text, tool_call_id: fc.constantFrom('c1', 'c2') }),
);
const tool = fc.record({
  type: fc.constant('function'),
  function: fc.record(
    {
      name: fc.constantFrom('f', 'lookup'),
      description: text,
      parameters: fc.constant({ type: 'object', properties: {} }),
    },
    { requiredKeys: ['name'] },
  ),
});
/** A request as a client could send it: the model and messages, and any of the optional parameters. */
const requestArb = fc.record(
  {
    model: fc.constantFrom('default', 'sim-a-large', 'sim-b-large', 'no-such-model'),
    messages: fc.array(message, { minLength: 1, maxLength: 4 }),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    max_tokens: fc.integer({ min: 1, max: 50 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    stop: fc.oneof(fc.string({ maxLength: 5 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 })),
    seed: fc.integer(),
    tools: fc.array(tool, { minLength: 1, maxLength: 2 }),
    tool_choice: fc.oneof(
      fc.constantFrom('auto', 'none', 'required'),
      fc.record({ type: fc.constant('function'), function: fc.record({ name: fc.constant('f') }) }),
    ),
    response_format: fc.record({ type: fc.constantFrom('text', 'json_object', 'json_schema') }),
    user: fc.string({ maxLength: 10 }),
    metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  },
  { requiredKeys: ['model', 'messages'] },
);
/** Half the requests as sent; the others with one thing gone wrong: a field (or a message's) replaced by any JSON, or a field nobody defined. */
const bodyArb = fc
  .tuple(
    requestArb,
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      {
        arbitrary: fc.record({
          field: fc.constantFrom(
            'model',
            'messages',
            'stream',
            'max_tokens',
            'temperature',
            'stop',
            'tools',
            'tool_choice',
            'response_format',
            'stream_options',
            'n',
          ),
          value: anyJson,
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({
          message: fc.nat(3),
          key: fc.constantFrom('role', 'content', 'tool_calls', 'tool_call_id', 'name'),
          value: anyJson,
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({ unknown: fc.string({ minLength: 1, maxLength: 8 }), value: anyJson }),
        weight: 1,
      },
    ),
  )
  .map(([req, wrong]): Record<string, unknown> => {
    const body: Record<string, unknown> = { ...req, messages: req.messages.map((m) => ({ ...m })) };
    if (!wrong) return body;
    if ('field' in wrong) body[wrong.field] = wrong.value;
    else if ('message' in wrong) {
      const m = req.messages[wrong.message % req.messages.length];
      if (m)
        (body.messages as Record<string, unknown>[])[wrong.message % req.messages.length] = {
          ...m,
          [wrong.key]: wrong.value,
        };
    } else body[wrong.unknown] = wrong.value;
    return body;
  });

test(
  '/v1/chat/completions answers any body with a completion or an OpenAI 4xx, never a 5xx',
  { timeout: 180_000 },
  async (t) => {
    await withInstantDemo(async (server, owner) => {
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'fuzz' })).body.key;
      const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
      /** Responses by status, to show (and check) that the search reaches the answering path too. */
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(bodyArb, async (body) => {
          const r = await fetch(`${server.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(20_000),
          });
          const raw = await r.text();
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
          const said = `${r.status} ${raw.slice(0, 300)}`;
          assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), said);
          if (r.status !== 200) {
            const j = JSON.parse(raw) as { error?: { message?: unknown; type?: unknown } };
            assert.ok(typeof j.error?.message === 'string' && j.error.message !== '', said);
            assert.ok(typeof j.error?.type === 'string', said);
            return;
          }
          if ((r.headers.get('content-type') ?? '').includes('text/event-stream')) {
            const events = raw.split('\n\n').filter((e) => e.startsWith('data: '));
            const last = events.at(-1) ?? '';
            // A stream ends with [DONE], or with an error event once content had begun.
            assert.ok(last === 'data: [DONE]' || /"error"/.test(last), said);
            for (const e of events.slice(0, -1)) JSON.parse(e.slice('data: '.length));
            return;
          }
          const j = JSON.parse(raw) as { object?: string; choices?: { message?: { role?: string } }[] };
          assert.equal(j.object, 'chat.completion', said);
          assert.equal(j.choices?.[0]?.message?.role, 'assistant', said);
        }),
        { numRuns, includeErrorInReport: true },
      );
      t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(seen))}`);
      assert.ok((seen.get(200) ?? 0) >= numRuns / 10, 'at least a tenth of the bodies were answered');
      // Still serving after all of it.
      const ok = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'Hello' }] }),
      });
      assert.equal(ok.status, 200);
    });
  },
);
