/** Canonical chat request and stream events, independent of any wire protocol. */

/** A piece of message content: plain text or an image (inline base64 or a URL). */
export type ContentPart =
  { type: 'text'; text: string } | { type: 'image'; mediaType: string; data?: string; url?: string };

/** A tool call the assistant made, with its arguments as a JSON string. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One message of a conversation. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ContentPart[] }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

/** A tool the model may call; `parameters` is a JSON Schema object. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  /** OpenAI's strict schema adherence for the arguments, passed on where the protocol has it. */
  strict?: boolean;
}

/** A JSON Schema the answer must match (OpenAI's `json_schema` response format). */
export interface JsonSchemaFormat {
  /** The schema's name (letters, digits, `_` and `-`), as OpenAI requires one. */
  name: string;
  description?: string;
  /** The JSON Schema itself; absent, any JSON object will do. */
  schema?: Record<string, unknown>;
  /** OpenAI's strict schema adherence, passed on where the protocol has it. */
  strict?: boolean;
}

/** Whether and which tool the model must call: `auto` (its choice) unless said. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** What the caller asks of a model. */
export interface ChatRequest {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** `false`: at most one tool call per answer (OpenAI's `parallel_tool_calls`), where the protocol can say so. */
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Sequences that end the answer where they would begin (not included in it). */
  stop?: string[];
  /** A hint for repeatable sampling, where the protocol has one. */
  seed?: number;
  /**
   * How much a reasoning model thinks before it answers (OpenAI's `reasoning_effort`: `low`,
   * `medium`, `high` …). Only models with the `reasoning` capability are asked; others ignore it.
   */
  reasoningEffort?: string;
  /** The answer must be one JSON object (OpenAI's `json_object` response format). */
  json?: boolean;
  /** The answer must be JSON matching this schema (`json_schema`); it takes precedence over `json`. */
  jsonSchema?: JsonSchemaFormat;
}

/** Why a model stopped generating, normalised across protocols. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Token usage; `estimated` when the provider did not report it and we counted ourselves. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

/**
 * A piece of the answer's text. `refusal` marks the words of a model declining to answer in a
 * field of their own (OpenAI's structured-output `refusal`): still the answer (SPEC §2.1: the
 * provider's reason is the answer), which an OpenAI client reads apart from `content`.
 */
export type TextEvent = { type: 'text'; text: string; refusal?: true };

/**
 * Events a provider adapter yields for one upstream call. Failures are not events: the adapter
 * throws a `ProviderError` (see errors.ts). `open` marks the arrival of successful response headers,
 * so the executor can tell the header timeout from the first-token timeout.
 */
export type ProviderEvent =
  | { type: 'open' }
  | TextEvent
  | { type: 'tool_call'; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: 'usage'; inputTokens: number; outputTokens: number }
  | { type: 'finish'; reason: FinishReason }
  /** A chunk that could not be parsed; skipped and counted, the answer goes on. */
  | { type: 'malformed'; detail: string };
