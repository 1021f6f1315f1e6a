import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataDelta, MetadataImage } from '../src/image/metadata-image.js';
import { ConfigResourceType, type MetadataRecord, type RecordBatch, RecordType } from '../src/records.js';
import { readSnapshot, writeSnapshot } from '../src/snapshot.js';

/** Abstract operations; `interpret` turns them into records valid against the state so far. */
const opArb = fc.oneof(
  fc.record({ op: fc.constant('register' as const), b: fc.nat(4), fenced: fc.boolean() }),
  fc.record({
    op: fc.constant('brokerChange' as const),
    i: fc.nat(),
    f: fc.constantFrom(-1, 0, 1),
    s: fc.constantFrom(0, 1),
  }),
  fc.record({ op: fc.constant('unregister' as const), i: fc.nat() }),
  fc.record({ op: fc.constant('topic' as const), n: fc.nat(3), parts: fc.nat(3) }),
  fc.record({ op: fc.constant('partition' as const), i: fc.nat(), replace: fc.boolean(), r: fc.nat(4) }),
  fc.record({
    op: fc.constant('change' as const),
    i: fc.nat(),
    p: fc.nat(),
    leader: fc.constantFrom(-2, -1, 0, 1, 2),
    isr: fc.option(fc.subarray([0, 1, 2, 3, 4]), { nil: undefined }),
    replicas: fc.option(fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }), { nil: undefined }),
    lrs: fc.option(fc.constantFrom(0 as const, 1 as const), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('remove' as const), i: fc.nat() }),
  fc.record({
    op: fc.constant('config' as const),
    topicRes: fc.boolean(),
    res: fc.nat(3),
    name: fc.constantFrom('a', 'b', 'c'),
    value: fc.option(fc.constantFrom('1', '2'), { nil: null }),
  }),
  fc.record({
    op: fc.constant('commit' as const),
    g: fc.nat(2),
    t: fc.nat(2),
    p: fc.nat(3),
    o: fc.nat(1000),
  }),
  fc.record({
    op: fc.constant('offsetDelete' as const),
    g: fc.nat(2),
    t: fc.option(fc.nat(2), { nil: undefined }),
    p: fc.option(fc.nat(3), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('feature' as const), n: fc.nat(2), level: fc.nat(3) }),
  fc.record({ op: fc.constant('cluster' as const), id: fc.constantFrom('c1', 'c2') }),
  fc.record({ op: fc.constant('noop' as const) }),
  fc.record({ op: fc.constant('endBatch' as const), gap: fc.nat(2) }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

interface Batch {
  readonly offset: number;
  readonly epoch: number;
  readonly batch: RecordBatch;
}

function interpret(ops: readonly Op[]): Batch[] {
  const brokers: number[] = [];
  const topics: { id: string; name: string; parts: number }[] = [];
  let nextTopic = 0;
  const batches: Batch[] = [];
  let records: MetadataRecord[] = [];
  let offset = 1;
  const pick = <T>(xs: readonly T[], i: number): T | undefined =>
    xs.length === 0 ? undefined : xs[i % xs.length];
  const flush = (gap: number) => {
    if (records.length > 0) {
      batches.push({
        offset,
        epoch: 1 + Math.floor(offset / 7),
        batch: { timestampMs: 1000 + offset * 3, records },
      });
      offset += 1 + gap;
    }
    records = [];
  };
  const partitionRecord = (t: { id: string }, partitionId: number, r: number): MetadataRecord => {
    const replicas = [r % 5, (r + 1) % 5, (r + 2) % 5];
    return {
      type: RecordType.Partition,
      version: 0,
      topicId: t.id,
      partitionId,
      replicas,
      isr: r % 2 === 0 ? replicas : replicas.slice(0, 2),
      leader: replicas[0]!,
      leaderEpoch: r,
      partitionEpoch: r + 1,
      leaderRecoveryState: 0,
    };
  };
  for (const o of ops) {
    switch (o.op) {
      case 'register':
        records.push({
          type: RecordType.RegisterBroker,
          version: 0,
          brokerId: o.b,
          incarnationId: `i${o.b}-${offset}`,
          endpoints: [{ name: 'CLIENT', host: `h${o.b}`, port: 9000 + o.b, securityProtocol: 'PLAINTEXT' }],
          rack: o.b % 2 === 0 ? `r${o.b}` : null,
          fenced: o.fenced,
          inControlledShutdown: false,
        });
        if (!brokers.includes(o.b)) brokers.push(o.b);
        break;
      case 'brokerChange': {
        const b = pick(brokers, o.i);
        if (b === undefined) break;
        records.push({
          type: RecordType.BrokerRegistrationChange,
          version: 0,
          brokerId: b,
          brokerEpoch: 0,
          fenced: o.f as -1 | 0 | 1,
          inControlledShutdown: o.s as 0 | 1,
        });
        break;
      }
      case 'unregister': {
        const b = pick(brokers, o.i);
        if (b === undefined) break;
        records.push({ type: RecordType.UnregisterBroker, version: 0, brokerId: b, brokerEpoch: 0 });
        brokers.splice(brokers.indexOf(b), 1);
        break;
      }
      case 'topic': {
        const name = `t${o.n}`;
        if (topics.some((t) => t.name === name)) break;
        const t = { id: `id-${nextTopic++}`.padEnd(22, '_'), name, parts: 0 };
        topics.push(t);
        records.push({ type: RecordType.Topic, version: 0, name, topicId: t.id });
        for (let p = 0; p < o.parts; p++) records.push(partitionRecord(t, t.parts++, p));
        break;
      }
      case 'partition': {
        const t = pick(topics, o.i);
        if (t === undefined) break;
        if (o.replace && t.parts > 0) records.push(partitionRecord(t, o.r % t.parts, o.r));
        else records.push(partitionRecord(t, t.parts++, o.r));
        break;
      }
      case 'change': {
        const t = pick(topics, o.i);
        if (t === undefined || t.parts === 0) break;
        records.push({
          type: RecordType.PartitionChange,
          version: 0,
          topicId: t.id,
          partitionId: o.p % t.parts,
          leader: o.leader,
          ...(o.isr === undefined ? {} : { isr: o.isr }),
          ...(o.replicas === undefined ? {} : { replicas: o.replicas }),
          ...(o.lrs === undefined ? {} : { leaderRecoveryState: o.lrs }),
        });
        break;
      }
      case 'remove': {
        const t = pick(topics, o.i);
        if (t === undefined) break;
        records.push({ type: RecordType.RemoveTopic, version: 0, topicId: t.id });
        topics.splice(topics.indexOf(t), 1);
        break;
      }
      case 'config':
        records.push({
          type: RecordType.Config,
          version: 0,
          resourceType: o.topicRes ? ConfigResourceType.Topic : ConfigResourceType.Broker,
          resourceName: o.topicRes ? `t${o.res}` : o.res === 0 ? '' : String(o.res),
          name: o.name,
          value: o.value,
        });
        break;
      case 'commit':
        records.push({
          type: RecordType.OffsetCommit,
          version: 0,
          groupId: `g${o.g}`,
          topic: `t${o.t}`,
          partition: o.p,
          offset: o.o,
          metadata: `m${o.o}`,
          commitTimestampMs: o.o * 2,
        });
        break;
      case 'offsetDelete':
        records.push({
          type: RecordType.OffsetDelete,
          version: 0,
          groupId: `g${o.g}`,
          ...(o.t === undefined ? {} : { topic: `t${o.t}` }),
          ...(o.t === undefined || o.p === undefined ? {} : { partition: o.p }),
        });
        break;
      case 'feature':
        records.push({ type: RecordType.FeatureLevel, version: 0, name: `f${o.n}`, level: o.level });
        break;
      case 'cluster':
        records.push({ type: RecordType.Cluster, version: 0, clusterId: o.id });
        break;
      case 'noop':
        records.push({ type: RecordType.NoOp, version: 0 });
        break;
      case 'endBatch':
        flush(o.gap);
        break;
    }
  }
  flush(0);
  return batches;
}

/** Replays batches, cutting a new delta (and applying) where `cuts` says. */
function replay(batches: readonly Batch[], cuts: (i: number) => boolean): MetadataImage {
  let image = MetadataImage.EMPTY;
  let delta = new MetadataDelta(image);
  batches.forEach((b, i) => {
    delta.replayBatch(b.batch, b.offset, b.epoch);
    if (cuts(i)) {
      image = delta.apply();
      delta = new MetadataDelta(image);
    }
  });
  return delta.apply();
}

describe('MetadataImage properties', () => {
  it('one delta, one delta per batch and random cuts give equal images; snapshots round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 10, maxLength: 150, size: 'max' }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 10 }),
        async (ops, cutPattern, chunkBytes, recordsPerFrame) => {
          const batches = interpret(ops);
          const whole = replay(batches, () => false);
          const each = replay(batches, () => true);
          const random = replay(batches, (i) => cutPattern[i % cutPattern.length]!);
          expect(each.toComparable()).toEqual(whole.toComparable());
          expect(random.toComparable()).toEqual(whole.toComparable());
          expect(each.equals(whole)).toBe(true);
          expect(replay(batches, () => false).equals(whole)).toBe(true);
          const loaded = await readSnapshot(writeSnapshot(whole, { chunkBytes, recordsPerFrame }));
          expect(loaded.toComparable()).toEqual(whole.toComparable());
          // A loaded image continues exactly like the original.
          const more = interpret(ops.slice(0, 20)).map((b) => ({
            ...b,
            offset: b.offset + whole.provenance.offset,
          }));
          const cont = (start: MetadataImage) => {
            const d = new MetadataDelta(start);
            try {
              for (const b of more) d.replayBatch(b.batch, b.offset, b.epoch);
            } catch (err) {
              return String(err);
            }
            return d.apply().toComparable();
          };
          expect(cont(loaded)).toEqual(cont(whole));
        },
      ),
      { numRuns: 300 },
    );
  });
});
