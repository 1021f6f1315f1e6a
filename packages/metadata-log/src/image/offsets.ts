/**
 * Committed consumer-group offsets: the hottest record type (many small commits).
 *
 * Layout: groups in a persistent trie; a group holds a persistent trie of topic -> (partition ->
 * offset) maps. A delta edits a group's topic trie in place of the nodes it copied (O(log32 topics)
 * per touched topic, never O(topics)), and copies a topic's partition map once, on first touch;
 * replaying a commit after that is two lookups and one small object. Untouched topic maps keep their
 * identity across versions, and the delta remembers which topics it touched, so change events cost
 * O(touched topics' partitions), not O(group) (a group of thousands of topics commits at the same
 * cost per partition as a small one). Partition maps (not arrays) so an odd partition number cannot
 * blow up memory or iteration.
 */
import type { OffsetCommitRecord, OffsetDeleteRecord } from '../records.js';
import { MetadataReplayError } from './errors.js';
import { PMap, type PMapBuilder } from './pmap.js';
import type {
  CommittedOffset,
  GroupOffsets,
  GroupTopicStamps,
  MetadataChange,
  OffsetsImage,
} from './types.js';

/** Never mutated once built (not frozen: hot path). */
export class Committed implements CommittedOffset {
  constructor(
    readonly offset: number,
    readonly metadata: string,
    readonly commitTimestampMs: number,
    readonly changedOffset: number,
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    /** ZooKeeper znode version: 0 for the first commit after (re)creation, +1 per later commit. */
    readonly version: number,
  ) {}
}

type PartitionMap = ReadonlyMap<number, CommittedOffset>;

export class GroupOffsetsImpl implements GroupOffsets {
  /**
   * @internal Takes ownership; no topic maps to an empty partition map; `size` counts all entries;
   * `topicStampMap` holds only topics of `topicMap` (undefined when none lost offsets).
   */
  constructor(
    readonly groupId: string,
    /** @internal */ readonly topicMap: PMap<PartitionMap>,
    readonly size: number,
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    readonly removedTopics = 0,
    readonly topicsRemovedOffset = 0,
    /** @internal */ readonly topicStampMap: ReadonlyMap<string, GroupTopicStamps> | undefined = undefined,
  ) {
    Object.freeze(this);
  }

  topicStamps(topic: string): GroupTopicStamps | undefined {
    return this.topicStampMap?.get(topic);
  }

  get(topic: string, partition: number): CommittedOffset | undefined {
    return this.topicMap.get(topic)?.get(partition);
  }

  partitions(topic: string): PartitionMap | undefined {
    return this.topicMap.get(topic);
  }

  topics(): IterableIterator<[string, PartitionMap]> {
    return this.topicMap.entries();
  }

  *entries(): Generator<[string, number, CommittedOffset]> {
    for (const [topic, parts] of this.topicMap) for (const [p, c] of parts) yield [topic, p, c];
  }
}

export interface ComparableOffset extends CommittedOffset {
  topic: string;
  partition: number;
}

export class OffsetsImageImpl implements OffsetsImage {
  static readonly EMPTY = new OffsetsImageImpl(PMap.empty());

  /** @internal */
  constructor(
    /** @internal */ readonly groupMap: PMap<GroupOffsetsImpl>,
    readonly removedGroups = 0,
    readonly lastRemovedOffset = 0,
  ) {
    Object.freeze(this);
  }

  group(groupId: string): GroupOffsetsImpl | undefined {
    return this.groupMap.get(groupId);
  }

  groups(): IterableIterator<GroupOffsetsImpl> {
    return this.groupMap.values();
  }

  get groupCount(): number {
    return this.groupMap.size;
  }

  toComparable(): {
    removedGroups: number;
    lastRemovedOffset: number;
    groups: {
      groupId: string;
      stamps: number[];
      topicStamps: [string, GroupTopicStamps][];
      offsets: ComparableOffset[];
    }[];
  } {
    const byName = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const groups = [...this.groupMap.values()]
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
      .map((g) => ({
        groupId: g.groupId,
        stamps: [g.createdOffset, g.createdTimeMs, g.removedTopics, g.topicsRemovedOffset],
        topicStamps: [...(g.topicStampMap ?? [])]
          .sort(byName)
          .map(([t, s]): [string, GroupTopicStamps] => [t, { ...s }]),
        offsets: [...g.entries()]
          .sort(([t1, p1], [t2, p2]) => (t1 < t2 ? -1 : t1 > t2 ? 1 : p1 - p2))
          .map(([topic, partition, c]) => ({ topic, partition, ...c })),
      }));
    return { removedGroups: this.removedGroups, lastRemovedOffset: this.lastRemovedOffset, groups };
  }
}

class GroupWork {
  /** Topics whose partition map is already this delta's private copy. */
  readonly owned = new Map<string, Map<number, CommittedOffset>>();
  /**
   * Per topic this delta committed to or deleted from, the partitions it touched (null: all of them,
   * the topic's offsets were dropped). A superset of what changed.
   */
  readonly touched = new Map<string, Set<number> | null>();
  /** The group's base topics, when a deletion of the whole group dropped them (for change events). */
  cleared: PMap<PartitionMap> | undefined;
  /** The topic stamps, once this delta's private copy (copied on first write). */
  private stampsOwned = false;
  constructor(
    public topics: PMapBuilder<PartitionMap>,
    public size: number,
    public createdOffset: number,
    public createdTimeMs: number,
    public removedTopics: number,
    public topicsRemovedOffset: number,
    public topicStamps: Map<string, GroupTopicStamps> | undefined,
  ) {}

  static of(base: GroupOffsetsImpl | undefined): GroupWork {
    return new GroupWork(
      (base?.topicMap ?? PMap.empty<PartitionMap>()).asMutable(),
      base?.size ?? 0,
      base?.createdOffset ?? 0,
      base?.createdTimeMs ?? 0,
      base?.removedTopics ?? 0,
      base?.topicsRemovedOffset ?? 0,
      base?.topicStampMap as Map<string, GroupTopicStamps> | undefined,
    );
  }

  /** The group's first commit since it had no offsets: it starts afresh. */
  created(offset: number, timestampMs: number): void {
    this.createdOffset = offset;
    this.createdTimeMs = timestampMs;
    this.removedTopics = 0;
    this.topicsRemovedOffset = 0;
    this.topicStamps = undefined;
    this.stampsOwned = false;
  }

  /** Sets (or with undefined drops) one topic's stamps on a private copy of the map. */
  setTopicStamps(topic: string, stamps: GroupTopicStamps | undefined): void {
    if (stamps === undefined && this.topicStamps?.has(topic) !== true) return;
    if (!this.stampsOwned) {
      this.topicStamps = new Map(this.topicStamps);
      this.stampsOwned = true;
    }
    if (stamps === undefined) this.topicStamps!.delete(topic);
    else this.topicStamps!.set(topic, stamps);
  }

  /** A topic's offsets all went at `offset`: counted, unless the group went with them. */
  topicRemoved(topic: string, offset: number): void {
    this.setTopicStamps(topic, undefined);
    if (this.size === 0) return;
    this.removedTopics++;
    this.topicsRemovedOffset = offset;
  }

  /** The topic's partition map, made private to this delta. */
  own(topic: string): Map<number, CommittedOffset> {
    // A plain Map first: its string keys cache their hashes, the trie hashes the name on every get.
    const owned = this.owned.get(topic);
    if (owned !== undefined) return owned;
    const mine = new Map(this.topics.get(topic));
    this.topics.set(topic, mine);
    this.owned.set(topic, mine);
    return mine;
  }

  /** Notes that `partition` of `topic` may have changed. */
  mark(topic: string, partition: number): void {
    const parts = this.touched.get(topic);
    if (parts === null) return;
    if (parts === undefined) this.touched.set(topic, new Set([partition]));
    else parts.add(partition);
  }

  /** Drops a topic's offsets. */
  dropTopic(topic: string): void {
    this.topics.delete(topic);
    this.owned.delete(topic);
    this.touched.set(topic, null);
  }

  /** Drops every offset of the group. */
  clear(): void {
    this.cleared ??= this.topics.build();
    this.topics = PMap.empty<PartitionMap>().asMutable();
    this.owned.clear();
    this.size = 0;
  }
}

export class OffsetsDelta {
  private readonly changed = new Map<string, GroupWork>();
  private removedGroups: number;
  private lastRemovedOffset: number;

  constructor(readonly image: OffsetsImageImpl) {
    this.removedGroups = image.removedGroups;
    this.lastRemovedOffset = image.lastRemovedOffset;
  }

  private group(groupId: string): GroupWork {
    let g = this.changed.get(groupId);
    if (g === undefined) {
      g = GroupWork.of(this.image.group(groupId));
      this.changed.set(groupId, g);
    }
    return g;
  }

  /** Counted per record, so how records are batched into deltas cannot change the counts. */
  private groupRemoved(offset: number): void {
    this.removedGroups++;
    this.lastRemovedOffset = offset;
  }

  replayCommit(record: OffsetCommitRecord, offset: number, timestampMs: number): void {
    const partition = record.partition;
    if (!Number.isInteger(partition) || partition < 0) {
      throw new MetadataReplayError(offset, record, `invalid partition ${partition}`);
    }
    const g = this.group(record.groupId);
    if (g.size === 0) g.created(offset, timestampMs);
    const parts = g.own(record.topic);
    g.mark(record.topic, partition);
    const prev = parts.get(partition);
    parts.set(
      partition,
      new Committed(
        record.offset,
        record.metadata,
        record.commitTimestampMs,
        offset,
        prev === undefined ? offset : prev.createdOffset,
        prev === undefined ? timestampMs : prev.createdTimeMs,
        prev === undefined ? 0 : prev.version + 1,
      ),
    );
    if (prev === undefined) g.size++;
  }

  /**
   * Deleting what is not there is a no-op (offsets expire independently of the topics they name).
   * What a deletion empties (a topic of the group, the group) is counted in its parent's removals.
   */
  replayDelete(record: OffsetDeleteRecord, offset: number): void {
    const current = this.changed.get(record.groupId) ?? this.image.group(record.groupId)?.topicMap;
    const topics = current instanceof GroupWork ? current.topics : current;
    if (topics === undefined || topics.size === 0) return;
    if (record.topic === undefined) {
      this.group(record.groupId).clear();
      this.groupRemoved(offset);
      return;
    }
    const parts = topics.get(record.topic);
    if (parts === undefined) return;
    if (record.partition === undefined) {
      const g = this.group(record.groupId);
      g.size -= parts.size;
      g.dropTopic(record.topic);
      g.topicRemoved(record.topic, offset);
      if (g.size === 0) this.groupRemoved(offset);
      return;
    }
    if (!parts.has(record.partition)) return;
    const g = this.group(record.groupId);
    const mine = g.own(record.topic);
    const before = g.topicStamps?.get(record.topic) ?? topicCreation(mine);
    mine.delete(record.partition);
    g.mark(record.topic, record.partition);
    g.size--;
    if (mine.size > 0) {
      g.setTopicStamps(
        record.topic,
        Object.freeze({
          createdOffset: before.createdOffset,
          createdTimeMs: before.createdTimeMs,
          removedPartitions: ('removedPartitions' in before ? before.removedPartitions : 0) + 1,
          lastRemovedOffset: offset,
        }),
      );
      return;
    }
    g.dropTopic(record.topic);
    g.topicRemoved(record.topic, offset);
    if (g.size === 0) this.groupRemoved(offset);
  }

  get touched(): Iterable<string> {
    return this.changed.keys();
  }

  /**
   * The topics of `groupId` whose commits may have changed in this delta, each with the partitions
   * that may have (null: any partition of the topic).
   */
  touchedTopics(groupId: string): Iterable<[string, Iterable<number> | null]> {
    const g = this.changed.get(groupId);
    if (g === undefined) return [];
    if (g.cleared === undefined) return g.touched;
    // Every topic the group had, plus those committed to after the deletion.
    const all = new Map<string, Iterable<number> | null>(g.touched);
    for (const [t] of g.cleared) all.set(t, null);
    return all;
  }

  apply(): OffsetsImageImpl {
    if (this.changed.size === 0) return this.image;
    const b = this.image.groupMap.asMutable();
    for (const [groupId, g] of this.changed) {
      if (g.size === 0) b.delete(groupId);
      else {
        b.set(
          groupId,
          new GroupOffsetsImpl(
            groupId,
            g.topics.build(),
            g.size,
            g.createdOffset,
            g.createdTimeMs,
            g.removedTopics,
            g.topicsRemovedOffset,
            g.topicStamps === undefined || g.topicStamps.size === 0 ? undefined : g.topicStamps,
          ),
        );
      }
    }
    return new OffsetsImageImpl(b.build(), this.removedGroups, this.lastRemovedOffset);
  }
}

/** A group's topic's creation as its commits show it (the oldest), before any of them was deleted. */
function topicCreation(parts: PartitionMap): { createdOffset: number; createdTimeMs: number } {
  let first: CommittedOffset | undefined;
  for (const c of parts.values()) if (first === undefined || c.createdOffset < first.createdOffset) first = c;
  return { createdOffset: first?.createdOffset ?? 0, createdTimeMs: first?.createdTimeMs ?? 0 };
}

function sameCommit(a: CommittedOffset, b: CommittedOffset): boolean {
  return (
    a === b ||
    (a.changedOffset === b.changedOffset &&
      a.version === b.version &&
      a.createdOffset === b.createdOffset &&
      a.offset === b.offset)
  );
}

/**
 * Per touched group: `offsets-deleted` if any committed offset went away (or was re-created), then
 * `offsets-committed` with the number of partitions whose commit is new; each names the partitions
 * concerned by topic. `touchedOf(groupId)` narrows what is compared (a delta knows the partitions it
 * touched: a commit costs O(1), whatever the size of its group); without it every partition of both
 * images' group is. Topic maps that are the same object in both are skipped by identity.
 */
export function offsetsChanges(
  base: OffsetsImageImpl,
  next: OffsetsImageImpl,
  groupIds: Iterable<string>,
  out: MetadataChange[],
  touchedOf?: (groupId: string) => Iterable<[string, Iterable<number> | null]>,
): void {
  if (base === next) return;
  const empty: PartitionMap = new Map();
  for (const groupId of groupIds) {
    const b = base.group(groupId);
    const a = next.group(groupId);
    if (a === b) continue;
    let topics = touchedOf?.(groupId);
    if (topics === undefined) {
      const all = new Map<string, null>();
      for (const [t] of b?.topicMap ?? []) all.set(t, null);
      for (const [t] of a?.topicMap ?? []) all.set(t, null);
      topics = all;
    }
    const deleted = new Map<string, number[]>();
    const committed = new Map<string, number[]>();
    let count = 0;
    for (const [topic, touched] of topics) {
      const bParts = b?.topicMap.get(topic) ?? empty;
      const aParts = a?.topicMap.get(topic) ?? empty;
      if (aParts === bParts) continue;
      const check = (p: number) => {
        const was = bParts.get(p);
        const now = aParts.get(p);
        if (was === now) return;
        if (was !== undefined && (now === undefined || now.createdOffset !== was.createdOffset))
          push(deleted, topic, p);
        if (now !== undefined && (was === undefined || !sameCommit(was, now))) {
          push(committed, topic, p);
          count++;
        }
      };
      if (touched !== null) for (const p of touched) check(p);
      else {
        for (const p of bParts.keys()) check(p);
        for (const p of aParts.keys()) if (!bParts.has(p)) check(p);
      }
    }
    if (deleted.size > 0) out.push({ kind: 'offsets-deleted', groupId, topics: deleted });
    if (count > 0) out.push({ kind: 'offsets-committed', groupId, partitions: count, topics: committed });
  }
}

function push(m: Map<string, number[]>, topic: string, partition: number): void {
  const list = m.get(topic);
  if (list === undefined) m.set(topic, [partition]);
  else list.push(partition);
}
