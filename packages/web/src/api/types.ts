/**
 * The shapes of the Understudy server's API, as the web app reads them. They mirror the server's
 * views (packages/server/src/**) by hand: the web depends on the HTTP API only, never on server code.
 */

export type Role = 'owner' | 'admin' | 'member';

export interface Session {
  user: { id: string; email: string; name: string; role: Role };
  organization: { id: string; name: string };
  csrfToken: string;
}

export interface SetupState {
  needed: boolean;
  signupAllowed: boolean;
}

export interface Mate {
  id: string;
  name: string;
  instructions: string;
  /** A model id, or null for the organization's Default Model. */
  model: string | null;
  kind: 'native';
}

export interface Conversation {
  id: string;
  mateId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface FallbackInfo {
  originalModel: string;
  originalModelLabel?: string;
  originalProvider: string;
  /** The provider's label ("Simulator A (OpenAI protocol)"); older messages have only the id. */
  originalProviderLabel?: string;
  backupModelLabel?: string;
  reason: string;
  backupModel: string;
  backupProvider: string;
  /** How the backup joined (the engine's TakeoverMode): `prefill` and `instruct` continued the primary's text. */
  mode: 'invisible' | 'prefill' | 'restart' | 'instruct' | string;
  skippedByHealth: boolean;
  explanation?: string;
  primaryFailure: string;
}

export interface FailureSide {
  model: string;
  provider: string;
  /** The provider's label (answers stored before it was sent have only the id). */
  providerLabel?: string;
  reason: string;
  message: string;
}

export interface AnswerErrorInfo {
  reason: string;
  message: string;
  primary?: FailureSide | null;
  backup?: FailureSide | null;
}

export type MessageStatus = 'complete' | 'in_progress' | 'failed' | 'interrupted' | 'cancelled';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

export interface Message {
  id: string;
  conversationId: string;
  role: 'user' | 'assistant';
  content: string;
  status: MessageStatus;
  model: string | null;
  provider: string | null;
  usage: Usage | null;
  latencyMs: number | null;
  fallback: FallbackInfo | null;
  error: AnswerErrorInfo | null;
  /** Earlier messages the answer was asked without (they did not fit the model's window); null: none. */
  contextLeftOut: number | null;
  createdAt: string;
}

export interface ConversationDetail extends Conversation {
  mate: { id: string; name: string } | null;
  /** One page of messages, oldest first: the newest ones, or those before the `before` asked. */
  messages: Message[];
  /** The `before` of the page of older messages; null when this page starts the conversation. */
  older: number | null;
}

/** One server-sent event of an answer. */
export type AnswerEvent =
  | {
      type: 'start';
      userMessageId?: string;
      assistantMessageId: string;
      model?: string;
      /** The title the conversation got from this, its first message. */
      conversationTitle?: string;
      /** Earlier messages this answer is asked without (absent when reattaching: the stored count stays). */
      contextLeftOut?: number | null;
    }
  | { type: 'text'; text: string }
  | { type: 'fallback'; fallback: FallbackInfo; discardText: boolean }
  | { type: 'usage'; usage: Usage }
  | { type: 'done'; message: Message }
  | { type: 'error'; error: AnswerErrorInfo; message: Message };

export interface ModelSummary {
  id: string;
  label: string;
  tier: number;
  capabilities: string[];
}

export interface ModelsForMembers {
  defaultModel: string | null;
  models: ModelSummary[];
}

export interface ModelTimeouts {
  connectMs?: number;
  firstTokenMs?: number;
  stallMs?: number;
}

export interface AdminModel {
  id: string;
  provider: string;
  upstreamModel: string;
  label: string;
  tier: number;
  contextWindow: number | null;
  maxOutputTokens: number | null;
  capabilities: string[];
  tags: string[];
  timeouts: ModelTimeouts | null;
  enabled: boolean;
}

export type ProviderType = 'openai' | 'azure-openai' | 'anthropic' | 'google' | 'openai-compatible';

export interface Provider {
  id: string;
  type: ProviderType;
  label: string;
  baseUrl: string;
  hasKey: boolean;
  /** Its key or header values were sealed with another UNDERSTUDY_SECRET: it is called without them. */
  needsKeyAgain: boolean;
  /** Names of its custom headers (their values, like the key, are never shown). */
  headerNames: string[];
  builtin: boolean;
  /** `env` and `config`: declared by the operator, whose URL is set there. */
  source: string;
}

export interface ConnectionTest {
  provider: string;
  model: string | null;
  ok: boolean;
  latencyMs?: number;
  error?: { reason: string; message: string };
}

export type FallbackSetting = { mode: 'automatic' } | { mode: 'none' } | { mode: 'specific'; model: string };

export interface OrgSettings {
  defaultModel: string | null;
  fallback: FallbackSetting;
  fallbackChoices: { value: string; label: string }[];
}

export interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  /** API keys this member created that still work: removing them revokes these. */
  activeApiKeys: number;
}

/** What removing a member did to the API keys they created. */
export interface MemberRemoval {
  id: string;
  apiKeys: { revoked: number; kept: number };
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
  /** Present only in the answer to creating it. */
  acceptUrl?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Who created it: null for the bootstrap file; `removed` when they have left (name as recorded). */
  createdBy: { id: string; name: string | null; removed: boolean } | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string | null; label: string };
  action: string;
  targetType: string;
  targetId: string | null;
  /** What a reader knows the target by (a member's name and email); null on older entries. */
  targetLabel: string | null;
  old: unknown;
  new: unknown;
}

/** A page of the audit log, newest first; `next` fetches the older page (null: none). */
export interface AuditPage {
  entries: AuditEntry[];
  next: string | null;
}

export interface FallbackEvent {
  id: string;
  at: string;
  surface: string;
  mate: { id: string; name: string | null } | null;
  originalModel: string;
  originalProvider: string;
  reason: string;
  backupModel: string | null;
  backupProvider: string | null;
  /** Mean latency of the answers this event stands for (the answer's latency when count is 1). */
  latencyMs: number | null;
  /** The slowest of them. */
  latencyMaxMs: number | null;
  outcome: string;
  /** Answers this event stands for: identical API fallbacks close together are one event. */
  count: number;
  /** When the first of them finished (`at` is the last). */
  firstAt: string;
}

export interface FallbackActivity {
  /** A page of events, newest first (not bounded by the days of the counts: they page back to the first). */
  events: FallbackEvent[];
  /** The `before` cursor of the older page; null when this page reaches the first event. */
  next: string | null;
  countsByDay: { day: string; provider: string; reason: string; count: number }[];
  /** The organization's providers by id, in the order they were added. */
  providers: { id: string; label: string }[];
  /** Its models by id. */
  models: { id: string; label: string }[];
}

export interface Health {
  state: 'closed' | 'open' | 'half_open' | string;
  reason: string | null;
  lastError: string | null;
  retryAt: string | null;
  consecutiveFailures: number;
  /** Outcomes inside health memory's sliding window. */
  recentFailures: number;
  recentSuccesses: number;
  latencyMs: number | null;
  misconfigured: boolean;
}

export interface ProviderStatus {
  id: string;
  label: string;
  type: string;
  health: Health;
  demoOutage: string | null;
  models: { id: string; label: string; enabled: boolean; health: Health; available: boolean }[];
}

export interface DemoState {
  enabled: boolean;
  faults: string[];
  providers: { id: string; label: string; outage: string | null }[];
}
