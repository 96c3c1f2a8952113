/**
 * Real crash recovery: the server process is killed (SIGKILL) while it writes an answer, then
 * started again on the same data. The answer is not left in progress: it is interrupted with the
 * partial text saved before the crash, and Retry answers it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  Client,
  createPgBackend,
  forEachBackend,
  PASSWORD,
  PG_ADMIN_URL,
  rawPost,
  readSse,
  tempDir,
  waitFor,
  type Backend,
} from './helpers.js';
import { listeningUrl, setupToken, spawnServer, stopServer, type ServerProcess } from './process-support.js';

interface Msg {
  id: string;
  status: string;
  content: string;
}

/** Starts a process and signs the Owner in (running first-run setup on a new database). */
async function startSignedIn(env: Record<string, string>): Promise<{ proc: ServerProcess; owner: Client }> {
  const proc = spawnServer(env);
  try {
    const owner = new Client(await listeningUrl(proc));
    const first = /setup\?token=/.test(proc.output.join(''));
    const r = first
      ? await owner.post('/api/setup', {
          token: setupToken(proc),
          organization: 'Acme',
          name: 'O',
          email: 'o@example.com',
          password: PASSWORD,
        })
      : await owner.post('/api/auth/login', { email: 'o@example.com', password: PASSWORD });
    assert.equal(r.status, first ? 201 : 200);
    return { proc, owner };
  } catch (err) {
    const log = proc.output.join('').slice(-2000);
    await stopServer(proc);
    throw new Error(`the server did not start: ${String(err)}\n${log}`);
  }
}

/**
 * Begins a slow answer, kills the process once some of it has been saved (the partial text is
 * written every second), and returns the message id and the text the client had received.
 */
async function crashMidAnswer(proc: ServerProcess, owner: Client, conv: string) {
  const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
  let received = '';
  let firstText = 0;
  const events = await readSse(res, {
    until: (e) => {
      if (e.event !== 'text') return false;
      received += String(e.data.text);
      firstText ||= Date.now();
      return Date.now() - firstText > 1600;
    },
  });
  const id = events[0]?.data.assistantMessageId;
  assert.equal(typeof id, 'string');
  proc.child.kill('SIGKILL');
  const killedAt = Date.now();
  assert.equal(await proc.exited, null, 'killed, not exited');
  return { id: id as string, received, killedAt };
}

/**
 * Crashes a process mid-answer and restarts it. `recoveredWithinMs`: how long after the kill the
 * answer may still show in progress (undefined: it must not, on the first read after the restart).
 */
async function crashAndRecover(
  t: TestContext,
  backend: Backend,
  o: { instanceId?: string; recoveredWithinMs?: number } = {},
): Promise<void> {
  const tmp = tempDir();
  const env = {
    UNDERSTUDY_DATA_DIR: tmp.dir,
    // About 6 s per answer: long enough to crash in the middle of one.
    UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '100',
    ...(backend.databaseUrl && { DATABASE_URL: backend.databaseUrl }),
    ...(o.instanceId && { UNDERSTUDY_INSTANCE_ID: o.instanceId }),
  };
  let { proc, owner } = await startSignedIn(env);
  try {
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const { id, received, killedAt } = await crashMidAnswer(proc, owner, conv);

    ({ proc, owner } = await startSignedIn({ ...env, UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '2' }));
    const read = async () => {
      const msgs = (await owner.get<{ messages: Msg[] }>(`/api/conversations/${conv}`)).body.messages;
      return msgs.find((x) => x.id === id);
    };
    const msg =
      o.recoveredWithinMs === undefined
        ? await read()
        : await waitFor(
            'the answer of the killed process to be reclaimed',
            async () => {
              const m = await read();
              return m?.status === 'in_progress' ? undefined : m;
            },
            o.recoveredWithinMs + 5000,
          );
    const after = Date.now() - killedAt;
    t.diagnostic(`${backend.name}: the answer was ${msg?.status} ${after} ms after the kill`);
    assert.equal(msg?.status, 'interrupted');
    assert.ok(msg.content.length > 0, 'the partial text saved before the crash is kept');
    assert.ok(received.startsWith(msg.content), 'the saved text is what the client had received');
    if (o.recoveredWithinMs !== undefined) assert.ok(after < o.recoveredWithinMs, 'recovered promptly');

    const retried = await readSse(
      await rawPost(owner, `/api/conversations/${conv}/messages/${id}/retry`, {}),
    );
    assert.equal(retried.at(-1)?.event, 'done');
    const msgs = (await owner.get<{ messages: Msg[] }>(`/api/conversations/${conv}`)).body.messages;
    assert.deepEqual(
      msgs.map((m) => m.status),
      ['complete', 'complete'],
    );
  } catch (err) {
    const warnings = proc.output
      .join('')
      .split('\n')
      .filter((l) => /"level":[4-6]\d/.test(l));
    t.diagnostic(warnings.slice(-20).join('\n'));
    throw err;
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
}

test('a process killed mid-answer: restarted, the answer is interrupted and retryable', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    // SQLite: one instance, so everything in progress at start is the killed run's. PostgreSQL:
    // the new instance cannot tell a crashed one from a live one until it misses 6 heartbeats
    // (1 s each), then recovers its answers at the next beat.
    await crashAndRecover(t, backend, backend.name === 'postgres' ? { recoveredWithinMs: 10_000 } : {});
  });
});

test('PostgreSQL, restarted under a fixed UNDERSTUDY_INSTANCE_ID: recovered at start', async (t) => {
  const backend = await createPgBackend();
  if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
  try {
    await crashAndRecover(t, backend, { instanceId: 'understudy-0' });
  } finally {
    await backend.dispose();
  }
});
