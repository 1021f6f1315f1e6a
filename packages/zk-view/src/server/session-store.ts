import { randomBytes } from 'node:crypto';

/** Constant-time comparison of equal-length byte strings; different lengths never match. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A ZooKeeper session: it belongs to the cluster, not to the connection or the broker serving it. */
export interface SessionRecord {
  readonly id: bigint;
  /** 16 random bytes the client must present to reattach (ConnectRequest.passwd). */
  readonly password: Uint8Array;
  /** The negotiated timeout; silence for this long expires the session. */
  readonly timeoutMs: number;
}

/**
 * Why a session stopped being served here: `expired` and `closed` end it; `moved` means its client
 * reconnected to another server, which now owns it (ZooKeeper's SESSIONMOVED).
 */
export type SessionEndReason = 'expired' | 'closed' | 'moved';

/**
 * Where sessions live. The in-memory store below serves one process; a broker backs this with the
 * replicated metadata log, so a client that reconnects to another broker keeps its session.
 * Methods that need agreement return promises and resolve once this server can serve the outcome;
 * `touch` is fire-and-forget so an implementation can batch liveness the way ZooKeeper followers
 * batch session touches into their pings to the leader.
 */
export interface SessionStore {
  /** Creates a session with a fresh id and password, owned by this server. */
  create(timeoutMs: number): Promise<SessionRecord>;
  /**
   * A client reconnects with its session: resolves with the session (now owned by this server, with
   * the newly negotiated timeout), or undefined when it is unknown, closed, expired or the password
   * is wrong.
   */
  reattach(id: bigint, password: Uint8Array, timeoutMs: number): Promise<SessionRecord | undefined>;
  /** The client was heard from: postpones expiry by the session's timeout. */
  touch(id: bigint): void;
  /** Ends the session now (closeSession). Unknown ids are ignored. */
  close(id: bigint): Promise<void>;
  /**
   * Called when a session ends or moves to another server, whichever server caused it. Returns an
   * unsubscribe function.
   */
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
    };
    this.sessions.set(record.id, { record, deadline: this.now() + timeoutMs });
    return record;
  }

  async reattach(id: bigint, password: Uint8Array, timeoutMs: number): Promise<SessionRecord | undefined> {
    const e = this.sessions.get(id);
    if (e === undefined) return undefined;
    if (e.deadline <= this.now()) {
      this.end(id, 'expired');
      return undefined;
    }
    if (!timingSafeEqual(e.record.password, password)) return undefined;
    if (e.record.timeoutMs !== timeoutMs) e.record = { ...e.record, timeoutMs };
    e.deadline = this.now() + timeoutMs;
    return e.record;
  }

  touch(id: bigint): void {
    const e = this.sessions.get(id);
    if (e !== undefined) e.deadline = this.now() + e.record.timeoutMs;
  }

  async close(id: bigint): Promise<void> {
    if (this.sessions.has(id)) this.end(id, 'closed');
  }

  onEnd(listener: (id: bigint, reason: SessionEndReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the session is alive (not ended, not past its deadline). */
  has(id: bigint): boolean {
    const e = this.sessions.get(id);
    return e !== undefined && e.deadline > this.now();
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
