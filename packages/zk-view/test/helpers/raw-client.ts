import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/jute/frame.js';
import { JuteReader } from '../../src/jute/reader.js';
import {
  type ConnectResponse,
  type ReplyHeader,
  readConnectResponse,
  readReplyHeader,
  writeConnectRequest,
  writeRequestHeader,
} from '../../src/jute/records.js';
import { JuteWriter } from '../../src/jute/writer.js';

/** A bare ZooKeeper protocol client over the package's own jute code, for byte-level tests. */
export class RawClient {
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private readonly frames: Buffer[] = [];
  private waiting: (() => void) | undefined;
  closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.frames.push(f);
      this.waiting?.();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.waiting?.();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Opens a connection and creates (or resumes) a session. */
  static async session(
    port: number,
    opts: {
      sessionId?: bigint;
      passwd?: Uint8Array;
      timeOut?: number;
      lastZxidSeen?: bigint;
      readOnly?: boolean;
    } = {},
  ): Promise<{ client: RawClient; response: ConnectResponse }> {
    const client = await RawClient.open(port);
    const w = new JuteWriter();
    w.int(0);
    writeConnectRequest(w, {
      protocolVersion: 0,
      lastZxidSeen: opts.lastZxidSeen ?? 0n,
      timeOut: opts.timeOut ?? 10_000,
      sessionId: opts.sessionId ?? 0n,
      passwd: opts.passwd ?? new Uint8Array(16),
      ...(opts.readOnly !== undefined ? { readOnly: opts.readOnly } : {}),
    });
    client.send(w.frame());
    const frame = await client.next();
    return { client, response: readConnectResponse(new JuteReader(frame)) };
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a request: header then body written by `body`. */
  request(xid: number, type: number, body?: (w: JuteWriter) => void): void {
    const w = new JuteWriter();
    w.int(0);
    writeRequestHeader(w, { xid, type });
    body?.(w);
    this.send(w.frame());
  }

  /** The next frame, or throws when the connection closes first. */
  async next(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) return f;
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  /** The next reply: its header and a reader positioned on its body. */
  async reply(timeoutMs = 5000): Promise<{ header: ReplyHeader; body: JuteReader }> {
    const frame = await this.next(timeoutMs);
    const body = new JuteReader(frame);
    return { header: readReplyHeader(body), body };
  }

  /** Resolves when the server closes the connection (rejects after `timeoutMs`). */
  waitClosed(timeoutMs = 5000): Promise<void> {
    return Promise.race([
      this.closedPromise,
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error('still open')), timeoutMs)),
    ]);
  }

  /** All bytes the server sends until it closes (for four-letter words). */
  static async fourLetterWord(port: number, word: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(port, '127.0.0.1', () => s.write(word));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      s.on('error', reject);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
