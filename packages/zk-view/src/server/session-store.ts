import { randomBytes } from 'node:crypto';

/** A ZooKeeper session: it belongs to the cluster, not to the connection or the broker serving it. */
export interface SessionRecord {
  readonly id: bigint;
  /** 16 random bytes the client must present to reattach (ConnectRequest.passwd). */
  readonly password: Uint8Array;
  /** The negotiated timeout; silence for this long expires the session. */
  readonly timeoutMs: number;
  /** The highest zxid the session has been sent (ReplyHeader.zxid). */
  readonly lastZxidSeen: bigint;
}

export type SessionEndReason = 'expired' | 'closed';

/**
 * Where sessions live. The in-memory store below serves one broker; the lead can back this with the
 * replicated metadata log so a client that reconnects to another broker keeps its session (and its
 * password check). Methods that need agreement return promises; `touch` is fire-and-forget so an
 * implementation can batch liveness the way ZooKeeper followers batch pings to the leader.
 */
export interface SessionStore {
  /** Creates a session with a fresh id and password. */
  create(timeoutMs: number): Promise<SessionRecord>;
  /** The live session with this id, or undefined when unknown, closed or expired. */
  get(id: bigint): Promise<SessionRecord | undefined>;
  /**
   * The client was heard from: postpones expiry by the session's timeout. `update` carries a newly
   * negotiated timeout (on reconnect) and the last zxid sent to the client.
   */
  touch(id: bigint, update?: { readonly timeoutMs?: number; readonly lastZxidSeen?: bigint }): void;
  /** Ends the session now (closeSession). Unknown ids are ignored. */
  close(id: bigint): Promise<void>;
  /** Called whenever a session ends, whichever broker ended it. Returns an unsubscribe function. */
  onEnd(listener: (id: bigint, reason: SessionEndReason) => void): () => void;
}

export interface InMemorySessionStoreOptions {
  /** Goes into the top byte of session ids, as ZooKeeper's server id does (0..127). Default 0. */
  readonly serverId?: number;
  /** How often expiry is checked (ZooKeeper: tickTime). Default 500 ms. */
  readonly checkIntervalMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

interface Entry {
  record: SessionRecord;
  deadline: number;
}

/** Sessions of one process, expired by a timer. */
export class InMemorySessionStore implements SessionStore {
  private readonly sessions = new Map<bigint, Entry>();
  private readonly listeners = new Set<(id: bigint, reason: SessionEndReason) => void>();
  private nextId: bigint;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;

  constructor(options: InMemorySessionStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const serverId = BigInt((options.serverId ?? 0) & 0x7f);
    // Like ZooKeeper's SessionTrackerImpl.initializeNextSessionId: time in the middle, server id on top.
    this.nextId = ((BigInt(this.now()) << 24n) & ((1n << 56n) - 1n)) | (serverId << 56n);
    if (this.nextId === 0n) this.nextId = 1n;
    this.timer = setInterval(() => this.expire(), options.checkIntervalMs ?? 500);
    this.timer.unref();
  }

  async create(timeoutMs: number): Promise<SessionRecord> {
    const record: SessionRecord = {
      id: this.nextId++,
      password: new Uint8Array(randomBytes(16)),
      timeoutMs,
      lastZxidSeen: 0n,
    };
    this.sessions.set(record.id, { record, deadline: this.now() + timeoutMs });
    return record;
  }

  async get(id: bigint): Promise<SessionRecord | undefined> {
    const e = this.sessions.get(id);
    if (e === undefined) return undefined;
    if (e.deadline <= this.now()) {
      this.end(id, 'expired');
      return undefined;
    }
    return e.record;
  }

  touch(id: bigint, update?: { readonly timeoutMs?: number; readonly lastZxidSeen?: bigint }): void {
    const e = this.sessions.get(id);
    if (e === undefined) return;
    if (update !== undefined) {
      const timeoutMs = update.timeoutMs ?? e.record.timeoutMs;
      const seen = update.lastZxidSeen;
      const lastZxidSeen = seen !== undefined && seen > e.record.lastZxidSeen ? seen : e.record.lastZxidSeen;
      if (timeoutMs !== e.record.timeoutMs || lastZxidSeen !== e.record.lastZxidSeen) {
        e.record = { ...e.record, timeoutMs, lastZxidSeen };
      }
    }
    e.deadline = this.now() + e.record.timeoutMs;
  }

  async close(id: bigint): Promise<void> {
    if (this.sessions.has(id)) this.end(id, 'closed');
  }

  onEnd(listener: (id: bigint, reason: SessionEndReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Live sessions (for four-letter words and tests). */
  get size(): number {
    return this.sessions.size;
  }

  /** Stops the expiry timer. */
  dispose(): void {
    clearInterval(this.timer);
  }

  private expire(): void {
    const now = this.now();
    for (const [id, e] of this.sessions) {
      if (e.deadline <= now) this.end(id, 'expired');
    }
  }

  private end(id: bigint, reason: SessionEndReason): void {
    this.sessions.delete(id);
    for (const l of this.listeners) l(id, reason);
  }
}
