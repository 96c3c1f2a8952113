/**
 * scripts/build.mjs (QA ops #8): `npm start` builds before it runs, so the build must be safe for
 * several instances started at once and for a service user who cannot write the install
 * directory. The bundle is written only when it changed, through a temporary file renamed over it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = join(ROOT, 'scripts/build.mjs');

/** Runs the build as `npm start` does; resolves with what it printed. */
async function build(entry: string, out: string, opts: { uid?: number; gid?: number } = {}): Promise<string> {
  const { stderr } = await promisify(execFile)(process.execPath, [BUILD, entry, out], {
    cwd: ROOT,
    timeout: 60_000,
    ...opts,
  });
  return stderr;
}

/** A temp folder readable by everyone (the unprivileged case reads the entry from it). */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-build-'));
  chmodSync(dir, 0o755);
  return dir;
}

const program = (word: string) => `const word: string = '${word}';\nconsole.log(word);\n`;
const run = (out: string) => execFileSync(process.execPath, [out], { encoding: 'utf8' }).trim();

test('the bundle is replaced by a rename, and only when it changed', { timeout: 120_000 }, async () => {
  const dir = workDir();
  try {
    const entry = join(dir, 'entry.ts');
    const outDir = join(dir, 'out');
    const out = join(outDir, 'app.mjs');
    writeFileSync(entry, program('one'));
    assert.match(await build(entry, out), /^built .*app\.mjs in \d+ ms\n$/);
    assert.equal(run(out), 'one');
    const first = statSync(out);

    // Up to date: not written again (a read-only install directory is fine, see below).
    assert.match(await build(entry, out), /\(unchanged, not rewritten\)/);
    const same = statSync(out);
    assert.equal(same.ino, first.ino);
    assert.equal(same.mtimeMs, first.mtimeMs);

    // Changed while an instance has the old bundle open: it keeps reading the whole old file, and
    // the new one arrives under a new inode (renamed into place, never truncated and rewritten).
    const fd = openSync(out, 'r');
    try {
      writeFileSync(entry, program('two'));
      assert.doesNotMatch(await build(entry, out), /unchanged/);
      assert.notEqual(statSync(out).ino, first.ino, 'replaced by a rename, not rewritten in place');
      assert.match(readFileSync(fd, 'utf8'), /"one"[\s\S]*sourceMappingURL=app\.mjs\.map\n?$/);
    } finally {
      closeSync(fd);
    }
    assert.equal(run(out), 'two');

    // Three starts at once (systemctl enable --now understudy@8081 …@8082 …@8083): all succeed,
    // the bundle is whole, and no temporary file is left behind.
    writeFileSync(entry, program('three'));
    await Promise.all([build(entry, out), build(entry, out), build(entry, out)]);
    assert.equal(run(out), 'three');
    assert.deepEqual(readdirSync(outDir).sort(), ['app.mjs', 'app.mjs.map']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a bundle built at install starts without write access to the install directory',
  { timeout: 120_000 },
  async () => {
    const dir = workDir();
    const outDir = join(dir, 'dist');
    try {
      const entry = join(dir, 'entry.ts');
      writeFileSync(entry, program('installed'));
      chmodSync(entry, 0o644);
      mkdirSync(outDir);
      const out = join(outDir, 'app.mjs');
      await build(entry, out); // `npm run build` at install, as the directory's owner
      // The service user: `nobody` when the test runs as root (root writes anywhere), else the
      // directory made read-only for its owner.
      const asService = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      if (!('uid' in asService)) chmodSync(outDir, 0o555);
      assert.match(await build(entry, out, asService), /\(unchanged, not rewritten\)/);
      assert.equal(run(out), 'installed');
    } finally {
      chmodSync(outDir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
