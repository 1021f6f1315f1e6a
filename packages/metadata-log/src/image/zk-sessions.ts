/**
 * ZooKeeper sessions of the ZooKeeper-compatible view: which sessions are alive, their passwords,
 * timeouts and the node serving each. Liveness itself is soft state of the active controller, never
 * in the image (as broker heartbeats).
 */
import type { ZkSessionEndRecord, ZkSessionRecord } from '../records.js';
import { PMap } from './pmap.js';
import type { MetadataChange, ZkSession, ZkSessionsImage } from './types.js';

export class ZkSessionsImageImpl implements ZkSessionsImage {
  static readonly EMPTY = new ZkSessionsImageImpl(PMap.empty(), 0);

  /** @internal */
  constructor(
    /** @internal */
    readonly byId: PMap<ZkSession>,
    readonly count: number,
  ) {
    Object.freeze(this);
  }

  get(sessionId: string): ZkSession | undefined {
    return this.byId.get(sessionId);
  }

  sessions(): IterableIterator<ZkSession> {
    return this.byId.values();
  }

  toComparable(): Record<string, ZkSession> {
    const out: [string, ZkSession][] = [...this.byId.entries()].map(([id, s]) => [id, { ...s }]);
    out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(out);
  }
}

export class ZkSessionsDelta {
  /** Session id -> the session now, or the reason it ended. */
  private readonly changed = new Map<string, ZkSession | ZkSessionEndRecord['reason']>();

  constructor(readonly image: ZkSessionsImageImpl) {}

  replaySession(record: ZkSessionRecord): void {
    this.changed.set(
      record.sessionId,
      Object.freeze({
        id: record.sessionId,
        password: record.password,
        timeoutMs: record.timeoutMs,
        ownerId: record.ownerId,
      }),
    );
  }

  replayEnd(record: ZkSessionEndRecord): void {
    this.changed.set(record.sessionId, record.reason);
  }

  /** How each touched session ended, if it did. */
  endReason(sessionId: string): ZkSessionEndRecord['reason'] | undefined {
    const c = this.changed.get(sessionId);
    return typeof c === 'string' ? c : undefined;
  }

  get touched(): Iterable<string> {
    return this.changed.keys();
  }

  apply(): ZkSessionsImageImpl {
    if (this.changed.size === 0) return this.image;
    // The trie copies only the paths to touched ids; every other session is shared with the base.
    let next = this.image.byId;
    let count = this.image.count;
    for (const [id, c] of this.changed) {
      const had = next.has(id);
      if (typeof c === 'string') {
        if (had) {
          next = next.delete(id);
          count--;
        }
      } else {
        next = next.set(id, c);
        if (!had) count++;
      }
    }
    return count === 0 ? ZkSessionsImageImpl.EMPTY : new ZkSessionsImageImpl(next, count);
  }
}

/** Session changes: `zk-session` for a created or taken-over session, `zk-session-ended` for an end. */
export function zkSessionsChanges(
  base: ZkSessionsImageImpl,
  next: ZkSessionsImageImpl,
  delta: ZkSessionsDelta,
  out: MetadataChange[],
): void {
  if (base === next) return;
  for (const id of delta.touched) {
    const before = base.get(id);
    const after = next.get(id);
    if (after === undefined) {
      if (before !== undefined) {
        out.push({ kind: 'zk-session-ended', sessionId: id, reason: delta.endReason(id) ?? 'closed' });
      }
    } else if (
      before === undefined ||
      before.ownerId !== after.ownerId ||
      before.timeoutMs !== after.timeoutMs ||
      before.password !== after.password
    ) {
      out.push({ kind: 'zk-session', sessionId: id, ownerId: after.ownerId });
    }
  }
}
