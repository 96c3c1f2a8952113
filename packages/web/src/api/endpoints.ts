/** One typed function per server route the web app uses. */
import { del, get, patch, post, put } from './client.js';
import type {
  AdminModel,
  ApiKey,
  AuditEntry,
  ConnectionTest,
  Conversation,
  ConversationDetail,
  DemoState,
  FallbackActivity,
  FallbackSetting,
  Invitation,
  Mate,
  Member,
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
  conversations: () =>
    get<{ conversations: Conversation[] }>('/api/conversations').then((r) => r.conversations),
  createConversation: (mateId: string) => post<Conversation>('/api/conversations', { mateId }),
  conversation: (id: string) => get<ConversationDetail>(`/api/conversations/${enc(id)}`),
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

export type ModelFacts = Partial<Omit<AdminModel, 'id' | 'provider'>>;

export const admin = {
  createMate: (b: { name: string; instructions: string; model: string | null }) =>
    post<Mate>('/api/mates', b),
  updateMate: (id: string, b: { name?: string; instructions?: string; model?: string | null }) =>
    patch<Mate>(`/api/mates/${enc(id)}`, b),
  removeMate: (id: string) => del(`/api/mates/${enc(id)}`),

  models: () => get<{ models: AdminModel[] }>('/api/admin/models').then((r) => r.models),
  updateModel: (id: string, facts: ModelFacts) => patch<AdminModel>(`/api/admin/models/${enc(id)}`, facts),
  orderModels: (ids: string[]) => put<unknown>('/api/admin/models/order', { ids }),
  addModel: (b: { id: string; provider: string; upstreamModel: string; label?: string }) =>
    post<AdminModel>('/api/admin/models', b),

  providers: () => get<{ providers: Provider[] }>('/api/admin/providers').then((r) => r.providers),
  addProvider: (b: { id: string; type: ProviderType; label: string; baseUrl?: string; apiKey?: string }) =>
    post<Provider>('/api/admin/providers', b),
  rotateKey: (id: string, apiKey: string) => put<Provider>(`/api/admin/providers/${enc(id)}/key`, { apiKey }),
  testProvider: (id: string) => post<ConnectionTest>(`/api/admin/providers/${enc(id)}/test`),

  settings: () => get<OrgSettings>('/api/admin/settings'),
  saveSettings: (b: { defaultModel?: string; fallback?: FallbackSetting }) =>
    put<OrgSettings>('/api/admin/settings', b),

  members: () => get<{ members: Member[] }>('/api/admin/members').then((r) => r.members),
  setRole: (id: string, role: Role) => patch<Member>(`/api/admin/members/${enc(id)}`, { role }),
  removeMember: (id: string) => del(`/api/admin/members/${enc(id)}`),
  invitations: () => get<{ invitations: Invitation[] }>('/api/admin/invitations').then((r) => r.invitations),
  invite: (email: string, role: Role) => post<Invitation>('/api/admin/invitations', { email, role }),
  cancelInvitation: (id: string) => del(`/api/admin/invitations/${enc(id)}`),

  apiKeys: () => get<{ apiKeys: ApiKey[] }>('/api/admin/api-keys').then((r) => r.apiKeys),
  createApiKey: (name: string) => post<ApiKey & { key: string }>('/api/admin/api-keys', { name }),
  revokeApiKey: (id: string) => del(`/api/admin/api-keys/${enc(id)}`),

  audit: () => get<{ entries: AuditEntry[] }>('/api/admin/audit?limit=200').then((r) => r.entries),
  activity: (days = 14) => get<FallbackActivity>(`/api/admin/fallback-activity?days=${days}`),
  providerStatus: () =>
    get<{ providers: ProviderStatus[] }>('/api/admin/provider-status').then((r) => r.providers),
  demo: () => get<DemoState>('/api/admin/demo'),
  setOutage: (id: string, fault: string) =>
    put<{ id: string; outage: string | null }>(`/api/admin/demo/providers/${enc(id)}/outage`, { fault }),
};
