/**
 * Where one request's time goes inside Understudy and inside the limit: both run with
 * `lib/phases-preload.mjs`, which timestamps each request from the diagnostics_channel events of
 * Node's HTTP server, Fastify and undici; requests go one at a time, in interleaved rounds.
 *
 *   npx tsx bench/phases.ts [rounds] [seconds per round] [primaries, e.g. healthy,e503,refused]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sequentialLatency, type Target } from './lib/load.js';
import { stopAll } from './lib/procs.js';
import { percentile } from './lib/stats.js';
import { directTarget, limitTarget, startLab, startUnderstudy } from './lib/systems.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 3);
const kindNames = (process.argv[4] ?? 'healthy').split(',');
const kinds = kindNames.filter((k): k is 'healthy' | 'e503' | 'refused' =>
  ['healthy', 'e503', 'refused'].includes(k),
);
if (!(rounds > 0) || !(seconds > 0) || kinds.length !== kindNames.length) {
  console.error('usage: npx tsx bench/phases.ts [rounds] [seconds per round] [healthy,e503,refused]');
  process.exit(2);
}

/** Asks the preload in `pid` for its medians since the last ask (and resets them). */
async function phasesOf(pid: number): Promise<Record<string, number | null>> {
  const file = join(tmpdir(), `understudy-phases-${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number | null>;
    } catch {
      // not written yet
    }
  }
  throw new Error(`no phases from ${pid}`);
}

const preload = ['--import', join(root, 'bench/lib/phases-preload.mjs')];
const tmp = mkdtempSync(join(tmpdir(), 'understudy-phases-'));
try {
  const lab = await startLab(root, tmp, preload, preload);
  const systems: (Target & { label: string })[] = [];
  for (const kind of kinds) {
    const u = await startUnderstudy(lab, kind, 'instant');
    systems.push({ ...u.target, label: `understudy (${kind})` });
    systems.push({ ...limitTarget(lab, kind, 'instant'), label: `limit (${kind})` });
  }
  const direct = directTarget(lab, 'instant');
  for (const t of [...systems, direct]) await sequentialLatency(t, 3000);
  for (let r = 0; r < rounds; r++) {
    const d = await sequentialLatency(direct, seconds * 1000);
    console.log(`round ${r + 1}: direct p50 ${percentile(d.samples, 0.5).toFixed(3)} ms`);
    for (const t of systems) {
      await phasesOf(t.pid);
      const res = await sequentialLatency(t, seconds * 1000);
      const phases = await phasesOf(t.pid);
      const shown = Object.entries(phases)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => (k === 'requests' ? `${v} requests` : `${k} ${(v as number).toFixed(3)}`));
      console.log(
        `  ${t.label}: client p50 ${percentile(res.samples, 0.5).toFixed(3)} ms; ${shown.join('; ')}`,
      );
    }
  }
} finally {
  await stopAll();
}
