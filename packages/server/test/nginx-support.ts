/**
 * nginx for the tests: docs/nginx-understudy.conf (or another sample), its upstream servers moved to
 * loopback ports and its TLS listener to a plain loopback one, run in the foreground as one process.
 * Everything else in the sample is kept as written, so a test measures what the docs tell admins.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serversOnPorts } from './rolling-support.js';

/** The nginx binary, or undefined when nginx is not installed. */
export function nginxBinary(): string | undefined {
  for (const bin of ['nginx', '/usr/sbin/nginx']) if (!spawnSync(bin, ['-v']).error) return bin;
  return undefined;
}

/**
 * The sample at `path` for these instance ports and this listening port: the first upstream
 * `server` lines take the ports (the others are left out); `listen 443 ssl` becomes a plain
 * loopback listener, and the certificate and `http2` lines go (a test speaks plain HTTP/1.1).
 */
export function sampleForPorts(path: string, ports: number[], listenPort: number): string {
  return serversOnPorts(readFileSync(path, 'utf8'), /^\s*server\s+\d+\.\d+\.\d+\.\d+:\d+/, ports)
    .split('\n')
    .flatMap((l) => {
      if (/^\s*listen\s+443\b/.test(l)) return [`    listen 127.0.0.1:${listenPort};`];
      if (/^\s*(http2\s|ssl_certificate)/.test(l)) return [];
      return [l];
    })
    .join('\n');
}

/**
 * The wait, in ms, of docs/deployment.md's restart loop between one instance answering /readyz
 * and stopping the next (its `sleep N   # the balancer takes it back` line).
 */
export function restartLoopSleepMs(): number {
  const doc = readFileSync(new URL('../../../docs/deployment.md', import.meta.url), 'utf8');
  const s = /^\s*sleep (\d+(?:\.\d+)?)\s+# the balancer takes it back/m.exec(doc);
  if (!s)
    throw new Error("docs/deployment.md's restart loop has no `sleep N   # the balancer takes it back` line");
  return Number(s[1]) * 1000;
}

/** A running nginx and what it logged. */
export interface Nginx {
  proc: ChildProcess;
  output: string[];
  /** Fast shutdown (SIGTERM), waiting for its exit. */
  stop(): Promise<void>;
}

/** Starts nginx (one foreground process) on `site` (an `http {}` body) with its files under `dir`. */
export function startNginx(bin: string, dir: string, site: string): Nginx {
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;\nmaster_process off;\npid ${join(dir, 'nginx.pid')};\nerror_log stderr warn;\n` +
      `events { worker_connections 1024; }\nhttp {\n  access_log off;\n` +
      `  client_body_temp_path ${join(dir, 'temp')};\n  proxy_temp_path ${join(dir, 'temp')};\n` +
      `${site}\n}\n`,
  );
  const proc = spawn(bin, ['-p', dir, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
