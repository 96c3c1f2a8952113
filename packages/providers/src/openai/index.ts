/** OpenAI Chat Completions protocol: OpenAI, Azure OpenAI and OpenAI-compatible servers. */
import type { ProviderClient } from '@understudy/engine';
import type { WireProtocol } from '../protocol.js';
import { secretsOf } from '../protocol.js';
import { runProtocol, type RunOptions } from '../run.js';
import { openaiParser } from './parse.js';
import { buildOpenAIRequest, openaiProbe } from './request.js';

export { DEFAULT_AZURE_API_VERSION, buildOpenAIRequest, openaiProbe, openaiUrl } from './request.js';
export { openaiFinish, openaiParser } from './parse.js';

/** The OpenAI wire protocol. */
export const openaiProtocol: WireProtocol = {
  name: 'openai',
  prepare: (target, request) => ({
    http: buildOpenAIRequest(target, request),
    parser: openaiParser(secretsOf(target.provider)),
  }),
  probe: openaiProbe,
};

/** A `ProviderClient` speaking only the OpenAI protocol. */
export function createOpenAIAdapter(opts: RunOptions): ProviderClient {
  return { stream: (target, request, signal) => runProtocol(openaiProtocol, target, request, signal, opts) };
}
