import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { type Logger, pino } from 'pino';
import { ErrorCode, EventType, type EventTypeCode } from '../jute/constants.js';
import { DEFAULT_MAX_BUFFER } from '../jute/reader.js';
import type { Id } from '../jute/records.js';
import type { ZnodeChange, ZnodeTree, ZnodeTreeSnapshot } from '../types.js';
import { Connection, type ConnectionHost, hex } from './connection.js';
import { answerFourLetterWord, DEFAULT_FOUR_LETTER_WORDS, type ServerStatsView } from './four-letter.js';
import { ClientView, joinPath, normalizeChroot, parentOf, toClientPath } from './paths.js';
import { InMemorySessionStore, type SessionStore } from './session-store.js';
import { WatchManager } from './watches.js';
import type { WriteHandler } from './write-handler.js';

export interface ZooKeeperServerOptions {
  /** The znode tree served (read-only; changes arrive through `onChange`). */
  readonly tree: ZnodeTree;
  /** Where sessions live (default: an InMemorySessionStore owned and disposed by this server). */
  readonly sessions?: SessionStore;
  /** Applies writes; without one every write is answered with `refusedWriteError`. */
  readonly writeHandler?: WriteHandler;
  /**
   * The error code for writes when there is no write handler. Default UNIMPLEMENTED (-6), which every
   * client knows; a read-only ZooKeeper answers NOTREADONLY (-119), but older clients such as
   * node-zookeeper-client 1.1.3 throw from their socket handler on codes they do not know.
   */
  readonly refusedWriteError?: number;
  readonly logger?: Logger;
  /** ZooKeeper's tickTime (default 2000 ms): session timeouts are negotiated into [2, 20] ticks. */
  readonly tickTimeMs?: number;
  readonly minSessionTimeoutMs?: number;
  readonly maxSessionTimeoutMs?: number;
  /** jute.maxbuffer: a frame declaring more is refused by closing the connection (default 0xfffff). */
  readonly maxBufferBytes?: number;
  /** Mounts the tree at this path ('/kafka': the tree's '/brokers' is served as '/kafka/brokers'). */
  readonly chroot?: string;
  /** Four-letter words answered (default ruok, srvr, stat, mntr, isro); '*' for all the server knows. */
  readonly fourLetterWords?: readonly string[];
  /** How long a client that has seen a newer zxid waits for the tree before being refused (2000 ms). */
  readonly catchUpTimeoutMs?: number;
  /** How long a write reply waits for the tree to show the write (10000 ms). */
  readonly writeVisibilityTimeoutMs?: number;
  /** The latest committed zxid; `sync` waits until the tree reaches it. Default: reply at once. */
  readonly sync?: () => Promise<bigint>;
  /** Reported by srvr/stat/mntr. */
  readonly version?: string;
  /** Reported by srvr/stat/mntr (ZooKeeper: standalone, leader, follower, observer). */
  readonly mode?: string;
  /** Serve over TLS with these options. */
  readonly tls?: tls.TlsOptions | undefined;
  /**
   * Whether a connection with these auth ids may read (default: everyone). A refused read is answered
   * NOAUTH. Writes are the write handler's to authorize (it receives the auth ids).
   */
  readonly mayRead?: ((authIds: readonly Id[]) => boolean) | undefined;
  /**
   * Checks a digest id (`user:base64(sha1(user:password))`) at `addauth digest`; an unknown one is
   * answered AUTHFAILED and the connection closed. Default: every digest is recorded (ZooKeeper's way).
   */
  readonly verifyDigest?: ((id: string) => boolean) | undefined;
}

interface Waiter {
  readonly zxid: bigint;
  readonly resolve: (ok: boolean) => void;
  /** performance.now() after which the wait gives up. */
  readonly deadlineMs: number;
}

/**
 * A ZooKeeper wire-protocol server over a ZnodeTree: sessions, reads, watches, four-letter words;
 * writes go to a WriteHandler. Watch events are written before any reply computed from the snapshot
 * that caused them (ZooKeeper's ordering promise), because the server switches snapshots only after
 * sending the events for it and replies in request order on each connection.
 */
export class ZooKeeperServer {
  private readonly logger: Logger;
  private readonly sessions: SessionStore;
  private readonly ownsSessions: boolean;
  private readonly chroot: string;
  private readonly watches = new WatchManager<Connection>();
  private readonly connections = new Set<Connection>();
  private readonly bySession = new Map<bigint, Connection>();
  private readonly fourLetterWords: ReadonlySet<string>;
  private readonly host: ConnectionHost;
  private current: ClientView;
  /**
   * Writes waiting to become visible. One timer serves them all (armed for the earliest deadline
   * while any wait), not one per write: a busy server has hundreds waiting at any time.
   */
  private waiters: Waiter[] = [];
  private waiterTimer: NodeJS.Timeout | undefined;
  private waiterTimerDueMs = Number.POSITIVE_INFINITY;
  private readonly unsubscribeTree: () => void;
  private readonly unsubscribeSessions: () => void;
  private server: Server | undefined;
  private readonly stats = { received: 0, sent: 0, latMin: 0, latMax: 0, latSum: 0, latCount: 0 };

  constructor(private readonly options: ZooKeeperServerOptions) {
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.ownsSessions = options.sessions === undefined;
    this.sessions = options.sessions ?? new InMemorySessionStore();
    this.chroot = normalizeChroot(options.chroot);
    this.fourLetterWords = new Set(options.fourLetterWords ?? DEFAULT_FOUR_LETTER_WORDS);
    const tick = options.tickTimeMs ?? 2000;
    const minSessionTimeoutMs = options.minSessionTimeoutMs ?? 2 * tick;
    const maxSessionTimeoutMs = Math.max(minSessionTimeoutMs, options.maxSessionTimeoutMs ?? 20 * tick);
    this.current = new ClientView(options.tree.current(), this.chroot);

    this.host = {
      logger: this.logger,
      sessions: this.sessions,
      writeHandler: options.writeHandler,
      refusedWriteError: options.refusedWriteError ?? ErrorCode.UNIMPLEMENTED,
      watches: this.watches,
      chroot: this.chroot,
      maxBufferBytes: options.maxBufferBytes ?? DEFAULT_MAX_BUFFER,
      minSessionTimeoutMs,
      maxSessionTimeoutMs,
      catchUpTimeoutMs: options.catchUpTimeoutMs ?? 2000,
      writeVisibilityTimeoutMs: options.writeVisibilityTimeoutMs ?? 10_000,
      handshakeTimeoutMs: maxSessionTimeoutMs,
      view: () => this.current,
      waitForZxid: (zxid, timeoutMs) => this.waitForZxid(zxid, timeoutMs),
      syncZxid: options.sync,
      fourLetterWord: (word) => this.fourLetterWord(word),
      mayRead: options.mayRead,
      verifyDigest: options.verifyDigest,
      attach: (conn) => this.attach(conn),
      detach: (conn) => this.detach(conn),
      recordLatency: (ms) => this.recordLatency(ms),
      countPacket: (dir) => {
        if (dir === 'in') this.stats.received++;
        else this.stats.sent++;
      },
    };
    this.unsubscribeTree = options.tree.onChange(
      (snapshot, changes) => this.onTreeChange(snapshot, changes),
      () => !this.watches.isEmpty,
    );
    this.unsubscribeSessions = this.sessions.onEnd((id, reason) => {
      const conn = this.bySession.get(id);
      if (conn === undefined) return;
      if (reason === 'moved') conn.markMoved();
      else conn.destroy(`session ${reason}`);
    });
  }

  /** Starts listening (port 0: any free port). Resolves with the bound address. */
  listen(port = 2181, host = '127.0.0.1'): Promise<AddressInfo> {
    const secure = this.options.tls;
    const server =
      secure === undefined
        ? createServer((socket) => this.handleConnection(socket))
        : tls.createServer(secure, (socket) => this.handleConnection(socket));
    if (secure !== undefined) {
      server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        this.logger.warn(
          { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message },
          'zk refusing a connection: TLS handshake failed',
        );
      });
    }
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'zk listener error'));
        const addr = server.address() as AddressInfo;
        this.logger.info({ host: addr.address, port: addr.port, chroot: this.chroot || '/' }, 'zk listening');
        resolve(addr);
      });
    });
  }

  /** Serves a socket accepted elsewhere (e.g. a shared listener). */
  handleConnection(socket: Socket): void {
    const conn = new Connection(this.host, socket);
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }

  /**
   * Stops listening and drops every connection. Sessions are not ended: their clients reconnect to
   * another server (or here) and keep them, unless they expire.
   */
  async close(): Promise<void> {
    this.unsubscribeTree();
    this.unsubscribeSessions();
    const server = this.server;
    this.server = undefined;
    const closed =
      server === undefined ? Promise.resolve() : new Promise<void>((r) => server.close(() => r()));
    for (const conn of [...this.connections]) conn.destroy('server closing');
    this.connections.clear();
    const waiting = this.waiters;
    this.waiters = [];
    this.disarmWaiterTimer();
    for (const w of waiting) w.resolve(false);
    if (this.ownsSessions && this.sessions instanceof InMemorySessionStore) this.sessions.dispose();
    await closed;
  }

  /** The zxid of the snapshot being served. */
  get zxid(): bigint {
    return this.current.zxid;
  }

  /** Live connections and watches, for tests and metrics. */
  get connectionCount(): number {
    return this.connections.size;
  }

  get watchCount(): number {
    return this.watches.count;
  }

  private attach(conn: Connection): void {
    const old = this.bySession.get(conn.sessionId);
    if (old !== undefined && old !== conn) old.destroy('session reattached on another connection');
    this.bySession.set(conn.sessionId, conn);
  }

  private detach(conn: Connection): void {
    if (this.bySession.get(conn.sessionId) === conn) this.bySession.delete(conn.sessionId);
  }

  private onTreeChange(snapshot: ZnodeTreeSnapshot, changes: readonly ZnodeChange[]): void {
    if (snapshot.zxid < this.current.zxid) {
      this.logger.warn(
        { zxid: hex(snapshot.zxid), served: hex(this.current.zxid) },
        'zk tree went back in zxid',
      );
    }
    if (this.watches.isEmpty) {
      // Nothing to notify: skip building the events (a batch of offset commits is one change each).
      this.publishView(snapshot);
      return;
    }
    // Events in change order, as ZooKeeper applies each create or delete: the znode's event, then its
    // parent's NodeChildrenChanged (one per child, as persistent watches see them). The tree may or may
    // not report a parent's child-list change too: it adds nothing for a parent already derived.
    const seen = new Set<string>();
    const derived = new Set<string>();
    const events: [EventTypeCode, string][] = [];
    const add = (type: EventTypeCode, path: string): void => {
      const key = `${type}${path}`;
      if (seen.has(key)) return;
      seen.add(key);
      events.push([type, path]);
    };
    const childOf = (path: string): void => {
      if (path === '/') return;
      const parent = parentOf(path);
      derived.add(parent);
      seen.add(`${EventType.NodeChildrenChanged}${parent}`);
      events.push([EventType.NodeChildrenChanged, parent]);
    };
    for (const c of changes) {
      switch (c.kind) {
        case 'created':
          add(EventType.NodeCreated, c.path);
          childOf(c.path);
          break;
        case 'deleted':
          add(EventType.NodeDeleted, c.path);
          childOf(c.path);
          break;
        case 'data':
          add(EventType.NodeDataChanged, c.path);
          break;
        case 'children':
          if (!derived.has(c.path)) add(EventType.NodeChildrenChanged, c.path);
          break;
      }
    }
    for (const [type, treePath] of events) {
      const clientPath = toClientPath(this.chroot, treePath);
      for (const conn of this.watches.trigger(type, clientPath)) conn.notify(type, clientPath);
    }
    this.publishView(snapshot);
  }

  /** Serves `snapshot` from now on and releases the writes it makes visible. */
  private publishView(snapshot: ZnodeTreeSnapshot): void {
    this.current = new ClientView(snapshot, this.chroot);
    if (this.waiters.length > 0) {
      const zxid = snapshot.zxid;
      const still: Waiter[] = [];
      for (const w of this.waiters) {
        if (w.zxid <= zxid) {
          w.resolve(true);
        } else {
          still.push(w);
        }
      }
      this.waiters = still;
      if (still.length === 0) this.disarmWaiterTimer();
    }
  }

  private waitForZxid(zxid: bigint, timeoutMs: number): Promise<boolean> {
    if (this.current.zxid >= zxid) return Promise.resolve(true);
    return new Promise((resolve) => {
      const deadlineMs = performance.now() + timeoutMs;
      this.waiters.push({ zxid, resolve, deadlineMs });
      if (deadlineMs < this.waiterTimerDueMs) this.armWaiterTimer(deadlineMs);
    });
  }

  private armWaiterTimer(dueMs: number): void {
    if (this.waiterTimer !== undefined) clearTimeout(this.waiterTimer);
    this.waiterTimerDueMs = dueMs;
    this.waiterTimer = setTimeout(() => this.expireWaiters(), Math.max(0, dueMs - performance.now()));
    this.waiterTimer.unref();
  }

  private disarmWaiterTimer(): void {
    if (this.waiterTimer !== undefined) clearTimeout(this.waiterTimer);
    this.waiterTimer = undefined;
    this.waiterTimerDueMs = Number.POSITIVE_INFINITY;
  }

  /** Gives up the waits past their deadline; re-arms for the earliest one left. */
  private expireWaiters(): void {
    this.waiterTimer = undefined;
    this.waiterTimerDueMs = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const still: Waiter[] = [];
    const expired: Waiter[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const w of this.waiters) {
      if (w.deadlineMs <= now) expired.push(w);
      else {
        still.push(w);
        if (w.deadlineMs < next) next = w.deadlineMs;
      }
    }
    this.waiters = still;
    if (still.length > 0) this.armWaiterTimer(next);
    for (const w of expired) w.resolve(false);
  }

  private recordLatency(ms: number): void {
    const s = this.stats;
    const v = Math.round(ms);
    s.latMin = s.latCount === 0 ? v : Math.min(s.latMin, v);
    s.latMax = Math.max(s.latMax, v);
    s.latSum += ms;
    s.latCount++;
  }

  private fourLetterWord(word: string): string {
    const allowed = this.fourLetterWords.has(word) || this.fourLetterWords.has('*');
    this.logger.debug({ word, allowed }, 'zk four-letter word');
    if (!allowed) return `${word} is not executed because it is not in the whitelist.\n`;
    return answerFourLetterWord(word, this.statsView());
  }

  private statsView(): ServerStatsView {
    const s = this.stats;
    const view = this.current;
    const conns = [...this.connections];
    return {
      version: this.options.version ?? '3.8.4-kbroker, built on 1970-01-01 00:00 UTC',
      mode: this.options.mode ?? 'standalone',
      zxid: view.zxid,
      latency: { min: s.latMin, avg: s.latCount === 0 ? 0 : s.latSum / s.latCount, max: s.latMax },
      packetsReceived: s.received,
      packetsSent: s.sent,
      outstanding: conns.reduce((n, c) => n + c.queued, 0),
      connections: conns
        .filter((c) => c.isConnected)
        .map((c) => ({ remote: `/${c.remote}`, queued: c.queued, received: c.received, sent: c.sent })),
      watchCount: this.watches.count,
      readOnly: this.options.writeHandler === undefined,
      tree: () => {
        let nodes = 0;
        let ephemerals = 0;
        let dataBytes = 0;
        const stack = ['/'];
        for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
          const node = view.get(p);
          if (node === undefined) continue;
          nodes++;
          if (node.stat.ephemeralOwner !== 0n) ephemerals++;
          dataBytes += p.length + (node.data?.byteLength ?? 0);
          for (const c of view.children(p) ?? []) stack.push(joinPath(p, c));
        }
        return { nodes, ephemerals, dataBytes };
      },
    };
  }
}
