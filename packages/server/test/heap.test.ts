import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../src/index.js';

describe('heap growth setting', () => {
  it('is set when the operator chose none', () => {
    assert.equal(heapGrowthFlag([]), `--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    assert.equal(heapGrowthFlag(['--enable-source-maps']), '--heap-growing-percent=100');
  });

  it("leaves the operator's own choice on node's command line alone", () => {
    assert.equal(heapGrowthFlag(['--heap-growing-percent=30']), null);
    assert.equal(heapGrowthFlag(['--heap_growing_percent=300']), null);
    assert.equal(heapGrowthFlag(['--heap-growing-percent', '30']), null);
    // A flag that merely starts alike is not theirs.
    assert.notEqual(heapGrowthFlag(['--heap-growing-percentage=3']), null);
  });

  it('need not look in NODE_OPTIONS: node refuses the flag there and does not start', () => {
    // If a future node accepts it, this fails and heapGrowthFlag must read NODE_OPTIONS again.
    for (const spelling of ['--heap-growing-percent=300', '--heap_growing_percent=300']) {
      const child = spawnSync(process.execPath, ['-e', 'console.log("started")'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: spelling },
      });
      assert.notEqual(child.status, 0, spelling);
      assert.equal(child.stdout, '', spelling);
      assert.match(child.stderr, /not allowed in NODE_OPTIONS/, spelling);
    }
  });

  it('is a flag this V8 accepts at run time (an unknown one would make node print a warning)', () => {
    const child = spawnSync(
      process.execPath,
      ['-e', `require('node:v8').setFlagsFromString('--heap-growing-percent=${HEAP_GROWING_PERCENT}')`],
      { encoding: 'utf8' },
    );
    assert.equal(child.status, 0);
    assert.equal(child.stderr, '');
    const bogus = spawnSync(
      process.execPath,
      ['-e', "require('node:v8').setFlagsFromString('--no-such-flag-here=1')"],
      {
        encoding: 'utf8',
      },
    );
    assert.match(bogus.stderr + bogus.stdout, /unknown|Error/i);
  });
});
