/**
 * The web app the tests build is the one `npm install` ships: React's production build, even under
 * the test runner's NODE_ENV=test (Vite would otherwise bundle React's development build, larger
 * and slower, and leave it in dist for `npm start` to serve).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureBuilt } from './harness.js';

test('the web build is a production build under NODE_ENV=test', () => {
  assert.equal(process.env.NODE_ENV, 'test', 'run as the test runner runs it');
  const assets = join(ensureBuilt(), 'assets');
  const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length > 0, 'the build wrote a script');
  for (const f of scripts) {
    const js = readFileSync(join(assets, f), 'utf8');
    // Printed by React's development build only (tested without printing the whole bundle).
    assert.ok(!js.includes('Download the React DevTools'), `${f}: React's development build`);
    assert.ok(!js.includes('jsxDEV('), `${f}: JSX compiled for development`);
  }
});
