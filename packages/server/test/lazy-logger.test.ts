/**
 * The request logger made on first use: silent requests make no pino child, a request that logs
 * gets one with its bindings (and the server logger's redaction), and level changes reach it.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { lazyChildLogger } from '../src/http/index.js';
import { createLogger } from '../src/index.js';

/** A server logger at `level` whose lines are collected, and a count of the children made of it. */
function logger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger(level, sink) as Logger;
  const made = { children: 0 };
  const original = log.child;
  // Counts the children of this logger only (a child's own children come through its prototype).
  log.child = function (this: Logger, ...args: Parameters<Logger['child']>) {
    if (this === log) made.children++;
    return original.apply(this, args);
  } as Logger['child'];
  return { log, lines, made };
}

const flush = () => new Promise((r) => setImmediate(r));

test('below the level nothing is made or written; at it, a child with the bindings writes', async () => {
  const { log, lines, made } = logger('warn');
  const lazy = lazyChildLogger(log as FastifyBaseLogger, { reqId: 'r1' }, {});
  lazy.info({ x: 1 }, 'not at this level');
  lazy.debug('nor this');
  await flush();
  assert.equal(made.children, 0, 'no child for a request that logged nothing');
  assert.equal(lines.length, 0);
  assert.equal(lazy.level, 'warn');

  lazy.error({ req: { headers: { authorization: 'Bearer secret' } } }, 'request failed');
  lazy.warn('and again');
  await flush();
  assert.equal(made.children, 1, 'one child, made once');
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.reqId, 'r1');
  assert.equal(lines[0]?.msg, 'request failed');
  assert.equal(lines[1]?.reqId, 'r1');
  assert.doesNotMatch(JSON.stringify(lines[0]), /secret/, 'the redaction of the server logger holds');
});

test('a level set on the request logger applies to it alone; its own children carry both bindings', async () => {
  const { log, lines } = logger('warn');
  const lazy = lazyChildLogger(log as FastifyBaseLogger, { reqId: 'r2' }, {});
  lazy.level = 'debug';
  assert.equal(lazy.level, 'debug');
  assert.equal(log.level, 'warn');
  lazy.debug('now written');
  lazy.child({ step: 'x' }).info('from a child');
  await flush();
  assert.deepEqual(
    lines.map((l) => [l.msg, l.reqId, l.step]),
    [
      ['now written', 'r2', undefined],
      ['from a child', 'r2', 'x'],
    ],
  );
});

test('in Fastify: a request that logs an error carries its request id; a silent one makes no child', async () => {
  const { log, lines, made } = logger('warn');
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, childLoggerFactory: lazyChildLogger });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/loud', async (request) => {
    request.log.error('something to say');
    return { ok: true };
  });
  try {
    await app.ready();
    const atStart = made.children;
    assert.equal((await app.inject('/quiet')).statusCode, 200);
    assert.equal(made.children, atStart, 'none for a request that logged nothing');
    assert.equal((await app.inject('/loud')).statusCode, 200);
    await flush();
    const line = lines.find((l) => l.msg === 'something to say');
    assert.ok(line, JSON.stringify(lines));
    assert.match(String(line.reqId), /^req-/);
  } finally {
    await app.close();
  }
});
