import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { expectedAnswer, startSimulator, type Simulator } from '../src/index.js';
import { call, collect, waitForAttempt, type Proto } from './helpers.js';

let sim: Simulator;
before(async () => {
  sim = await startSimulator({ answerTokens: 10 });
});
beforeEach(() => sim.reset());
after(() => sim.close());

const prompt = 'socket level behaviour';
const full = expectedAnswer(prompt, 10);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms for up to 2 s. */
async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  assert.ok(cond(), 'condition never held');
}

/** Reads a streaming body until `done(text)` or `ms` elapse; returns the text so far. */
async function readUntil(res: Response, done: (text: string) => boolean, ms: number): Promise<string> {
  const reader = res.body?.getReader();
  assert.ok(reader);
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  while (!done(text) && Date.now() < deadline) {
    const next = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => undefined)]);
    if (next === undefined || next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

/** A raw node:http POST (for socket-level observations fetch hides). */
function rawPost(
  path: string,
  body: unknown,
  agent?: Agent,
  base: string = sim.url,
): { req: ReturnType<typeof request>; response: Promise<IncomingMessage> } {
  const req = request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    ...(agent === undefined ? {} : { agent }),
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  req.end(JSON.stringify(body));
  return { req, response };
}

const chatBody = (model: string, stream = true): unknown => ({
  model,
  stream,
  messages: [{ role: 'user', content: prompt }],
});

describe('connection-level faults', () => {
  it('reset: the connection is reset before any response byte', async () => {
    sim.setFault({ fault: 'reset' });
    const { response } = rawPost('/v1/chat/completions', chatBody('m'));
    await assert.rejects(response, (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET');
    const rec = await waitForAttempt(sim, (a) => a.outcome !== 'open');
    assert.equal(rec.outcome, 'fault');
    assert.equal(rec.status, undefined);
    assert.equal(rec.clientAborted, false);
  });

  it('cut_after: tokens, then an abrupt close without finish or terminator', async () => {
    const res = await call(sim, 'openai', { prompt, model: 'm+fault=cut_after+after=3' });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    const rec = await waitForAttempt(sim, (a) => a.outcome !== 'open');
    assert.equal(rec.tokensSent, 3);
    assert.equal(rec.outcome, 'fault');
    const raw = rawPost('/v1/chat/completions', chatBody('m+fault=cut_after+after=2'));
    const msg = await raw.response;
    let text = '';
    msg.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise<void>((resolve) => msg.on('close', () => resolve()));
    assert.equal(msg.complete, false);
    const c = collect('openai', text);
    assert.equal(c.text, full.split(' ').slice(0, 2).join(' ') + ' ');
    assert.equal(c.finish, undefined);
    assert.equal(c.terminated, false);
  });

  it('cut_after on a whole answer truncates the JSON body', async () => {
    const res = await call(sim, 'anthropic', { prompt, model: 'm+fault=cut_after', stream: false });
    assert.equal(res.status, 200);
    await assert.rejects(res.json());
  });

  it('stall_after: tokens, then silence until the client aborts (recorded as clientAborted)', async () => {
    const controller = new AbortController();
    const res = await call(sim, 'anthropic', {
      prompt,
      model: 'm+fault=stall_after+after=2',
      signal: controller.signal,
    });
    const text = await readUntil(res, (t) => (t.match(/text_delta/g) ?? []).length >= 2, 2000);
    const more = await readUntil(res, (t) => t.length > 0, 300);
    assert.equal(more, '', 'nothing after the stall');
    assert.equal(collect('anthropic', text).text, full.split(' ').slice(0, 2).join(' ') + ' ');
    controller.abort();
    const rec = await waitForAttempt(sim, (a) => a.outcome !== 'open');
    assert.equal(rec.clientAborted, true);
    assert.equal(rec.outcome, 'aborted');
    assert.equal(rec.fault, 'stall_after');
    assert.ok(rec.endedAt !== undefined && rec.endedAt - Date.now() < 1000);
  });

  it('no_response: reads the request and never answers', async () => {
    sim.setFault({ fault: 'no_response' });
    const raw = rawPost('/v1/chat/completions', chatBody('m'));
    raw.response.catch(() => undefined);
    const outcome = await Promise.race([
      raw.response.then(() => 'answered'),
      sleep(300).then(() => 'silent'),
    ]);
    assert.equal(outcome, 'silent');
    raw.req.destroy();
    const rec = await waitForAttempt(sim, (a) => a.clientAborted);
    assert.equal(rec.outcome, 'aborted');
    assert.equal(rec.headersAt, undefined);
  });

  it('no_first_token: headers and keep-alives, never content', async () => {
    sim.setFault({ fault: 'no_first_token' });
    const watch = async (proto: Proto): Promise<string> => {
      const controller = new AbortController();
      const res = await call(sim, proto, { prompt, signal: controller.signal });
      assert.equal(res.status, 200);
      const text = await readUntil(res, () => false, 1300);
      controller.abort();
      return text;
    };
    const [anthropic, openai] = await Promise.all([watch('anthropic'), watch('openai')]);
    assert.match(anthropic, /event: message_start/);
    assert.ok((anthropic.match(/event: ping/g) ?? []).length >= 2, 'initial ping plus one a second');
    assert.doesNotMatch(anthropic, /content_block_delta/);
    assert.match(openai, /^: keep-alive/);
    assert.equal(collect('openai', openai).frames.length, 0);
    await waitForAttempt(
      sim,
      (a) => sim.attempts().every((r) => r.clientAborted && r.tokensSent === 0) && a.clientAborted,
    );
  });

  it('slow_first_token: headers at once, first token after delayMs, then the whole answer', async () => {
    sim.setFault({ fault: 'slow_first_token', delayMs: 250 });
    const res = await call(sim, 'gemini', { prompt });
    assert.equal(collect('gemini', await res.text()).text, full);
    const rec = sim.attempts().at(-1);
    assert.ok(rec?.headersAt !== undefined && rec.firstTokenAt !== undefined);
    assert.ok(rec.headersAt - rec.startedAt < 100);
    assert.ok(rec.firstTokenAt - rec.headersAt >= 240);
    assert.equal(rec.outcome, 'fault');
  });
});

describe('pacing, cancellation, keep-alive and close', () => {
  it('delay=N paces chunks; a client abort stops the stream promptly', async () => {
    const controller = new AbortController();
    const res = await call(sim, 'openai', {
      prompt,
      model: 'paced+delay=40+tokens=50',
      signal: controller.signal,
    });
    const started = Date.now();
    await readUntil(res, (t) => (t.match(/"content":"[^"]/g) ?? []).length >= 3, 2000);
    assert.ok(Date.now() - started >= 60, 'tokens are paced');
    controller.abort();
    const rec = await waitForAttempt(sim, (a) => a.clientAborted);
    assert.ok(rec.endedAt !== undefined);
    const sent = rec.tokensSent;
    await sleep(150);
    assert.equal(sim.attempts().at(-1)?.tokensSent, sent, 'nothing written after the abort');
    assert.ok(sent < 50);
    assert.equal(rec.model, 'paced');
    assert.equal(rec.requestedModel, 'paced+delay=40+tokens=50');
  });

  it('a client that stops reading holds the rest of the answer back; reading again gets all of it', async () => {
    // No pause between chunks, and ~80 MB of SSE: far more than the socket buffers between the two.
    const tokens = 400_000;
    const { response } = rawPost('/v1/chat/completions', chatBody(`m+tokens=${tokens}+delay=0`));
    const res = await response;
    res.pause();
    let sent = -1;
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      const now = sim.attempts().at(-1)?.tokensSent ?? 0;
      if (now === sent) break;
      sent = now;
    }
    const held = sim.attempts().at(-1);
    assert.equal(held?.outcome, 'open', 'the answer is not over while the client reads nothing');
    assert.ok(
      sent > 0 && sent < tokens / 4,
      `${sent} of ${tokens} tokens went out to a client reading nothing`,
    );
    res.setEncoding('utf8');
    let text = '';
    res.on('data', (c: string) => (text += c));
    res.resume();
    await new Promise((resolve) => res.once('end', resolve));
    assert.equal(collect('openai', text).text, expectedAnswer(prompt, tokens));
    assert.equal((await waitForAttempt(sim, (a) => a.outcome !== 'open')).tokensSent, tokens);
  });

  it('reuses a keep-alive connection across streaming and error responses', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reused: boolean[] = [];
      for (const model of ['k1', 'k1+fault=overloaded', 'k1']) {
        const raw = rawPost('/v1/chat/completions', chatBody(model), agent);
        const msg = await raw.response;
        reused.push(raw.req.reusedSocket);
        msg.resume();
        await new Promise<void>((resolve) => msg.on('end', () => resolve()));
      }
      assert.deepEqual(reused, [false, true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('sockets(): open connections, and which of them carry a response in progress', async () => {
    // Its own simulator: the shared one still has other tests' idle keep-alive sockets.
    const own = await startSimulator();
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      assert.deepEqual(own.sockets(), { open: 0, active: 0 });
      const done = rawPost('/v1/chat/completions', chatBody('k1'), agent, own.url);
      const msg = await done.response;
      msg.resume();
      await new Promise<void>((resolve) => msg.on('end', () => resolve()));
      await waitUntil(() => own.sockets().active === 0);
      assert.deepEqual(own.sockets(), { open: 1, active: 0 }, 'one idle keep-alive socket');
      const stalled = rawPost(
        '/v1/chat/completions',
        chatBody('k1+fault=stall_after+after=1'),
        agent,
        own.url,
      );
      (await stalled.response).resume();
      assert.deepEqual(own.sockets(), { open: 1, active: 1 }, 'the idle socket was reused for the stall');
      stalled.req.destroy();
      await waitUntil(() => own.sockets().open === 0);
      assert.deepEqual(own.sockets(), { open: 0, active: 0 });
    } finally {
      agent.destroy();
      await own.close();
    }
  });

  it('close() ends hung requests and stops listening', async () => {
    const other = await startSimulator();
    other.setFault({ fault: 'no_response', model: 'hang' });
    other.setFault({ fault: 'stall_after', model: 'stall', after: 1 });
    const hung = fetch(`${other.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('hang')),
    });
    hung.catch(() => undefined);
    const stalled = await call(other, 'openai', { prompt, model: 'stall' });
    const reading = stalled.text();
    reading.catch(() => undefined);
    for (let i = 0; i < 50 && other.attempts().length < 2; i++) await sleep(10);
    const started = Date.now();
    await other.close();
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(hung);
    await assert.rejects(reading);
    for (const rec of other.attempts()) {
      assert.equal(rec.outcome, 'aborted');
      assert.equal(rec.clientAborted, false);
    }
    await assert.rejects(fetch(`${other.url}/_sim/health`));
  });
});
