import type { ConfigResourceKind, MetadataEvent } from '@kbroker/client/protocol';
import {
  ConfigResourceType,
  type MetadataChange,
  type MetadataImage,
  type MetadataStateMachine,
} from '@kbroker/metadata-log';
import type { Entry, SnapshotMeta, StateMachine } from '@kbroker/raft';

/** The client-facing form of a metadata change, at the log offset of the batch that made it. */
export function toEvent(change: MetadataChange, offset: number): MetadataEvent | undefined {
  switch (change.kind) {
    case 'topic-created':
      return {
        offset,
        type: 'topic-created',
        topic: change.name,
        topicId: change.topicId,
        partitions: change.partitions,
      };
    case 'topic-deleted':
      return { offset, type: 'topic-deleted', topic: change.name, topicId: change.topicId };
    case 'partitions-added':
      return { offset, type: 'partitions-added', topic: change.name, from: change.from, to: change.to };
    case 'partition-changed':
      return {
        offset,
        type: 'partition-changed',
        topic: change.name,
        partition: change.partition,
        leader: change.leader,
        previousLeader: change.previousLeader,
        isr: change.isr,
        leaderEpoch: change.leaderEpoch,
      };
    case 'broker-registered':
    case 'broker-fenced':
    case 'broker-unfenced':
    case 'broker-unregistered':
    case 'broker-controlled-shutdown':
      return { offset, type: change.kind, brokerId: change.brokerId };
    case 'config-changed': {
      const resourceType: ConfigResourceKind =
        change.resourceType === ConfigResourceType.Topic ? 'topic' : 'broker';
      return {
        offset,
        type: 'config-changed',
        resourceType,
        resourceName: change.resourceName,
        name: change.name,
        value: change.value,
      };
    }
    case 'offsets-committed':
      return { offset, type: 'offsets-committed', groupId: change.groupId, partitions: change.partitions };
    case 'offsets-deleted':
      return { offset, type: 'offsets-deleted', groupId: change.groupId };
    default:
      return undefined;
  }
}

/**
 * Applies committed entries one at a time, so every published image (and its change events) belongs to
 * exactly one log offset. Grouping several batches into one delta would stamp their events with the
 * last offset, and a watcher resuming on a node that grouped differently would see duplicates.
 */
export class PerBatchStateMachine implements StateMachine {
  /** True while a snapshot is being restored (its published diff is not a per-batch change). */
  restoring = false;

  constructor(readonly inner: MetadataStateMachine) {}

  apply(entries: readonly Entry[]): void {
    for (const e of entries) this.inner.apply([e]);
  }

  snapshot(): Iterable<Uint8Array> {
    return this.inner.snapshot();
  }

  async restore(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.restoring = true;
    try {
      await this.inner.restore(meta, chunks);
    } finally {
      this.restoring = false;
    }
  }
}

export class WatchOffsetError extends Error {
  readonly code = 'OFFSET_OUT_OF_RANGE';
  readonly retriable = false;
}

/**
 * Keeps the recent change events (per offset) so a watcher can resume from an offset, and fans new
 * ones out to subscribers in log order.
 */
export class WatchHub {
  private readonly history: { offset: number; events: MetadataEvent[] }[] = [];
  private historyEvents = 0;
  /** Offsets at or below this are no longer in the history (events may have been dropped). */
  private forgottenThrough: number;
  private readonly subscribers = new Set<{
    deliver(events: MetadataEvent[]): void;
    fail(err: Error): void;
  }>();

  constructor(
    private readonly sm: PerBatchStateMachine,
    private readonly maxHistoryEvents = 100_000,
  ) {
    this.forgottenThrough = sm.inner.image.provenance.offset;
    sm.inner.onChange((changes, image) => this.publish(changes, image));
  }

  private publish(changes: readonly MetadataChange[], image: MetadataImage): void {
    const offset = image.provenance.offset;
    if (this.sm.restoring) {
      // A snapshot replaced the state: the events between the old image and it are unknowable one by
      // one, so history restarts here and watchers from before it must re-read the state.
      this.reset(offset);
      const err = new WatchOffsetError(
        `a snapshot at offset ${offset} replaced this node's state; re-read it`,
      );
      for (const s of [...this.subscribers]) s.fail(err);
      this.subscribers.clear();
      return;
    }
    const events: MetadataEvent[] = [];
    for (const c of changes) {
      const e = toEvent(c, offset);
      if (e !== undefined) events.push(e);
    }
    if (events.length === 0) return;
    this.history.push({ offset, events });
    this.historyEvents += events.length;
    while (this.historyEvents > this.maxHistoryEvents && this.history.length > 1) {
      const old = this.history.shift()!;
      this.historyEvents -= old.events.length;
      this.forgottenThrough = old.offset;
    }
    for (const s of this.subscribers) s.deliver(events);
  }

  /**
   * Subscribes from `fromOffset` (exclusive): first the remembered events after it, then new ones.
   * A restored snapshot or a trimmed history may have lost events after `fromOffset`: then it throws
   * OFFSET_OUT_OF_RANGE and the watcher must re-read the state.
   */
  subscribe(
    fromOffset: number | undefined,
    deliver: (events: MetadataEvent[]) => void,
    fail: (err: Error) => void,
  ): () => void {
    if (fromOffset !== undefined && fromOffset < this.forgottenThrough) {
      throw new WatchOffsetError(
        `events after offset ${fromOffset} are no longer kept (this node remembers from ${this.forgottenThrough + 1})`,
      );
    }
    if (fromOffset !== undefined) {
      const backlog = this.history.filter((h) => h.offset > fromOffset).flatMap((h) => h.events);
      if (backlog.length > 0) deliver(backlog);
    }
    const sub = {
      deliver: (events: MetadataEvent[]) => {
        const fresh = fromOffset === undefined ? events : events.filter((e) => e.offset > fromOffset);
        if (fresh.length > 0) deliver(fresh);
      },
      fail,
    };
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** A snapshot replaced the state: events before it are unknowable. */
  reset(offset: number): void {
    this.history.length = 0;
    this.historyEvents = 0;
    this.forgottenThrough = offset;
  }
}
