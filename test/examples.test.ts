// The README's library example must keep working: run it as a user would and check what it prints.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { promisify } from 'node:util';

it('examples/engine-as-library.ts answers from the backup when the primary is overloaded', async () => {
  const root = new URL('..', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'examples/engine-as-library.ts'],
    {
      cwd: root,
      timeout: 30_000,
    },
  );
  assert.match(stdout, /\[fallback: Automatic picked Steady: same tier as the primary, healthy\.\]/);
  assert.match(stdout, /answered by steady, reason overloaded/);
});
