import { type Entry, EntryKind } from '@kbroker/raft';
import { describe, expect, it, vi } from 'vitest';
import type { MetadataChange } from '../src/image/types.js';
import { encodeBatch, type MetadataRecord, RecordType } from '../src/records.js';
import { SnapshotFormatError } from '../src/snapshot.js';
import { MetadataStateMachine } from '../src/state-machine.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';

const normal = (
  index: number,
  term: number,
  records: MetadataRecord[],
  timestampMs = index * 100,
): Entry => ({
  index,
  term,
  kind: EntryKind.Normal,
  data: encodeBatch({ timestampMs, records }),
});

const topicEntries = (): Entry[] => [
  normal(1, 1, [{ type: RecordType.Cluster, version: 0, clusterId: 'c' }]),
  { index: 2, term: 2, kind: EntryKind.NoOp },
  normal(3, 2, [
    { type: RecordType.Topic, version: 0, name: 'a', topicId: T1 },
    {
      type: RecordType.Partition,
      version: 0,
      topicId: T1,
      partitionId: 0,
      replicas: [1],
      isr: [1],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
      leaderRecoveryState: 0,
    },
  ]),
];

async function* stream(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe('MetadataStateMachine', () => {
  it('applies entries as one delta, moves provenance on NoOp and Membership entries, and notifies', () => {
    const sm = new MetadataStateMachine();
    const seen: [readonly MetadataChange[], number][] = [];
    sm.onChange((changes, image) => seen.push([changes, image.provenance.offset]));
    sm.apply(topicEntries());
    expect(sm.image.cluster.clusterId).toBe('c');
    expect(sm.image.topics.byName('a')?.createdOffset).toBe(3);
    expect(sm.image.provenance).toEqual({ offset: 3, epoch: 2, timestampMs: 300 });
    expect(seen).toEqual([
      [
        [
          { kind: 'cluster-id', clusterId: 'c' },
          { kind: 'topic-created', topicId: T1, name: 'a', partitions: 1 },
        ],
        3,
      ],
    ]);
    sm.apply([{ index: 4, term: 3, kind: EntryKind.Membership, membership: { voters: [] } }]);
    expect(sm.image.provenance).toEqual({ offset: 4, epoch: 3, timestampMs: 300 });
    expect(seen[1]).toEqual([[], 4]);
  });

  it('skips entries it has applied already; an empty apply publishes nothing', () => {
    const sm = new MetadataStateMachine();
    sm.apply(topicEntries());
    const image = sm.image;
    const listener = vi.fn();
    sm.onChange(listener);
    sm.apply(topicEntries());
    sm.apply([]);
    expect(sm.image).toBe(image);
    expect(listener).not.toHaveBeenCalled();
  });

  it('publishes nothing of a call whose batch cannot be replayed', () => {
    const sm = new MetadataStateMachine();
    sm.apply(topicEntries().slice(0, 1));
    const before = sm.image;
    const bad = normal(5, 2, [{ type: RecordType.RemoveTopic, version: 0, topicId: 'missing' }]);
    expect(() => sm.apply([normal(4, 2, [{ type: RecordType.NoOp, version: 0 }]), bad])).toThrow(
      /offset 5.*unknown topic/,
    );
    expect(sm.image).toBe(before);
  });

  it('a throwing listener does not fail apply; others still run', () => {
    const errors: unknown[] = [];
    const sm = new MetadataStateMachine({ onListenerError: (e) => errors.push(e) });
    const second = vi.fn();
    sm.onChange(() => {
      throw new Error('boom');
    });
    const off = sm.onChange(second);
    sm.apply(topicEntries());
    expect(errors).toHaveLength(1);
    expect(second).toHaveBeenCalledTimes(1);
    off();
    sm.apply([{ index: 9, term: 3, kind: EntryKind.NoOp }]);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('snapshot captures the image at call time; restore replaces it and reports the difference', async () => {
    const a = new MetadataStateMachine({ snapshot: { chunkBytes: 16 } });
    a.apply(topicEntries());
    const snap = a.snapshot();
    a.apply([normal(4, 2, [{ type: RecordType.RemoveTopic, version: 0, topicId: T1 }])]);
    expect(a.image.topics.topicCount).toBe(0);

    const b = new MetadataStateMachine();
    b.apply([normal(1, 1, [{ type: RecordType.FeatureLevel, version: 0, name: 'f', level: 1 }])]);
    const seen: MetadataChange[][] = [];
    b.onChange((changes) => seen.push([...changes]));
    await b.restore({ index: 3, term: 2, membership: { voters: [] } }, stream(snap));
    expect(b.image.provenance).toEqual({ offset: 3, epoch: 2, timestampMs: 300 });
    expect(b.image.topics.byName('a')?.partitions).toHaveLength(1);
    expect(seen).toEqual([
      [
        { kind: 'cluster-id', clusterId: 'c' },
        { kind: 'feature-changed', name: 'f', level: 0 },
        { kind: 'topic-created', topicId: T1, name: 'a', partitions: 1 },
      ],
    ]);
    // Replay continues after the restored offset and skips what the snapshot covers.
    b.apply([...topicEntries(), normal(4, 2, [{ type: RecordType.RemoveTopic, version: 0, topicId: T1 }])]);
    expect(b.image.toComparable()).toEqual(a.image.toComparable());
  });

  it('restore refuses a snapshot whose offset is not the Raft index', async () => {
    const a = new MetadataStateMachine();
    a.apply(topicEntries());
    const b = new MetadataStateMachine();
    await expect(
      b.restore({ index: 7, term: 2, membership: { voters: [] } }, stream(a.snapshot())),
    ).rejects.toThrow(SnapshotFormatError);
    expect(b.image.provenance.offset).toBe(0);
  });
});
