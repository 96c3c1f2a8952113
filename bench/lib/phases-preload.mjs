// Preloaded (`node --import`) into a gateway by bench/phases.ts: timestamps the phases of each
// proxied request from diagnostics_channel events that Node's HTTP server, Fastify and undici
// publish, so no gateway code is touched. Assumes one request at a time. On SIGUSR2 it writes the
// medians since the last signal to <tmpdir>/understudy-phases-<pid>.json and starts afresh.
import dc from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const now = () => Number(process.hrtime.bigint()) / 1e6;
/** The request in flight: mark name → ms. */
let current;
let done = [];

/** Records the first occurrence of a mark for the request in flight. */
const mark = (name) => () => {
  if (current && current[name] === undefined) current[name] = now();
};
dc.subscribe('http.server.request.start', () => {
  current = { start: now() };
});
dc.subscribe('tracing:fastify.request.handler:start', mark('handler'));
dc.subscribe('tracing:fastify.request.handler:asyncStart', mark('settled'));
dc.subscribe('undici:request:create', mark('created'));
dc.subscribe('undici:client:sendHeaders', mark('sent'));
dc.subscribe('undici:request:headers', mark('headers'));
dc.subscribe('undici:request:trailers', mark('body'));
dc.subscribe('http.server.response.finish', () => {
  if (!current) return;
  current.finish = now();
  done.push(current);
  current = undefined;
});

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? null : v[Math.floor(v.length / 2)];
};
/** The spans reported: consecutive marks, and the sums the limit can show (it has no Fastify, so no handler or settled mark). */
const PHASES = [
  ['start', 'handler'],
  ['handler', 'created'],
  ['start', 'created'],
  ['created', 'sent'],
  ['sent', 'headers'],
  ['headers', 'body'],
  ['body', 'settled'],
  ['settled', 'finish'],
  ['body', 'finish'],
  ['start', 'finish'],
];
process.on('SIGUSR2', () => {
  const rows = done;
  done = [];
  const out = { requests: rows.length };
  for (const [a, b] of PHASES) out[`${a} → ${b}`] = median(rows.map((r) => r[b] - r[a]));
  writeFileSync(join(tmpdir(), `understudy-phases-${process.pid}.json`), JSON.stringify(out));
});
