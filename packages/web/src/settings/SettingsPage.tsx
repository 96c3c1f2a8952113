import type { Session } from '../api/types.js';
import { Link } from '../ui/Link.js';
import { ActivityPanel } from './ActivityPanel.js';
import { ApiKeysPanel } from './ApiKeysPanel.js';
import { AuditPanel } from './AuditPanel.js';
import { MatesPanel } from './MatesPanel.js';
import { MembersPanel } from './MembersPanel.js';
import { ModelsTab } from './ModelsTab.js';
import { ProvidersTab } from './ProvidersTab.js';
import { FallbackSettingsTab } from './FallbackSettingsTab.js';
import { StatusPanel } from './StatusPanel.js';

const SECTIONS = [
  { href: '/settings/models', label: 'Models Management' },
  { href: '/settings/mates', label: 'Mates' },
  { href: '/settings/members', label: 'Members' },
  { href: '/settings/api-keys', label: 'API keys' },
  { href: '/settings/audit', label: 'Audit log' },
  { href: '/settings/activity', label: 'Fallback activity' },
  { href: '/settings/status', label: 'Provider status' },
];
const TABS = [
  { href: '/settings/models', label: 'Models' },
  { href: '/settings/models/providers', label: 'Providers' },
  { href: '/settings/models/settings', label: 'Settings' },
];

function ModelsManagement({ path }: { path: string }) {
  return (
    <>
      <h1>Models Management</h1>
      <nav className="tabs" aria-label="Models Management">
        {TABS.map((t) => (
          <Link key={t.href} href={t.href} aria-current={path === t.href ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {path === '/settings/models/providers' ? (
        <ProvidersTab />
      ) : path === '/settings/models/settings' ? (
        <FallbackSettingsTab />
      ) : (
        <ModelsTab />
      )}
    </>
  );
}

/**
 * Organization Settings (Owners and Admins only; the app does not even route Members here, and the
 * server refuses them with 403). Models Management has three tabs: Models, Providers, Settings.
 */
export function SettingsPage({ path, session }: { path: string; session: Session }) {
  const section = SECTIONS.find((s) => s.href !== '/settings/models' && path.startsWith(s.href));
  return (
    <div className="settings">
      <nav className="settings-nav" aria-label="Organization Settings">
        <h2>Organization Settings</h2>
        {SECTIONS.map((s) => (
          <Link
            key={s.href}
            href={s.href}
            aria-current={(section?.href ?? '/settings/models') === s.href ? 'page' : undefined}
          >
            {s.label}
          </Link>
        ))}
      </nav>
      <main className="settings-main" id="main" tabIndex={-1}>
        {section?.href === '/settings/mates' ? (
          <MatesPanel />
        ) : section?.href === '/settings/members' ? (
          <MembersPanel session={session} />
        ) : section?.href === '/settings/api-keys' ? (
          <ApiKeysPanel />
        ) : section?.href === '/settings/audit' ? (
          <AuditPanel />
        ) : section?.href === '/settings/activity' ? (
          <ActivityPanel />
        ) : section?.href === '/settings/status' ? (
          <StatusPanel />
        ) : (
          <ModelsManagement path={path} />
        )}
      </main>
    </div>
  );
}
