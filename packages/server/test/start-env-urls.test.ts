/**
 * Provider URLs from the environment are checked when the server starts, as the bootstrap file's
 * are: a refused one stops the start with a line that names the variable, before anything is
 * created, rather than failing first-run setup half-way (an Owner and no providers at all).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client, PASSWORD, tempDir } from './helpers.js';
import { listeningUrl, setupToken, spawnServer, stopServer, type ServerProcess } from './process-support.js';

/** Resolves with the exit code, or 'still running' after `ms`. */
function exitWithin(proc: ServerProcess, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    proc.exited.finally(() => clearTimeout(timer)),
    new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms))),
  ]);
}

test('provider URLs from the environment are checked at start', async (t) => {
  for (const [what, env, message] of [
    [
      'OPENAI_BASE_URL on a private address, without the allowance',
      { OPENAI_API_KEY: 'sk-test-0123456789', OPENAI_BASE_URL: 'http://127.0.0.1:18160/v1' },
      /OPENAI_BASE_URL \(provider openai\): .*UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS/,
    ],
    [
      'OLLAMA_BASE_URL on the cloud metadata address (refused even for Ollama)',
      { OLLAMA_BASE_URL: 'http://169.254.169.254' },
      /OLLAMA_BASE_URL \(provider ollama\): /,
    ],
  ] as const) {
    await t.test(what, async () => {
      const tmp = tempDir();
      const proc = spawnServer({ UNDERSTUDY_DATA_DIR: tmp.dir, ...env });
      try {
        assert.equal(await exitWithin(proc, 15_000), 1, proc.output.join(''));
        const out = proc.output.join('');
        const fatal = /"msg":"(Understudy could not start: [^"]*)"/.exec(out)?.[1];
        assert.match(fatal ?? out, message);
        assert.doesNotMatch(out, /sk-test-0123456789/, 'the key is not shown');
        assert.ok(!existsSync(join(tmp.dir, 'understudy.db')), 'refused before the database was made');
      } finally {
        await stopServer(proc);
        tmp.remove();
      }
    });
  }

  await t.test('with UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS, setup adds the provider', async () => {
    const tmp = tempDir();
    const proc = spawnServer({
      UNDERSTUDY_DATA_DIR: tmp.dir,
      OPENAI_API_KEY: 'sk-test-0123456789',
      OPENAI_BASE_URL: 'http://127.0.0.1:18160/v1',
      UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true',
    });
    try {
      const owner = new Client(await listeningUrl(proc));
      const setup = await owner.post('/api/setup', {
        token: setupToken(proc),
        organization: 'Acme',
        name: 'O',
        email: 'o@example.com',
        password: PASSWORD,
      });
      assert.equal(setup.status, 201, JSON.stringify(setup.body));
      const providers = await owner.get<{ providers: { id: string }[] }>('/api/admin/providers');
      assert.deepEqual(
        providers.body.providers.map((p) => p.id),
        ['openai'],
      );
    } finally {
      await stopServer(proc);
      tmp.remove();
    }
  });
});
