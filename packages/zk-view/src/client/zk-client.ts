/**
 * A small, pipelined ZooKeeper client over our own jute codec: one session on one connection, any
 * number of requests in flight (ZooKeeper answers a session's requests in order), digest auth and a
 * chroot. Made for bulk reads and writes of whole trees (the migration tool reads every znode of a
 * Kafka layout, its benchmark writes 200,000 partitions) and for benchmarks: one-shot watches
 * (`watch: true` on getData, getChildren and exists; every event goes to `onWatch` listeners), no
 * reconnection; a lost connection fails every pending request with CONNECTIONLOSS.
 */
import { createConnection, type Socket } from 'node:net';
import { ErrorCode, OpCode, Xid } from '../jute/constants.js';
import { FrameDecoder } from '../jute/frame.js';
import { JuteReader } from '../jute/reader.js';
import {
  type Acl,
  readChildren,
  readConnectResponse,
  readMultiHeader,
  readReplyHeader,
  readStat,
  readWatcherEvent,
  type WatcherEvent,
  writeAuthPacket,
  writeConnectRequest,
  writeCreateRequest,
  writeMultiHeader,
  writePathVersionRequest,
  writePathWatchRequest,
  writeRequestHeader,
  writeSetDataRequest,
} from '../jute/records.js';
import { JuteWriter } from '../jute/writer.js';
import type { Stat } from '../types.js';

/** `world:anyone` with every permission (ZooKeeper's OPEN_ACL_UNSAFE). */
export const OPEN_ACL: readonly Acl[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** A ZooKeeper error reply (or a lost connection, CONNECTIONLOSS), named as KeeperException.Code. */
export class ZkError extends Error {
  override readonly name = 'ZkError';
  readonly code: string;
  constructor(
    readonly errorCode: number,
    readonly path: string | undefined,
    detail?: string,
  ) {
    const code = ERROR_NAMES.get(errorCode) ?? `ERROR_${errorCode}`;
    super(detail ?? `ZooKeeper ${code}${path === undefined ? '' : ` for ${path}`}`);
    this.code = code;
  }
}

export interface ZkConnectOptions {
  /** How long to wait for a session, per server tried. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Requested session timeout. Default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** `user:password` for the digest scheme (ZooKeeper's `addAuthInfo("digest", ...)`). */
  readonly digest?: string;
  /** Largest response frame accepted. Default 64 MiB (a getChildren of 100k topics is a few MiB). */
  readonly maxFrameBytes?: number;
}

/** `host:port[,host:port...][/chroot]`, as Kafka's `zookeeper.connect`. */
export interface ZkConnectString {
  readonly servers: readonly { readonly host: string; readonly port: number }[];
  /** '' when none; otherwise starts with '/' and has no trailing '/'. */
  readonly chroot: string;
}

export function parseConnectString(connect: string): ZkConnectString {
  const slash = connect.indexOf('/');
  const hosts = slash < 0 ? connect : connect.slice(0, slash);
  let chroot = slash < 0 ? '' : connect.slice(slash);
  if (chroot === '/') chroot = '';
  if (chroot !== '' && (chroot.endsWith('/') || chroot.includes('//')))
    throw new Error(`invalid chroot ${JSON.stringify(chroot)} in ${JSON.stringify(connect)}`);
  const servers = hosts.split(',').map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(hp.trim());
    if (m === null) throw new Error(`invalid ZooKeeper server ${JSON.stringify(hp)} (want host:port)`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(hp)}`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
  if (servers.length === 0 || hosts.trim() === '') throw new Error('no ZooKeeper server given');
  return { servers, chroot };
}

interface Pending {
  readonly op: number;
  readonly path: string | undefined;
  resolve(r: JuteReader): void;
  reject(err: Error): void;
}

export interface ZnodeRead {
  readonly data: Uint8Array | null;
  readonly stat: Stat;
}

export class ZkWireClient {
  private xid = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private failure: Error | undefined;
  private ping: NodeJS.Timeout | undefined;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private readonly watchListeners = new Set<(event: WatcherEvent) => void>();

  private constructor(
    private readonly socket: Socket,
    private readonly decoder: FrameDecoder,
    readonly sessionId: bigint,
    readonly sessionTimeoutMs: number,
    readonly chroot: string,
    /** `host:port` of the server this session is on. */
    readonly server: string,
  ) {}

  /** Connects to the first server of `connect` that gives a session, authenticating if asked. */
  static async connect(connect: string, options: ZkConnectOptions = {}): Promise<ZkWireClient> {
    const parsed = parseConnectString(connect);
    const errors: string[] = [];
    for (const server of parsed.servers) {
      try {
        const client = await ZkWireClient.open(server.host, server.port, parsed.chroot, options);
        if (options.digest !== undefined) await client.addDigest(options.digest);
        return client;
      } catch (err) {
        if (err instanceof ZkError && err.code === 'AUTHFAILED') throw err;
        errors.push(`${server.host}:${server.port}: ${(err as Error).message}`);
      }
    }
    throw new ZkError(ErrorCode.CONNECTIONLOSS, undefined, `no ZooKeeper session: ${errors.join('; ')}`);
  }

  private static open(
    host: string,
    port: number,
    chroot: string,
    options: ZkConnectOptions,
  ): Promise<ZkWireClient> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const decoder = new FrameDecoder(options.maxFrameBytes ?? 64 * 1024 * 1024);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => fail(new Error(`no session within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('connection closed before a session was granted')));
      socket.once('connect', () => {
        const w = new JuteWriter();
        w.int(0);
        writeConnectRequest(w, {
          protocolVersion: 0,
          lastZxidSeen: 0n,
          timeOut: options.sessionTimeoutMs ?? 30_000,
          sessionId: 0n,
          passwd: new Uint8Array(16),
          readOnly: false,
        });
        socket.write(Buffer.from(w.frame()));
      });
      const onData = (chunk: Buffer) => {
        let frames: Buffer[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          fail(err as Error);
          return;
        }
        if (frames.length === 0) return;
        const res = readConnectResponse(new JuteReader(frames[0]!, Number.MAX_SAFE_INTEGER));
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.off('data', onData);
        if (res.timeOut <= 0) {
          socket.destroy();
          reject(new ZkError(ErrorCode.SESSIONEXPIRED, undefined, 'the server refused the session'));
          return;
        }
        const client = new ZkWireClient(
          socket,
          decoder,
          res.sessionId,
          res.timeOut,
          chroot,
          `${host}:${port}`,
        );
        client.attach();
        for (const f of frames.slice(1)) client.onFrame(f);
        resolve(client);
      };
      socket.on('data', onData);
    });
  }

  private attach(): void {
    this.socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () =>
      this.fail(new ZkError(ErrorCode.CONNECTIONLOSS, undefined, 'connection lost')),
    );
    this.ping = setInterval(
      () => this.send(Xid.ping, OpCode.ping, () => undefined),
      this.sessionTimeoutMs / 3,
    );
    this.ping.unref();
  }

  private onFrame(frame: Buffer): void {
    const r = new JuteReader(frame, Number.MAX_SAFE_INTEGER);
    const h = readReplyHeader(r);
    if (h.xid === Xid.notification) {
      // Paths come with the chroot: strip it, as the application gave them without.
      const e = readWatcherEvent(r);
      const path =
        this.chroot !== '' && e.path.startsWith(this.chroot)
          ? e.path.slice(this.chroot.length) || '/'
          : e.path;
      for (const l of this.watchListeners) l({ ...e, path });
      return;
    }
    if (h.xid === Xid.ping) return;
    const p = this.pending.get(h.xid);
    if (p === undefined) return;
    this.pending.delete(h.xid);
    if (h.err !== 0) p.reject(new ZkError(h.err, p.path));
    else p.resolve(r);
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    if (this.ping !== undefined) clearInterval(this.ping);
    this.socket.destroy();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Paths are given as the application sees them; the chroot is added here. */
  private full(path: string): string {
    if (this.chroot === '') return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }

  private send(xid: number, op: number, body: (w: JuteWriter) => void): void {
    const w = new JuteWriter(64);
    w.int(0);
    writeRequestHeader(w, { xid, type: op });
    body(w);
    this.out.push(Buffer.from(w.frame()));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Coalesce every request issued in this turn into one write.
      setImmediate(() => {
        this.flushScheduled = false;
        const out = this.out;
        this.out = [];
        if (this.failure === undefined && out.length > 0) this.socket.write(Buffer.concat(out));
      });
    }
  }

  private request<T>(
    op: number,
    path: string | undefined,
    body: (w: JuteWriter) => void,
    read: (r: JuteReader) => T,
  ): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ZkError(ErrorCode.CONNECTIONLOSS, path, 'client closed'));
    this.xid = this.xid >= 0x7ffffff0 ? 1 : this.xid + 1;
    const xid = this.xid;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(xid, {
        op,
        path,
        resolve: (r) => {
          try {
            resolve(read(r));
          } catch (err) {
            reject(err);
          }
        },
        reject,
      });
      this.send(xid, op, body);
    });
  }

  /** False once the connection is lost or the session closed: every request then fails. */
  get isOpen(): boolean {
    return this.failure === undefined && !this.closed;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  private addDigest(userPassword: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.set(Xid.auth, {
        op: OpCode.auth,
        path: undefined,
        resolve: () => resolve(),
        reject: (err) =>
          reject(
            err instanceof ZkError
              ? new ZkError(ErrorCode.AUTHFAILED, undefined, 'digest authentication failed')
              : err,
          ),
      });
      this.send(Xid.auth, OpCode.auth, (w) =>
        writeAuthPacket(w, { type: 0, scheme: 'digest', auth: Buffer.from(userPassword, 'utf8') }),
      );
      // ZooKeeper answers a good auth packet with OK, and a bad one by closing the session (AUTHFAILED).
    });
  }

  /**
   * Calls `listener` with every watch event of this session (type as ZooKeeper's EventType: 1
   * created, 2 deleted, 3 data changed, 4 children changed); returns a function that removes it.
   */
  onWatch(listener: (event: WatcherEvent) => void): () => void {
    this.watchListeners.add(listener);
    return () => this.watchListeners.delete(listener);
  }

  /** The stat, or undefined when absent; `watch` leaves a watch either way (created/deleted/changed). */
  async exists(path: string, options: { watch?: boolean } = {}): Promise<Stat | undefined> {
    try {
      return await this.request(
        OpCode.exists,
        path,
        (w) => writePathWatchRequest(w, { path: this.full(path), watch: options.watch ?? false }),
        readStat,
      );
    } catch (err) {
      if (err instanceof ZkError && err.errorCode === ErrorCode.NONODE) return undefined;
      throw err;
    }
  }

  /** Data and stat, or undefined when the znode does not exist. */
  async getData(path: string, options: { watch?: boolean } = {}): Promise<ZnodeRead | undefined> {
    try {
      return await this.request(
        OpCode.getData,
        path,
        (w) => writePathWatchRequest(w, { path: this.full(path), watch: options.watch ?? false }),
        (r) => ({ data: r.buffer(), stat: readStat(r) }),
      );
    } catch (err) {
      if (err instanceof ZkError && err.errorCode === ErrorCode.NONODE) return undefined;
      throw err;
    }
  }

  /** Child names (unsorted, as ZooKeeper returns them) and stat, or undefined when absent. */
  async getChildren(
    path: string,
    options: { watch?: boolean } = {},
  ): Promise<{ children: string[]; stat: Stat } | undefined> {
    try {
      return await this.request(
        OpCode.getChildren2,
        path,
        (w) => writePathWatchRequest(w, { path: this.full(path), watch: options.watch ?? false }),
        (r) => ({ children: readChildren(r), stat: readStat(r) }),
      );
    } catch (err) {
      if (err instanceof ZkError && err.errorCode === ErrorCode.NONODE) return undefined;
      throw err;
    }
  }

  /** Creates a znode (persistent unless `flags` says otherwise); resolves with its path. */
  create(path: string, data: Uint8Array | null, options: { flags?: number; acl?: readonly Acl[] } = {}) {
    return this.request(
      OpCode.create,
      path,
      (w) =>
        writeCreateRequest(w, {
          path: this.full(path),
          data,
          acl: options.acl ?? OPEN_ACL,
          flags: options.flags ?? 0,
        }),
      (r) => r.ustring().slice(this.chroot.length) || '/',
    );
  }

  /**
   * Creates persistent znodes atomically in one `multi` (all or none): far fewer transactions than one
   * create each when filling a tree. Rejects with the first failing operation's error.
   */
  createMany(nodes: readonly { path: string; data: Uint8Array | null }[]): Promise<void> {
    return this.request(
      OpCode.multi,
      nodes[0]?.path,
      (w) => {
        for (const n of nodes) {
          writeMultiHeader(w, { type: OpCode.create, done: false, err: -1 });
          writeCreateRequest(w, { path: this.full(n.path), data: n.data, acl: OPEN_ACL, flags: 0 });
        }
        writeMultiHeader(w, { type: -1, done: true, err: -1 });
      },
      (r) => {
        for (;;) {
          const h = readMultiHeader(r);
          if (h.done) return;
          if (h.type === OpCode.error) {
            const err = r.int();
            if (err !== 0 && err !== ErrorCode.RUNTIMEINCONSISTENCY) throw new ZkError(err, undefined);
          } else r.ustring();
        }
      },
    );
  }

  setData(path: string, data: Uint8Array | null, version = -1): Promise<Stat> {
    return this.request(
      OpCode.setData,
      path,
      (w) => writeSetDataRequest(w, { path: this.full(path), data, version }),
      readStat,
    );
  }

  delete(path: string, version = -1): Promise<void> {
    return this.request(
      OpCode.delete,
      path,
      (w) => writePathVersionRequest(w, { path: this.full(path), version }),
      () => undefined,
    );
  }

  /** Ends the session (its ephemerals go) and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === undefined) {
      await this.request(
        OpCode.closeSession,
        undefined,
        () => undefined,
        () => undefined,
      ).catch(() => {});
    }
    this.closed = true;
    if (this.ping !== undefined) clearInterval(this.ping);
    this.socket.destroy();
  }
}
