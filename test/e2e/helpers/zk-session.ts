/**
 * A small ZooKeeper client over the jute records of `@kbroker/zk-view`, used by the differential tests
 * against both a real ZooKeeper and kbroker: it speaks every opcode the comparisons need (node-zookeeper-
 * client has no addWatch, multiRead, getAllChildrenNumber, removeWatches, and validates paths before
 * sending them), applies a chroot on the client side as ZooKeeper's own clients do, and records, in the
 * order they come off the wire, every reply and every watch event of the session.
 */
import { connect, type Socket } from 'node:net';
import {
  ErrorCode,
  FrameDecoder,
  JuteReader,
  JuteWriter,
  OpCode,
  readChildren,
  readConnectResponse,
  readMultiHeader,
  readReplyHeader,
  readStat,
  readWatcherEvent,
  type Stat,
  writeConnectRequest,
  writeCreateRequest,
  writeMultiHeader,
  writePathIntRequest,
  writePathVersionRequest,
  writePathWatchRequest,
  writeRequestHeader,
  writeSetDataRequest,
} from '@kbroker/zk-view';

const OPEN_ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** One reply as the comparisons see it (paths are client paths). */
export interface Reply {
  readonly kind: 'reply';
  readonly op: string;
  readonly path: string;
  readonly err: number;
  /** getData: the bytes as UTF-8, null for a znode without data. */
  readonly data?: string | null;
  readonly children?: readonly string[];
  readonly stat?: Stat;
  /** getAllChildrenNumber. */
  readonly count?: number;
  /** create: the path created. */
  readonly created?: string;
  /** multiRead / multi: each op's result. */
  readonly results?: readonly Reply[];
}

export interface WatchEvent {
  readonly kind: 'event';
  readonly type: number;
  readonly path: string;
}

export type LogEntry = Reply | WatchEvent;

interface Pending {
  readonly op: string;
  readonly path: string;
  readonly parse: (err: number, body: JuteReader) => Reply;
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
}

/** Options of one request: `record: false` leaves its reply out of the log (polls and barriers). */
export interface OpOptions {
  readonly record?: boolean;
}

export type MultiOp =
  | {
      readonly op: 'create';
      readonly path: string;
      readonly data: string | null;
      readonly ephemeral?: boolean;
    }
  | { readonly op: 'setData'; readonly path: string; readonly data: string | null; readonly version: number }
  | { readonly op: 'delete'; readonly path: string; readonly version: number }
  | { readonly op: 'check'; readonly path: string; readonly version: number };

const utf8 = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('utf8'));
const bytes = (s: string | null): Uint8Array | null => (s === null ? null : Buffer.from(s, 'utf8'));

/** The per-op results of a multi or multiRead: an error result (type -1) carries its code. */
function readResults(
  r: JuteReader,
  ops: readonly { readonly op: string; readonly path: string }[],
  body: (type: number) => Partial<Reply>,
): { results: Reply[] } {
  const results: Reply[] = [];
  for (let i = 0; ; i++) {
    const h = readMultiHeader(r);
    if (h.done) return { results };
    const base = { kind: 'reply' as const, op: ops[i]?.op ?? '?', path: ops[i]?.path ?? '?' };
    results.push(h.type === OpCode.error ? { ...base, err: r.int() } : { ...base, err: 0, ...body(h.type) });
  }
}

export class ZkSession {
  /** Replies and watch events, in wire order. */
  readonly log: LogEntry[] = [];
  sessionId = 0n;
  /** The zxid in the latest reply header (the server's last processed zxid). */
  lastZxid = 0n;
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private readonly pending = new Map<number, Pending>();
  private xid = 1;
  private connected: ((frame: Buffer) => void) | undefined;
  private readonly pinger: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    /** Client-side chroot ('' for none), as in a connect string `host:port/kafka`. */
    readonly chroot: string,
    readonly label: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.onFrame(f);
    });
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error(`${label}: connection closed`));
      this.pending.clear();
    });
    socket.on('error', () => {});
    // Pings keep the session (and kbroker's idle timer) alive through long waits.
    this.pinger = setInterval(() => this.send(-2, OpCode.ping), 2000);
    this.pinger.unref();
  }

  /**
   * Connects to `address` (`host:port`) and creates a session. Like a ZooKeeper client, a connection
   * that gets no session answer in 10 s is dropped and tried again (a server just started, or starved
   * on a loaded machine, may sit on one), up to three times.
   */
  static async open(address: string, label: string, chroot = ''): Promise<ZkSession> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ZkSession.openOnce(address, label, chroot, 10_000);
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }

  private static async openOnce(
    address: string,
    label: string,
    chroot: string,
    timeoutMs: number,
  ): Promise<ZkSession> {
    const [host, port] = address.split(':') as [string, string];
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(Number(port), host, () => resolve(s));
      s.once('error', reject);
    });
    const session = new ZkSession(socket, chroot, label);
    const frame = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.abandon();
        reject(new Error(`${label}: no session from ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      session.connected = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      const w = new JuteWriter();
      w.int(0);
      writeConnectRequest(w, {
        protocolVersion: 0,
        lastZxidSeen: 0n,
        timeOut: 30_000,
        sessionId: 0n,
        passwd: new Uint8Array(16),
      });
      socket.write(w.frame());
    });
    session.sessionId = readConnectResponse(new JuteReader(frame)).sessionId;
    return session;
  }

  private onFrame(frame: Buffer): void {
    if (this.connected !== undefined) {
      const c = this.connected;
      this.connected = undefined;
      c(frame);
      return;
    }
    const r = new JuteReader(frame, 16 * 1024 * 1024);
    const header = readReplyHeader(r);
    if (header.xid === -1) {
      const e = readWatcherEvent(r);
      this.log.push({ kind: 'event', type: e.type, path: this.strip(e.path) });
      return;
    }
    if (header.xid === -2) return;
    this.lastZxid = header.zxid;
    const p = this.pending.get(header.xid);
    if (p === undefined) throw new Error(`${this.label}: reply to unknown xid ${header.xid}`);
    this.pending.delete(header.xid);
    try {
      p.resolve(p.parse(header.err, r));
    } catch (err) {
      p.reject(err as Error);
    }
  }

  /** The server path for a client path (the chroot prepended, as ZooKeeper's client does). */
  private full(path: string): string {
    if (this.chroot === '') return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }

  /** The client path for a server path (the chroot taken off). */
  private strip(path: string): string {
    if (this.chroot === '' || !path.startsWith(this.chroot)) return path;
    return path.length === this.chroot.length ? '/' : path.slice(this.chroot.length);
  }

  private send(xid: number, type: number, body?: (w: JuteWriter) => void): void {
    if (this.closed) return;
    const w = new JuteWriter();
    w.int(0);
    writeRequestHeader(w, { xid, type });
    body?.(w);
    this.socket.write(w.frame());
  }

  private request(
    op: string,
    path: string,
    type: number,
    body: (w: JuteWriter) => void,
    parse: (body: JuteReader) => Partial<Reply>,
    options: OpOptions = {},
  ): Promise<Reply> {
    const xid = this.xid++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(xid, {
        op,
        path,
        parse: (err, r) => ({ kind: 'reply', op, path, err, ...(err === 0 ? parse(r) : {}) }),
        resolve: (reply) => {
          if (options.record !== false) this.log.push(reply);
          resolve(reply);
        },
        reject,
      });
      this.send(xid, type, body);
    });
  }

  getData(path: string, watch = false, options?: OpOptions): Promise<Reply> {
    return this.pathWatch('getData', OpCode.getData, path, watch, options, (r) => ({
      data: utf8(r.buffer()),
      stat: readStat(r),
    }));
  }

  exists(path: string, watch = false, options?: OpOptions): Promise<Reply> {
    return this.pathWatch('exists', OpCode.exists, path, watch, options, (r) => ({ stat: readStat(r) }));
  }

  /** getChildren2: the children and the stat. */
  getChildren(path: string, watch = false, options?: OpOptions): Promise<Reply> {
    return this.pathWatch('getChildren', OpCode.getChildren2, path, watch, options, (r) => ({
      children: readChildren(r),
      stat: readStat(r),
    }));
  }

  private pathWatch(
    name: string,
    type: number,
    path: string,
    watch: boolean,
    options: OpOptions | undefined,
    parse: (body: JuteReader) => Partial<Reply>,
  ): Promise<Reply> {
    return this.request(
      name,
      path,
      type,
      (w) => writePathWatchRequest(w, { path: this.full(path), watch }),
      parse,
      options,
    );
  }

  getAllChildrenNumber(path: string): Promise<Reply> {
    return this.request(
      'getAllChildrenNumber',
      path,
      OpCode.getAllChildrenNumber,
      (w) => w.ustring(this.full(path)),
      (r) => ({ count: r.int() }),
    );
  }

  sync(path: string): Promise<Reply> {
    return this.request(
      'sync',
      path,
      OpCode.sync,
      (w) => w.ustring(this.full(path)),
      (r) => ({ created: this.strip(r.ustring()) }),
    );
  }

  /** mode 0: persistent, 1: persistent recursive. */
  addWatch(path: string, mode: 0 | 1): Promise<Reply> {
    return this.pathInt('addWatch', OpCode.addWatch, path, mode);
  }

  /** watcherType 1 children, 2 data, 3 any, 4 persistent, 5 persistent recursive. */
  removeWatches(path: string, watcherType: number): Promise<Reply> {
    return this.pathInt('removeWatches', OpCode.removeWatches, path, watcherType);
  }

  checkWatches(path: string, watcherType: number): Promise<Reply> {
    return this.pathInt('checkWatches', OpCode.checkWatches, path, watcherType);
  }

  /** A request of a path and an int, answered with no body. */
  private pathInt(name: string, type: number, path: string, value: number): Promise<Reply> {
    return this.request(
      `${name}(${value})`,
      path,
      type,
      (w) => writePathIntRequest(w, { path: this.full(path), value }),
      () => ({}),
    );
  }

  create(path: string, data: string | null, flags = 0): Promise<Reply> {
    return this.request(
      flags === 0 ? 'create' : `create(${flags})`,
      path,
      OpCode.create,
      (w) => writeCreateRequest(w, { path: this.full(path), data: bytes(data), acl: OPEN_ACL, flags }),
      (r) => ({ created: this.strip(r.ustring()) }),
    );
  }

  setData(path: string, data: string | null, version: number): Promise<Reply> {
    return this.request(
      `setData(${version})`,
      path,
      OpCode.setData,
      (w) => writeSetDataRequest(w, { path: this.full(path), data: bytes(data), version }),
      (r) => ({ stat: readStat(r) }),
    );
  }

  delete(path: string, version: number): Promise<Reply> {
    return this.request(
      `delete(${version})`,
      path,
      OpCode.delete,
      (w) => writePathVersionRequest(w, { path: this.full(path), version }),
      () => ({}),
    );
  }

  /** multiRead of getData ('data') and getChildren ('children') ops. */
  multiRead(ops: readonly { readonly op: 'data' | 'children'; readonly path: string }[]): Promise<Reply> {
    return this.request(
      'multiRead',
      ops.map((o) => o.path).join(','),
      OpCode.multiRead,
      (w) => {
        for (const o of ops) {
          const type = o.op === 'data' ? OpCode.getData : OpCode.getChildren;
          writeMultiHeader(w, { type, done: false, err: -1 });
          writePathWatchRequest(w, { path: this.full(o.path), watch: false });
        }
        writeMultiHeader(w, { type: -1, done: true, err: -1 });
      },
      (r) =>
        readResults(r, ops, (type) => {
          if (type === OpCode.getData) return { data: utf8(r.buffer()), stat: readStat(r) };
          return type === OpCode.getChildren ? { children: readChildren(r) } : {};
        }),
    );
  }

  multi(ops: readonly MultiOp[]): Promise<Reply> {
    const type = (o: MultiOp) =>
      ({ create: OpCode.create, setData: OpCode.setData, delete: OpCode.delete, check: OpCode.check })[o.op];
    return this.request(
      'multi',
      ops.map((o) => `${o.op} ${o.path}`).join(','),
      OpCode.multi,
      (w) => {
        for (const o of ops) {
          writeMultiHeader(w, { type: type(o), done: false, err: -1 });
          const path = this.full(o.path);
          if (o.op === 'create')
            writeCreateRequest(w, { path, data: bytes(o.data), acl: OPEN_ACL, flags: o.ephemeral ? 1 : 0 });
          else if (o.op === 'setData')
            writeSetDataRequest(w, { path, data: bytes(o.data), version: o.version });
          else writePathVersionRequest(w, { path, version: o.version });
        }
        writeMultiHeader(w, { type: -1, done: true, err: -1 });
      },
      (r) =>
        readResults(r, ops, (type) => {
          if (type === OpCode.create) return { created: this.strip(r.ustring()) };
          return type === OpCode.setData ? { stat: readStat(r) } : {};
        }),
    );
  }

  /** Drops the connection without closing the session (a connect that got no answer). */
  abandon(): void {
    clearInterval(this.pinger);
    this.socket.destroy();
  }

  /** Closes the session (closeSession, then the socket). */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    if (!this.closed) {
      await this.request(
        'closeSession',
        '',
        OpCode.closeSession,
        () => {},
        () => ({}),
        {
          record: false,
        },
      ).catch(() => {});
    }
    this.socket.destroy();
  }
}

export { ErrorCode };
