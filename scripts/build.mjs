// Bundles an entry point and the workspace packages it imports into one ES module that plain node
// runs: `npm start` builds and runs dist/understudy.mjs this way, with no TypeScript loader at run
// time (tsx's hooks run on a worker thread with a V8 isolate of their own, ~35-50 MiB resident, and
// every import goes through them). esbuild comes with tsx and Vite; a build takes about a second.
// Usage: node scripts/build.mjs [entry.ts out.mjs]   (default: scripts/start.ts → dist/understudy.mjs)
//
// The bundle is built in memory and written only when it differs from the file in place, each
// file to a temporary name beside it and renamed over it: several instances started at once never
// run a half-written bundle (a rename is atomic; a reader keeps the file it opened), and a start
// that finds the bundle up to date (built at install: `npm run build`) needs no write access to
// the install directory.
import { build } from 'esbuild';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;

// Loaded from node_modules at run time rather than bundled:
// - better-sqlite3: a native addon (bindings() finds its .node file relative to the package);
// - pino: transports and thread-stream start worker threads from files next to the package;
// - ioredis, pg: they read their own package files or optional peers through __dirname/require.
const external = ['better-sqlite3', 'pino', 'ioredis', 'pg'];

/** True when `path` holds exactly `contents`. */
async function holds(path, contents) {
  try {
    return Buffer.compare(await readFile(path), contents) === 0;
  } catch {
    return false;
  }
}

/** Writes `contents` to a temporary file beside `path`, then renames it over `path`. */
async function replaceAtomically(path, contents) {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, contents);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Bundles `entry` (relative to the repository root) into `outfile`, writing only what changed.
 * Returns the time it took and whether the bundle was written.
 */
export async function bundle(entry = 'scripts/start.ts', outfile = 'dist/understudy.mjs') {
  const started = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'bundle',
    external,
    // A linked map for `node --enable-source-maps` when debugging; not loaded by default (parsing
    // it costs tens of MiB). It also names each line's source file, which the bundle, without
    // comments (below), no longer does.
    sourcemap: 'linked',
    // Comments and indentation out: V8 keeps a script's whole source in memory for lazy compiling,
    // and one non-Latin-1 character in any comment (undici has ’) makes it a two-byte string.
    // Measured: the source 9.8 → 3.5 MiB of heap, idle RSS 114 → 99 MiB. Names are kept, so
    // stack traces still name functions; `node --enable-source-maps` maps lines to the sources.
    minifyWhitespace: true,
    // CommonJS dependencies in an ES module bundle call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
    logLevel: 'warning',
    write: false,
  });
  // The map before the bundle that names it, so a new bundle never points at an old map.
  const files = [...result.outputFiles].sort(
    (a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')),
  );
  let written = false;
  for (const f of files) {
    if (await holds(f.path, f.contents)) continue;
    await mkdir(dirname(f.path), { recursive: true });
    await replaceAtomically(f.path, f.contents);
    written = true;
  }
  return { ms: Date.now() - started, written };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, out] = process.argv.slice(2);
  const r = await bundle(entry, out);
  console.error(
    `built ${out ?? 'dist/understudy.mjs'} in ${r.ms} ms${r.written ? '' : ' (unchanged, not rewritten)'}`,
  );
}
