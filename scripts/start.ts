/** `npm start`: the Understudy server, configured from the environment (see README). */
import { main } from '@understudy/server';

// Node's own flags (V8 heap and GC settings) come from scripts/node-flags.mjs, on the command line
// `npm start` runs this bundle with: V8 reads some of them only at start-up.
await main();
