/** A test socket for backpressure: what the server writes reaches it only as the test lets the client read. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';

/** A socket whose writes stay pending (counted against its buffer) until `release()`. */
export class SlowSocket extends Duplex {
  readonly received: string[] = [];
  private pending: (() => void)[] = [];
  constructor() {
    super({ writableHighWaterMark: 1024 });
  }
  private flowing = false;
  /** Records the chunk; the write completes only once the client reads (`release`, `flow`). */
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.received.push(chunk.toString());
    if (this.flowing) done();
    else this.pending.push(done);
  }
  /** A no-op: the request is pushed by `responseOver`, not pulled. */
  override _read(): void {}
  /** The client reads what reached it so far. */
  release(): void {
    for (const done of this.pending.splice(0)) done();
  }
  /** The client reads everything, from now on as fast as it comes. */
  flow(): void {
    this.flowing = true;
    this.release();
  }
  /** Everything written to the socket so far. */
  get text(): string {
    return this.received.join('');
  }
}

/** A real `http` server's response to one request that arrived over `socket`. */
export async function responseOver(socket: SlowSocket, requestHead: string): Promise<ServerResponse> {
  const server = createServer();
  return new Promise<ServerResponse>((resolve) => {
    server.once('request', (_req: IncomingMessage, r: ServerResponse) => resolve(r));
    server.emit('connection', socket);
    socket.push(`${requestHead}\r\nhost: test\r\ncontent-length: 0\r\n\r\n`);
  });
}

/** Lets every pending promise and I/O callback run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick();
}
