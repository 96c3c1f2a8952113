/**
 * An API client that disconnects at any moment (SPEC §2.4's table: "the API client disconnected:
 * no fallback, the upstream request is cancelled"), streamed or whole, under the generated fault
 * pairs of fault-scenarios.ts and hangs that would otherwise last until a timeout (5–15 s). Once
 * the client is gone, every provider response of its answer ends within a moment, not at a hang's
 * timeout; the server keeps answering the next client. Answers are paced (a few ms between chunks)
 * so that disconnects land in every phase. That a cancelled answer never calls a backup is the
 * engine's (executor-properties' Stop property); chat-stop checks it through the server, where
 * Stop's reply marks the answer's end.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { hangingScenarioArb, QUESTION, scenarioStage } from './fault-scenarios.js';
import { searchOptions, waitFor, withInstantDemo, withPgDemo } from './helpers.js';

const disconnectArb = fc.record({
  faults: hangingScenarioArb,
  stream: fc.boolean(),
  /** Disconnect once this many body chunks have arrived (0: once the headers have)… */
  atChunk: fc.integer({ min: 0, max: 80 }),
  /** …or this long after sending, whichever comes first. */
  atMs: fc.integer({ min: 0, max: 300 }),
});

/** Ms between the demo's streamed chunks, as in chat-stop. */
const CHUNK_DELAY_MS = 2;
/** Time the server has to notice a closed socket and cancel: below any hang's timeout (5 s), with room for a loaded machine. */
const CANCELLED_WITHIN_MS = 4_000;

/** Sends the request and disconnects at the scenario's moment; returns the body chunks read by then. */
async function askAndLeave(
  url: string,
  key: string,
  s: { stream: boolean; atChunk: number; atMs: number },
): Promise<number> {
  const client = new AbortController();
  const leave = () => client.abort();
  const timer = setTimeout(leave, s.atMs);
  let chunks = 0;
  try {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'default',
        stream: s.stream,
        messages: [{ role: 'user', content: QUESTION }],
      }),
      signal: client.signal,
    });
    if (s.atChunk === 0) leave();
    // The client's own read is raced with its abort: the body iteration of Node's fetch was seen
    // to wait for ever after an abort that landed as the answer ended (about once in 700 runs,
    // with the upstream call already over), which is the test client's trouble, not the server's.
    const gone = new Promise<never>((_, reject) => {
      client.signal.addEventListener('abort', () => reject(new Error('left')), { once: true });
      if (client.signal.aborted) reject(new Error('left'));
    });
    gone.catch(() => undefined);
    const read = async () => {
      for await (const _ of r.body ?? []) if (++chunks >= s.atChunk) leave();
    };
    await Promise.race([read(), gone]);
  } catch (err) {
    if (!client.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  // The answer ended before the moment came: the client leaves now, with nothing left to cancel.
  leave();
  return chunks;
}

test('a client that disconnects at any moment cancels upstream', { timeout: 240_000 }, async (t) => {
  await withInstantDemo(async (server, owner) => {
    const sim = server.demo!.simulator;
    const stage = await scenarioStage(server, owner);
    const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'leaves' })).body.key;
    /** How far the answers got before the client left, to show the search reaches each phase. */
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(disconnectArb, async (s) => {
        await stage(s.faults);
        sim.clearAttempts();
        const chunks = await askAndLeave(server.url, key, s);
        const said = `${JSON.stringify(s)} left after ${chunks} chunks`;
        const open = await waitFor(
          'every provider response ended',
          async () => (sim.sockets().active === 0 ? Date.now() : undefined),
          CANCELLED_WITHIN_MS,
        ).catch(() => undefined);
        assert.ok(
          open !== undefined,
          `a provider response outlived its client by ${CANCELLED_WITHIN_MS} ms: ${said}`,
        );
        const attempts = sim.attempts();
        const phase =
          attempts.length === 0
            ? 'before any call'
            : attempts.some((a) => a.clientAborted)
              ? `cancelled ${attempts.length > 1 ? 'after a fallback' : 'on the primary'}`
              : 'after the end';
        const outcome = `${s.stream ? 'stream' : 'whole'}: ${phase}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }),
      searchOptions(100, 150_000),
    );
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const mode of ['stream', 'whole'])
      assert.ok(
        [...seen.keys()].some((k) => k.startsWith(`${mode}: cancelled`)),
        `the search cancelled a ${mode} answer upstream`,
      );
    // The server still answers after all of that.
    await stage({ primary: undefined, backup: undefined, primaryOnce: false, backupModel: 'sim-b-large' });
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: QUESTION }] }),
    });
    assert.equal(r.status, 200, await r.text());
  }, CHUNK_DELAY_MS);
});

test(
  'a client that leaves before its request is handled is cancelled too (PostgreSQL)',
  { timeout: 60_000 },
  async (t) => {
    // On PostgreSQL the key's first check and the catalog's first read are network round trips, in
    // which the server hears the close before its handler listens for it (on SQLite they finish first).
    await withPgDemo(t, async (server, owner) => {
      const sim = server.demo!.simulator;
      const stage = await scenarioStage(server, owner);
      // The primary never sends headers: only a cancel ends its call before the connect timeout (1.5 s here).
      await stage({
        primary: { fault: 'no_response' },
        primaryOnce: false,
        backup: undefined,
        backupModel: 'sim-b-large',
      });
      const { hostname, port } = new URL(server.url);
      const body = JSON.stringify({ model: 'default', messages: [{ role: 'user', content: QUESTION }] });
      for (let i = 0; i < 5; i++) {
        // A key of its own each time: its first check reads the database.
        const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: `early ${i}` })).body
          .key;
        sim.clearAttempts();
        // The whole request, then the socket closed at once.
        const socket = connect(Number(port), hostname);
        await once(socket, 'connect');
        socket.end(
          `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\n` +
            `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        socket.destroy();
        await new Promise((r) => setTimeout(r, 700));
        assert.equal(
          sim.sockets().active,
          0,
          `try ${i + 1}: the primary's call outlived its client: ${JSON.stringify(sim.attempts().map((a) => a.outcome))}`,
        );
      }
    });
  },
);
