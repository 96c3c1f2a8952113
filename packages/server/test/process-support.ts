/**
 * Test support for the server as a real process (`scripts/start.ts`): started with an environment,
 * stopped with a signal, its log kept for diagnostics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A server process. */
export interface ServerProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr. */
  output: string[];
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Spawns the server (loopback, ephemeral port, info logs) without waiting for it; `as` runs it as
 * another user (a test run by root that needs permissions to count).
 */
export function spawnServer(
  env: Record<string, string>,
  as: { uid?: number; gid?: number } = {},
): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output, exited };
}

/** The URL a server process prints once it listens (on 127.0.0.1). */
export async function listeningUrl(proc: ServerProcess, timeoutMs = 20_000): Promise<string> {
  const url = await waitFor(
    'the server to listen',
    async () => {
      const url = /Understudy is listening on (http:\/\/[^\s"]+)/.exec(proc.output.join(''))?.[1];
      if (!url && proc.child.exitCode !== null) throw new Error(`the server exited (${proc.child.exitCode})`);
      return url;
    },
    timeoutMs,
  );
  return url.replace('localhost', '127.0.0.1');
}

/** The first-run setup token a server process printed. */
export function setupToken(proc: ServerProcess): string {
  const token = /setup\?token=([A-Za-z0-9_-]+)/.exec(proc.output.join(''))?.[1];
  if (!token) throw new Error('no setup link in the log');
  return token;
}

/** Stops a process that may still run (SIGTERM), waiting for its exit. */
export async function stopServer(proc: ServerProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
  await proc.exited;
}
