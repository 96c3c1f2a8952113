/** One typed function per server route the web app uses. */
import { del, get, patch, post, put, request } from './client.js';
import type {
  AdminModel,
  ApiKey,
  AuditPage,
  ConnectionTest,
  Conversation,
  ConversationDetail,
  DemoState,
  FallbackActivity,
  FallbackSetting,
  Invitation,
  Mate,
  Member,
  MemberRemoval,
  Message,
  ModelsForMembers,
  OrgSettings,
  Provider,
  ProviderStatus,
  ProviderType,
  Role,
  Session,
  SetupState,
} from './types.js';

const enc = encodeURIComponent;

export const auth = {
  setupState: () => get<SetupState>('/api/setup'),
  setup: (b: { token: string; organization: string; name: string; email: string; password: string }) =>
    post<Session>('/api/setup', b),
  login: (email: string, password: string) => post<Session>('/api/auth/login', { email, password }),
  logout: () => post<undefined>('/api/auth/logout'),
  session: () => get<Session>('/api/auth/session'),
  invitation: (token: string) =>
    get<{ email: string; role: Role; organization: string }>(`/api/invitations/${enc(token)}`),
  acceptInvitation: (b: { token: string; name: string; password: string }) =>
    post<Session>('/api/invitations/accept', b),
};

export const chat = {
  mates: () => get<{ mates: Mate[] }>('/api/mates').then((r) => r.mates),
  models: () => get<ModelsForMembers>('/api/models'),
  /** A page of the member's conversations, most recently active first; `next` asks for the older ones. */
  conversations: (before?: string) =>
    get<{ conversations: Conversation[]; next: string | null }>(
      `/api/conversations${before ? `?before=${enc(before)}` : ''}`,
    ),
  createConversation: (mateId: string) => post<Conversation>('/api/conversations', { mateId }),
  /**
   * A conversation with its newest messages, or the page before `before` (a page's `older`). Fifty
   * long Markdown answers fill several screens and render in well under a second.
   */
  conversation: (id: string, before?: number) =>
    get<ConversationDetail>(
      `/api/conversations/${enc(id)}?limit=50${before === undefined ? '' : `&before=${before}`}`,
    ),
  rename: (id: string, title: string) => patch<Conversation>(`/api/conversations/${enc(id)}`, { title }),
  remove: (id: string) => del(`/api/conversations/${enc(id)}`),
  stop: (id: string, messageId: string) =>
    post<Message>(`/api/conversations/${enc(id)}/messages/${enc(messageId)}/stop`),
  sendPath: (id: string) => `/api/conversations/${enc(id)}/messages`,
  retryPath: (id: string, messageId: string) =>
    `/api/conversations/${enc(id)}/messages/${enc(messageId)}/retry`,
  eventsPath: (id: string, messageId: string) =>
    `/api/conversations/${enc(id)}/messages/${enc(messageId)}/events`,
};

/** A model capability, as POST/PATCH /api/admin/models accept them. */
export type ModelCapability = 'vision' | 'tools' | 'json' | 'prefill' | 'reasoning';

/** Per-model timeouts in milliseconds (each 100–600000; a missing one takes the engine default). */
export interface ModelTimeoutsInput {
  connectMs?: number;
  firstTokenMs?: number;
  stallMs?: number;
}

/**
 * The facts PATCH /api/admin/models/:id accepts; every field is optional. `null` clears
 * `contextWindow`, `maxOutputTokens` and `timeouts` (the whole object: it is replaced, not merged).
 */
export interface ModelFacts {
  label?: string;
  upstreamModel?: string;
  tier?: number;
  contextWindow?: number | null;
  maxOutputTokens?: number | null;
  capabilities?: ModelCapability[];
  tags?: string[];
  timeouts?: ModelTimeoutsInput | null;
  enabled?: boolean;
}

/**
 * POST /api/admin/models: `id` and `provider` are slugs, `provider` one of the organization's. The
 * built-in catalog fills label, tier, context window, max output tokens and capabilities for a
 * well-known `upstreamModel`; for any other, `tier` is required. Given facts always win.
 */
export type NewModel = Omit<ModelFacts, 'upstreamModel'> & {
  id: string;
  provider: string;
  upstreamModel: string;
};

/** A built-in catalog entry (GET /api/admin/catalog). */
export interface CatalogModel {
  upstream: string;
  providerType: ProviderType;
  label: string;
  tier: number;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: ModelCapability[];
}

export const admin = {
  createMate: (b: { name: string; instructions: string; model: string | null }) =>
    post<Mate>('/api/mates', b),
  updateMate: (id: string, b: { name?: string; instructions?: string; model?: string | null }) =>
    patch<Mate>(`/api/mates/${enc(id)}`, b),
  removeMate: (id: string) => del(`/api/mates/${enc(id)}`),

  models: () => get<{ models: AdminModel[] }>('/api/admin/models').then((r) => r.models),
  updateModel: (id: string, facts: ModelFacts) => patch<AdminModel>(`/api/admin/models/${enc(id)}`, facts),
  orderModels: (ids: string[]) => put<unknown>('/api/admin/models/order', { ids }),
  addModel: (b: NewModel) => post<AdminModel>('/api/admin/models', b),
  catalog: () => get<{ models: CatalogModel[] }>('/api/admin/catalog').then((r) => r.models),

  providers: () => get<{ providers: Provider[] }>('/api/admin/providers').then((r) => r.providers),
  addProvider: (b: { id: string; type: ProviderType; label: string; baseUrl?: string; apiKey?: string }) =>
    post<Provider>('/api/admin/providers', b),
  rotateKey: (id: string, apiKey: string) => put<Provider>(`/api/admin/providers/${enc(id)}/key`, { apiKey }),
  updateProvider: (
    id: string,
    b: { label?: string; baseUrl?: string; apiKey?: string | null; headers?: null },
  ) => patch<Provider>(`/api/admin/providers/${enc(id)}`, b),
  removeProvider: (id: string) => del(`/api/admin/providers/${enc(id)}`),
  testProvider: (id: string) => post<ConnectionTest>(`/api/admin/providers/${enc(id)}/test`),

  settings: () => get<OrgSettings>('/api/admin/settings'),
  saveSettings: (b: { defaultModel?: string; fallback?: FallbackSetting }) =>
    put<OrgSettings>('/api/admin/settings', b),

  members: () => get<{ members: Member[] }>('/api/admin/members').then((r) => r.members),
  setRole: (id: string, role: Role) => patch<Member>(`/api/admin/members/${enc(id)}`, { role }),
  /** Removes a member and revokes the API keys they created; says how many. */
  removeMember: (id: string) => request<MemberRemoval>('DELETE', `/api/admin/members/${enc(id)}`),
  invitations: () => get<{ invitations: Invitation[] }>('/api/admin/invitations').then((r) => r.invitations),
  invite: (email: string, role: Role) => post<Invitation>('/api/admin/invitations', { email, role }),
  cancelInvitation: (id: string) => del(`/api/admin/invitations/${enc(id)}`),

  apiKeys: () => get<{ apiKeys: ApiKey[] }>('/api/admin/api-keys').then((r) => r.apiKeys),
  createApiKey: (name: string) => post<ApiKey & { key: string }>('/api/admin/api-keys', { name }),
  revokeApiKey: (id: string) => del(`/api/admin/api-keys/${enc(id)}`),

  /** A page of the audit log (the server's 100 entries), older than the `before` cursor if given. */
  audit: (before?: string) => get<AuditPage>(`/api/admin/audit${before ? `?before=${enc(before)}` : ''}`),
  /** Fallback activity: counts over `days`, and a page of events (the server's 200), older than `before` if given. */
  activity: (days = 14, before?: string) =>
    get<FallbackActivity>(
      `/api/admin/fallback-activity?days=${days}${before ? `&before=${enc(before)}` : ''}`,
    ),
  providerStatus: () =>
    get<{ providers: ProviderStatus[] }>('/api/admin/provider-status').then((r) => r.providers),
  demo: () => get<DemoState>('/api/admin/demo'),
  setOutage: (id: string, fault: string) =>
    put<{ id: string; outage: string | null }>(`/api/admin/demo/providers/${enc(id)}/outage`, { fault }),
};
