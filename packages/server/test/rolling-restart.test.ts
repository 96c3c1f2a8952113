// test-runner: alone
/**
 * A rolling restart behind HAProxy configured with docs/deployment.md's sample, as written there
 * (ports aside), under steady load from clients that never retry: two instances on PostgreSQL and
 * Redis, each stopped with SIGTERM, started again, and let back in, following the documented
 * procedure. No request may fail, no answer be cut, no message be stored twice. Skipped outside CI
 * when haproxy is not installed (.ci/run installs it), or PostgreSQL or Redis is absent.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from './cluster-support.js';
import {
  assertNothingLost,
  restartInTurn,
  sleep,
  serversOnPorts,
  startCluster,
  startLoad,
  until,
} from './rolling-support.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** The HAProxy backend of docs/deployment.md, its servers moved to these loopback ports. */
function documentedBackend(ports: number[]): string {
  const doc = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
  const block = /```\n(backend understudy\n[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/deployment.md has an HAProxy backend sample');
  return serversOnPorts(block, /^\s*server /, ports);
}

/** A line of HAProxy's `show stat` for `server` (`BACKEND` for the backend), by column name. */
function haproxyStat(socket: string, server: string): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const s = createConnection(socket);
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => resolve({}));
    s.on('end', () => {
      const [head = '', ...rows] = data.split('\n');
      const cols = head.replace(/^# /, '').split(',');
      const row = rows.find((r) => r.startsWith(`understudy,${server},`))?.split(',') ?? [];
      resolve(Object.fromEntries(cols.map((c, i) => [c, row[i] ?? ''])));
    });
    s.write('show stat\n');
  });
}

test(
  'a rolling restart behind the documented HAProxy sample fails no request',
  { timeout: 90_000 },
  async (t) => {
    const installed = !spawnSync('haproxy', ['-v']).error;
    const cluster = await startCluster(t, 2, { name: 'haproxy', installed });
    if (!cluster) return;

    const lbPort = await freePort();
    const socket = join(cluster.dir, 'haproxy.sock');
    const cfg = join(cluster.dir, 'haproxy.cfg');
    const backend = documentedBackend(cluster.ports);
    writeFileSync(
      cfg,
      `global\n    stats socket ${socket} mode 600\ndefaults\n    mode http\n    timeout connect 5s\n` +
        `    timeout client 600s\nfrontend fe\n    bind 127.0.0.1:${lbPort}\n    default_backend understudy\n` +
        `${backend}\n`,
    );
    const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    const haproxyOutput: string[] = [];
    haproxy.stderr.on('data', (d: Buffer) => haproxyOutput.push(d.toString()));
    t.after(() => void haproxy.kill('SIGKILL'));
    const names = backend.split('\n').flatMap((l) => /^\s*server (\S+)/.exec(l)?.[1] ?? []);
    const lbUp = (i: number) => async () => (await haproxyStat(socket, names[i] ?? '')).status === 'UP';
    await until('haproxy up', async () => (await lbUp(0)()) && (await lbUp(1)()), 10_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${haproxyOutput.join('')}`);
      },
    );

    const load = await startLoad(`http://127.0.0.1:${lbPort}`);
    await sleep(1000);
    // The documented procedure waits for the balancer's rise: here, until HAProxy says UP.
    const timings = await restartInTurn(cluster, async (i) => {
      const riseMs = await until(`instance ${i} back in haproxy`, lbUp(i), 10_000);
      return `, back in ${riseMs} ms`;
    });
    await load.stop();
    const retried = await haproxyStat(socket, 'BACKEND');
    t.diagnostic(`haproxy retries ${retried.wretr}, redispatches ${retried.wredis}`);
    haproxy.kill('SIGTERM');
    await assertNothingLost(t, cluster, load, timings, haproxyOutput.join(''));
  },
);
