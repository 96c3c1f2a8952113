/**
 * Child processes of the benchmark: spawning, readiness, stopping (always, even on error), and
 * what the kernel says about them (CPU time, resident memory).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/** A running child process. */
export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Where its stdout and stderr go. */
  logFile: string;
  stop(): Promise<void>;
}

const running = new Set<Proc>();

/** Kills every child still running, synchronously (last resort on exit). */
function killAllNow(): void {
  for (const p of running) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killAllNow);

/** Stops every child still running (SIGTERM, then SIGKILL after a grace period). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A TCP port that was free a moment ago on 127.0.0.1 (nothing listens on it when this returns). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface SpawnOptions {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  /** Resolves true once the process serves. */
  ready: () => Promise<boolean>;
  /** How long it may take to serve (30 s; 10 minutes under a `wrapper`, valgrind being 30-50x slower). */
  readyTimeoutMs?: number;
  /** A command that runs node (e.g. `valgrind --tool=callgrind`): `[...wrapper, node, ...args]`. */
  wrapper?: string[];
}

/** Spawns `node <args>` with output to a log file, and waits until `ready()` says so. */
export async function spawnNode(o: SpawnOptions): Promise<Proc> {
  const fd = openSync(o.logFile, 'a');
  const [command = process.execPath, ...args] = [...(o.wrapper ?? []), process.execPath, ...o.args];
  const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const proc: Proc = {
    name: o.name,
    pid: child.pid ?? -1,
    child,
    logFile: o.logFile,
    stop: () => {
      stopping ??= (async () => {
        if (!exited) {
          child.kill('SIGTERM');
          const grace = sleep(8000).then(() => 'timeout' as const);
          if ((await Promise.race([exitedPromise.then(() => 'exit' as const), grace])) === 'timeout') {
            child.kill('SIGKILL');
            await exitedPromise;
          }
        }
        running.delete(proc);
      })();
      return stopping;
    },
  };
  running.add(proc);
  const readyMs = o.wrapper ? 600_000 : (o.readyTimeoutMs ?? 30_000);
  const deadline = Date.now() + readyMs;
  while (Date.now() < deadline) {
    if (exited) {
      running.delete(proc);
      throw new Error(`${o.name} exited before it was ready: see ${o.logFile}\n${tail(o.logFile)}`);
    }
    if (await o.ready().catch(() => false)) return proc;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`${o.name} was not ready within ${readyMs} ms: see ${o.logFile}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** True when `GET url` answers with `status` (any status when omitted). */
export async function answers(
  url: string,
  status?: number,
  headers: Record<string, string> = {},
): Promise<boolean> {
  const r = await request(url, { method: 'GET', headers, headersTimeout: 2000, bodyTimeout: 2000 });
  await r.body.dump();
  return status === undefined || r.statusCode === status;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU time (user + system) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses and may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/** Resident memory of a process, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the samples. */
export function sampleRss(pid: number, everyMs: number): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    try {
      samples.push(rssMiB(pid));
    } catch {
      // process gone
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
