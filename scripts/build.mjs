// Bundles an entry point and the workspace packages it imports into one ES module that plain node
// runs: `npm start` builds and runs dist/understudy.mjs this way, with no TypeScript loader at run
// time (tsx's hooks run on a worker thread with a V8 isolate of their own, ~35-50 MiB resident, and
// every import goes through them). esbuild comes with tsx and Vite; a build takes about a second.
// Usage: node scripts/build.mjs [entry.ts out.mjs]   (default: scripts/start.ts → dist/understudy.mjs)
import { build } from 'esbuild';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;

// Loaded from node_modules at run time rather than bundled:
// - better-sqlite3: a native addon (bindings() finds its .node file relative to the package);
// - pino: transports and thread-stream start worker threads from files next to the package;
// - ioredis, pg: they read their own package files or optional peers through __dirname/require.
const external = ['better-sqlite3', 'pino', 'ioredis', 'pg'];

/** Bundles `entry` (relative to the repository root) into `outfile`. */
export async function bundle(entry = 'scripts/start.ts', outfile = 'dist/understudy.mjs') {
  const started = Date.now();
  await build({
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
  });
  return Date.now() - started;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, out] = process.argv.slice(2);
  const ms = await bundle(entry, out);
  console.error(`built ${out ?? 'dist/understudy.mjs'} in ${ms} ms`);
}
