import type { Role } from '../api/types.js';

/** What the member is told when the app notices their role changed (elsewhere, or by themself). */
export function roleChangeNote(role: Role): string {
  if (role === 'member')
    return 'Your role is now Member: Organization Settings are for Owners and Admins, so they are no longer shown to you.';
  return `Your role is now ${role === 'owner' ? 'Owner' : 'Admin'}: Organization Settings are open to you.`;
}

/** A notice under the top bar, until the member dismisses it. */
export function RoleNotice({ text, onDismiss }: { text: string; onDismiss: () => void }) {
  return (
    <div className="role-notice" role="status">
      <p>{text}</p>
      <button type="button" className="small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
