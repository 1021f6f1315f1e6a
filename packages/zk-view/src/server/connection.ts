import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  AddWatchMode,
  ErrorCode,
  EventType,
  type EventTypeCode,
  KeeperState,
  OpCode,
  Perms,
  WatcherType,
  Xid,
} from '../jute/constants.js';
import { JuteError } from '../jute/errors.js';
import { FrameDecoder } from '../jute/frame.js';
import { JuteReader } from '../jute/reader.js';
import {
  type Id,
  readAuthPacket,
  readConnectRequest,
  readCreateRequest,
  readMultiHeader,
  readPathIntRequest,
  readPathRequest,
  readPathVersionRequest,
  readPathWatchRequest,
  readSetAclRequest,
  readSetDataRequest,
  readSetWatches,
  writeAcl,
  writeChildren,
  writeClientInfo,
  writeConnectResponse,
  writeGetDataResponse,
  writeMultiHeader,
  writeReplyHeader,
  writeStat,
  writeWatcherEvent,
} from '../jute/records.js';
import { JuteWriter } from '../jute/writer.js';
import { type Stat, statOf, type Znode } from '../types.js';
import { KNOWN_FOUR_LETTER_WORDS } from './four-letter.js';
import { type ClientView, invalidPathReason, joinPath, toClientPath } from './paths.js';
import type { SessionRecord, SessionStore } from './session-store.js';
import { WatchManager } from './watches.js';
import type { WriteHandler, WriteOp, WriteResult } from './write-handler.js';

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly logger: Logger;
  readonly sessions: SessionStore;
  readonly writeHandler: WriteHandler | undefined;
  /** The error code for writes when there is no write handler. */
  readonly refusedWriteError: number;
  readonly watches: WatchManager<Connection>;
  readonly chroot: string;
  readonly maxBufferBytes: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly catchUpTimeoutMs: number;
  readonly writeVisibilityTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  /** The snapshot replies are computed from (the one whose watches have fired). */
  view(): ClientView;
  /** Resolves true once the served tree reaches `zxid`, false after `timeoutMs`. */
  waitForZxid(zxid: bigint, timeoutMs: number): Promise<boolean>;
  /** The latest committed zxid, for sync (undefined: the tree is as fresh as it gets). */
  syncZxid: (() => Promise<bigint>) | undefined;
  fourLetterWord(word: string): string;
  /** Whether these auth ids may read; undefined: everyone may. */
  readonly mayRead: ((authIds: readonly Id[]) => boolean) | undefined;
  /** Whether a digest id is a known user's; undefined: every digest is recorded. */
  readonly verifyDigest: ((id: string) => boolean) | undefined;
  attach(conn: Connection): void;
  detach(conn: Connection): void;
  recordLatency(ms: number): void;
  countPacket(direction: 'in' | 'out'): void;
}

/** A reply: error code and body; null sends nothing. */
interface Reply {
  readonly err: number;
  readonly body?: (w: JuteWriter) => void;
  /** Close the connection once the reply is written. */
  readonly close?: boolean;
}

/** A request refused with a ZooKeeper error code. */
class ZkError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const OPEN_ACL = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }] as const;
const ZERO_PASSWORD = new Uint8Array(16);
const EMPTY_STAT: Stat = {
  czxid: 0n,
  mzxid: 0n,
  ctime: 0n,
  mtime: 0n,
  version: 0,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: 0n,
  dataLength: 0,
  numChildren: 0,
  pzxid: 0n,
};

const WRITE_OPS: ReadonlySet<number> = new Set([
  OpCode.create,
  OpCode.create2,
  OpCode.createContainer,
  OpCode.createTTL,
  OpCode.delete,
  OpCode.deleteContainer,
  OpCode.setData,
  OpCode.setACL,
  OpCode.check,
]);

/** Requests that read the tree (or watch it): refused when the host's `mayRead` says so. */
const READ_OPS: ReadonlySet<number> = new Set([
  OpCode.getData,
  OpCode.exists,
  OpCode.getChildren,
  OpCode.getChildren2,
  OpCode.getAllChildrenNumber,
  OpCode.getACL,
  OpCode.multiRead,
  OpCode.getEphemerals,
  OpCode.addWatch,
  OpCode.setWatches,
  OpCode.setWatches2,
]);

/** Requests read ahead of the one being answered, per connection, before reading pauses. */
const MAX_QUEUED_REQUESTS = 1024;

type State = 'new' | 'connecting' | 'connected' | 'closed';

/** One client connection: handshake, then requests answered strictly in order. */
export class Connection {
  private state: State = 'new';
  private head: Buffer | undefined = Buffer.alloc(0);
  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private busy = false;
  /** Reading is paused because `queue` is full (a client pipelining faster than we answer). */
  private queueFull = false;
  private corked = false;
  private sessionIdValue = 0n;
  /** The session was taken over by another server (see markMoved). */
  private moved = false;
  private timeoutMs: number;
  private lastHeard = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly authIds: Id[];
  readonly remote: string;
  received = 0;
  sent = 0;

  constructor(
    private readonly host: ConnectionHost,
    private readonly socket: Socket,
  ) {
    this.decoder = new FrameDecoder(host.maxBufferBytes);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.authIds = [{ scheme: 'ip', id: socket.remoteAddress ?? '' }];
    this.timeoutMs = host.handshakeTimeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', (err) => host.logger.debug({ err, remote: this.remote }, 'zk connection error'));
    socket.on('drain', () => {
      if (this.state !== 'closed' && !this.queueFull) socket.resume();
    });
    this.armIdleTimer();
  }

  /** Read through a method so checks after an await are not narrowed away. */
  private closed(): boolean {
    return this.state === 'closed';
  }

  get sessionId(): bigint {
    return this.sessionIdValue;
  }

  get queued(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /**
   * The session moved to another server. As a ZooKeeper server whose session moved, this one keeps
   * serving the old connection's reads and watches, and closes it on its next write (ZooKeeper's
   * SessionMovedException closes the connection rather than answering).
   */
  markMoved(): void {
    if (this.state === 'closed' || this.moved) return;
    this.moved = true;
    this.host.logger.debug(
      { remote: this.remote, sessionId: hex(this.sessionIdValue) },
      'zk session moved away',
    );
  }

  /** Drops the connection (the session lives on). */
  destroy(reason: string): void {
    if (this.state === 'closed') return;
    this.host.logger.debug({ remote: this.remote, sessionId: hex(this.sessionIdValue), reason }, 'zk close');
    this.state = 'closed';
    this.socket.destroy();
    this.cleanup();
  }

  /** Sends a watch event (xid -1) now, ahead of any reply not yet written. */
  notify(type: EventTypeCode, clientPath: string): void {
    if (this.state !== 'connected') return;
    const w = new JuteWriter(32 + clientPath.length * 3);
    w.int(0);
    writeReplyHeader(w, { xid: Xid.notification, zxid: -1n, err: 0 });
    writeWatcherEvent(w, { type, state: KeeperState.SyncConnected, path: clientPath });
    this.write(w.frame());
  }

  /** One frame, whole or in parts (a reply's cached encoding is written as it is, not copied). */
  private write(frame: Buffer | readonly Uint8Array[]): void {
    this.sent++;
    this.host.countPacket('out');
    let ok = true;
    if (frame instanceof Uint8Array) ok = this.socket.write(frame);
    else for (const part of frame) ok = this.socket.write(part) && ok;
    if (!ok) this.socket.pause();
  }

  private onClose(): void {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.cleanup();
    }
  }

  private cleanup(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.queue.length = 0;
    this.host.watches.removeConnection(this);
    this.host.detach(this);
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const due = this.lastHeard + this.timeoutMs - Date.now();
    this.idleTimer = setTimeout(
      () => {
        if (this.state === 'closed') return;
        if (this.busy || Date.now() - this.lastHeard < this.timeoutMs) {
          this.armIdleTimer();
          return;
        }
        this.destroy(`no packet for ${this.timeoutMs} ms`);
      },
      Math.max(10, due),
    );
    this.idleTimer.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastHeard = Date.now();
    if (this.head !== undefined) {
      // Before the first frame, the first 4 bytes may be a four-letter word instead of a length.
      const head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      if (head.length < 4) {
        this.head = head;
        return;
      }
      this.head = undefined;
      const word = head.toString('latin1', 0, 4);
      if (KNOWN_FOUR_LETTER_WORDS.has(word)) {
        this.state = 'closed';
        this.socket.end(this.host.fourLetterWord(word));
        this.cleanup();
        return;
      }
      chunk = head;
    }
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const len = err instanceof JuteError ? err.message : String(err);
      this.host.logger.warn(
        { remote: this.remote, max: this.host.maxBufferBytes },
        `zk ${len}: closing connection`,
      );
      this.destroy('Len error');
      return;
    }
    if (frames.length === 0) return;
    for (const f of frames) this.queue.push(f);
    if (this.queue.length >= MAX_QUEUED_REQUESTS && !this.queueFull) {
      // Bounded memory per connection: read no more until the backlog is answered.
      this.queueFull = true;
      this.socket.pause();
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.pump();
  }

  private pump(): void {
    while (!this.busy && this.state !== 'closed') {
      if (this.queueFull && this.queue.length < MAX_QUEUED_REQUESTS / 2) {
        this.queueFull = false;
        if (!this.socket.writableNeedDrain) this.socket.resume();
      }
      const frame = this.queue.shift();
      if (frame === undefined) return;
      const started = performance.now();
      const result = this.state === 'new' ? this.handshake(frame) : this.request(frame, started);
      if (result !== undefined) {
        this.busy = true;
        result.then(
          () => this.resume(),
          (err: unknown) => {
            this.host.logger.error({ err, remote: this.remote }, 'zk request failed');
            this.destroy('internal error');
          },
        );
      }
    }
  }

  private resume(): void {
    this.busy = false;
    this.pump();
  }

  // ---------------------------------------------------------------- handshake

  private handshake(frame: Buffer): Promise<void> {
    this.state = 'connecting';
    return this.connect(frame);
  }

  private async connect(frame: Buffer): Promise<void> {
    const { host } = this;
    let req: ReturnType<typeof readConnectRequest>;
    try {
      req = readConnectRequest(new JuteReader(frame, host.maxBufferBytes));
    } catch (err) {
      host.logger.warn({ remote: this.remote, err: String(err) }, 'zk malformed connect request');
      this.destroy('malformed connect request');
      return;
    }
    const served = host.view().zxid;
    if (req.lastZxidSeen > served) {
      const caughtUp = await host.waitForZxid(req.lastZxidSeen, host.catchUpTimeoutMs);
      if (!caughtUp) {
        host.logger.info(
          { remote: this.remote, clientZxid: hex(req.lastZxidSeen), zxid: hex(host.view().zxid) },
          'zk refusing session request: client has seen a newer zxid; client must try another server',
        );
        this.destroy('client ahead of tree');
        return;
      }
    }
    if (this.closed()) return;
    const timeoutMs = Math.min(host.maxSessionTimeoutMs, Math.max(host.minSessionTimeoutMs, req.timeOut));
    let session: SessionRecord | undefined;
    try {
      session =
        req.sessionId === 0n
          ? await host.sessions.create(timeoutMs)
          : await host.sessions.reattach(req.sessionId, req.passwd ?? NO_PASSWORD, timeoutMs);
    } catch (err) {
      // Like a ZooKeeper server outside the quorum: drop the connection, the client tries another.
      host.logger.warn(
        { remote: this.remote, sessionId: hex(req.sessionId), err: String(err) },
        'zk session request failed; closing the connection so the client retries',
      );
      this.destroy('session store unavailable');
      return;
    }
    if (session === undefined) {
      host.logger.info(
        { remote: this.remote, sessionId: hex(req.sessionId) },
        'zk invalid session: expired, closed or wrong password',
      );
      if (!this.closed()) {
        this.sendConnectResponse(0, 0n, ZERO_PASSWORD, req.readOnly !== undefined);
        this.state = 'closed';
        this.socket.end();
        this.cleanup();
      }
      return;
    }
    host.logger.debug(
      { remote: this.remote, sessionId: hex(session.id), timeoutMs },
      req.sessionId === 0n ? 'zk session created' : 'zk session reattached',
    );
    if (this.closed()) return;
    this.sessionIdValue = session.id;
    this.timeoutMs = timeoutMs;
    host.attach(this);
    this.sendConnectResponse(timeoutMs, session.id, session.password, req.readOnly !== undefined);
    this.state = 'connected';
    this.armIdleTimer();
  }

  private sendConnectResponse(
    timeOut: number,
    sessionId: bigint,
    passwd: Uint8Array,
    withReadOnly: boolean,
  ): void {
    const w = new JuteWriter(64);
    w.int(0);
    writeConnectResponse(w, {
      protocolVersion: 0,
      timeOut,
      sessionId,
      passwd,
      ...(withReadOnly ? { readOnly: false } : {}),
    });
    this.write(w.frame());
  }

  // ---------------------------------------------------------------- requests

  private request(frame: Buffer, started: number): Promise<void> | undefined {
    this.received++;
    this.host.countPacket('in');
    if (frame.length < 8) {
      this.host.logger.warn(
        { remote: this.remote, bytes: frame.length },
        'zk request shorter than its header',
      );
      this.destroy('short request');
      return undefined;
    }
    const xid = frame.readInt32BE(0);
    const type = frame.readInt32BE(4);
    const r = new JuteReader(frame, this.host.maxBufferBytes, 8);
    this.host.sessions.touch(this.sessionIdValue);
    let out: Reply | Promise<Reply | null> | null;
    try {
      const mayRead = this.host.mayRead;
      if (mayRead !== undefined && READ_OPS.has(type) && !mayRead(this.authIds)) {
        this.host.logger.info({ remote: this.remote, type }, 'zk read refused: not authenticated');
        throw new ZkError(ErrorCode.NOAUTH, 'reads need an authenticated user');
      }
      out = this.dispatch(xid, type, r);
    } catch (err) {
      out = this.failure(type, err);
    }
    if (out instanceof Promise) {
      return out.then(
        (reply) => {
          if (reply !== null) this.finish(xid, reply, started);
        },
        (err: unknown) => this.finish(xid, this.failure(type, err), started),
      );
    }
    if (out !== null) this.finish(xid, out, started);
    return undefined;
  }

  private failure(type: number, err: unknown): Reply {
    if (err instanceof ZkError) {
      this.host.logger.debug(
        { remote: this.remote, type, code: err.code, reason: err.message },
        'zk error reply',
      );
      return { err: err.code };
    }
    if (err instanceof JuteError) {
      this.host.logger.warn({ remote: this.remote, type, reason: err.message }, 'zk malformed request');
      return { err: ErrorCode.MARSHALLINGERROR };
    }
    this.host.logger.error({ remote: this.remote, type, err }, 'zk request failed');
    return { err: ErrorCode.SYSTEMERROR };
  }

  private finish(xid: number, reply: Reply, started: number): void {
    if (this.state === 'closed') return;
    // Room for a header and a typical znode (a partition state's reply is ~200 bytes) without growing.
    const w = new JuteWriter(512);
    w.int(0);
    const zxid = this.host.view().zxid;
    writeReplyHeader(w, { xid, zxid, err: reply.err });
    if (reply.body !== undefined) reply.body(w);
    this.write(w.frameParts());
    this.host.recordLatency(performance.now() - started);
    if (reply.close === true) {
      this.state = 'closed';
      this.socket.end();
      this.cleanup();
    }
  }

  private dispatch(xid: number, type: number, r: JuteReader): Reply | Promise<Reply | null> | null {
    switch (type) {
      case OpCode.ping:
        return { err: 0 };
      case OpCode.getData: {
        const { path, watch } = readPathWatchRequest(r);
        const { node } = this.read(path);
        if (watch) this.host.watches.add(this, 'data', path);
        return { err: 0, body: (w) => writeGetDataResponse(w, node.data, node.stat) };
      }
      case OpCode.exists: {
        const { path, watch } = readPathWatchRequest(r);
        // The one read ZooKeeper checks a path for (FinalRequestProcessor): a NUL in it.
        if (path.includes('\0')) throw new ZkError(ErrorCode.BADARGUMENTS, 'a NUL in the path');
        const node = this.host.view().get(lookupPath(path));
        if (watch) this.host.watches.add(this, 'data', path);
        if (node === undefined) return { err: ErrorCode.NONODE };
        return { err: 0, body: (w) => writeStat(w, node.stat) };
      }
      case OpCode.getChildren:
      case OpCode.getChildren2: {
        const { path, watch } = readPathWatchRequest(r);
        const { node, view } = this.read(path);
        const children = view.children(lookupPath(path)) ?? [];
        if (watch) this.host.watches.add(this, 'child', path);
        return {
          err: 0,
          body: (w) => {
            writeChildren(w, children);
            if (type === OpCode.getChildren2) writeStat(w, node.stat);
          },
        };
      }
      case OpCode.getAllChildrenNumber: {
        const { path } = readPathRequest(r);
        const { view } = this.read(path);
        // DataTree.getAllChildrenNumber counts the keys under `path + '/'`: for '' that is every znode
        // but the root's '' key, the root's '/' key included.
        const total = countDescendants(view, lookupPath(path)) + (path === '' ? 1 : 0);
        return { err: 0, body: (w) => w.int(total) };
      }
      case OpCode.getACL: {
        const { path } = readPathRequest(r);
        const { node } = this.read(path);
        return {
          err: 0,
          body: (w) => {
            w.vector(OPEN_ACL, writeAcl);
            writeStat(w, node.stat);
          },
        };
      }
      case OpCode.multiRead:
        return this.multiRead(r);
      case OpCode.sync:
        return this.sync(readPathRequest(r).path);
      case OpCode.getEphemerals:
        readPathRequest(r);
        // Ephemerals of *this* session: sessions served here never create znodes.
        return { err: 0, body: (w) => w.vector([] as string[], () => {}) };
      case OpCode.whoAmI: {
        const infos = this.authIds.map((id) => ({
          authScheme: id.scheme,
          user: id.scheme === 'digest' ? id.id.slice(0, Math.max(0, id.id.indexOf(':'))) : id.id,
        }));
        return { err: 0, body: (w) => w.vector(infos, writeClientInfo) };
      }
      case OpCode.auth:
        return this.auth(r);
      case OpCode.sasl:
        this.host.logger.info({ remote: this.remote }, 'zk SASL authentication is not supported');
        return { err: ErrorCode.AUTHFAILED };
      case OpCode.setWatches:
      case OpCode.setWatches2:
        this.setWatches(r, type === OpCode.setWatches2);
        return { err: 0 };
      case OpCode.addWatch: {
        // Not validated, as ZooKeeper (FinalRequestProcessor): a watch on a path no znode can have
        // never fires. An unknown mode throws there, which it answers MARSHALLINGERROR.
        const { path, value: mode } = readPathIntRequest(r);
        if (mode === AddWatchMode.Persistent) this.host.watches.add(this, 'persistent', path);
        else if (mode === AddWatchMode.PersistentRecursive) this.host.watches.add(this, 'recursive', path);
        else throw new ZkError(ErrorCode.MARSHALLINGERROR, `unknown addWatch mode ${mode}`);
        return { err: 0, body: (w) => w.int(0) };
      }
      case OpCode.checkWatches:
      case OpCode.removeWatches: {
        // ZooKeeper 3.8 knows the watcher types Children, Data and Any here (WatcherType.fromInt): the
        // Persistent and PersistentRecursive types came in 3.9 and, like any other, throw there, which
        // it answers MARSHALLINGERROR; Any removes persistent watches too.
        const { path, value: watcherType } = readPathIntRequest(r);
        const kinds = watcherType <= WatcherType.Any ? WatchManager.kindsFor(watcherType) : undefined;
        if (kinds === undefined)
          throw new ZkError(ErrorCode.MARSHALLINGERROR, `unknown watcher type ${watcherType}`);
        let found = false;
        for (const k of kinds) {
          found =
            (type === OpCode.removeWatches
              ? this.host.watches.remove(this, k, path)
              : this.host.watches.has(this, k, path)) || found;
        }
        return { err: found ? 0 : ErrorCode.NOWATCHER };
      }
      case OpCode.closeSession:
        return this.closeSession();
      case OpCode.multi:
        if (this.moved) return this.closeMoved(type);
        return this.multi(r);
      case OpCode.reconfig:
        this.host.logger.info({ remote: this.remote }, 'zk reconfig refused: the ensemble is kbroker');
        return { err: ErrorCode.RECONFIGDISABLED };
      default:
        if (WRITE_OPS.has(type)) return this.moved ? this.closeMoved(type) : this.writeOne(type, r);
        this.host.logger.warn({ remote: this.remote, xid, type }, 'zk unknown request type');
        return { err: ErrorCode.UNIMPLEMENTED };
    }
  }

  /**
   * The node at a client path, or NONODE. Reads do not validate paths, as ZooKeeper's
   * FinalRequestProcessor does not: an invalid path names no znode (NONODE), and '' is the root.
   */
  private read(path: string): { node: Znode; view: ClientView } {
    const view = this.host.view();
    const node = view.get(lookupPath(path));
    if (node === undefined) throw new ZkError(ErrorCode.NONODE, path);
    return { node, view };
  }

  private multiRead(r: JuteReader): Reply {
    const results: ((w: JuteWriter) => void)[] = [];
    for (;;) {
      const h = readMultiHeader(r);
      if (h.done) break;
      if (h.type !== OpCode.getData && h.type !== OpCode.getChildren) {
        throw new JuteError('invalid', `multiRead: op type ${h.type} is not a read`);
      }
      const { path, watch } = readPathWatchRequest(r);
      let result: (w: JuteWriter) => void;
      try {
        const { node, view } = this.read(path);
        if (h.type === OpCode.getData) {
          if (watch) this.host.watches.add(this, 'data', path);
          result = (w) => {
            writeMultiHeader(w, { type: OpCode.getData, done: false, err: 0 });
            writeGetDataResponse(w, node.data, node.stat);
          };
        } else {
          const children = view.children(path) ?? [];
          if (watch) this.host.watches.add(this, 'child', path);
          result = (w) => {
            writeMultiHeader(w, { type: OpCode.getChildren, done: false, err: 0 });
            writeChildren(w, children);
          };
        }
      } catch (err) {
        if (!(err instanceof ZkError)) throw err;
        const code = err.code;
        result = (w) => {
          writeMultiHeader(w, { type: OpCode.error, done: false, err: code });
          w.int(code);
        };
      }
      results.push(result);
    }
    return {
      err: 0,
      body: (w) => {
        for (const res of results) res(w);
        writeMultiHeader(w, { type: -1, done: true, err: -1 });
      },
    };
  }

  /** Echoes the path, valid or not, as ZooKeeper does. */
  private async sync(path: string): Promise<Reply> {
    if (this.host.syncZxid !== undefined) {
      const target = await this.host.syncZxid();
      await this.host.waitForZxid(target, this.host.writeVisibilityTimeoutMs);
    }
    return { err: 0, body: (w) => w.ustring(path) };
  }

  private auth(r: JuteReader): Reply {
    const packet = readAuthPacket(r);
    const auth = Buffer.from(packet.auth ?? new Uint8Array(0)).toString('utf8');
    const colon = auth.indexOf(':');
    if (packet.scheme === 'digest' && colon > 0) {
      const user = auth.slice(0, colon);
      const digest = createHash('sha1').update(auth).digest('base64');
      const id = `${user}:${digest}`;
      if (this.host.verifyDigest !== undefined && !this.host.verifyDigest(id)) {
        this.host.logger.warn(
          { remote: this.remote, user },
          'zk auth failed: unknown user or wrong password',
        );
        return { err: ErrorCode.AUTHFAILED, close: true };
      }
      if (!this.authIds.some((a) => a.scheme === 'digest' && a.id === id)) {
        this.authIds.push({ scheme: 'digest', id });
      }
      this.host.logger.debug({ remote: this.remote, user }, 'zk digest auth recorded');
      return { err: 0 };
    }
    // ZooKeeper answers AUTHFAILED and closes the connection.
    this.host.logger.info(
      { remote: this.remote, scheme: packet.scheme },
      'zk auth failed: unsupported scheme',
    );
    return { err: ErrorCode.AUTHFAILED, close: true };
  }

  private setWatches(r: JuteReader, v2: boolean): void {
    const sw = readSetWatches(r, v2);
    const { watches } = this.host;
    const view = this.host.view();
    // DataTree.setWatches: fire at once for what changed after relativeZxid, else re-register.
    for (const path of sw.dataWatches) {
      const node = view.get(lookupPath(path));
      if (node === undefined) this.notify(EventType.NodeDeleted, path);
      else if (node.stat.mzxid > sw.relativeZxid) this.notify(EventType.NodeDataChanged, path);
      else watches.add(this, 'data', path);
    }
    for (const path of sw.existWatches) {
      if (view.get(lookupPath(path)) !== undefined) this.notify(EventType.NodeCreated, path);
      else watches.add(this, 'data', path);
    }
    for (const path of sw.childWatches) {
      const node = view.get(lookupPath(path));
      if (node === undefined) this.notify(EventType.NodeDeleted, path);
      else if (node.stat.pzxid > sw.relativeZxid) this.notify(EventType.NodeChildrenChanged, path);
      else watches.add(this, 'child', path);
    }
    for (const path of sw.persistentWatches) watches.add(this, 'persistent', path);
    for (const path of sw.persistentRecursiveWatches) watches.add(this, 'recursive', path);
  }

  /** A write on a connection whose session moved away: closed unanswered, as ZooKeeper does. */
  private closeMoved(type: number): null {
    this.host.logger.info(
      { remote: this.remote, sessionId: hex(this.sessionIdValue), type },
      'zk write on a connection whose session moved to another server; closing it',
    );
    this.destroy('session moved');
    return null;
  }

  private async closeSession(): Promise<Reply> {
    const id = this.sessionIdValue;
    // Detach first so the store's end notification does not drop us before the reply goes out.
    this.host.detach(this);
    await this.host.sessions.close(id);
    this.host.logger.debug({ remote: this.remote, sessionId: hex(id) }, 'zk session closed by client');
    return { err: 0, close: true };
  }

  // ---------------------------------------------------------------- writes

  private parseWrite(type: number, r: JuteReader): WriteOp {
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL: {
        const c = readCreateRequest(r, type === OpCode.createTTL);
        return {
          op: 'create',
          opCode: type,
          path: this.writePath(c.path, 'create'),
          data: c.data,
          acl: c.acl,
          flags: c.flags,
          ...(c.ttl !== undefined ? { ttl: c.ttl } : {}),
        };
      }
      case OpCode.delete: {
        const d = readPathVersionRequest(r);
        return { op: 'delete', opCode: type, path: this.writePath(d.path, 'delete'), version: d.version };
      }
      case OpCode.deleteContainer: {
        const d = readPathRequest(r);
        return { op: 'delete', opCode: type, path: this.writePath(d.path, 'delete'), version: -1 };
      }
      case OpCode.setData: {
        const s = readSetDataRequest(r);
        return {
          op: 'setData',
          opCode: type,
          path: this.writePath(s.path),
          data: s.data,
          version: s.version,
        };
      }
      case OpCode.setACL: {
        const s = readSetAclRequest(r);
        return { op: 'setACL', opCode: type, path: this.writePath(s.path), acl: s.acl, version: s.version };
      }
      case OpCode.check: {
        const c = readPathVersionRequest(r);
        return { op: 'check', opCode: type, path: this.writePath(c.path), version: c.version };
      }
      default:
        throw new JuteError('invalid', `op type ${type} is not a write`);
    }
  }

  /**
   * A client path checked and mapped to the tree; writes outside the chroot are not permitted. The
   * checks, and which error comes first, are PrepRequestProcessor's: a create or delete needs a '/' and
   * no NUL (and a delete no ZooKeeper system path) before its parent is looked up, so an invalid path
   * whose parent does not exist is NONODE; a create's own path is validated after that (BADARGUMENTS),
   * and a delete of an invalid path finds no znode (NONODE). setData, check and setACL validate first.
   */
  private writePath(path: string, kind: 'create' | 'delete' | 'other' = 'other'): string {
    if (kind !== 'other') {
      const slash = path.lastIndexOf('/');
      if (slash < 0 || path.includes('\0') || (kind === 'delete' && SYSTEM_PATHS.has(path)))
        throw new ZkError(ErrorCode.BADARGUMENTS, `invalid path ${JSON.stringify(path)}`);
      if (invalidPathReason(path) !== undefined) {
        const parent = this.host.view().get(lookupPath(path.slice(0, slash)));
        if (parent === undefined || kind === 'delete')
          throw new ZkError(ErrorCode.NONODE, `${JSON.stringify(path)}: no such znode or parent`);
      }
    }
    checkPath(path);
    const t = this.host.view().toTree(path);
    if (t === undefined) throw new ZkError(ErrorCode.NOAUTH, `${path} is outside the served tree`);
    return t;
  }

  private async writeOne(type: number, r: JuteReader): Promise<Reply | null> {
    const op = this.parseWrite(type, r);
    const result = await this.applyWrites([op], false);
    if (result === null) return null;
    if (!result.ok) return { err: result.error };
    const view = this.host.view();
    const res = result.results?.[0];
    const treePath = res?.path ?? op.path;
    const clientPath = toClientPath(this.host.chroot, treePath);
    const stat = res?.stat ?? statOf(view.snapshot, treePath) ?? EMPTY_STAT;
    switch (type) {
      case OpCode.create:
        return { err: 0, body: (w) => w.ustring(clientPath) };
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
        return {
          err: 0,
          body: (w) => {
            w.ustring(clientPath);
            writeStat(w, stat);
          },
        };
      case OpCode.setData:
      case OpCode.setACL:
      case OpCode.check:
        return { err: 0, body: (w) => writeStat(w, stat) };
      default:
        return { err: 0 };
    }
  }

  private async multi(r: JuteReader): Promise<Reply | null> {
    const ops: WriteOp[] = [];
    let bad: { error: ZkError; index: number } | undefined;
    for (;;) {
      const h = readMultiHeader(r);
      if (h.done) break;
      try {
        ops.push(this.parseWrite(h.type, r));
      } catch (err) {
        if (!(err instanceof ZkError)) throw err;
        bad ??= { error: err, index: ops.length };
        // Keeps the op's slot so the per-op results line up.
        ops.push({ op: 'check', opCode: h.type, path: '/', version: -1 });
      }
    }
    let result: WriteResult | null;
    if (bad !== undefined) {
      this.host.logger.debug({ remote: this.remote, reason: bad.error.message }, 'zk multi refused');
      result = { ok: false, error: bad.error.code, failedIndex: bad.index };
    } else if (ops.length === 0) {
      result = { ok: true, zxid: 0n, results: [] };
    } else {
      result = await this.applyWrites(ops, true);
    }
    if (result === null) return null;
    if (!result.ok && this.host.writeHandler === undefined && bad === undefined) return { err: result.error };
    const view = this.host.view();
    const parts: ((w: JuteWriter) => void)[] = [];
    if (result.ok) {
      ops.forEach((op, i) => {
        const res = result.results?.[i];
        const treePath = res?.path ?? op.path;
        const clientPath = toClientPath(this.host.chroot, treePath);
        const stat = res?.stat ?? statOf(view.snapshot, treePath) ?? EMPTY_STAT;
        parts.push((w) => {
          switch (op.op) {
            case 'create':
              if (op.opCode === OpCode.create) {
                writeMultiHeader(w, { type: OpCode.create, done: false, err: 0 });
                w.ustring(clientPath);
              } else {
                writeMultiHeader(w, { type: OpCode.create2, done: false, err: 0 });
                w.ustring(clientPath);
                writeStat(w, stat);
              }
              break;
            case 'delete':
              writeMultiHeader(w, { type: OpCode.delete, done: false, err: 0 });
              break;
            case 'setData':
              writeMultiHeader(w, { type: OpCode.setData, done: false, err: 0 });
              writeStat(w, stat);
              break;
            default:
              writeMultiHeader(w, { type: OpCode.check, done: false, err: 0 });
          }
        });
      });
    } else {
      const failed = result.failedIndex;
      ops.forEach((_, i) => {
        const code =
          failed === undefined || i === failed
            ? result.error
            : i < failed
              ? ErrorCode.OK
              : ErrorCode.RUNTIMEINCONSISTENCY;
        parts.push((w) => {
          writeMultiHeader(w, { type: OpCode.error, done: false, err: code });
          w.int(code);
        });
      });
    }
    return {
      err: 0,
      body: (w) => {
        for (const p of parts) p(w);
        writeMultiHeader(w, { type: -1, done: true, err: -1 });
      },
    };
  }

  /** Runs writes through the handler and waits until the tree shows them; null: connection dropped. */
  private async applyWrites(ops: readonly WriteOp[], multi: boolean): Promise<WriteResult | null> {
    const { host } = this;
    const handler = host.writeHandler;
    // Only logged, and only on refusals and failures: not built for the writes that succeed.
    const summary = (): string => ops.map((o) => `${o.op} ${o.path}`).join(', ');
    if (handler === undefined) {
      host.logger.info(
        { remote: this.remote, ops: summary() },
        'zk write refused: this server has no write handler',
      );
      return { ok: false, error: host.refusedWriteError };
    }
    let result: WriteResult;
    try {
      result = await handler.write(ops, {
        sessionId: this.sessionIdValue,
        authIds: this.authIds,
        multi,
        snapshot: host.view().snapshot,
      });
    } catch (err) {
      host.logger.error({ remote: this.remote, ops: summary(), err }, 'zk write handler threw');
      return { ok: false, error: ErrorCode.SYSTEMERROR };
    }
    if (!result.ok) {
      host.logger.info(
        { remote: this.remote, ops: summary(), code: result.error, reason: result.reason },
        'zk write refused by handler',
      );
      return result;
    }
    if (!(await host.waitForZxid(result.zxid, host.writeVisibilityTimeoutMs))) {
      // The write happened but the tree does not show it yet: answering would break read-your-writes,
      // so drop the connection (the client sees CONNECTIONLOSS: outcome unknown) as a lagging server would.
      host.logger.warn(
        { remote: this.remote, ops: summary(), zxid: hex(result.zxid), served: hex(host.view().zxid) },
        'zk write not visible in time: dropping connection',
      );
      this.destroy('write not visible');
      return null;
    }
    return result;
  }
}

/** What ZooKeeper refuses to delete (`ZKDatabase.isSpecialPath`). */
const SYSTEM_PATHS: ReadonlySet<string> = new Set([
  '/',
  '/zookeeper',
  '/zookeeper/quota',
  '/zookeeper/config',
]);

/** ZooKeeper's DataTree keys the root under '' as well as '/'. */
function lookupPath(path: string): string {
  return path === '' ? '/' : path;
}

function checkPath(path: string): void {
  const reason = invalidPathReason(path);
  if (reason !== undefined)
    throw new ZkError(ErrorCode.BADARGUMENTS, `invalid path ${JSON.stringify(path)}: ${reason}`);
}

function countDescendants(view: ClientView, path: string): number {
  let total = 0;
  const stack = [path];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    for (const c of view.children(p) ?? []) {
      total++;
      stack.push(joinPath(p, c));
    }
  }
  return total;
}

/** A connect request without a password can match no session. */
const NO_PASSWORD = new Uint8Array(0);

export function hex(n: bigint): string {
  return `0x${BigInt.asUintN(64, n).toString(16)}`;
}
