// The node flags `npm start` runs the server with: V8 heap settings are process-wide, and V8 reads
// the young generation's size and its GC threads only at start-up (set from inside the process
// they change nothing), so they go on node's command line here, not in the server library, and an
// app embedding the server keeps its own. Usage: node scripts/node-flags.mjs (prints them).
//
// Measured with `npx tsx bench/flags.ts` (Understudy under the 50-connection load of the benchmark,
// interleaved rounds on a 2-core machine; bench/README.md):
// - --heap-growing-percent=100: V8 lets a small old generation grow up to 4× past what its last full
//   collection kept; the gateway keeps ~25 MiB live but allocates fast per request, so its old space
//   reached 80-100 MiB between full collections. At 2×: peak RSS 185 → 147 MiB (medians of 5 rounds),
//   requests/s and CPU per request equal within the rounds' spread.
// - --single-threaded-gc --max-semi-space-size=8, on machines with at most 2 cores, where V8's GC
//   helper threads compete with the event loop (and the database, on a one-box install) for the
//   same cores: CPU per request 382 → 353 µs, latency p99 2.01 → 1.87 ms, peak RSS 144 → 137 MiB
//   (medians of 7 rounds; CPU lower in 6, p99 and RSS lower in all 7). Single-threaded GC alone
//   lowered CPU as much but, with V8's 16 MiB semi-spaces, cost +15 MiB; smaller semi-spaces alone
//   saved 13 MiB with CPU per request mixed across rounds. Not measured on bigger machines, where
//   parallel GC may pay, so not applied there.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';

/** Flags for every machine. */
export const BASE_FLAGS = ['--heap-growing-percent=100'];
/** Flags added on a machine with at most {@link SMALL_MACHINE_CORES} cores. */
export const SMALL_MACHINE_FLAGS = ['--single-threaded-gc', '--max-semi-space-size=8'];
export const SMALL_MACHINE_CORES = 2;

/** A flag's name: `--max-semi-space-size=8` → `max-semi-space-size` (V8 treats _ and - alike). */
const nameOf = (flag) => flag.replace(/^--/, '').split('=')[0].replaceAll('_', '-');

/**
 * The flags for a machine with `cores` cores and environment `env`: `UNDERSTUDY_NODE_FLAGS`, when
 * set, replaces them all (empty: V8's own defaults); otherwise the tuned ones, less any the
 * operator set in NODE_OPTIONS (theirs win).
 */
export function nodeFlags(cores = availableParallelism(), env = process.env) {
  const chosen = env.UNDERSTUDY_NODE_FLAGS;
  if (chosen !== undefined) return chosen.split(/\s+/).filter(Boolean);
  const theirs = new Set((env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean).map(nameOf));
  const tuned = cores <= SMALL_MACHINE_CORES ? [...BASE_FLAGS, ...SMALL_MACHINE_FLAGS] : BASE_FLAGS;
  return tuned.filter((f) => !theirs.has(nameOf(f)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(nodeFlags().join(' '));
}
