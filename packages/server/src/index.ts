/**
 * @understudy/server: the Understudy product server (organizations, roles, Mates, conversations,
 * persistence, streaming chat, admin API, OpenAI-compatible API, metrics).
 */
import { loadConfig } from './config.js';
import { createLogger, startServer } from './server.js';

export { loadConfig, type ServerConfig } from './config.js';
export { startServer, createLogger, type RunningServer, type StartOptions } from './server.js';
export type { AppContext } from './context.js';
export { tuneHeapGrowth, heapGrowthFlag, HEAP_GROWING_PERCENT } from './heap.js';

/** Starts the server from the environment and stops it gracefully on SIGTERM/SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const log = createLogger(config.logLevel);
  // Last resort: a rejection nothing handled is a bug to log, not a reason to cut every answer and
  // stream in flight by ending the process (Node's default).
  process.on('unhandledRejection', (err: unknown) => log.error({ err }, 'unhandled promise rejection'));
  let server;
  try {
    server = await startServer(config, { logger: log });
  } catch (err) {
    log.fatal({ err }, 'Understudy could not start');
    process.exitCode = 1;
    return;
  }
  log.info(`Understudy is listening on ${server.url}`);
  const running = server;
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down: answers in flight finish or are saved as interrupted');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
