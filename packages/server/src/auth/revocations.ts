/**
 * API key revocations relayed between instances through Redis pub/sub. An admin's revocation
 * already reaches every instance as an "organization changed" event (which drops the
 * organization's cached keys); a key the bootstrap file revokes at an instance's start was not
 * announced, so the other instances kept accepting it from their caches for up to their TTL.
 *
 * Once the start's bootstrap has run, the instance publishes the digests of the keys revoked since
 * it began starting (`ApiKeyCache.since`), and every instance drops them from its cache. Pub/sub
 * rather than a version key: the cluster link already holds a subscriber on one channel, and an
 * instance that may have missed messages (its subscriber reconnected, Redis was down) already drops
 * every cached key when it resyncs; a version key would have to be read on each `/v1` request (a
 * Redis round trip on the hot path) or polled (a delay again). A publish that fails is retried when
 * the link is back; meanwhile the cache TTL (10 s) bounds how long a revoked key can still work.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.js';

/** The relayed digests: SHA-256 hex, as stored in `api_keys.key_hash` (checked: Redis is an edge). */
const Hashes = z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(100_000);

/** Drops relayed revocations from this instance's cache, and announces those of this start. */
export function relayKeyRevocations(app: FastifyInstance, ctx: AppContext): void {
  const link = ctx.cluster.link;
  if (!link) return;
  link.onMessage((m) => {
    if (m.type !== 'keys') return;
    const hashes = Hashes.safeParse(m.hashes);
    if (hashes.success) ctx.apiKeys.drop(hashes.data);
    else ctx.log.warn('ignored a malformed API key revocation message from another instance');
  });
  // Revocations this instance could not announce (Redis down): sent once the link is back.
  let unannounced: string[] = [];
  link.onResync(async () => {
    if (unannounced.length === 0) return;
    await link.cmd.publish(link.channel, link.envelope({ type: 'keys', hashes: unannounced }));
    unannounced = [];
  });
  // onReady: after the bootstrap file was applied (server start), before the first request.
  app.addHook('onReady', async () => {
    try {
      const rows = await ctx.db
        .selectFrom('api_keys')
        .select('key_hash')
        .where('revoked_at', '>=', ctx.apiKeys.since)
        .execute();
      if (rows.length === 0) return;
      const hashes = rows.map((r) => r.key_hash);
      if (!(await link.publish({ type: 'keys', hashes }))) unannounced = hashes;
    } catch (err) {
      // Not worth failing the start over: the other instances' cache TTL still ends those keys.
      ctx.log.warn({ err }, 'could not announce the API keys revoked at this start');
    }
  });
}
