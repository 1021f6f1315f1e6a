/**
 * Topics and their partitions.
 *
 * Layout (chosen for 2M+ partitions and 100k+ topics, see bench/metadata-bench.ts):
 * - topics by id in a persistent hash trie ({@link PMap}), names -> ids in another, so an apply that
 *   touches k topics costs O(k log32 n), never O(topics);
 * - a topic's partitions in one array (index = partition id), copied once per delta that
 *   changes the topic; untouched partitions keep their identity across versions;
 * - a partition is one small object of one hidden class; its isr shares the replicas array when equal
 *   (the common case) to save an array per partition.
 */
import {
  LEADER_UNCHANGED,
  type LeaderRecoveryState,
  type PartitionChangeRecord,
  type PartitionRecord,
  type RemoveTopicRecord,
  type TopicRecord,
} from '../records.js';
import { MetadataReplayError } from './errors.js';
import { PMap } from './pmap.js';
import type { MetadataChange, PartitionRegistration, TopicImage, TopicsImage } from './types.js';

/** One partition's registration. Never mutated once built (not frozen: this is the 2M-object hot path). */
export class Partition implements PartitionRegistration {
  constructor(
    readonly replicas: readonly number[],
    readonly isr: readonly number[],
    readonly leader: number,
    readonly leaderEpoch: number,
    readonly partitionEpoch: number,
    readonly leaderRecoveryState: LeaderRecoveryState,
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    readonly changedOffset: number,
    readonly changedTimeMs: number,
  ) {}
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Builds a partition from replica lists the image owns (never mutated, never handed to a writer).
 * `isr` becomes `replicas` itself when equal, saving an array per partition in the common case.
 *
 * Arrays in the image are readonly by type but deliberately not frozen: V8 copies frozen arrays on a
 * slow path (`slice` measured ~10-40x slower, `filter` ~3x), and the controller copies and filters
 * replica lists constantly. Objects holding them (topics, images) are frozen.
 */
export function newPartition(
  replicas: readonly number[],
  isr: readonly number[],
  leader: number,
  leaderEpoch: number,
  partitionEpoch: number,
  leaderRecoveryState: LeaderRecoveryState,
  createdOffset: number,
  createdTimeMs: number,
  changedOffset: number,
  changedTimeMs: number,
): Partition {
  return new Partition(
    replicas,
    sameIds(isr, replicas) ? replicas : isr,
    leader,
    leaderEpoch,
    partitionEpoch,
    leaderRecoveryState,
    createdOffset,
    createdTimeMs,
    changedOffset,
    changedTimeMs,
  );
}

export class TopicImageImpl implements TopicImage {
  /** @internal Takes ownership of `partitions` (never mutated afterwards). */
  constructor(
    readonly id: string,
    readonly name: string,
    readonly partitions: readonly PartitionRegistration[],
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    readonly assignmentChangedOffset: number,
    readonly assignmentChangedTimeMs: number,
    readonly assignmentVersion: number,
  ) {
    Object.freeze(this);
  }
}

export interface ComparableTopic {
  id: string;
  name: string;
  createdOffset: number;
  createdTimeMs: number;
  assignmentChangedOffset: number;
  assignmentChangedTimeMs: number;
  assignmentVersion: number;
  partitions: PartitionRegistration[];
}

/** Name map -> its names (frozen). */
const nameLists = new WeakMap<PMap<string>, readonly string[]>();

/** The newest creation offset among `byId`'s topics (0: none): O(topics), for when no cheaper answer is known. */
function newestOf(byId: PMap<TopicImageImpl>): number {
  let newest = 0;
  for (const t of byId.values()) if (t.createdOffset > newest) newest = t.createdOffset;
  return newest;
}

export class TopicsImageImpl implements TopicsImage {
  static readonly EMPTY = new TopicsImageImpl(PMap.empty(), PMap.empty(), 0);

  /**
   * The newest creation among the topics. Kept by the delta (O(1) per creation) so that a znode's stat
   * never needs the name list: only removing the newest topic costs a pass over the topics.
   */
  readonly newestCreatedOffset: number;

  /** @internal */
  constructor(
    /** @internal */ readonly byIdMap: PMap<TopicImageImpl>,
    /** @internal name -> topic id. */ readonly byNameMap: PMap<string>,
    readonly partitionCount: number,
    readonly removedCount = 0,
    readonly lastRemovedOffset = 0,
    newestCreatedOffset?: number,
  ) {
    this.newestCreatedOffset = newestCreatedOffset ?? newestOf(byIdMap);
    Object.freeze(this);
  }

  get namesKey(): object {
    return this.byNameMap;
  }

  byId(topicId: string): TopicImageImpl | undefined {
    return this.byIdMap.get(topicId);
  }

  byName(name: string): TopicImageImpl | undefined {
    const id = this.byNameMap.get(name);
    return id === undefined ? undefined : this.byIdMap.get(id);
  }

  topics(): IterableIterator<TopicImageImpl> {
    return this.byIdMap.values();
  }

  /**
   * Keyed by the name map, which a delta rebuilds only when a topic is created or removed: images
   * that differ in partitions alone share it (O(topics) once per creation or removal, not per image).
   */
  names(): readonly string[] {
    let names = nameLists.get(this.byNameMap);
    if (names === undefined) {
      const list: string[] = [];
      this.byNameMap.forEach((_id, name) => {
        list.push(name);
      });
      names = Object.freeze(list);
      nameLists.set(this.byNameMap, names);
    }
    return names;
  }

  get topicCount(): number {
    return this.byIdMap.size;
  }

  toComparable(): {
    partitionCount: number;
    removedCount: number;
    lastRemovedOffset: number;
    topics: ComparableTopic[];
  } {
    const topics = [...this.byIdMap.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((t) => ({
        id: t.id,
        name: t.name,
        createdOffset: t.createdOffset,
        createdTimeMs: t.createdTimeMs,
        assignmentChangedOffset: t.assignmentChangedOffset,
        assignmentChangedTimeMs: t.assignmentChangedTimeMs,
        assignmentVersion: t.assignmentVersion,
        partitions: t.partitions.map((p) => ({ ...p, replicas: [...p.replicas], isr: [...p.isr] })),
      }));
    return {
      partitionCount: this.partitionCount,
      removedCount: this.removedCount,
      lastRemovedOffset: this.lastRemovedOffset,
      topics,
    };
  }
}

/** A topic being changed by a delta: a private, mutable copy of its partitions array. */
class TopicWork {
  constructor(
    readonly id: string,
    readonly name: string,
    readonly partitions: PartitionRegistration[],
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    public assignmentChangedOffset: number,
    public assignmentChangedTimeMs: number,
    public assignmentVersion: number,
  ) {}

  static of(t: TopicImageImpl): TopicWork {
    return new TopicWork(
      t.id,
      t.name,
      t.partitions.slice(),
      t.createdOffset,
      t.createdTimeMs,
      t.assignmentChangedOffset,
      t.assignmentChangedTimeMs,
      t.assignmentVersion,
    );
  }

  /**
   * The assignment (the topic znode) changes at most once per batch: the records of one controller
   * operation are one write. A topic's creating batch is its version 0.
   */
  bumpAssignment(offset: number, timestampMs: number): void {
    if (this.assignmentChangedOffset === offset) return;
    this.assignmentChangedOffset = offset;
    this.assignmentChangedTimeMs = timestampMs;
    this.assignmentVersion++;
  }

  toImage(): TopicImageImpl {
    return new TopicImageImpl(
      this.id,
      this.name,
      this.partitions,
      this.createdOffset,
      this.createdTimeMs,
      this.assignmentChangedOffset,
      this.assignmentChangedTimeMs,
      this.assignmentVersion,
    );
  }
}

export class TopicsDelta {
  /** id -> working copy, or null when removed. */
  private readonly changed = new Map<string, TopicWork | null>();
  /** name -> id, or null when the name was freed. */
  private readonly names = new Map<string, string | null>();
  private partitionDelta = 0;
  private removedCount: number;
  private lastRemovedOffset: number;

  constructor(readonly image: TopicsImageImpl) {
    this.removedCount = image.removedCount;
    this.lastRemovedOffset = image.lastRemovedOffset;
  }

  /** Whether a topic holds `name` as of the records replayed so far. */
  hasName(name: string): boolean {
    return this.idOfName(name) !== undefined;
  }

  /** The topic as of the records replayed so far. */
  topic(topicId: string): TopicImage | TopicWork | undefined {
    const c = this.changed.get(topicId);
    return c === undefined ? this.image.byId(topicId) : (c ?? undefined);
  }

  private idOfName(name: string): string | undefined {
    const c = this.names.get(name);
    return c === undefined ? this.image.byNameMap.get(name) : (c ?? undefined);
  }

  private work(topicId: string, record: PartitionRecord | PartitionChangeRecord, offset: number): TopicWork {
    const c = this.changed.get(topicId);
    if (c) return c;
    const base = c === null ? undefined : this.image.byId(topicId);
    if (base === undefined) throw new MetadataReplayError(offset, record, `unknown topic id ${topicId}`);
    const w = TopicWork.of(base);
    this.changed.set(topicId, w);
    return w;
  }

  replayTopic(record: TopicRecord, offset: number, timestampMs: number): void {
    if (this.topic(record.topicId) !== undefined) {
      throw new MetadataReplayError(offset, record, `topic id ${record.topicId} already exists`);
    }
    const holder = this.idOfName(record.name);
    if (holder !== undefined) {
      throw new MetadataReplayError(
        offset,
        record,
        `topic name ${record.name} is taken by topic id ${holder}`,
      );
    }
    this.changed.set(
      record.topicId,
      new TopicWork(record.topicId, record.name, [], offset, timestampMs, offset, timestampMs, 0),
    );
    this.names.set(record.name, record.topicId);
  }

  /** Creates partition `partitionId` (the next one) or replaces an existing one, keeping its creation stamp. */
  replayPartition(record: PartitionRecord, offset: number, timestampMs: number): void {
    const w = this.work(record.topicId, record, offset);
    const pid = record.partitionId;
    if (!Number.isInteger(pid) || pid < 0 || pid > w.partitions.length) {
      throw new MetadataReplayError(
        offset,
        record,
        `partition ${pid} of topic ${w.name} would leave a gap (topic has ${w.partitions.length})`,
      );
    }
    const prev = w.partitions[pid];
    // Records' arrays are copied: a caller may reuse or mutate its record after replay.
    w.partitions[pid] = newPartition(
      record.replicas.slice(),
      record.isr.slice(),
      record.leader,
      record.leaderEpoch,
      record.partitionEpoch,
      record.leaderRecoveryState,
      prev?.createdOffset ?? offset,
      prev?.createdTimeMs ?? timestampMs,
      offset,
      timestampMs,
    );
    if (prev === undefined) this.partitionDelta++;
    w.bumpAssignment(offset, timestampMs);
  }

  /**
   * Kafka's PartitionRegistration.merge: absent fields are unchanged; any leader other than -2 bumps
   * leaderEpoch (even the same broker); every change bumps partitionEpoch.
   */
  replayPartitionChange(record: PartitionChangeRecord, offset: number, timestampMs: number): void {
    const w = this.work(record.topicId, record, offset);
    const p = w.partitions[record.partitionId];
    if (p === undefined) {
      throw new MetadataReplayError(
        offset,
        record,
        `unknown partition ${record.partitionId} of topic ${w.name}`,
      );
    }
    const leaderChanged = record.leader !== LEADER_UNCHANGED;
    const lrs = record.leaderRecoveryState;
    w.partitions[record.partitionId] = newPartition(
      record.replicas?.slice() ?? p.replicas,
      record.isr?.slice() ?? p.isr,
      leaderChanged ? record.leader : p.leader,
      leaderChanged ? p.leaderEpoch + 1 : p.leaderEpoch,
      p.partitionEpoch + 1,
      lrs === undefined || (lrs as number) === -1 ? p.leaderRecoveryState : lrs,
      p.createdOffset,
      p.createdTimeMs,
      offset,
      timestampMs,
    );
    if (record.replicas !== undefined) w.bumpAssignment(offset, timestampMs);
  }

  /** Removes the topic and its partitions; returns its name (its configs go too, by the caller). */
  replayRemove(record: RemoveTopicRecord, offset: number): string {
    const t = this.topic(record.topicId);
    if (t === undefined) throw new MetadataReplayError(offset, record, `unknown topic id ${record.topicId}`);
    this.changed.set(record.topicId, null);
    this.names.set(t.name, null);
    this.partitionDelta -= t.partitions.length;
    this.removedCount++;
    this.lastRemovedOffset = offset;
    return t.name;
  }

  get touched(): Iterable<string> {
    return this.changed.keys();
  }

  /** Builds the next image; the delta's working copies become part of it (call once). */
  apply(): TopicsImageImpl {
    if (this.changed.size === 0) return this.image;
    const byId = this.image.byIdMap.asMutable();
    let newest: number | undefined = this.image.newestCreatedOffset;
    for (const [id, w] of this.changed) {
      if (w === null) {
        // Creation offsets are unique: only the removal of the newest topic loses the answer.
        if (this.image.byIdMap.get(id)?.createdOffset === this.image.newestCreatedOffset) newest = undefined;
        byId.delete(id);
      } else {
        byId.set(id, w.toImage());
      }
    }
    if (newest !== undefined)
      for (const w of this.changed.values())
        if (w !== null && w.createdOffset > newest) newest = w.createdOffset;
    let byName = this.image.byNameMap;
    if (this.names.size > 0) {
      const b = byName.asMutable();
      for (const [name, id] of this.names) {
        if (id === null) b.delete(name);
        else b.set(name, id);
      }
      byName = b.build();
    }
    return new TopicsImageImpl(
      byId.build(),
      byName,
      this.image.partitionCount + this.partitionDelta,
      this.removedCount,
      this.lastRemovedOffset,
      newest,
    );
  }
}

function samePartition(p: PartitionRegistration, q: PartitionRegistration): boolean {
  return (
    p === q ||
    (p.changedOffset === q.changedOffset &&
      p.partitionEpoch === q.partitionEpoch &&
      p.leaderEpoch === q.leaderEpoch &&
      p.leader === q.leader &&
      sameIds(p.isr, q.isr) &&
      sameIds(p.replicas, q.replicas))
  );
}

/**
 * Topic events for the given ids, from comparing the two images. A topic whose creation offset
 * changed was deleted and re-created. Partitions are compared by identity first (a delta keeps
 * untouched partitions' identity), then by their stamps and epochs.
 */
export function topicsChanges(
  base: TopicsImageImpl,
  next: TopicsImageImpl,
  ids: Iterable<string>,
  out: MetadataChange[],
): void {
  if (base === next) return;
  for (const topicId of ids) {
    const b = base.byId(topicId);
    const a = next.byId(topicId);
    if (a === b) continue;
    const recreated = a !== undefined && b !== undefined && a.createdOffset !== b.createdOffset;
    if (b !== undefined && (a === undefined || recreated))
      out.push({ kind: 'topic-deleted', topicId, name: b.name });
    if (a === undefined) continue;
    if (b === undefined || recreated) {
      out.push({ kind: 'topic-created', topicId, name: a.name, partitions: a.partitions.length });
      continue;
    }
    const common = Math.min(a.partitions.length, b.partitions.length);
    for (let i = 0; i < common; i++) {
      const p = b.partitions[i]!;
      const q = a.partitions[i]!;
      if (samePartition(p, q)) continue;
      out.push({
        kind: 'partition-changed',
        topicId,
        name: a.name,
        partition: i,
        leader: q.leader,
        previousLeader: p.leader,
        isr: q.isr,
        leaderEpoch: q.leaderEpoch,
        partitionEpoch: q.partitionEpoch,
      });
    }
    if (a.partitions.length > b.partitions.length) {
      out.push({
        kind: 'partitions-added',
        topicId,
        name: a.name,
        from: b.partitions.length,
        to: a.partitions.length,
      });
    }
  }
}
