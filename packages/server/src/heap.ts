/**
 * The V8 heap setting `npm start` runs the server with. Process-wide, so the process entry applies
 * it (scripts/start.ts), never the library: an app embedding the server keeps its own.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * How much V8 may grow the old generation past what the last full collection kept, in percent.
 * V8's own factor goes up to 4× for a small heap; a gateway keeps ~25 MiB live but allocates fast
 * per request, so under load its old space grew to 80-100 MiB between full collections and resident
 * memory peaked near 190 MiB. At 2× (`npx tsx bench/flags.ts "" "--heap-growing-percent=0"`: 50
 * connections, 5 interleaved rounds of 8 s): peak RSS 185 → 147 MiB (medians), requests/s and CPU
 * per request equal within the rounds' spread. 50 % saved a few MiB more for ~4 % more CPU.
 *
 * Tried and not taken (2026-12-05, same tool): `--single-threaded-gc --max-semi-space-size=8` (only
 * on node's command line: V8 reads them at start-up) cut CPU per request 8 % and peak RSS 7 MiB on
 * healthy answers but cost 16 % more CPU and 1.5× the p99 latency when every answer went to the
 * backup (KIND=e503): a fallback product cannot trade its fallback path for its healthy one.
 * `MALLOC_ARENA_MAX=1` or `2` raised peak RSS by 15-20 MiB.
 */
export const HEAP_GROWING_PERCENT = 100;

const FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/**
 * The flag to set, or null when the operator already chose one on node's command line (theirs
 * wins). NODE_OPTIONS is not read: node refuses V8 flags there and exits before this could run.
 */
export function heapGrowthFlag(execArgv: readonly string[]): string | null {
  return execArgv.some((a) => FLAG.test(a)) ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Applies {@link heapGrowthFlag} to this process; V8 reads it at every full collection. */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv): string | null {
  const flag = heapGrowthFlag(execArgv);
  if (flag !== null) setFlagsFromString(flag);
  return flag;
}
