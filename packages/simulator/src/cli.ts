/** `npm run simulator`: runs the provider simulator until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { startSimulator } from './server.js';

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`simulator: --${name} must be a non-negative integer, got '${value}'`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'chunk-delay': { type: 'string' },
    tokens: { type: 'string' },
  },
});

const sim = await startSimulator({
  port: numberOption(values.port ?? process.env.SIMULATOR_PORT, 'port', 4010),
  host: values.host ?? '127.0.0.1',
  chunkDelayMs: numberOption(values['chunk-delay'], 'chunk-delay', 0),
  answerTokens: numberOption(values.tokens, 'tokens', 24),
});

const u = sim.url;
console.log(`Understudy provider simulator listening on ${u}
  OpenAI     POST ${u}/v1/chat/completions          (Authorization: Bearer <any>)
  Azure      POST ${u}/openai/deployments/<model>/chat/completions?api-version=<any>  (api-key)
  Anthropic  POST ${u}/v1/messages                  (x-api-key, anthropic-version)
  Gemini     POST ${u}/v1beta/models/<model>:streamGenerateContent?alt=sse | :generateContent  (x-goog-api-key)
  Models     GET  ${u}/v1/models, ${u}/v1beta/models
  Providers  prefix any path with /p/<name>, e.g. ${u}/p/alpha/v1/chat/completions
  Faults     GET|POST|DELETE ${u}/_sim/faults   e.g. {"provider":"alpha","fault":"overloaded"}
             or by model name: <model>+fault=stall_after+after=5
  Log        GET|DELETE ${u}/_sim/attempts      Reset: POST ${u}/_sim/reset`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
