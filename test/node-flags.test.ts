/** The node flags `npm start` runs the server with (scripts/node-flags.mjs). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BASE_FLAGS, SMALL_MACHINE_FLAGS, nodeFlags } from '../scripts/node-flags.mjs';

/** Runs `node <flags> -e <script>` and returns its output. */
function node(flags: readonly string[], script: string) {
  return spawnSync(process.execPath, [...flags, '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
}

/** Size of V8's young generation after churning through short-lived objects, in MiB. */
const YOUNG_GENERATION = `
let keep = [];
for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
process.stdout.write(String(s.space_size / 1048576));`;

describe('node flags for npm start', () => {
  it('tune the heap everywhere, and the GC on a machine of at most 2 cores', () => {
    assert.deepEqual(nodeFlags(8, {}), ['--heap-growing-percent=100']);
    assert.deepEqual(nodeFlags(2, {}), [
      '--heap-growing-percent=100',
      '--single-threaded-gc',
      '--max-semi-space-size=8',
    ]);
    assert.deepEqual(nodeFlags(1, {}), nodeFlags(2, {}));
    assert.deepEqual(nodeFlags(3, {}), nodeFlags(8, {}));
  });

  it('are replaced by UNDERSTUDY_NODE_FLAGS when set (empty: V8 defaults)', () => {
    assert.deepEqual(nodeFlags(2, { UNDERSTUDY_NODE_FLAGS: '' }), []);
    assert.deepEqual(nodeFlags(8, { UNDERSTUDY_NODE_FLAGS: ' --max-old-space-size=512  --jitless ' }), [
      '--max-old-space-size=512',
      '--jitless',
    ]);
  });

  it('leave out what the operator set in NODE_OPTIONS, and only that', () => {
    assert.deepEqual(nodeFlags(2, { NODE_OPTIONS: '--max-semi-space-size=4 --enable-source-maps' }), [
      '--heap-growing-percent=100',
      '--single-threaded-gc',
    ]);
    assert.deepEqual(nodeFlags(2, { NODE_OPTIONS: '--max_semi_space_size=4' }), [
      '--heap-growing-percent=100',
      '--single-threaded-gc',
    ]);
    // A flag that merely starts alike is not theirs.
    assert.deepEqual(nodeFlags(8, { NODE_OPTIONS: '--heap-growing-percentage=3' }), BASE_FLAGS);
  });

  it('are all accepted on the command line by this node, which refuses an unknown one', () => {
    const ok = node(
      [...BASE_FLAGS, ...SMALL_MACHINE_FLAGS],
      'process.stdout.write(JSON.stringify(process.execArgv))',
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    assert.deepEqual((JSON.parse(ok.stdout) as string[]).slice(0, -2), [
      ...BASE_FLAGS,
      ...SMALL_MACHINE_FLAGS,
    ]);
    const bogus = node(['--no-such-v8-flag-here=1'], '0');
    assert.ok(bogus.status !== 0 || bogus.stderr !== '', 'node reports a flag it does not know');
  });

  it('take effect: the young generation is half V8’s default size', () => {
    const withFlags = Number(node(SMALL_MACHINE_FLAGS, YOUNG_GENERATION).stdout);
    const without = Number(node([], YOUNG_GENERATION).stdout);
    assert.ok(without > 0, 'the young generation was measured');
    assert.equal(withFlags, without / 2);
  });
});
