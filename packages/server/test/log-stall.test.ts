/**
 * A server whose stdout nobody reads (a stuck log shipper, a supervisor gone) keeps answering,
 * holds a bounded amount of log, and still exits on SIGTERM. Before, pino's default writer held
 * every line without bound and, at exit, retried its flush for as long as the pipe stayed full:
 * the server logged "Understudy stopped" and never exited (seen blocked in Atomics.wait).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LOG_HELD_BYTES } from '../src/logging.js';
import { waitFor } from './helpers.js';
import { listeningUrl, spawnServer, stopServer, type ServerProcess } from './process-support.js';

const dataDir = mkdtempSync(join(tmpdir(), 'understudy-log-stall-'));
let proc: ServerProcess | undefined;
after(async () => {
  if (proc) await stopServer(proc);
  rmSync(dataDir, { recursive: true, force: true });
});

/** A request's log line is about as long as its URL (8 KB, well under Node's 16 KB header bound). */
const PATH = `/api/not-here/${'x'.repeat(8000)}`;

/** Requests, four at a time, whose log lines add up to `bytes`; how many, and the slowest's time. */
async function logHeavily(url: string, bytes: number): Promise<{ sent: number; slowest: number }> {
  let [sent, slowest] = [0, 0];
  const t0 = Date.now();
  const worker = async () => {
    // Bounded in count and time.
    while (sent * PATH.length < bytes && sent < 10_000 && Date.now() - t0 < 60_000) {
      sent++;
      const start = Date.now();
      const r = await fetch(url + PATH, { signal: AbortSignal.timeout(5000) });
      await r.arrayBuffer();
      assert.equal(r.status, 404);
      slowest = Math.max(slowest, Date.now() - start);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { sent, slowest };
}

/** The server's understudy_log_lines_dropped_total. */
async function droppedMetric(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = /^understudy_log_lines_dropped_total (\d+)$/m.exec(text)?.[1];
  assert.ok(value !== undefined, 'understudy_log_lines_dropped_total is exported');
  return Number(value);
}

test('a stdout nobody reads stalls neither requests nor SIGTERM; the lines dropped are counted and told', async () => {
  proc = spawnServer({ UNDERSTUDY_DATA_DIR: dataDir, LOG_LEVEL: 'debug' });
  const url = await listeningUrl(proc);
  const stdout = proc.child.stdout!;

  stdout.pause();
  // Twice the bound: well past it.
  const first = await logHeavily(url, 2 * LOG_HELD_BYTES);
  assert.ok(first.sent * PATH.length > LOG_HELD_BYTES, `${first.sent} requests: past the held bound`);
  // Each answered while the pipe was full.
  assert.ok(first.slowest < 2000, `slowest request ${first.slowest} ms`);

  // Told while the log itself is stuck: the metric to alert on.
  const droppedSoFar = await droppedMetric(url);
  assert.ok(droppedSoFar > 0, `understudy_log_lines_dropped_total ${droppedSoFar} during the stall`);

  // The reader is back: what was held comes out, then how many lines did not fit.
  stdout.resume();
  const report = await waitFor(
    'the dropped lines to be reported',
    async () =>
      /"event":"log_lines_dropped","droppedLines":(\d+)[^\n]*log lines were dropped over \d+ s: stdout was not read/.exec(
        proc!.output.join(''),
      ) ?? undefined,
    10_000,
  );
  const dropped = Number(report[1]);
  assert.ok(dropped > 0 && dropped <= first.sent * 2, `${dropped} lines dropped`);
  assert.match(proc.output.join(''), /Understudy is listening/, 'lines before the stall are kept');
  assert.equal(await droppedMetric(url), dropped, 'the metric counts the lines the log line told');
  assert.ok(dropped > droppedSoFar, 'the metric counts at scrape time, the log line at resume');

  // Stalled again, it still stops when told to.
  stdout.pause();
  // 1 MiB: more than the pipe and this process's read buffer take, so lines are held again.
  await logHeavily(url, 1024 * 1024);
  const t0 = Date.now();
  proc.child.kill('SIGTERM');
  const code = await Promise.race([
    proc.exited,
    new Promise<'still running'>((r) => setTimeout(() => r('still running'), 10_000).unref()),
  ]);
  if (code === 'still running') proc.child.kill('SIGKILL');
  assert.equal(code, 0, `exit after SIGTERM with stdout unread (${Date.now() - t0} ms)`);
});
