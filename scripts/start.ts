/** `npm start`: the Understudy server, configured from the environment (see README). */
import { main } from '@understudy/server';

await main();
