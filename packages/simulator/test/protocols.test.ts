import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONTINUE_INSTRUCTION, expectedAnswer, startSimulator, type Simulator } from '../src/index.js';
import { PROTOCOLS, at, call, collect, errorKind, wholeAnswer } from './helpers.js';

let sim: Simulator;
before(async () => {
  sim = await startSimulator();
});
after(() => sim.close());

const prompt = 'How does model fallback work?';
const full = expectedAnswer(prompt);

for (const proto of PROTOCOLS) {
  describe(`${proto} protocol`, () => {
    it('streams the expected answer with usage and terminator', async () => {
      const res = await call(sim, proto, { prompt, system: 'You are terse.', model: 'sim-alpha' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const c = collect(proto, await res.text());
      assert.equal(c.text, full);
      assert.equal(c.terminated, true);
      assert.equal(c.malformed, 0);
      assert.equal(c.inputTokens, 8);
      assert.equal(c.outputTokens, 24);
      assert.equal(c.finish, { openai: 'stop', azure: 'stop', anthropic: 'end_turn', gemini: 'STOP' }[proto]);
      const record = sim.attempts().at(-1);
      assert.equal(record?.protocol, proto);
      assert.equal(record?.outcome, 'ok');
      assert.equal(record?.tokensSent, 24);
    });

    it('answers whole (non-streaming) with usage', async () => {
      const res = await call(sim, proto, { prompt, stream: false, model: 'sim-beta+tokens=5' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body: unknown = await res.json();
      const w = wholeAnswer(proto, body);
      assert.equal(w.text, expectedAnswer(prompt, 5));
      assert.equal(w.input, 5);
      assert.equal(w.output, 5);
      const model = proto === 'gemini' ? at(body, 'modelVersion') : at(body, 'model');
      assert.equal(model, 'sim-beta+tokens=5');
    });

    it('caps at max tokens with a length finish', async () => {
      const c = collect(proto, await (await call(sim, proto, { prompt, maxTokens: 4 })).text());
      assert.equal(c.text, full.split(' ').slice(0, 4).join(' ') + ' ');
      assert.equal(
        c.finish,
        { openai: 'length', azure: 'length', anthropic: 'max_tokens', gemini: 'MAX_TOKENS' }[proto],
      );
    });

    it('continues an assistant prefill with only the remainder', async () => {
      const partial = full.split(' ').slice(0, 7).join(' ');
      const messages = [
        { role: 'user' as const, text: prompt },
        { role: 'assistant' as const, text: partial },
      ];
      const c = collect(proto, await (await call(sim, proto, { messages })).text());
      assert.equal(partial + c.text, full);
      assert.equal(sim.attempts().at(-1)?.prefill, true);
    });

    it('continues after the continuation instruction', async () => {
      const partial = full.split(' ').slice(0, 10).join(' ') + ' ';
      const messages = [
        { role: 'user' as const, text: prompt },
        { role: 'assistant' as const, text: partial },
        { role: 'user' as const, text: CONTINUE_INSTRUCTION },
      ];
      const res = await call(sim, proto, { messages, stream: false });
      const w = wholeAnswer(proto, await res.json());
      assert.equal(partial + w.text, full);
      assert.equal(sim.attempts().at(-1)?.continuation, true);
    });

    it('answers "weather" with a streamed tool call of the first tool', async () => {
      const c = collect(
        proto,
        await (await call(sim, proto, { prompt: 'What is the weather in Paris?', tools: true })).text(),
      );
      assert.equal(c.toolName, 'get_weather');
      assert.deepEqual(JSON.parse(c.toolArgs), { city: 'Paris' });
      assert.equal(c.text, '');
      assert.equal(
        c.finish,
        { openai: 'tool_calls', azure: 'tool_calls', anthropic: 'tool_use', gemini: 'STOP' }[proto],
      );
      if (proto !== 'gemini') {
        const pieces = c.frames.filter((f) => f.data.includes('city') || f.data.includes('Paris'));
        assert.ok(pieces.length >= 2, 'arguments arrive in 2+ deltas');
      }
    });

    it('rejects a request without credentials', async () => {
      const res = await call(sim, proto, { prompt, noAuth: true });
      assert.equal(res.status, proto === 'gemini' ? 403 : 401);
      await res.arrayBuffer();
      assert.equal(sim.attempts().at(-1)?.outcome, 'rejected');
    });
  });
}

describe('protocol specifics', () => {
  it('OpenAI leaves out the usage chunk unless include_usage is set', async () => {
    const c = collect('openai', await (await call(sim, 'openai', { prompt, includeUsage: false })).text());
    assert.equal(c.text, full);
    assert.equal(c.outputTokens, undefined);
    assert.equal(c.terminated, true);
  });

  it('OpenAI tool call answers whole with tool_calls', async () => {
    const res = await call(sim, 'openai', { prompt: 'weather today?', tools: true, stream: false });
    const body: unknown = await res.json();
    assert.equal(at(body, 'choices', 0, 'finish_reason'), 'tool_calls');
    assert.equal(at(body, 'choices', 0, 'message', 'tool_calls', 0, 'function', 'name'), 'get_weather');
    assert.equal(
      at(body, 'choices', 0, 'message', 'tool_calls', 0, 'function', 'arguments'),
      '{"city":"Paris"}',
    );
  });

  it('Anthropic requires max_tokens and anthropic-version', async () => {
    const headers = {
      'content-type': 'application/json',
      'x-api-key': 'k',
      'anthropic-version': '2023-06-01',
    };
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 400);
    const j: unknown = await res.json();
    assert.equal(at(j, 'type'), 'error');
    assert.equal(errorKind('anthropic', j), 'invalid_request_error');
    assert.match(String(at(j, 'error', 'message')), /max_tokens/);
    const noVersion = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({ ...body, max_tokens: 10 }),
    });
    assert.equal(noVersion.status, 400);
    await noVersion.arrayBuffer();
  });

  it('Azure requires api-version', async () => {
    const res = await fetch(`${sim.url}/openai/deployments/d1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': 'k' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 400);
    assert.match(String(at(await res.json(), 'error', 'message')), /api-version/);
  });

  it('Gemini accepts the key as ?key= and reads systemInstruction', async () => {
    const res = await fetch(`${sim.url}/v1beta/models/g1:generateContent?key=abc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contents: [{ parts: [{ text: prompt }] }],
        systemInstruction: { parts: [{ text: 'two words' }] },
      }),
    });
    const w = wholeAnswer('gemini', await res.json());
    assert.equal(w.text, full);
    assert.equal(w.input, 7);
  });

  it('rejects invalid JSON in the protocol error shape', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: '{"model":',
    });
    assert.equal(res.status, 400);
    const j: unknown = await res.json();
    assert.equal(errorKind('openai', j), 'invalid_request_error');
    assert.equal(at(j, 'error', 'param'), null);
  });

  it('rejects unknown model-name options with a clear 400', async () => {
    const res = await call(sim, 'anthropic', { model: 'a+fault=explode' });
    assert.equal(res.status, 400);
    assert.match(String(at(await res.json(), 'error', 'message')), /unknown fault 'explode'/);
  });

  it('routes /p/<name> prefixes to named providers', async () => {
    await (await call(sim, 'gemini', { provider: 'alpha', model: 'g-alpha' })).text();
    const rec = sim.attempts({ provider: 'alpha' });
    assert.equal(rec.length, 1);
    assert.equal(rec[0]?.model, 'g-alpha');
    assert.equal(sim.attempts({ model: 'g-alpha', provider: 'default' }).length, 0);
  });
});
