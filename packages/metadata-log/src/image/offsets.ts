/**
 * Committed consumer-group offsets: the hottest record type (many small commits).
 *
 * Layout: groups in a persistent trie; a group holds topic -> (partition -> offset) maps. A delta
 * copies a group's topic map once, and a topic's partition map once, on first touch; replaying a
 * commit after that is two map lookups and one small object. Untouched topic maps keep their identity
 * across versions, which is also how change events find what moved without scanning whole groups.
 * Partition maps (not arrays) so an odd partition number cannot blow up memory or iteration.
 */
import type { OffsetCommitRecord, OffsetDeleteRecord } from '../records.js';
import { MetadataReplayError } from './errors.js';
import { PMap } from './pmap.js';
import type { CommittedOffset, GroupOffsets, MetadataChange, OffsetsImage } from './types.js';

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
  /** @internal Takes ownership; no topic maps to an empty partition map; `size` counts all entries. */
  constructor(
    readonly groupId: string,
    /** @internal */ readonly topicMap: ReadonlyMap<string, PartitionMap>,
    readonly size: number,
  ) {
    Object.freeze(this);
  }

  get(topic: string, partition: number): CommittedOffset | undefined {
    return this.topicMap.get(topic)?.get(partition);
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
  constructor(/** @internal */ readonly groupMap: PMap<GroupOffsetsImpl>) {
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

  toComparable(): { groupId: string; offsets: ComparableOffset[] }[] {
    return [...this.groupMap.values()]
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
      .map((g) => ({
        groupId: g.groupId,
        offsets: [...g.entries()]
          .sort(([t1, p1], [t2, p2]) => (t1 < t2 ? -1 : t1 > t2 ? 1 : p1 - p2))
          .map(([topic, partition, c]) => ({ topic, partition, ...c })),
      }));
  }
}

class GroupWork {
  /** Topics whose partition map is already this delta's private copy. */
  readonly owned = new Set<string>();
  constructor(
    readonly topics: Map<string, PartitionMap>,
    public size: number,
  ) {}

  /** The topic's partition map, made private to this delta. */
  own(topic: string): Map<number, CommittedOffset> {
    const parts = this.topics.get(topic);
    if (parts !== undefined && this.owned.has(topic)) return parts as Map<number, CommittedOffset>;
    const mine = new Map(parts);
    this.topics.set(topic, mine);
    this.owned.add(topic);
    return mine;
  }
}

export class OffsetsDelta {
  private readonly changed = new Map<string, GroupWork>();

  constructor(readonly image: OffsetsImageImpl) {}

  private group(groupId: string): GroupWork {
    let g = this.changed.get(groupId);
    if (g === undefined) {
      const base = this.image.group(groupId);
      g = new GroupWork(new Map(base?.topicMap), base?.size ?? 0);
      this.changed.set(groupId, g);
    }
    return g;
  }

  replayCommit(record: OffsetCommitRecord, offset: number, timestampMs: number): void {
    const partition = record.partition;
    if (!Number.isInteger(partition) || partition < 0) {
      throw new MetadataReplayError(offset, record, `invalid partition ${partition}`);
    }
    const g = this.group(record.groupId);
    const parts = g.own(record.topic);
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

  /** Deleting what is not there is a no-op (offsets expire independently of the topics they name). */
  replayDelete(record: OffsetDeleteRecord): void {
    const current = this.changed.get(record.groupId) ?? this.image.group(record.groupId)?.topicMap;
    const topics = current instanceof GroupWork ? current.topics : current;
    if (topics === undefined || topics.size === 0) return;
    if (record.topic === undefined) {
      const g = this.group(record.groupId);
      g.topics.clear();
      g.owned.clear();
      g.size = 0;
      return;
    }
    const parts = topics.get(record.topic);
    if (parts === undefined) return;
    if (record.partition === undefined) {
      const g = this.group(record.groupId);
      g.size -= parts.size;
      g.topics.delete(record.topic);
      g.owned.delete(record.topic);
      return;
    }
    if (!parts.has(record.partition)) return;
    const g = this.group(record.groupId);
    const mine = g.own(record.topic);
    mine.delete(record.partition);
    g.size--;
    if (mine.size === 0) {
      g.topics.delete(record.topic);
      g.owned.delete(record.topic);
    }
  }

  get touched(): Iterable<string> {
    return this.changed.keys();
  }

  apply(): OffsetsImageImpl {
    if (this.changed.size === 0) return this.image;
    const b = this.image.groupMap.asMutable();
    for (const [groupId, g] of this.changed) {
      if (g.size === 0) b.delete(groupId);
      else b.set(groupId, new GroupOffsetsImpl(groupId, g.topics, g.size));
    }
    return new OffsetsImageImpl(b.build());
  }
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
 * `offsets-committed` with the number of partitions whose commit is new. Topic maps the delta did not
 * touch are skipped by identity.
 */
export function offsetsChanges(
  base: OffsetsImageImpl,
  next: OffsetsImageImpl,
  groupIds: Iterable<string>,
  out: MetadataChange[],
): void {
  if (base === next) return;
  const empty: PartitionMap = new Map();
  for (const groupId of groupIds) {
    const b = base.group(groupId);
    const a = next.group(groupId);
    if (a === b) continue;
    let deleted = false;
    let committed = 0;
    if (b !== undefined) {
      for (const [topic, bParts] of b.topicMap) {
        const aParts = a?.topicMap.get(topic) ?? empty;
        if (aParts === bParts) continue;
        for (const [p, c] of bParts) {
          const now = aParts.get(p);
          if (now === undefined || now.createdOffset !== c.createdOffset) deleted = true;
        }
      }
    }
    if (a !== undefined) {
      for (const [topic, aParts] of a.topicMap) {
        const bParts = b?.topicMap.get(topic) ?? empty;
        if (aParts === bParts) continue;
        for (const [p, c] of aParts) {
          const before = bParts.get(p);
          if (before === undefined || !sameCommit(before, c)) committed++;
        }
      }
    }
    if (deleted) out.push({ kind: 'offsets-deleted', groupId });
    if (committed > 0) out.push({ kind: 'offsets-committed', groupId, partitions: committed });
  }
}
