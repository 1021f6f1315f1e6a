/**
 * ZooKeeper sessions that belong to the cluster: this node's ZooKeeper listener keeps them in the
 * replicated metadata through the active controller, so a client that reconnects to another broker
 * keeps its session, as with a ZooKeeper ensemble.
 *
 * Promises: `create` and `reattach` resolve only once the local image holds the outcome, so a later
 * end or move of the session is seen here. Liveness is reported in batches: every `reportIntervalMs`
 * the ids heard from since the last report go to the controller in one request (ZooKeeper followers
 * batch session touches into their pings to the leader the same way); a report that fails is retried
 * with the next one, so a session is never forgotten by a transient error.
 */
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { formatSessionId, type MetadataChange, type MetadataImageView } from '@kbroker/metadata-log';
import type { SessionEndReason, SessionRecord, SessionStore } from '@kbroker/zk-view';
import type { Logger } from 'pino';

export interface ReplicatedSessionStoreOptions {
  readonly nodeId: number;
  /** Calls a controller API (run locally when this node is the active controller, else forwarded). */
  readonly call: <A extends ApiName>(api: A, body: ApiRequest<A>) => Promise<ApiResponse<A>>;
  readonly metadata: {
    readonly image: MetadataImageView;
    onChange(listener: (changes: readonly MetadataChange[], image: MetadataImageView) => void): () => void;
  };
  /** Resolves once the local image has applied `offset`. */
  readonly caughtUpTo: (offset: number, timeoutMs: number) => Promise<void>;
  /** How long a session request may wait for its outcome to reach the local image. */
  readonly requestTimeoutMs: number;
  /** How often heard-from sessions are reported to the controller (default 500 ms). */
  readonly reportIntervalMs?: number;
  readonly logger: Logger;
}

const MAX_IDS_PER_REPORT = 10_000;

export class ReplicatedSessionStore implements SessionStore {
  /** Session ids (signed, as jute's longs) heard from since the last report: every request adds one. */
  private readonly heard = new Set<bigint>();
  private readonly listeners = new Set<(id: bigint, reason: SessionEndReason) => void>();
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;
  private reporting = false;

  constructor(private readonly opts: ReplicatedSessionStoreOptions) {
    this.unsubscribe = opts.metadata.onChange((changes) => this.onMetadata(changes));
    this.timer = setInterval(() => void this.report(), opts.reportIntervalMs ?? 500);
    this.timer.unref();
  }

  async create(timeoutMs: number): Promise<SessionRecord> {
    const r = await this.opts.call('zkSessionCreate', { ownerId: this.opts.nodeId, timeoutMs });
    await this.opts.caughtUpTo(r.offset, this.opts.requestTimeoutMs);
    return { id: BigInt(`0x${r.sessionId}`), password: fromHex(r.password), timeoutMs: r.timeoutMs };
  }

  async reattach(id: bigint, password: Uint8Array, timeoutMs: number): Promise<SessionRecord | undefined> {
    const sessionId = formatSessionId(BigInt.asUintN(64, id));
    const r = await this.opts.call('zkSessionAttach', {
      sessionId,
      password: Buffer.from(password).toString('hex'),
      ownerId: this.opts.nodeId,
      timeoutMs,
    });
    if (!r.valid) return undefined;
    await this.opts.caughtUpTo(r.offset, this.opts.requestTimeoutMs);
    const s = this.opts.metadata.image.zkSessions.get(sessionId);
    // Ended or taken over again between the commit and now: as good as expired for this client.
    if (s === undefined || s.ownerId !== this.opts.nodeId) return undefined;
    return { id, password: fromHex(s.password), timeoutMs: s.timeoutMs };
  }

  touch(id: bigint): void {
    this.heard.add(BigInt.asIntN(64, id));
  }

  async close(id: bigint): Promise<void> {
    const sessionId = formatSessionId(BigInt.asUintN(64, id));
    this.heard.delete(BigInt.asIntN(64, id));
    const r = await this.opts.call('zkSessionClose', { sessionId });
    await this.opts.caughtUpTo(r.offset, this.opts.requestTimeoutMs);
  }

  onEnd(listener: (id: bigint, reason: SessionEndReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops reporting and listening; sessions live on in the cluster until they expire or move. */
  dispose(): void {
    clearInterval(this.timer);
    this.unsubscribe();
  }

  private onMetadata(changes: readonly MetadataChange[]): void {
    for (const c of changes) {
      if (c.kind === 'zk-session-ended') {
        this.heard.delete(serverId(c.sessionId));
        this.emit(c.sessionId, c.reason);
      } else if (c.kind === 'zk-session' && c.ownerId !== this.opts.nodeId) {
        this.heard.delete(serverId(c.sessionId));
        this.emit(c.sessionId, 'moved');
      }
    }
  }

  private emit(sessionId: string, reason: SessionEndReason): void {
    const id = serverId(sessionId);
    for (const l of this.listeners) {
      try {
        l(id, reason);
      } catch (err) {
        this.opts.logger.error({ err, sessionId }, 'zk session listener failed');
      }
    }
  }

  private async report(): Promise<void> {
    if (this.reporting || this.heard.size === 0) return;
    this.reporting = true;
    const ids: bigint[] = [];
    for (const id of this.heard) {
      ids.push(id);
      if (ids.length >= MAX_IDS_PER_REPORT) break;
    }
    for (const id of ids) this.heard.delete(id);
    try {
      const sessionIds = ids.map((id) => formatSessionId(BigInt.asUintN(64, id)));
      const r = await this.opts.call('zkSessionHeartbeat', { ownerId: this.opts.nodeId, sessionIds });
      if (r.unknown.length > 0) {
        this.opts.logger.debug(
          { sessions: r.unknown },
          'zk sessions reported alive are unknown to the controller',
        );
      }
    } catch (err) {
      // Not lost: the ids are reported again with the next batch.
      for (const id of ids) this.heard.add(id);
      this.opts.logger.debug({ err: String(err) }, 'zk session report failed; retrying with the next one');
    } finally {
      this.reporting = false;
    }
  }
}

/** A session id of the metadata (16 hex digits) as the ZooKeeper server names it (a signed long). */
function serverId(sessionId: string): bigint {
  return BigInt.asIntN(64, BigInt(`0x${sessionId}`));
}

function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}
