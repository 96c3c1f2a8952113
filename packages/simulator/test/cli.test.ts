/**
 * `npm run simulator` as a real process: it listens on the chosen port (`--port`, or
 * `SIMULATOR_PORT`), answers a healthy chat completion, and stops on SIGTERM, freeing the port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { expectedAnswer } from '../src/index.js';

const ROOT = new URL('../../../', import.meta.url);
const CLI = 'packages/simulator/src/cli.ts';
/** npm and tsx start slowly on a loaded machine. */
const START_MS = 30_000;

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  assert.ok(addr && typeof addr === 'object');
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return addr.port;
}

/** A started process, its output so far, and how it ended. */
interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Proc[] = [];
after(() => {
  // Whatever a failed test left running: its whole process group (npm → sh → tsx → node).
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined) {
      try {
        process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** Spawns `command` in its own process group, so a signal can reach all of it, as a terminal's would. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const p = { child, output: () => text, exited };
  started.push(p);
  return p;
}

/** Waits until the banner names the URL (or the process dies, or time runs out). */
async function listening(p: Proc, url: string): Promise<void> {
  const until = Date.now() + START_MS;
  while (!p.output().includes(`listening on ${url}`)) {
    if (p.child.exitCode !== null) assert.fail(`exited early (${p.child.exitCode}): ${p.output()}`);
    if (Date.now() > until) assert.fail(`never listened on ${url}: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A healthy, whole OpenAI chat completion from the simulator at `url`. */
async function healthyCompletion(url: string): Promise<void> {
  const prompt = 'Is the command-line simulator up?';
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-cli', messages: [{ role: 'user', content: prompt }] }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    choices?: { message?: { content?: string }; finish_reason?: string }[];
  };
  assert.equal(body.choices?.[0]?.message?.content, expectedAnswer(prompt, 24));
  assert.equal(body.choices?.[0]?.finish_reason, 'stop');
}

/** True once nothing answers at `url` any more (polled for up to 5 s: every process of the group must exit). */
async function refused(url: string): Promise<boolean> {
  for (const until = Date.now() + 5_000; Date.now() < until;) {
    try {
      await fetch(`${url}/_sim/health`, { signal: AbortSignal.timeout(1000) });
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('npm run simulator', () => {
  it('runs packages/simulator/src/cli.ts', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts.simulator, `exec node --import tsx ${CLI}`);
  });

  it(
    '--port: listens there, answers a chat completion, and SIGTERM stops it',
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const p = start('npm', ['run', '--silent', 'simulator', '--', '--port', String(port)]);
      await listening(p, url);
      await healthyCompletion(url);
      assert.ok(p.child.pid !== undefined);
      // To npm alone, as a supervisor that signals only its child would: the script execs node,
      // so npm's forwarded SIGTERM reaches the simulator itself.
      process.kill(p.child.pid, 'SIGTERM');
      await p.exited;
      assert.ok(await refused(url), 'the port is closed once it stopped');
    },
  );

  it(
    'SIMULATOR_PORT: listens there; SIGTERM closes the server and exits 0',
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      // The script's own command, as one process, so its exit status is the CLI's.
      const p = start(process.execPath, ['--import', 'tsx', CLI], { SIMULATOR_PORT: String(port) });
      await listening(p, url);
      await healthyCompletion(url);
      const t0 = Date.now();
      p.child.kill('SIGTERM');
      assert.deepEqual(await p.exited, { code: 0, signal: null }, 'a clean exit, not death by signal');
      assert.ok(Date.now() - t0 < 5_000, 'stopped promptly');
      assert.ok(await refused(url));
    },
  );
});
