// Runs the whole suite with Node's own test runner (through tsx, so tests are TypeScript).
// Node 20's `--test` does not expand globs, so the test files are found here.
// Three groups, by a marker line in the file:
// - `// test-runner: browser`: the browser suites, one at a time (two Chromiums on 2 cores can take
//   past a suite's 10 s wait for a first page load), in a lane of their own beside the plain files.
// - no marker: the plain files, two at a time beside the browser lane (TEST_CONCURRENCY).
// - `// test-runner: alone`: files that assert one of the SPEC's wall-clock bounds (100 ms to fall
//   back when Redis is silent, sockets closed within 100 ms of a cancel) or run a cluster behind a
//   load balancer: after the others, one at a time, since beside another file on a 2-core machine
//   they would measure that file's load, not our bound.
// The suite mostly waits (servers, timeouts, sockets): run one group after another, it used under
// half the machine's CPU (user+sys 12m47s over 13m31s on 2026-12-07).
// Usage: node scripts/test.mjs [path-filter ...]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const skip = new Set(['node_modules', 'dist', 'data', '.git', 'fixtures']);

/** Every *.test.ts below dir. */
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...find(join(root, 'packages')), ...find(join(root, 'test'))]
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const marked = (kind) =>
  files.filter((f) =>
    new RegExp(`^// test-runner: ${kind}\\b`, 'm').test(readFileSync(join(root, f), 'utf8')),
  );
const alone = marked('alone');
const browser = marked('browser');
const together = files.filter((f) => !alone.includes(f) && !browser.includes(f));

const totals = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
let skippedSuites = 0;

/**
 * Runs some files with the given concurrency, echoing the reporter (at once, or all of it when they
 * end if `held`: two lanes' lines would interleave); resolves true when all passed.
 */
function run(list, concurrency, held = false) {
  if (list.length === 0) return Promise.resolve(true);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list],
    { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'test' } },
  );
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    if (!held) process.stdout.write(chunk);
    text += chunk;
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      // The runner's own summary (the last line of each name: a test's diagnostic could look like
      // one), added up so the end of the output speaks for the whole suite.
      const last = (name) =>
        Number([...text.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
      for (const name of Object.keys(totals)) totals[name] += last(name);
      // A suite skipped as a whole (`describe(…, { skip })`, the browser tests without Chromium)
      // registers no tests, so Node 20's summary does not count it; the reporter marks it with ﹣
      // like a skipped test: the marks beyond the summary's skipped tests are such suites.
      const suites = text.split('\n').filter((l) => /^\s*﹣ /.test(l) && !/# TODO\b/.test(l)).length;
      skippedSuites += Math.max(0, suites - last('skipped'));
      if (held) process.stdout.write(text);
      resolve(code === 0);
    }),
  );
}

if (browser.length > 0)
  console.log(
    `browser suites, one at a time beside the others (their output when they end): ${browser.join(', ')}\n`,
  );
const [passedTogether, passedBrowser] = await Promise.all([
  run(together, process.env.TEST_CONCURRENCY ?? '2'),
  run(browser, '1', together.length > 0),
]);
if (alone.length > 0)
  console.log(`\nalone, one at a time (each says why on its marker line): ${alone.join(', ')}`);
const passedAlone = await run(alone, '1');
const line = Object.entries(totals).map(([k, v]) => `${k} ${v}`);
if (skippedSuites > 0) line.push(`skipped suites ${skippedSuites}`);
console.log(`\nwhole suite: ${line.join(', ')}`);
process.exit(passedTogether && passedBrowser && passedAlone ? 0 : 1);
