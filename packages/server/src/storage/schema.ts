/**
 * Table types for Kysely. Portable across SQLite and PostgreSQL: times are ISO-8601 text, booleans
 * are 0/1 integers, structured values are JSON text, ids are app-generated, time-ordered text
 * (see ids.ts), so ordering by id is ordering by creation.
 */
import type { Generated } from 'kysely';

export interface OrganizationsTable {
  id: string;
  name: string;
  default_model_id: string | null;
  fallback_mode: 'automatic' | 'specific' | 'none';
  fallback_model_id: string | null;
  created_at: string;
  updated_at: string;
}

export type Role = 'owner' | 'admin' | 'member';

export interface UsersTable {
  id: string;
  org_id: string;
  email: string;
  name: string;
  password_hash: string;
  role: Role;
  created_at: string;
}

export interface SessionsTable {
  /** sha256 of the cookie token: a leaked database does not yield live sessions. */
  id_hash: string;
  user_id: string;
  org_id: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export interface InvitationsTable {
  id: string;
  org_id: string;
  email: string;
  role: Role;
  token_hash: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** Set with revoked_at: the file reinstates only the keys it revoked itself (bootstrap/api-keys.ts). */
  revoked_by: ApiKeySource | null;
  /** `config`: declared by the bootstrap file, which owns it (see bootstrap/api-keys.ts). */
  source: Generated<ApiKeySource>;
}

/** Who declared (or revoked) an API key: an admin (UI, admin API) or the bootstrap file. */
export type ApiKeySource = 'admin' | 'config';

export type ProviderSource = 'admin' | 'config' | 'env' | 'demo';

export interface ProvidersTable {
  /** Row id, unique across the deployment. */
  id: string;
  org_id: string;
  /** The id the organization sees and uses in its catalog (`openai`, `sim-a`). */
  slug: string;
  type: string;
  label: string;
  base_url: string;
  /** AES-256-GCM box of the key (see security/secret-box.ts); null when the provider needs none. */
  api_key_enc: string | null;
  api_version: string | null;
  headers_json: string | null;
  source: ProviderSource;
  /** 1 when the base URL may be loopback/private (built-in simulator, operator-declared Ollama). */
  allow_private: number;
  created_at: string;
  updated_at: string;
}

export interface ModelsTable {
  id: string;
  org_id: string;
  /** The model id the organization sees (`gpt-4o`), unique per organization. */
  slug: string;
  provider_slug: string;
  upstream_model: string;
  label: string;
  tier: number;
  context_window: number | null;
  max_output_tokens: number | null;
  capabilities_json: string;
  tags_json: string;
  timeouts_json: string | null;
  enabled: number;
  position: number;
  source: ProviderSource;
  created_at: string;
  updated_at: string;
}

export interface MatesTable {
  id: string;
  org_id: string;
  name: string;
  instructions: string;
  /** A model slug, or null for the organization default. */
  model_id: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface ConversationsTable {
  id: string;
  org_id: string;
  user_id: string;
  mate_id: string;
  title: string;
  created_at: string;
  updated_at: string;
}

export type MessageStatus = 'complete' | 'in_progress' | 'failed' | 'interrupted' | 'cancelled';

export interface MessagesTable {
  id: string;
  org_id: string;
  conversation_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  status: MessageStatus;
  model_id: string | null;
  provider_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  usage_estimated: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  fallback_json: string | null;
  error_json: string | null;
  created_at: string;
  updated_at: string;
  /** The instance writing an answer in progress (null for member messages and older rows). */
  owner_instance?: string | null;
  /**
   * Earlier messages of the conversation this answer was asked without (they did not fit the
   * model's context window); null when none were, and on older rows and member messages.
   */
  context_left_out?: number | null;
}

/** A running server instance and its heartbeat (several instances share PostgreSQL). */
export interface InstancesTable {
  id: string;
  started_at: string;
  heartbeat_at: string;
}

export interface FallbackEventsTable {
  id: string;
  org_id: string;
  at: string;
  /** UTC day `YYYY-MM-DD`, for counts per provider per day without dialect-specific date SQL. */
  day: string;
  surface: 'chat' | 'api';
  mate_id: string | null;
  message_id: string | null;
  original_model_id: string;
  original_provider_id: string;
  reason: string;
  backup_model_id: string;
  backup_provider_id: string;
  /** Mean latency of the answers this row stands for (the latency of the answer when count is 1). */
  latency_ms: number | null;
  outcome: 'complete' | 'failed' | 'cancelled';
  /**
   * Answers this row stands for: identical API fallbacks within one write window are coalesced
   * into one row (chat answers keep a row each). Rows written before migration 003 read as 1.
   */
  count: number;
  /** When the first of the coalesced answers finished (`at` is the last); null on older rows. */
  first_at: string | null;
  /** The slowest of the coalesced answers; null on older rows (read as latency_ms). */
  latency_max_ms: number | null;
}

export interface AuditLogTable {
  id: string;
  org_id: string;
  at: string;
  actor_id: string | null;
  actor_label: string;
  action: string;
  target_type: string;
  target_id: string | null;
  /** What a reader knows the target by (a member's name and email); null on older entries. */
  target_label: string | null;
  old_json: string | null;
  new_json: string | null;
}

/** The whole database. */
export interface Database {
  organizations: OrganizationsTable;
  users: UsersTable;
  sessions: SessionsTable;
  invitations: InvitationsTable;
  api_keys: ApiKeysTable;
  providers: ProvidersTable;
  models: ModelsTable;
  mates: MatesTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  fallback_events: FallbackEventsTable;
  audit_log: AuditLogTable;
  instances: InstancesTable;
}
