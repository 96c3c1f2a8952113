import type { Session } from '../api/types.js';
import { Link } from './Link.js';

/** The bar at the top: organization, Chat and (for Owners and Admins) Settings, the user, Sign out. */
export function TopBar({
  session,
  manager,
  onSignOut,
}: {
  session: Session;
  manager: boolean;
  onSignOut: () => void;
}) {
  return (
    <header className="topbar">
      <span className="brand">Understudy</span>
      <span className="org">{session.organization.name}</span>
      <nav aria-label="Main">
        <Link href="/">Chat</Link>
        {manager && <Link href="/settings/models">Organization Settings</Link>}
      </nav>
      <span className="account">
        <span className="user" title={`${session.user.name} (${session.user.role}), ${session.user.email}`}>
          {session.user.name} <span className="role">({session.user.role})</span>
        </span>
        <button type="button" className="link-button" onClick={onSignOut}>
          Sign out
        </button>
      </span>
    </header>
  );
}
