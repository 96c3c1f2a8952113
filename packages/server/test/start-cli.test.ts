/**
 * The server's command line, as an admin meets it: `node dist/understudy.mjs --help` says how to
 * configure it (every variable it reads) instead of starting a server, and an argument it does not
 * take stops it with a sentence instead of being ignored (`--port 9000` would otherwise listen on
 * 8080). And the docs name every variable it reads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ENV_VARIABLES } from '../src/config.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs scripts/start.ts with these arguments on a port nothing listens on; its exit code and output. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // Its own data folder, so that a server started by mistake writes nothing into the checkout.
  const dataDir = mkdtempSync(join(tmpdir(), 'understudy-cli-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/start.ts', ...args],
      // A server started by mistake must not linger: the timeout ends it, and the test fails.
      {
        cwd: ROOT,
        timeout: 20_000,
        killSignal: 'SIGKILL',
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          UNDERSTUDY_DEMO: 'off',
          UNDERSTUDY_DATA_DIR: dataDir,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean };
    assert.ok(!e.killed, `still running after 20 s (it started a server): ${e.stdout ?? ''}`);
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('--help prints how to configure the server, every variable it reads, and exits 0', async () => {
  for (const flag of ['--help', '-h']) {
    const { code, stdout, stderr } = await run([flag]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    assert.match(stdout, /^Usage: node dist\/understudy\.mjs/);
    assert.doesNotMatch(stdout, /listening/, 'no server started');
    const missing = ENV_VARIABLES.filter((v) => !new RegExp(`^  ${v} `, 'm').test(stdout));
    assert.deepEqual(missing, [], 'every variable on a line of its own');
  }
});

test('an argument the server does not take stops it: one line on stderr, exit code 1', async () => {
  const { code, stdout, stderr } = await run(['--port', '9000']);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.equal(
    stderr,
    'Understudy could not start: it takes no arguments ("--port", "9000"): it reads its settings from the environment (PORT=9000 node dist/understudy.mjs); --help lists them\n',
  );
});

test('every variable the server reads is documented in README.md or docs/deployment.md', () => {
  const docs = ['README.md', 'docs/deployment.md'].map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
  const undocumented = ENV_VARIABLES.filter((v) => !docs.includes(`\`${v}\``));
  assert.deepEqual(undocumented, []);
});
