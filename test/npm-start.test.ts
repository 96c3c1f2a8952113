/**
 * `npm start` exactly as the README says: it bundles the server (scripts/build.mjs) and runs the
 * bundle with plain node. The product must come up on its embedded defaults, serve the web app and
 * the first-run setup, and stop cleanly on SIGTERM sent to npm (signals must reach the server).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('npm start builds the bundle, serves the product and stops on SIGTERM', async () => {
  const data = mkdtempSync(join(tmpdir(), 'understudy-npm-start-'));
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', UNDERSTUDY_DATA_DIR: data, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    let url: string | undefined;
    for (let i = 0; i < 300 && url === undefined; i++) {
      url = /Understudy is listening on (http:\/\/[^\s"]+)/.exec(output)?.[1];
      if (url === undefined) await sleep(100);
    }
    assert.ok(url, `the server never said it was listening:\n${output}`);
    assert.match(output, /built dist\/understudy\.mjs/);
    const base = url.replace('localhost', '127.0.0.1');
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(output, /setup\?token=[A-Za-z0-9_-]+/, 'the first-run setup link is printed');
    // The embedded simulator pair is there, clearly labelled, on embedded defaults.
    const status = await fetch(`${base}/readyz`);
    assert.equal(status.status, 200);
  } finally {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
    assert.equal(code, 0, `npm start did not exit cleanly on SIGTERM:\n${output.slice(-2000)}`);
  }
});
