/** Anthropic Messages protocol. */
import type { ProviderClient } from '@understudy/engine';
import { secretsOf, type WireProtocol } from '../protocol.js';
import { runProtocol, type RunOptions } from '../run.js';
import { anthropicParser } from './parse.js';
import { anthropicProbe, buildAnthropicRequest } from './request.js';

export {
  ANTHROPIC_VERSION,
  DEFAULT_MAX_TOKENS,
  LEADING_USER_TEXT,
  anthropicProbe,
  buildAnthropicRequest,
  type AnthropicCall,
} from './request.js';
export { anthropicFinish, anthropicParser } from './parse.js';
export { PrefillJoiner } from './prefill.js';

/** The Anthropic wire protocol. */
export const anthropicProtocol: WireProtocol = {
  name: 'anthropic',
  prepare: (target, request) => {
    const { http, trimmedPrefill } = buildAnthropicRequest(target, request);
    return { http, parser: anthropicParser(secretsOf(target.provider), trimmedPrefill) };
  },
  probe: anthropicProbe,
};

/** A `ProviderClient` speaking only the Anthropic protocol. */
export function createAnthropicAdapter(opts: RunOptions): ProviderClient {
  return {
    stream: (target, request, signal) => runProtocol(anthropicProtocol, target, request, signal, opts),
  };
}
