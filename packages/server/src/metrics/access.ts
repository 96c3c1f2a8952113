/**
 * Who may read /metrics. They name every organization's id, its provider and model ids and their
 * circuit states: with UNDERSTUDY_METRICS_TOKEN set, a scraper sends it as a bearer token; without
 * it, only a direct connection from this machine (a local agent, `curl` on the host) is answered,
 * never one relayed by a proxy, which would make the page as public as the proxy.
 */
import { timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { HttpError } from '../http/index.js';

/** What the check reads of a request: the socket's own peer, never forwarded headers. */
export interface MetricsRequest {
  socket: { remoteAddress?: string | undefined };
  headers: Record<string, string | string[] | undefined>;
}

/** Headers a proxy adds: a request carrying one came through a proxy (or pretends to). */
const FORWARDED = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/** Whether `address` is a loopback address (IPv4, IPv6, or IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  return parsed.range() === 'loopback';
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Throws the refusal when `request` may not read the metrics (`token`: UNDERSTUDY_METRICS_TOKEN). */
export function checkMetricsAccess(request: MetricsRequest, token: string | undefined): void {
  if (token) {
    const sent = request.headers.authorization;
    if (typeof sent !== 'string' || !sameSecret(sent, `Bearer ${token}`))
      throw new HttpError(
        401,
        'unauthorized',
        'metrics need Authorization: Bearer <UNDERSTUDY_METRICS_TOKEN>',
      );
    return;
  }
  const proxied = FORWARDED.some((h) => request.headers[h] !== undefined);
  if (!isLoopback(request.socket.remoteAddress) || proxied)
    throw new HttpError(
      403,
      'forbidden',
      'without UNDERSTUDY_METRICS_TOKEN, /metrics answers only direct connections from this machine; set it and scrape with Authorization: Bearer <UNDERSTUDY_METRICS_TOKEN>',
    );
}
