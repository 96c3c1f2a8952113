/**
 * @understudy/server: the Understudy product server (organizations, roles, Mates, conversations,
 * persistence, streaming chat, admin API, OpenAI-compatible API, metrics).
 */
import { explainListenError, helpText, readCommandLine } from './cli.js';
import { loadConfig, type ServerConfig } from './config.js';
import { createLogger } from './logging.js';
import { startServer, type RunningServer } from './server.js';

export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { startServer, type RunningServer, type StartOptions } from './server.js';
export { createLogger } from './logging.js';
export type { AppContext } from './context.js';
export { tuneHeapGrowth, heapGrowthFlag, HEAP_GROWING_PERCENT } from './heap.js';
export { AUDIT_ACTIONS, type AuditAction } from './audit/index.js';

/** Past the drain (grace period or minimum drain), how long the rest of a stop may take. */
const STOP_BOUND_MS = 15_000;

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Starts the server from the environment and stops it gracefully on SIGTERM/SIGINT. A start that
 * fails exits with code 1 (systemd, PM2 and Docker restart a process that exits, not one that
 * lingers): a bad setting or argument as one line on stderr, anything else as one fatal log
 * line. `--help` prints the settings instead.
 */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  args: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const command = readCommandLine(args);
  if (command.kind === 'help') {
    process.stdout.write(helpText());
    return;
  }
  let config: ServerConfig;
  try {
    if (command.kind === 'refused') throw new Error(command.message);
    config = loadConfig(env);
  } catch (err) {
    // Before the logger exists (LOG_LEVEL may be the bad value), and never a stack: the message
    // names the argument or variable, its value and what is expected.
    process.stderr.write(`Understudy could not start: ${messageOf(err)}\n`);
    process.exit(1);
  }
  const log = createLogger(config.logLevel);
  // Last resort: a rejection nothing handled is a bug to log, not a reason to cut every answer and
  // stream in flight by ending the process (Node's default).
  process.on('unhandledRejection', (err: unknown) => log.error({ err }, 'unhandled promise rejection'));
  let running: RunningServer;
  try {
    running = await startServer(config, { logger: log });
  } catch (err) {
    // The message says what to fix; the stack is for whoever debugs it (LOG_LEVEL=debug).
    const said = messageOf(explainListenError(err, config));
    log.fatal(log.isLevelEnabled('debug') ? { err } : {}, `Understudy could not start: ${said}`);
    // startServer closed what it had opened (within a bound); whatever it could not must not keep
    // a dead instance alive, beating its heartbeat and holding connections.
    process.exit(1);
  }
  const server = running;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // The operator (or an impatient orchestrator) wants it gone now: a second Ctrl+C must not wait
      // out the drain. Answers still in flight stay in progress until crash recovery marks them
      // interrupted (this instance's next start, or another instance after its heartbeats stop).
      log.warn({ signal }, `${signal} during the drain: exiting now`);
      process.exit(1);
    }
    stopping = true;
    const graceMs = config.shutdownGraceMs;
    // The minimum drain is for a load balancer, which stops instances with SIGTERM; Ctrl+C (SIGINT)
    // is someone at a terminal, who should not wait for a balancer there is none of.
    const minDrainMs = signal === 'SIGTERM' ? config.shutdownDelayMs : 0;
    log.info(
      { signal, graceMs, minDrainMs },
      'shutting down: answers in flight finish or are saved as interrupted',
    );
    const bound = setTimeout(
      () => {
        log.error(`the stop took longer than its drain + ${STOP_BOUND_MS} ms: exiting anyway`);
        process.exit(1);
      },
      Math.max(graceMs, minDrainMs) + STOP_BOUND_MS,
    );
    bound.unref();
    server.close({ minDrainMs }).then(
      () => {
        log.info('Understudy stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal of either kind is the operator's "now" (handled in stop).
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Only now: whoever waits for this line (a supervisor, a test) may signal at once, and a SIGTERM
  // that came before the handlers would end the process by Node's default, with no drain.
  log.info(`Understudy is listening on ${running.url}`);
}
