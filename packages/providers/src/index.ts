/**
 * @understudy/providers: thin translators between the engine's canonical request/stream and the
 * OpenAI, Anthropic and Gemini wire protocols, over a pooled keep-alive HTTP client.
 */
export { createProviderClient, protocolFor, type ProviderClientOptions } from './client.js';
export { testConnection, type ConnectionTestOptions, type ConnectionTestResult } from './test-connection.js';
export { runProtocol, sseEvents, DEFAULT_MAX_BODY_BYTES, type RunOptions } from './run.js';
export type { PreparedCall, ResponseParser, WireProtocol } from './protocol.js';
export {
  createOpenAIAdapter,
  openaiProtocol,
  buildOpenAIRequest,
  DEFAULT_AZURE_API_VERSION,
} from './openai/index.js';
export { createAnthropicAdapter, anthropicProtocol, buildAnthropicRequest } from './anthropic/index.js';
export { createGoogleAdapter, googleProtocol, buildGoogleRequest } from './google/index.js';
export {
  createProviderAgent,
  defaultDispatcher,
  type HttpCall,
  type ProviderAgentOptions,
} from './http/index.js';
export { DEFAULT_MAX_LINE_BYTES, SseDecoder, decodeSse, type SseEvent } from './sse/index.js';
