/** Serves the web UI from packages/web/dist when it is built (SPA fallback), else a small plain page. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/**
 * Headers of every page and asset of the UI. The CSP allows only this origin's scripts, styles
 * (plus inline style attributes) and connections, and images from here or data: URLs, so an answer
 * that smuggles in a remote image or script cannot make the browser send anything elsewhere; no
 * framing (clickjacking). The API's JSON responses do without: they are not documents, and /v1's
 * every microsecond counts.
 */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The page shown at `/` when no web UI is built. */
function plainPage(setupPending: boolean): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Understudy</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Understudy</h1><p>The API is up.</p>
${
  setupPending
    ? '<p>First run: create your organization with <code>POST /api/setup</code> using the setup token printed in the server log.</p>'
    : '<p>Sign in with <code>POST /api/auth/login</code>; the OpenAI-compatible API is at <code>/v1</code>.</p>'
}
<p>Health: <a href="/healthz">/healthz</a> · Metrics: <a href="/metrics">/metrics</a></p></body></html>`;
}

/** A not-found handler for browser paths: a file of the built UI, the SPA's index.html, or the plain page. */
export function webHandler(distDir: string, setupPending: () => boolean) {
  const hasDist = existsSync(join(distDir, 'index.html'));
  return (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return reply.code(404).send({
        error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
      });
    }
    reply.headers(PAGE_HEADERS);
    if (!hasDist) return reply.type('text/html; charset=utf-8').send(plainPage(setupPending()));
    const path = decodeURIComponent((request.url.split('?')[0] ?? '/').replace(/^\/+/, ''));
    const file = normalize(join(distDir, path));
    // Only files inside the dist folder; anything else (or a route of the SPA) gets index.html.
    const inside = file.startsWith(normalize(distDir) + sep);
    const target = inside && existsSync(file) && statSync(file).isFile() ? file : join(distDir, 'index.html');
    reply.type(TYPES[extname(target)] ?? 'application/octet-stream');
    if (target.endsWith('index.html')) reply.header('cache-control', 'no-cache');
    return reply.send(createReadStream(target));
  };
}
