/**
 * Profiles Understudy under one benchmark load (`node --cpu-prof` on the server process) and prints
 * its top self-time functions and packages.
 *
 *   npx tsx bench/profile.ts [healthy|e503|refused] [rps|latency|stream] [seconds]
 *
 * `rps`: 50 connections of whole answers; `latency`: one at a time; `stream`: 20 paced streams.
 * The .cpuprofile is kept (path printed) for a flame view in Chrome DevTools or speedscope.
 */
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sequentialLatency, streaming, throughput } from './lib/load.js';
import { cpuMs, stopAll } from './lib/procs.js';
import { startLab, startUnderstudy, type PrimaryKind } from './lib/systems.js';
import { summarize, summaryMarkdown } from './profile-summary.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kinds = ['healthy', 'e503', 'refused'] as const;
const modes = ['rps', 'latency', 'stream'] as const;
const kindArg = process.argv[2] ?? 'healthy';
const modeArg = process.argv[3] ?? 'rps';
const seconds = Number(process.argv[4] ?? 10);
const kind = kinds.find((k) => k === kindArg);
const mode = modes.find((m) => m === modeArg);
if (kind === undefined || mode === undefined || !(seconds > 0)) {
  console.error('usage: npx tsx bench/profile.ts [healthy|e503|refused] [rps|latency|stream] [seconds]');
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'understudy-profile-'));
const profileDir = join(tmp, 'profiles');
mkdirSync(profileDir);
try {
  const lab = await startLab(root, tmp, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
  const pace = mode === 'stream' ? 'paced' : 'instant';
  const u = await startUnderstudy(lab, kind satisfies PrimaryKind, pace);
  // Warm up (and let health memory learn about a dead primary) before the measured load.
  await sequentialLatency(u.target, 500);
  const cpu0 = cpuMs(u.proc.pid);
  if (mode === 'rps') {
    const r = await throughput(u.target, 50, seconds);
    console.log(`${r.rps.toFixed(0)} req/s, ${r.errors} errors`);
    console.log(`CPU per request: ${((cpuMs(u.proc.pid) - cpu0) / r.ok).toFixed(3)} ms`);
  } else if (mode === 'latency') {
    const r = await sequentialLatency(u.target, seconds * 1000);
    console.log(`${r.samples.length} requests, ${r.errors} errors`);
  } else {
    const r = await streaming(u.target, 20, seconds * 1000);
    console.log(`${r.chunks} chunks, ${r.errors} errors`);
    console.log(`CPU per chunk: ${(((cpuMs(u.proc.pid) - cpu0) * 1000) / r.chunks).toFixed(1)} µs`);
  }
  await u.proc.stop();
} finally {
  await stopAll();
}
for (const f of readdirSync(profileDir).filter((x) => x.endsWith('.cpuprofile'))) {
  console.log(`\n${join(profileDir, f)}\n`);
  console.log(summaryMarkdown(summarize(join(profileDir, f), 30), 20));
}
