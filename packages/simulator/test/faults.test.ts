import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { expectedAnswer, startSimulator, type Simulator } from '../src/index.js';
import { REFUSAL_TEXT } from '../src/plan.js';
import { at, call, collect, errorKind, PROTOCOLS, wholeAnswer, type Proto } from './helpers.js';

let sim: Simulator;
before(async () => {
  sim = await startSimulator({ answerTokens: 8 });
});
beforeEach(() => sim.reset());
after(() => sim.close());

const prompt = 'Tell me about outages';
const full = expectedAnswer(prompt, 8);
const THREE = ['openai', 'anthropic', 'gemini'] as const;

async function errorOf(
  proto: Proto,
  model: string,
  stream = true,
): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await call(sim, proto, { prompt, model, stream });
  return { status: res.status, body: await res.json(), res };
}

describe('protocol-specific error shapes', () => {
  const overloaded = {
    openai: [529, 'overloaded_error'],
    anthropic: [529, 'overloaded_error'],
    gemini: [503, 'UNAVAILABLE'],
  };
  const rateLimit = { openai: 'requests', anthropic: 'rate_limit_error', gemini: 'RESOURCE_EXHAUSTED' };
  for (const proto of THREE) {
    it(`${proto}: overloaded`, async () => {
      sim.setFault({ fault: 'overloaded' });
      const { status, body } = await errorOf(proto, 'm1');
      assert.deepEqual([status, errorKind(proto, body)], overloaded[proto]);
      if (proto === 'anthropic') assert.equal(at(body, 'type'), 'error');
      if (proto === 'gemini')
        assert.equal(at(body, 'error', 'message'), 'The model is overloaded. Please try again later.');
      const rec = sim.attempts().at(-1);
      assert.equal(rec?.fault, 'overloaded');
      assert.equal(rec?.outcome, 'fault');
      assert.equal(rec?.status, status);
    });

    it(`${proto}: rate_limit with and without Retry-After`, async () => {
      const withRetry = await errorOf(proto, 'm1+fault=rate_limit+retry_after=2');
      assert.equal(withRetry.status, 429);
      assert.equal(withRetry.res.headers.get('retry-after'), '2');
      assert.equal(errorKind(proto, withRetry.body), rateLimit[proto]);
      if (proto === 'openai') assert.equal(at(withRetry.body, 'error', 'code'), 'rate_limit_exceeded');
      const without = await errorOf(proto, 'm1+fault=rate_limit');
      assert.equal(without.res.headers.get('retry-after'), null);
    });

    it(`${proto}: context_length`, async () => {
      const { status, body } = await errorOf(proto, 'm1+fault=context_length');
      const message = String(at(body, 'error', 'message'));
      if (proto === 'openai') {
        assert.equal(status, 400);
        assert.equal(at(body, 'error', 'code'), 'context_length_exceeded');
        assert.match(message, /^This model's maximum context length is 8192 tokens/);
      } else if (proto === 'anthropic') {
        assert.equal(status, 400);
        assert.equal(errorKind(proto, body), 'invalid_request_error');
        assert.equal(message, 'prompt is too long: 210000 tokens > 200000 maximum');
      } else {
        assert.equal(status, 400);
        assert.equal(errorKind(proto, body), 'INVALID_ARGUMENT');
        assert.match(
          message,
          /^The input token count \(\d+\) exceeds the maximum number of tokens allowed \(\d+\)\.$/,
        );
      }
    });

    it(`${proto}: content_filter`, async () => {
      sim.setFault({ fault: 'content_filter', model: 'm2' });
      if (proto === 'gemini') {
        const res = await call(sim, proto, { prompt, model: 'm2' });
        assert.equal(res.status, 200);
        const frames = collect(proto, await res.text()).frames;
        assert.equal(frames.length, 1);
        const j: unknown = JSON.parse(frames[0]?.data ?? '');
        assert.equal(at(j, 'promptFeedback', 'blockReason'), 'SAFETY');
        assert.equal(at(j, 'candidates'), undefined);
        const whole = await call(sim, proto, { prompt, model: 'm2', stream: false });
        assert.equal(at(await whole.json(), 'promptFeedback', 'blockReason'), 'SAFETY');
        return;
      }
      const { status, body } = await errorOf(proto, 'm2');
      assert.equal(status, 400);
      if (proto === 'openai') assert.equal(at(body, 'error', 'code'), 'content_policy_violation');
      else assert.equal(at(body, 'error', 'message'), 'Output blocked by content filtering policy');
    });

    it(`${proto}: overloaded_midstream after 3 tokens`, async () => {
      const res = await call(sim, proto, { prompt, model: 'm1+fault=overloaded_midstream+after=3' });
      assert.equal(res.status, 200);
      const c = collect(proto, await res.text());
      assert.equal(c.text, full.split(' ').slice(0, 3).join(' ') + ' ');
      assert.equal(c.finish, undefined);
      assert.equal(c.terminated, false);
      assert.equal(
        at(c.error, proto === 'gemini' ? 'status' : 'type'),
        proto === 'gemini' ? 'UNAVAILABLE' : 'overloaded_error',
      );
      if (proto === 'anthropic') assert.equal(c.frames.at(-1)?.event, 'error');
      assert.equal(sim.attempts().at(-1)?.tokensSent, 3);
    });

    it(`${proto}: rate_limit_midstream after 3 tokens, in the protocol's wire shape`, async () => {
      sim.setFault({ fault: 'rate_limit_midstream', after: 3 });
      const res = await call(sim, proto, { prompt, model: 'm1' });
      assert.equal(res.status, 200, 'the stream had begun');
      const c = collect(proto, await res.text());
      assert.equal(c.text, full.split(' ').slice(0, 3).join(' ') + ' ');
      assert.equal(c.finish, undefined);
      assert.equal(c.terminated, false);
      const last = c.frames.at(-1);
      assert.ok(last);
      const data: unknown = JSON.parse(last.data);
      if (proto === 'openai') {
        // An error object on a data line, as OpenAI sends it.
        assert.equal(last.event, undefined);
        assert.equal(at(data, 'error', 'type'), 'requests');
        assert.equal(at(data, 'error', 'code'), 'rate_limit_exceeded');
        assert.match(String(at(data, 'error', 'message')), /^Rate limit reached for requests on m1\./);
      } else if (proto === 'anthropic') {
        assert.equal(last.event, 'error');
        assert.equal(at(data, 'type'), 'error');
        assert.equal(at(data, 'error', 'type'), 'rate_limit_error');
        assert.equal(typeof at(data, 'error', 'message'), 'string');
      } else {
        assert.equal(last.event, undefined);
        assert.equal(at(data, 'error', 'code'), 429);
        assert.equal(at(data, 'error', 'status'), 'RESOURCE_EXHAUSTED');
      }
      const rec = sim.attempts().at(-1);
      assert.equal(rec?.fault, 'rate_limit_midstream');
      assert.equal(rec?.tokensSent, 3);
      assert.equal(rec?.outcome, 'fault');
    });

    it(`${proto}: rate_limit_midstream before any content, and as a whole answer`, async () => {
      const res = await call(sim, proto, { prompt, model: 'm1+fault=rate_limit_midstream' });
      assert.equal(res.status, 200);
      const c = collect(proto, await res.text());
      assert.equal(c.text, '');
      assert.equal(errorKind(proto, { error: c.error }), rateLimit[proto]);
      assert.equal(sim.attempts().at(-1)?.tokensSent, 0);
      // No stream to fail in: the whole answer is the protocol's HTTP 429, Retry-After when asked.
      const whole = await errorOf(proto, 'm1+fault=rate_limit_midstream+retry_after=2', false);
      assert.equal(whole.status, 429);
      assert.equal(whole.res.headers.get('retry-after'), '2');
      assert.equal(errorKind(proto, whole.body), rateLimit[proto]);
    });

    it(`${proto}: malformed chunk in an otherwise complete answer`, async () => {
      const c = collect(
        proto,
        await (await call(sim, proto, { prompt, model: 'm1+fault=malformed+after=2' })).text(),
      );
      assert.equal(c.malformed, 1);
      assert.equal(c.text, full);
      assert.equal(c.terminated, true);
    });
  }
});

describe('HTTP status faults', () => {
  const cases: [string, number, Proto, string][] = [
    ['server_error', 500, 'anthropic', 'api_error'],
    ['bad_gateway', 502, 'openai', 'server_error'],
    ['unavailable', 503, 'gemini', 'UNAVAILABLE'],
    ['gateway_timeout', 504, 'gemini', 'DEADLINE_EXCEEDED'],
    ['unauthorized', 401, 'anthropic', 'authentication_error'],
    ['payment_required', 402, 'openai', 'insufficient_quota'],
    ['forbidden', 403, 'anthropic', 'permission_error'],
    ['not_found', 404, 'gemini', 'NOT_FOUND'],
    ['bad_request', 400, 'openai', 'invalid_request_error'],
  ];
  for (const [fault, status, proto, kind] of cases) {
    it(`${fault} → ${status} on ${proto}`, async () => {
      const res = await errorOf(proto, `lost-model+fault=${fault}`, fault !== 'not_found');
      assert.equal(res.status, status);
      assert.equal(errorKind(proto, res.body), kind);
      if (fault === 'not_found')
        assert.match(String(at(res.body, 'error', 'message')), /lost-model\+fault=not_found/);
      if (fault === 'bad_request') assert.equal(at(res.body, 'error', 'param'), 'temperature');
    });
  }

  it('unavailable sends Retry-After when asked; delayMs delays the answer', async () => {
    sim.setFault({ fault: 'unavailable', retryAfter: 30, delayMs: 150 });
    const started = Date.now();
    const res = await call(sim, 'openai', { prompt });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '30');
    assert.ok(Date.now() - started >= 140);
    await res.arrayBuffer();
  });

  it('reject_prefill rejects only when the last message is the assistant', async () => {
    sim.setFault({ fault: 'reject_prefill' });
    const ok = await call(sim, 'anthropic', { prompt });
    assert.equal(ok.status, 200);
    await ok.text();
    assert.equal(sim.attempts().at(-1)?.fault, undefined);
    const messages = [
      { role: 'user' as const, text: prompt },
      { role: 'assistant' as const, text: 'Partial' },
    ];
    const res = await call(sim, 'anthropic', { messages });
    assert.equal(res.status, 400);
    assert.equal(
      at(await res.json(), 'error', 'message'),
      'This model does not support assistant message prefill.',
    );
    assert.equal(sim.attempts().at(-1)?.fault, 'reject_prefill');
  });

  it('contextWindow fails only requests with more input tokens', async () => {
    sim.setFault({ fault: 'context_length', contextWindow: 5 });
    const small = await call(sim, 'openai', { prompt: 'one two three' });
    assert.equal(small.status, 200);
    await small.text();
    const big = await call(sim, 'openai', { prompt: 'one two three four five six seven' });
    assert.equal(big.status, 400);
    assert.match(
      String(at(await big.json(), 'error', 'message')),
      /maximum context length is 5 tokens.*resulted in 7 tokens/,
    );
    sim.clearFaults(); // a matching rule would win over the model-name option
    const viaName = await call(sim, 'anthropic', { prompt: 'one two three four', model: 'm+ctx=3' });
    assert.match(
      String(at(await viaName.json(), 'error', 'message')),
      /^prompt is too long: 4 tokens > 3 maximum$/,
    );
  });
});

describe('stream endings', () => {
  it('server_error_midstream sends an api_error event (Anthropic)', async () => {
    const c = collect(
      'anthropic',
      await (
        await call(sim, 'anthropic', { prompt, model: 'm+fault=server_error_midstream+after=1' })
      ).text(),
    );
    assert.equal(c.text, `${full.split(' ')[0]} `);
    assert.equal(at(c.error, 'type'), 'api_error');
  });

  it('no_done keeps the finish reason but drops [DONE] / message_stop', async () => {
    const o = collect(
      'openai',
      await (await call(sim, 'openai', { prompt, model: 'm+fault=no_done' })).text(),
    );
    assert.equal(o.text, full);
    assert.equal(o.finish, 'stop');
    assert.equal(o.terminated, false);
    sim.setFault({ fault: 'no_done', withFinish: false });
    const a = collect('anthropic', await (await call(sim, 'anthropic', { prompt })).text());
    assert.equal(a.text, full);
    assert.equal(a.finish, undefined);
    assert.equal(a.terminated, false);
    const g = collect(
      'gemini',
      await (await call(sim, 'gemini', { prompt, model: 'm+fault=no_done+finish=0' })).text(),
    );
    assert.equal(g.text, full);
    assert.equal(g.finish, undefined);
  });
});

describe('a model that declines (refusal): a 200 answer, in each protocol its own way', () => {
  // OpenAI's words in their own field; Anthropic's text with stop_reason refusal; Gemini's SAFETY.
  const finish = { openai: 'stop', azure: 'stop', anthropic: 'refusal', gemini: 'SAFETY' };
  for (const proto of PROTOCOLS) {
    it(`${proto}: streamed and whole`, async () => {
      const model = 'm+fault=refusal';
      const res = await call(sim, proto, { prompt, model });
      assert.equal(res.status, 200);
      const s = collect(proto, await res.text());
      const openai = proto === 'openai' || proto === 'azure';
      assert.deepEqual([s.text, s.refusal], openai ? ['', REFUSAL_TEXT] : [REFUSAL_TEXT, '']);
      assert.equal(s.finish, finish[proto]);
      assert.equal(s.terminated, true);
      const whole = await call(sim, proto, { prompt, model, stream: false });
      const w = wholeAnswer(proto, await whole.json());
      assert.deepEqual([w.text, w.refusal], openai ? ['', REFUSAL_TEXT] : [REFUSAL_TEXT, undefined]);
      assert.equal(w.finish, finish[proto]);
      assert.equal(sim.attempts().at(-1)?.fault, 'refusal');
    });
  }
  it('a tool call asked for is declined too', async () => {
    const res = await call(sim, 'openai', {
      prompt: 'What is the weather?',
      model: 'm+fault=refusal',
      tools: true,
    });
    const s = collect('openai', await res.text());
    assert.deepEqual([s.refusal, s.toolArgs], [REFUSAL_TEXT, '']);
  });
});

describe("+reasoning: OpenAI's reasoning models refuse sampling parameters", () => {
  for (const proto of ['openai', 'azure'] as const)
    it(`${proto}: temperature other than 1, top_p, stop and max_tokens get a 400; the rest answers`, async () => {
      const model = 'sim-alpha+reasoning';
      for (const [key, value] of [
        ['temperature', 0.2],
        ['top_p', 0.5],
        ['stop', ['END']],
        ['max_tokens', 10],
        ['parallel_tool_calls', false],
      ] as const) {
        const res = await call(sim, proto, { prompt, model, stream: false, fields: { [key]: value } });
        assert.equal(res.status, 400, key);
        const body = await res.json();
        assert.deepEqual(
          [at(body, 'error', 'code'), at(body, 'error', 'param')],
          ['unsupported_parameter', key],
        );
        assert.equal(
          at(body, 'error', 'message'),
          `Unsupported parameter: '${key}' is not supported with this model.`,
        );
        assert.equal(sim.attempts().at(-1)?.outcome, 'rejected');
      }
      const fields = { temperature: 1, max_completion_tokens: 50, reasoning_effort: 'high' };
      const ok = await call(sim, proto, { prompt, model, fields });
      assert.equal(ok.status, 200);
      assert.equal(collect(proto, await ok.text()).text, full);
      // Without the option the same parameters are taken.
      const plain = await call(sim, proto, {
        prompt,
        stream: false,
        fields: { temperature: 0.2, stop: ['END'] },
      });
      assert.equal(plain.status, 200);
    });
});

describe('Anthropic refuses the sampling its current models refuse', () => {
  it('a temperature above 1, a stop sequence of whitespace, temperature beside top_p: 400s', async () => {
    for (const [fields, message] of [
      [{ temperature: 1.5 }, 'temperature: range: 0..1'],
      [{ stop_sequences: ['END', '\n'] }, 'stop_sequences: each stop sequence must contain non-whitespace'],
      [
        { temperature: 0.5, top_p: 0.9 },
        '`temperature` and `top_p` cannot both be specified for this model. Please use only one.',
      ],
    ] as const) {
      const res = await call(sim, 'anthropic', { prompt, fields, stream: false });
      assert.equal(res.status, 400);
      assert.equal(at(await res.json(), 'error', 'message'), message);
    }
    for (const fields of [{ temperature: 1 }, { top_p: 0.9 }])
      assert.equal((await call(sim, 'anthropic', { prompt, fields, stream: false })).status, 200);
  });
});

describe('Gemini refuses a function declaration whose object parameters have no properties', () => {
  it('400 INVALID_ARGUMENT; with properties, or without parameters, it answers', async () => {
    const tools = (parameters?: unknown) => ({
      tools: [{ functionDeclarations: [{ name: 'now', ...(parameters !== undefined && { parameters }) }] }],
    });
    const refused = await call(sim, 'gemini', {
      prompt,
      stream: false,
      fields: tools({ type: 'object', properties: {} }),
    });
    assert.equal(refused.status, 400);
    assert.equal(
      at(await refused.json(), 'error', 'message'),
      '* GenerateContentRequest.tools[0].function_declarations[0].parameters.properties: should be non-empty for OBJECT type\n',
    );
    for (const fields of [tools(), tools({ type: 'OBJECT', properties: { tz: { type: 'STRING' } } })])
      assert.equal((await call(sim, 'gemini', { prompt, stream: false, fields })).status, 200);
  });
});

describe("+max_output=N: a reply limit above the model's own gets a 400", () => {
  for (const proto of ['openai', 'anthropic', 'gemini'] as const)
    it(proto, async () => {
      const model = 'sim-alpha+max_output=40';
      const refused = await call(sim, proto, { prompt, model, maxTokens: 41, stream: false });
      assert.equal(refused.status, 400);
      assert.match(
        String(at(await refused.json(), 'error', 'message')),
        /max_tokens is too large: 41\. This model supports at most 40/,
      );
      assert.equal(sim.attempts().at(-1)?.outcome, 'rejected');
      const ok = await call(sim, proto, { prompt, model, maxTokens: 40 });
      assert.equal(ok.status, 200);
      assert.equal(collect(proto, await ok.text()).text, full);
    });
});

describe('rule lifetime and matching', () => {
  it('times: applies to the next N attempts, then the rule is gone', async () => {
    sim.setFault({ fault: 'server_error', times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(sim, 'openai', { prompt });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [500, 500, 200]);
    assert.deepEqual(sim.faults(), []);
  });

  it('durationMs and flap: down for a while, then healthy', async () => {
    sim.setFault({ fault: 'flap', durationMs: 200, down: 'overloaded' });
    sim.setFault({ fault: 'rate_limit', durationMs: 200, provider: 'other' });
    const first = await call(sim, 'anthropic', { prompt });
    assert.equal(first.status, 529);
    await first.arrayBuffer();
    assert.equal(sim.attempts().at(-1)?.fault, 'overloaded');
    const other = await call(sim, 'openai', { prompt, provider: 'other' });
    assert.equal(other.status, 429);
    await other.arrayBuffer();
    await new Promise((r) => setTimeout(r, 230));
    const later = await call(sim, 'anthropic', { prompt });
    assert.equal(later.status, 200);
    assert.equal(collect('anthropic', await later.text()).text, full);
    const otherLater = await call(sim, 'openai', { prompt, provider: 'other' });
    assert.equal(otherLater.status, 200);
    await otherLater.text();
  });

  it('flap by model name starts at the first request', async () => {
    const model = 'm+fault=flap+duration=150';
    const statuses: number[] = [];
    for (const wait of [0, 0, 180]) {
      await new Promise((r) => setTimeout(r, wait));
      const res = await call(sim, 'gemini', { prompt, model, stream: false });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [503, 503, 200]);
  });

  it('targets provider and model; the most recent match wins over model-name options', async () => {
    sim.setFault({ fault: 'forbidden', provider: 'alpha' });
    sim.setFault({ fault: 'not_found', provider: 'alpha', model: 'special' });
    const statusOf = async (provider: string | undefined, model: string): Promise<number> => {
      const res = await call(
        sim,
        'openai',
        provider === undefined ? { prompt, model } : { prompt, model, provider },
      );
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await statusOf('alpha', 'special+fault=server_error'), 404);
    assert.equal(await statusOf('alpha', 'ordinary'), 403);
    assert.equal(await statusOf('beta', 'special'), 200);
    assert.equal(await statusOf(undefined, 'ordinary+fault=server_error'), 500);
  });
});
