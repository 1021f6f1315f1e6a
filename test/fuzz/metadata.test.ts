/**
 * Hostile metadata: record batches (`decodeBatch`) and snapshots (`readSnapshot`) from random bytes,
 * mutated valid encodings, and valid snapshots whose records were tampered with and re-checksummed (so
 * the record loader itself is reached). Only the typed errors of the format may come out.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MetadataDelta, MetadataImage } from '../../packages/metadata-log/src/image/metadata-image.js';
import {
  ConfigResourceType,
  decodeBatch,
  encodeBatch,
  MalformedRecordBatchError,
  type MetadataRecord,
  RecordType,
  UnsupportedRecordError,
} from '../../packages/metadata-log/src/records.js';
import {
  readSnapshot,
  SnapshotChecksumError,
  SnapshotFormatError,
  writeSnapshot,
} from '../../packages/metadata-log/src/snapshot.js';
import { mutate, mutations, RUNS, rejectionOf, replaceAt, thrownBy, typedError } from './helpers.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';
const BATCH: MetadataRecord[] = [
  { type: RecordType.Cluster, version: 0, clusterId: 'c1' },
  { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 1 },
  {
    type: RecordType.RegisterBroker,
    version: 0,
    brokerId: 1,
    incarnationId: 'inc-1',
    endpoints: [{ name: 'CLIENT', host: 'h1', port: 9092, securityProtocol: 'PLAINTEXT' }],
    rack: null,
    fenced: false,
    inControlledShutdown: false,
  },
  { type: RecordType.Topic, version: 0, name: 'orders', topicId: T1 },
  ...[0, 1].map(
    (p): MetadataRecord => ({
      type: RecordType.Partition,
      version: 0,
      topicId: T1,
      partitionId: p,
      replicas: [1],
      isr: [1],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
      leaderRecoveryState: 0,
    }),
  ),
  {
    type: RecordType.Config,
    version: 0,
    resourceType: ConfigResourceType.Topic,
    resourceName: 'orders',
    name: 'retention.ms',
    value: '10',
  },
  {
    type: RecordType.OffsetCommit,
    version: 0,
    groupId: 'g',
    topic: 'orders',
    partition: 0,
    offset: 5,
    metadata: '',
    commitTimestampMs: 7,
  },
];

function sampleImage(): MetadataImage {
  const d = new MetadataDelta(MetadataImage.EMPTY);
  d.replayBatch({ timestampMs: 1_700_000_000_000, records: BATCH }, 10, 1);
  return d.apply();
}

const SNAPSHOT_ERRORS = [
  SnapshotFormatError,
  SnapshotChecksumError,
  UnsupportedRecordError,
  MalformedRecordBatchError,
];
const BATCH_ERRORS = [MalformedRecordBatchError, UnsupportedRecordError];

function concat(chunks: Iterable<Uint8Array>): Buffer {
  return Buffer.concat([...chunks]);
}

/** Splits a snapshot into its frames: kind byte, 4-byte length, payload. */
function frames(bytes: Buffer): { kind: number; payload: Buffer }[] {
  const out: { kind: number; payload: Buffer }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const len = bytes.readUInt32BE(at + 1);
    out.push({ kind: bytes[at]!, payload: bytes.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** Reassembles frames with a footer whose checksum and count match (a tampered but well-sealed snapshot). */
function seal(header: Buffer, records: unknown[]): Buffer {
  const frame = (kind: number, payload: Uint8Array) => {
    const prefix = Buffer.alloc(5);
    prefix[0] = kind;
    prefix.writeUInt32BE(payload.length, 1);
    return Buffer.concat([prefix, payload]);
  };
  const body = Buffer.concat([frame(1, header), frame(2, new Packr({ useRecords: true }).pack(records))]);
  const footer = frame(
    3,
    new Packr({ useRecords: false }).pack({ records: records.length, crc32: crc32(body) }),
  );
  return Buffer.concat([body, footer]);
}

/** Values msgpack can carry, of every shape a field could wrongly hold. */
const wireValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(undefined, null, -1, 2 ** 53, Number.NaN, 1e308, '', 'x'.repeat(300)),
  fc.uint8Array({ maxLength: 8 }),
);

describe('record batches under hostile input', () => {
  const valid = Buffer.from(encodeBatch({ timestampMs: 1, records: BATCH }));

  it('random bytes and mutated batches: a batch or a typed error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          mutations.map((m) => mutate(valid, m)),
        ),
        (bytes) => {
          const err = thrownBy(() => decodeBatch(bytes));
          if (err !== undefined) expect(typedError(err, BATCH_ERRORS)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a field replaced by a value of another type: a batch or a typed error', () => {
    const raw = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(valid) as object;
    fc.assert(
      fc.property(fc.nat(), wireValue, (pick, v) => {
        const bytes = new Packr({ useRecords: false }).pack(replaceAt(raw, pick, v));
        const err = thrownBy(() => decodeBatch(bytes));
        if (err !== undefined) expect(typedError(err, BATCH_ERRORS)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('snapshots under hostile input', () => {
  const valid = concat(writeSnapshot(sampleImage(), { recordsPerFrame: 1000 }));
  const [header, records] = frames(valid);
  const recordList = new Unpackr({ useRecords: true, mapsAsObjects: true }).unpack(
    records!.payload,
  ) as unknown[];

  it('reads the untouched sample (the fixture is sound)', async () => {
    const image = await readSnapshot([valid]);
    expect(image.topics.topicCount).toBe(1);
    expect(await readSnapshot([seal(header!.payload, recordList)])).toBeInstanceOf(MetadataImage);
  });

  it('random bytes and mutated snapshots, cut anywhere: an image or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          mutations.map((m) => mutate(valid, m)),
        ),
        fc.nat({ max: 64 }),
        async (bytes, cut) => {
          const chunks = cut === 0 ? [bytes] : [bytes.subarray(0, cut), bytes.subarray(cut)];
          const err = await rejectionOf(() => readSnapshot(chunks));
          if (err !== undefined) expect(typedError(err, SNAPSHOT_ERRORS)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('tampered records under a valid checksum: an image or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), wireValue, async (pick, v) => {
        const err = await rejectionOf(() =>
          readSnapshot([seal(header!.payload, replaceAt(recordList, pick, v) as unknown[])]),
        );
        if (err !== undefined) expect(typedError(err, SNAPSHOT_ERRORS)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('a frame declaring more than the limit is refused from its 5 prefix bytes', async () => {
    const prefix = Buffer.from([1, 0xff, 0xff, 0xff, 0xff]);
    expect(await rejectionOf(() => readSnapshot([prefix]))).toBeInstanceOf(SnapshotFormatError);
  });
});
