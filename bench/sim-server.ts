/**
 * The benchmark's provider simulator, in a process of its own so that no gateway shares its event
 * loop. Usage: node --import tsx bench/sim-server.ts <port> [<provider>=<fault> ...]
 * Each `<provider>=<fault>` is a permanent fault rule for that `/p/<provider>` prefix.
 */
import { FAULT_NAMES, startSimulator, type FaultName } from '@understudy/simulator';

const [portArg, ...faultArgs] = process.argv.slice(2);
const sim = await startSimulator({ port: Number(portArg ?? 0), logAttempts: false });
const isFault = (f: string): f is FaultName => (FAULT_NAMES as readonly string[]).includes(f);
for (const arg of faultArgs) {
  const [provider, fault] = arg.split('=');
  if (provider === undefined || fault === undefined || !isFault(fault)) {
    console.error(`bench simulator: bad fault '${arg}' (want <provider>=<fault>)`);
    process.exit(2);
  }
  sim.setFault({ provider, fault });
}
console.log(`bench simulator on ${sim.url}`);
const stop = () => void sim.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
