// test-runner: alone
/**
 * A rolling restart behind nginx configured with docs/nginx-understudy.conf, as written there
 * (ports and TLS aside), under steady load (rolling-support.ts): instances on PostgreSQL and Redis,
 * each stopped with SIGTERM, started again and let back in following docs/deployment.md's
 * procedure. No request may fail, no answer be cut, no message be stored twice. Skipped outside CI
 * when nginx is not installed (.ci/run installs it), or PostgreSQL or Redis is absent. For
 * measurements, NGINX_ROLLING_INSTANCES sets the instance count (2 by default) and NGINX_SAMPLE
 * another sample.
 */
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from './cluster-support.js';
import { nginxBinary, restartLoopSleepMs, sampleForPorts, startNginx } from './nginx-support.js';
import {
  assertNothingLost,
  restartInTurn,
  sleep,
  startCluster,
  startLoad,
  status,
  until,
} from './rolling-support.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SAMPLE = process.env.NGINX_SAMPLE ?? join(ROOT, 'docs/nginx-understudy.conf');
const INSTANCES = Number(process.env.NGINX_ROLLING_INSTANCES ?? 2);

test(
  'a rolling restart behind the documented nginx sample fails no request',
  { timeout: 120_000 },
  async (t) => {
    const bin = nginxBinary();
    const cluster = await startCluster(t, INSTANCES, { name: 'nginx', installed: bin !== undefined });
    if (!cluster || !bin) return;

    const lbPort = await freePort();
    const nginx = startNginx(bin, cluster.dir, sampleForPorts(SAMPLE, cluster.ports, lbPort));
    t.after(() => nginx.stop());
    const lb = `http://127.0.0.1:${lbPort}`;
    await until('nginx up', async () => (await status(`${lb}/readyz`)) === 200, 10_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${nginx.output.join('')}`);
      },
    );

    const load = await startLoad(lb);
    await sleep(1000);
    // The loop's `sleep` (nginx lets a server it took out back in after its fail_timeout).
    const backInMs = restartLoopSleepMs();
    const timings = await restartInTurn(cluster, async () => {
      await sleep(backInMs);
      return '';
    });
    await load.stop();
    await nginx.stop();
    await assertNothingLost(t, cluster, load, timings, nginx.output.join(''));
  },
);
