import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MetadataDelta, MetadataImage } from '../src/image/metadata-image.js';
import {
  ConfigResourceType,
  type MetadataRecord,
  RecordType,
  UnsupportedRecordError,
} from '../src/records.js';
import {
  readSnapshot,
  readSnapshotHeader,
  SNAPSHOT_FORMAT,
  SnapshotChecksumError,
  SnapshotFormatError,
  writeSnapshot,
} from '../src/snapshot.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';

function sample(): MetadataImage {
  const batches: MetadataRecord[][] = [
    [
      { type: RecordType.Cluster, version: 0, clusterId: 'cluster-1' },
      { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 5 },
      ...[1, 2, 3].map(
        (b): MetadataRecord => ({
          type: RecordType.RegisterBroker,
          version: 0,
          brokerId: b,
          incarnationId: `inc-${b}`,
          endpoints: [{ name: 'CLIENT', host: `h${b}`, port: 9092, securityProtocol: 'SSL' }],
          rack: b === 3 ? null : `rack-${b}`,
          fenced: true,
          inControlledShutdown: false,
        }),
      ),
    ],
    [
      {
        type: RecordType.BrokerRegistrationChange,
        version: 0,
        brokerId: 1,
        brokerEpoch: 1,
        fenced: -1,
        inControlledShutdown: 0,
      },
      {
        type: RecordType.BrokerRegistrationChange,
        version: 0,
        brokerId: 2,
        brokerEpoch: 1,
        fenced: -1,
        inControlledShutdown: 1,
      },
      { type: RecordType.Topic, version: 0, name: 'orders', topicId: T1 },
      ...[0, 1, 2].map(
        (p): MetadataRecord => ({
          type: RecordType.Partition,
          version: 0,
          topicId: T1,
          partitionId: p,
          replicas: [1, 2, 3],
          isr: p === 2 ? [1, 2] : [1, 2, 3],
          leader: 1,
          leaderEpoch: 0,
          partitionEpoch: 0,
          leaderRecoveryState: 0,
        }),
      ),
    ],
    [
      {
        type: RecordType.PartitionChange,
        version: 0,
        topicId: T1,
        partitionId: 1,
        leader: 2,
        replicas: [2, 3, 1],
      },
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Topic,
        resourceName: 'orders',
        name: 'retention.ms',
        value: '10',
      },
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Broker,
        resourceName: '',
        name: 'x',
        value: 'y',
      },
      {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'g',
        topic: 'orders',
        partition: 0,
        offset: 5,
        metadata: 'm',
        commitTimestampMs: 7,
      },
    ],
    [
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Topic,
        resourceName: 'orders',
        name: 'retention.ms',
        value: '20',
      },
      {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'g',
        topic: 'orders',
        partition: 0,
        offset: 6,
        metadata: '',
        commitTimestampMs: 8,
      },
      {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'h',
        topic: 'orders',
        partition: 2,
        offset: 1,
        metadata: '',
        commitTimestampMs: 8,
      },
    ],
  ];
  let image = MetadataImage.EMPTY;
  batches.forEach((records, i) => {
    const d = new MetadataDelta(image);
    d.replayBatch({ timestampMs: 1_700_000_000_000 + i, records }, 10 + i * 5, 2);
    image = d.apply();
  });
  return image;
}

function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  return Buffer.concat([...chunks]);
}

function* cut(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('snapshot', () => {
  it('round-trips every field, stamps and epochs included', async () => {
    const image = sample();
    const loaded = await readSnapshot(writeSnapshot(image));
    expect(loaded.toComparable()).toEqual(image.toComparable());
    expect(loaded.equals(image)).toBe(true);
    expect(loaded.cluster.broker(2)).toMatchObject({
      epoch: 10,
      fenced: false,
      inControlledShutdown: true,
      registeredTimeMs: 1_700_000_000_000,
    });
    expect(loaded.topics.byName('orders')).toMatchObject({
      assignmentVersion: 1,
      assignmentChangedOffset: 20,
    });
    expect(loaded.configs.get(ConfigResourceType.Topic, 'orders')).toMatchObject({
      version: 1,
      createdOffset: 20,
    });
    expect(loaded.offsets.group('g')?.get('orders', 0)).toMatchObject({
      version: 1,
      createdOffset: 20,
      changedOffset: 25,
    });
  });

  it('the empty image round-trips', async () => {
    const loaded = await readSnapshot(writeSnapshot(MetadataImage.EMPTY));
    expect(loaded.equals(MetadataImage.EMPTY)).toBe(true);
  });

  it('is independent of chunk boundaries, on both sides', async () => {
    const image = sample();
    const reference = concat(writeSnapshot(image));
    for (const chunkBytes of [1, 3, 7, 64, 1 << 20]) {
      const written = [...writeSnapshot(image, { chunkBytes, recordsPerFrame: 2 })];
      expect(written.slice(0, -1).every((c) => c.length === chunkBytes)).toBe(true);
      const loaded = await readSnapshot(written);
      expect(loaded.equals(image)).toBe(true);
    }
    for (const size of [1, 2, 5, 13, 4096]) {
      async function* chunks() {
        yield* cut(reference, size);
      }
      expect((await readSnapshot(chunks())).equals(image)).toBe(true);
    }
    expect(await readSnapshotHeader(cut(reference, 3))).toMatchObject({
      format: SNAPSHOT_FORMAT,
      offset: 25,
      epoch: 2,
      topics: 1,
      partitions: 3,
      brokers: 3,
      groups: 2,
    });
  });

  it('refuses a flipped byte anywhere with a checksum error', async () => {
    const bytes = concat(writeSnapshot(sample(), { recordsPerFrame: 3 }));
    // Walk the frames to the footer, so only checksummed bytes are flipped.
    let footerStart = 0;
    while (bytes[footerStart] !== 3) footerStart += 5 + Buffer.from(bytes).readUInt32BE(footerStart + 1);
    let checked = 0;
    for (let i = 0; i < footerStart; i += 7) {
      const bad = Uint8Array.from(bytes);
      bad[i] = bad[i]! ^ 0x5a;
      const err = await readSnapshot([bad]).catch((e: unknown) => e);
      expect(err, `flip at ${i}`).toBeInstanceOf(Error);
      if (err instanceof SnapshotChecksumError) {
        expect(err.message).toMatch(/crc32 0x[0-9a-f]{8}.*0x[0-9a-f]{8}/);
        checked++;
      } else {
        // A flip in a frame prefix can make the frame run past the end: that is a truncated stream.
        expect(err).toBeInstanceOf(SnapshotFormatError);
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('refuses a newer format, naming it, before reading further', async () => {
    const packr = new Packr({ useRecords: false });
    const header = packr.pack({
      magic: 'kbroker-metadata-snapshot',
      format: SNAPSHOT_FORMAT + 1,
      offset: 1,
      epoch: 1,
      timestampMs: 0,
    });
    const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), header]);
    frame.writeUInt32BE(header.length, 1);
    const err = await readSnapshot([frame, Buffer.from('garbage that is never read')]).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotFormatError);
    expect((err as Error).message).toContain(`format ${SNAPSHOT_FORMAT + 1}`);
  });

  it('refuses truncation, trailing bytes, foreign data and record count mismatches', async () => {
    const bytes = concat(writeSnapshot(sample()));
    await expect(readSnapshot([bytes.subarray(0, bytes.length - 3)])).rejects.toThrow(/truncated/);
    await expect(readSnapshot([bytes, Buffer.from([0])])).rejects.toThrow(/after its footer/);
    await expect(readSnapshot([])).rejects.toThrow(SnapshotFormatError);
    await expect(readSnapshot([Buffer.from('hello, this is not a snapshot')])).rejects.toThrow(
      SnapshotFormatError,
    );

    // A well-formed stream whose footer miscounts the records.
    const packr = new Packr({ useRecords: false });
    const frame = (kind: number, payload: Uint8Array) => {
      const f = Buffer.concat([Buffer.from([kind, 0, 0, 0, 0]), payload]);
      f.writeUInt32BE(payload.length, 1);
      return f;
    };
    const head = frame(
      1,
      packr.pack({ magic: 'kbroker-metadata-snapshot', format: 1, offset: 1, epoch: 1, timestampMs: 0 }),
    );
    const recs = frame(2, packr.pack([{ type: RecordType.Cluster, version: 0, clusterId: 'x' }]));
    const body = Buffer.concat([head, recs]);
    const footer = frame(3, packr.pack({ records: 2, crc32: crc32(body) }));
    await expect(readSnapshot([body, footer])).rejects.toThrow(/counts 2 records/);

    // A record of a newer version than this build reads.
    const newer = Buffer.concat([
      head,
      frame(2, packr.pack([{ type: RecordType.Cluster, version: 9, clusterId: 'x' }])),
    ]);
    const err = await readSnapshot([newer, frame(3, packr.pack({ records: 1, crc32: crc32(newer) }))]).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnsupportedRecordError);
  });

  it('loads a format-1 snapshot: the stamps it lacks start from what its records show', async () => {
    const packr = new Packr({ useRecords: false });
    const frame = (kind: number, payload: Uint8Array) => {
      const f = Buffer.concat([Buffer.from([kind, 0, 0, 0, 0]), payload]);
      f.writeUInt32BE(payload.length, 1);
      return f;
    };
    const head = frame(
      1,
      packr.pack({ magic: 'kbroker-metadata-snapshot', format: 1, offset: 40, epoch: 3, timestampMs: 7 }),
    );
    const commit = (partition: number, createdOffset: number) => ({
      type: RecordType.OffsetCommit,
      version: 0,
      groupId: 'g',
      topic: 't',
      partition,
      offset: 1,
      metadata: '',
      commitTimestampMs: 0,
      changedOffset: createdOffset,
      createdOffset,
      createdTimeMs: createdOffset * 10,
      commitVersion: 0,
    });
    const recs = frame(
      2,
      packr.pack([{ type: RecordType.Cluster, version: 0, clusterId: 'x' }, commit(0, 30), commit(1, 20)]),
    );
    const body = Buffer.concat([head, recs]);
    const image = await readSnapshot([body, frame(3, packr.pack({ records: 3, crc32: crc32(body) }))]);
    expect(image.terms).toMatchObject({ count: 1, startOffset: 40, startTimeMs: 7 });
    expect(image.terms.epochAt(1)).toBe(3);
    expect(image.topics).toMatchObject({ removedCount: 0, lastRemovedOffset: 0 });
    expect(image.offsets.group('g')).toMatchObject({
      createdOffset: 20,
      createdTimeMs: 200,
      removedTopics: 0,
    });
    // Written again, it is a format-2 snapshot of the same image.
    expect((await readSnapshot(writeSnapshot(image))).equals(image)).toBe(true);
  });

  it('captures the image it was given even if consumed later', async () => {
    const image = sample();
    const stream = writeSnapshot(image);
    const d = new MetadataDelta(image);
    d.replay({ type: RecordType.Cluster, version: 0, clusterId: 'other' }, 100, 1);
    d.apply();
    expect((await readSnapshot(stream)).cluster.clusterId).toBe('cluster-1');
  });
});
