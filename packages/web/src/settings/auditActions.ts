/**
 * What the audit log's "What" column calls each action. The API returns codes (`member.role`) that
 * scripts can match; a reader gets words. The codes mirror the server's AUDIT_ACTIONS (a test holds
 * the two lists alike); an entry from a newer server whose code is not here shows its code.
 */
export const AUDIT_ACTION_LABELS = {
  'organization.create': 'Organization created',
  'bootstrap.apply': 'Setup applied',
  'settings.update': 'Fallback settings changed',
  'provider.create': 'Provider added',
  'provider.update': 'Provider changed',
  'provider.rotate_key': 'Provider API key changed',
  'provider.delete': 'Provider removed',
  'demo.outage': 'Simulated outage switched',
  'model.create': 'Model added',
  'model.update': 'Model changed',
  'model.order': 'Model order changed',
  'model.delete': 'Model removed',
  'mate.create': 'Mate created',
  'mate.update': 'Mate changed',
  'mate.delete': 'Mate deleted',
  'api_key.create': 'API key created',
  'api_key.revoke': 'API key revoked',
  'api_key.reinstate': 'API key reinstated',
  'invitation.create': 'Invitation created',
  'invitation.revoke': 'Invitation revoked',
  'invitation.accept': 'Invitation accepted',
  'member.role': 'Role changed',
  'member.remove': 'Member removed',
} as const satisfies Record<string, string>;

/** One audit action this web app knows by name. */
export type KnownAuditAction = keyof typeof AUDIT_ACTION_LABELS;

const isKnown = (action: string): action is KnownAuditAction => Object.hasOwn(AUDIT_ACTION_LABELS, action);

/** An action as a reader reads it: its label, or the code itself for one this app does not know. */
export function auditActionLabel(action: string): string {
  return isKnown(action) ? AUDIT_ACTION_LABELS[action] : action;
}
