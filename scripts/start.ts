/** `npm start`: the Understudy server, configured from the environment (see README). */
import { main, tuneHeapGrowth } from '@understudy/server';

// Process-wide V8 setting, so here and not in the library: ~20 % less resident memory under load
// (see packages/server/src/heap.ts for the measurement); an operator's own flag wins.
tuneHeapGrowth();
await main();
