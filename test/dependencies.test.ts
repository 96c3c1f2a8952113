/**
 * The Node version the README and package.json promise (QA ops #13): every package the lockfile
 * installs must accept the oldest Node that `engines` allows, or `npm install` warns EBADENGINE
 * (cookie@2.0.2 through fastify → light-my-request asked for Node 22) or fails outright (Vite,
 * which builds the web app at install, needs 20.19).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const ROOT = new URL('..', import.meta.url);
const read = <T>(path: string): T => JSON.parse(readFileSync(new URL(path, ROOT), 'utf8')) as T;

/** The two functions of semver used here (it comes with the toolchain: typescript-eslint, npm's own). */
interface Semver {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
}
const semver = createRequire(import.meta.url)('semver') as Semver;

interface Lock {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
}

test('every package in the lockfile runs on the oldest Node that package.json allows', () => {
  const pkg = read<{ engines: { node: string } }>('package.json');
  const oldest = semver.minVersion(pkg.engines.node)?.version;
  assert.ok(oldest, pkg.engines.node);
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  const [major, minor] = oldest.split('.');
  assert.ok(readme.includes(`Node ${major}.${minor}+`), `the README says Node ${major}.${minor}+`);

  const refused: string[] = [];
  for (const [path, entry] of Object.entries(read<Lock>('package-lock.json').packages)) {
    const wants = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    if (path === '' || !wants) continue;
    if (!semver.satisfies(oldest, wants)) refused.push(`${path}@${entry.version ?? '?'} wants node ${wants}`);
  }
  assert.deepEqual(refused, [], `not for Node ${oldest}`);
});
