/**
 * @understudy/simulator: a loopback HTTP server speaking OpenAI (and Azure), Anthropic and Gemini
 * wire protocols, with faults on demand. Tests and the offline demo use it instead of real providers.
 */
export { startSimulator } from './server.js';
export { expectedAnswer, CONTINUE_INSTRUCTION, DEFAULT_ANSWER_TOKENS } from './answer.js';
export {
  FAULT_NAMES,
  type FaultName,
  type FaultRule,
  type AttemptRecord,
  type AttemptFilter,
} from './types.js';
export type { ProtocolName, Simulator, SimulatorOptions, SocketCounts } from './types.js';
export { FaultRuleError } from './faults.js';
