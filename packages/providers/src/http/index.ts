/** Shared HTTP plumbing: the keep-alive agent, the request helper and the bounded error reader. */
export { agentOptions, createProviderAgent, defaultDispatcher, type ProviderAgentOptions } from './agent.js';
export { HIGH_WATER_BYTES, ResponseBody } from './body.js';
export { failureFromJson, failureFromResponse, headerValue } from './errors.js';
export {
  ERROR_BODY_LIMIT,
  cancellation,
  errorFromResponse,
  readBounded,
  release,
  send,
  toProviderError,
  type HttpCall,
  type HttpResponse,
} from './request.js';
