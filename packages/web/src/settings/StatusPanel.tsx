import { useCallback, useEffect, useRef, useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { Health, ProviderStatus } from '../api/types.js';
import { reasonWords } from '../chat/reasons.js';
import { ErrorText } from '../ui/ErrorText.js';
import { usePolling } from './usePolling.js';

/** Health memory has seen nothing wrong (closed, no failures): under an outage, not yet hit by requests. */
const unseen = (h: Health) => h.state === 'closed' && h.consecutiveFailures === 0;
/** No request has reached it yet (or none lately): nothing is known, good or bad. */
const untried = (h: Health) => unseen(h) && h.recentSuccesses === 0 && h.latencyMs === null;

/** When an open breaker lets the next request try again, in words. */
function retryWords(h: Health, now: number): string {
  const at = h.retryAt ? Date.parse(h.retryAt) : NaN;
  if (!(at > now)) return 'the next request tries it again';
  return `tried again in ${Math.ceil((at - now) / 1000)} s`;
}

/**
 * What health memory knows of a provider or model. Health memory learns from real requests only
 * (Test connection counts as one), so under a simulated outage that no request has hit yet it has
 * seen nothing wrong: the badge then says so in neutral grey ("No failures seen yet") instead of a
 * green "Healthy" beside the red outage note; a provider no request has reached is "No requests
 * yet", not "Healthy"; an open breaker says when the next request tries it again, since that
 * request (or a passing Test connection) is what closes it after the provider recovers.
 */
function HealthBadge({
  h,
  available = true,
  outage = false,
}: {
  h: Health;
  available?: boolean;
  outage?: boolean;
}) {
  const n = h.consecutiveFailures;
  const failures = `${n} recent failure${n === 1 ? '' : 's'}`;
  const [cls, text] =
    h.state === 'open'
      ? ['bad', `Unavailable${h.reason ? `: ${reasonWords(h.reason)}` : ''} · ${retryWords(h, Date.now())}`]
      : h.state === 'half_open'
        ? ['warn', 'Recovering (probing)']
        : !available
          ? ['bad', 'Unavailable']
          : h.consecutiveFailures > 0
            ? ['warn', outage ? failures : `Healthy, ${failures}`]
            : outage
              ? ['neutral', 'No failures seen yet']
              : untried(h)
                ? ['neutral', 'No requests yet']
                : ['good', 'Healthy'];
  return <span className={`badge ${cls}`}>{text}</span>;
}

/** Keys that step a closed dropdown from one option to the next (each step a `change`). */
const STEP_KEYS = new Set([
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'Home',
  'End',
  'PageUp',
  'PageDown',
]);

function OutageSwitch({
  p,
  faults,
  onChange,
}: {
  p: ProviderStatus;
  faults: string[];
  onChange: () => void;
}) {
  const [kind, setKind] = useState(p.demoOutage ?? 'overloaded');
  // While the Kind dropdown has the focus the admin may be choosing: a refresh leaves it alone.
  const [choosing, setChoosing] = useState(false);
  const [error, setError] = useState<string>();
  // The switch moves at once; the live status catches up on its next refresh.
  const [pending, setPending] = useState<boolean>();
  const actual = p.demoOutage !== null;
  useEffect(() => {
    if (pending === actual) setPending(undefined);
  }, [pending, actual]);
  const on = pending ?? actual;
  // Arrow keys on a closed dropdown change it at every step: while the outage runs, each step
  // would switch it (and write an audit entry). Keyboard steps are applied once the admin settles
  // (Enter, or leaving the dropdown); a choice from the open list (a click) is applied at once.
  const stepping = useRef(false);
  const [unapplied, setUnapplied] = useState(false);
  // The outage running (switched in another tab, say) is the Kind shown, so switching off and on
  // again here brings back that outage, not the one this tab last chose.
  useEffect(() => {
    if (p.demoOutage !== null && !choosing) setKind(p.demoOutage);
  }, [p.demoOutage, choosing]);
  const set = async (fault: string) => {
    setUnapplied(false);
    setError(undefined);
    setPending(fault !== 'none');
    try {
      await admin.setOutage(p.id, fault);
      onChange();
    } catch (e) {
      setPending(undefined);
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="outage row">
      <label className="switch-label">
        <input type="checkbox" role="switch" checked={on} onChange={() => void set(on ? 'none' : kind)} />
        Simulate an outage of {p.label}
      </label>
      <label className="field inline">
        <span>Kind</span>
        <select
          value={kind}
          onFocus={() => setChoosing(true)}
          onBlur={() => {
            setChoosing(false);
            if (unapplied && on) void set(kind);
          }}
          onMouseDown={() => (stepping.current = false)}
          onKeyDown={(e) => {
            stepping.current = STEP_KEYS.has(e.key);
            if (e.key === 'Enter' && unapplied && on) void set(kind);
          }}
          onChange={(e) => {
            setKind(e.target.value);
            if (!on) return;
            if (stepping.current) setUnapplied(true);
            else void set(e.target.value);
          }}
        >
          {faults.map((f) => (
            <option key={f} value={f}>
              {f.replace(/_/g, ' ')}
            </option>
          ))}
        </select>
      </label>
      {unapplied && on && (
        <span className="hint" role="status">
          Not switched yet: press Enter (or leave the list) to switch to {kind.replace(/_/g, ' ')}.
        </span>
      )}
      <ErrorText message={error} />
    </div>
  );
}

/**
 * Provider status: each provider's and model's health, refreshed every two seconds, and for the
 * built-in simulator a switch that puts a simulated provider into an outage, so anyone can watch
 * fallback happen.
 */
export function StatusPanel() {
  const load = useCallback(() => Promise.all([admin.providerStatus(), admin.demo()]), []);
  const { data, error, refresh } = usePolling(load, 2000);
  const [providers, demo] = data ?? [[], undefined];
  return (
    <section aria-labelledby="status-title">
      <h1 id="status-title">Provider status</h1>
      <p className="muted">Live health of each provider and model (updated every 2 seconds).</p>
      <ErrorText message={error} />
      <ul className="provider-list">
        {providers.map((p) => (
          <li key={p.id} className="card provider" data-provider={p.id}>
            <div className="provider-head">
              <strong>{p.label}</strong> <HealthBadge h={p.health} outage={p.demoOutage !== null} />
              {p.demoOutage && (
                <span className="badge bad">Simulated outage: {p.demoOutage.replace(/_/g, ' ')}</span>
              )}
            </div>
            {/* Only while the provider itself looks untouched: once it is open, its models are
                unavailable with it, whatever their own breakers say. */}
            {p.demoOutage && unseen(p.health) && (
              <div className="muted small outage-note">
                Health memory has not seen this outage yet: it shows here once requests to this provider fail.
              </div>
            )}
            {p.health.lastError && <div className="muted small">Last error: {p.health.lastError}</div>}
            <ul className="plain-list">
              {p.models.map((m) => (
                <li key={m.id} className="model-health">
                  <span>
                    {m.label}
                    {!m.enabled && <span className="muted small"> (disabled)</span>}
                  </span>
                  <HealthBadge h={m.health} available={m.available} outage={p.demoOutage !== null} />
                  {m.health.latencyMs !== null && (
                    <span className="muted small">{Math.round(m.health.latencyMs)} ms</span>
                  )}
                </li>
              ))}
            </ul>
            {demo?.enabled && demo.providers.some((d) => d.id === p.id) && (
              <OutageSwitch p={p} faults={demo.faults} onChange={refresh} />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
