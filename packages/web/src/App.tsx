import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, onRoleMayHaveChanged, onSignedOut, setCsrfToken } from './api/client.js';
import { auth } from './api/endpoints.js';
import type { Session } from './api/types.js';
import { InvitePage } from './auth/InvitePage.js';
import { LoginPage } from './auth/LoginPage.js';
import { SetupPage } from './auth/SetupPage.js';
import { ChatPage } from './chat/ChatPage.js';
import { SettingsPage } from './settings/SettingsPage.js';
import { RoleNotice, roleChangeNote } from './ui/RoleNotice.js';
import { TopBar } from './ui/TopBar.js';
import { navigate, usePath } from './ui/router.js';
import { onCatchUp } from './ui/tabReturn.js';

type Boot =
  { state: 'loading' } | { state: 'setup' } | { state: 'signedOut' } | { state: 'in'; session: Session };

/**
 * Whether this browser signed in before. The session cookie is HttpOnly, so without this hint the
 * app could only find out by asking and getting a 401, which browsers log as a console error.
 */
const HINT = 'understudy.signedIn';
const hint = {
  get: () => localStorage.getItem(HINT) === '1',
  set: (on: boolean) => (on ? localStorage.setItem(HINT, '1') : localStorage.removeItem(HINT)),
};

/** True for Owners and Admins, who see Organization Settings. */
export function isManager(s: Session): boolean {
  return s.user.role === 'owner' || s.user.role === 'admin';
}

/**
 * The app shell: finds out whether first-run setup is needed and who is signed in, then routes
 * between the auth pages, the chat and Organization Settings (Owners and Admins only).
 */
export function App() {
  const path = usePath();
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });
  const [roleNote, setRoleNote] = useState<string>();
  // The session this page was built for, to notice a change when it is read again.
  const shown = useRef<Session>(undefined);
  shown.current = boot.state === 'in' ? boot.session : undefined;

  const signedIn = useCallback((session: Session) => {
    setCsrfToken(session.csrfToken);
    hint.set(true);
    setBoot({ state: 'in', session });
  }, []);

  useEffect(() => {
    let live = true;
    (async () => {
      const setup = await auth.setupState();
      if (setup.needed) return live && setBoot({ state: 'setup' });
      if (!hint.get()) return live && setBoot({ state: 'signedOut' });
      try {
        const session = await auth.session();
        if (live) signedIn(session);
      } catch {
        hint.set(false);
        if (live) setBoot({ state: 'signedOut' });
      }
    })().catch(() => live && setBoot({ state: 'signedOut' }));
    return () => {
      live = false;
    };
  }, [signedIn]);

  useEffect(
    () =>
      onSignedOut(() => {
        hint.set(false);
        setBoot({ state: 'signedOut' });
      }),
    [],
  );

  // An Owner may change this member's role in another browser (or they change their own): the
  // session is read again when a request is refused for the role, when the member comes back to
  // the tab and every few seconds, so the top bar and the settings follow the role in force.
  const signedInAs = boot.state === 'in' ? boot.session.user.id : undefined;
  useEffect(() => {
    if (!signedInAs) return;
    let live = true;
    const reread = () =>
      auth.session().then(
        (session) => {
          // The same session read again changes nothing on the page.
          if (!live || JSON.stringify(session) === JSON.stringify(shown.current)) return;
          if (session.user.role !== shown.current?.user.role) setRoleNote(roleChangeNote(session.user.role));
          signedIn(session);
        },
        (e: unknown) => {
          if (!live || !(e instanceof ApiError && e.status === 401)) return;
          hint.set(false);
          setBoot({ state: 'signedOut' });
        },
      );
    const stopRefusals = onRoleMayHaveChanged(() => void reread());
    const stopCatchUp = onCatchUp(() => void reread());
    return () => {
      live = false;
      stopRefusals();
      stopCatchUp();
    };
  }, [signedInAs, signedIn]);

  // Settings are for Owners and Admins: a member who is not (any more) goes to the chat.
  const leaveSettings = boot.state === 'in' && !isManager(boot.session) && path.startsWith('/settings');
  useEffect(() => {
    if (leaveSettings) navigate('/', true);
  }, [leaveSettings]);

  const signOut = async () => {
    await auth.logout().catch(() => undefined);
    setCsrfToken('');
    hint.set(false);
    setRoleNote(undefined);
    setBoot({ state: 'signedOut' });
    navigate('/', true);
  };

  if (path.startsWith('/invite/') && boot.state !== 'in') {
    return <InvitePage token={decodeURIComponent(path.slice('/invite/'.length))} onSignedIn={signedIn} />;
  }
  if (boot.state === 'loading') return <p className="loading">Loading…</p>;
  if (boot.state === 'setup') return <SetupPage onSignedIn={signedIn} />;
  if (boot.state === 'signedOut') return <LoginPage onSignedIn={signedIn} />;

  const { session } = boot;
  const inSettings = path.startsWith('/settings');
  return (
    <div className="app">
      {/* The first Tab stop: past the top bar and the sidebar's rows, straight to the page's content. */}
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <TopBar session={session} manager={isManager(session)} onSignOut={signOut} />
      {roleNote && <RoleNotice text={roleNote} onDismiss={() => setRoleNote(undefined)} />}
      {inSettings && isManager(session) ? (
        <SettingsPage path={path} session={session} />
      ) : (
        <ChatPage path={path} />
      )}
    </div>
  );
}
