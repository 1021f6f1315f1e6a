/**
 * The metadata image benchmark.
 *
 *   node --expose-gc packages/metadata-log/dist/bench/metadata-bench.js [--quick] [--topics N]
 *     [--partitions-per-topic N] [--brokers N] [--out-dir DIR]
 *
 * 1. Builds an image of topics x partitions (default 20,000 x 100 = 2M partitions; --quick 2,000 x 100)
 *    on 100 brokers in 10 racks, RF 3, by feeding encoded Raft entries to MetadataStateMachine.apply:
 *    one entry per CreateTopics (a TopicRecord and its PartitionRecords), 8 entries per apply call.
 *    Reports records/s (decode + replay + apply + change events) and heap bytes per partition.
 * 2. Small applies on the big image: one PartitionChange per apply (shows O(changed) applies).
 * 3. Offset commits: 1,000 groups, batches of 16 commits, one batch per apply.
 * 4. Replay side of fencing the broker with the most replicas: the BrokerRegistrationChange and one
 *    PartitionChange per partition it hosts (new leader / shrunk ISR), in one batch. The controller's
 *    own part (choosing leaders) is another module's; plug it in through {@link ControllerFenceHook}.
 * 5. Snapshot write (time, bytes) and load (time), checked against the image.
 * Prints a table and writes bench/results/metadata-latest.json (and a timestamped copy).
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { format as formatLine, parseArgs } from 'node:util';
import { type Entry, EntryKind } from '@kbroker/raft';
import { fenceBroker } from '../controller/handlers.js';
import { MetadataDelta, type MetadataImage } from '../image/metadata-image.js';
import {
  encodeBatch,
  LEADER_UNCHANGED,
  type MetadataRecord,
  type PartitionChangeRecord,
  type RecordBatch,
  RecordType,
} from '../records.js';
import { readSnapshot, writeSnapshot } from '../snapshot.js';
import { MetadataStateMachine } from '../state-machine.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

const TARGET_HEAP_BYTES_PER_PARTITION = 500;
const TARGET_SNAPSHOT_LOAD_MS_2M = 10_000;
const TARGET_FENCE_MS = 1_000;
const RACKS = 10;
const RF = 3;
const ENTRIES_PER_APPLY = 8;

interface Options {
  topics: number;
  partitionsPerTopic: number;
  brokers: number;
  outDir: string;
  quick: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      topics: { type: 'string' },
      'partitions-per-topic': { type: 'string' },
      brokers: { type: 'string' },
      'out-dir': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  return {
    quick,
    topics: Number(values.topics ?? (quick ? 2_000 : 20_000)),
    partitionsPerTopic: Number(values['partitions-per-topic'] ?? 100),
    brokers: Number(values.brokers ?? 100),
    outDir: resolve(values['out-dir'] ?? 'bench/results'),
  };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with node --expose-gc');
  g();
  g();
}

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

function topicId(i: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x6b62726b, 0);
  b.writeUInt32BE(i, 12);
  b.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 4);
  return b.toString('base64url');
}

/** Rack-aware round robin (Kafka's AdminUtils style): consecutive replicas on different racks. */
function replicasFor(topic: number, partition: number, brokers: number): number[] {
  const first = (topic * 7 + partition) % brokers;
  const out: number[] = [];
  for (let r = 0; r < RF; r++) out.push((first + r * (brokers / RACKS + 1)) % brokers);
  return out;
}

function createTopicBatch(t: number, partitions: number, brokers: number, ts: number): RecordBatch {
  const id = topicId(t);
  const records: MetadataRecord[] = [{ type: RecordType.Topic, version: 0, name: `topic-${t}`, topicId: id }];
  for (let p = 0; p < partitions; p++) {
    const replicas = replicasFor(t, p, brokers);
    records.push({
      type: RecordType.Partition,
      version: 0,
      topicId: id,
      partitionId: p,
      replicas,
      isr: replicas,
      leader: replicas[0]!,
      leaderEpoch: 0,
      partitionEpoch: 0,
      leaderRecoveryState: 0,
    });
  }
  return { timestampMs: ts, records };
}

function brokersBatch(brokers: number, ts: number): RecordBatch {
  const records: MetadataRecord[] = [
    { type: RecordType.Cluster, version: 0, clusterId: 'bench-cluster-000000000' },
    { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 21 },
  ];
  for (let b = 0; b < brokers; b++) {
    records.push({
      type: RecordType.RegisterBroker,
      version: 0,
      brokerId: b,
      incarnationId: `incarnation-${b}`,
      endpoints: [{ name: 'CLIENT', host: `broker-${b}.example`, port: 9092, securityProtocol: 'PLAINTEXT' }],
      rack: `rack-${b % RACKS}`,
      fenced: true,
      inControlledShutdown: false,
    });
  }
  return { timestampMs: ts, records };
}

function unfenceBatch(image: MetadataImage, ts: number): RecordBatch {
  const records: MetadataRecord[] = [];
  for (const b of image.cluster.brokers()) {
    records.push({
      type: RecordType.BrokerRegistrationChange,
      version: 0,
      brokerId: b.id,
      brokerEpoch: b.epoch,
      fenced: -1,
      inControlledShutdown: 0,
    });
  }
  return { timestampMs: ts, records };
}

function entry(index: number, batch: RecordBatch): Entry {
  return { index, term: 1, kind: EntryKind.Normal, data: encodeBatch(batch) };
}

const ms = (ns: bigint) => Number(ns) / 1e6;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const partitions = opts.topics * opts.partitionsPerTopic;
  const progress = (s: string) => process.stderr.write(`${s}\n`);
  progress(
    `metadata bench: ${opts.topics} topics x ${opts.partitionsPerTopic} partitions, ${opts.brokers} brokers`,
  );

  const heapBefore = heapUsed();
  const sm = new MetadataStateMachine();
  let events = 0;
  sm.onChange((changes) => {
    events += changes.length;
  });
  let index = 0;
  let ts = 1_763_000_000_000;
  sm.apply([entry(++index, brokersBatch(opts.brokers, ts))]);
  sm.apply([entry(++index, unfenceBatch(sm.image, ++ts))]);

  // 1. Build.
  let replayNs = 0n;
  let records = 0;
  for (let t = 0; t < opts.topics; t += ENTRIES_PER_APPLY) {
    const entries: Entry[] = [];
    for (let k = t; k < Math.min(opts.topics, t + ENTRIES_PER_APPLY); k++) {
      entries.push(entry(++index, createTopicBatch(k, opts.partitionsPerTopic, opts.brokers, ++ts)));
      records += 1 + opts.partitionsPerTopic;
    }
    const t0 = process.hrtime.bigint();
    sm.apply(entries);
    replayNs += process.hrtime.bigint() - t0;
  }
  const heapAfter = heapUsed();
  const heapPerPartition = (heapAfter - heapBefore) / partitions;
  const recordsPerSec = records / (Number(replayNs) / 1e9);
  progress(
    `built: ${records} records in ${ms(replayNs).toFixed(0)} ms, ${heapPerPartition.toFixed(0)} B/partition`,
  );

  // 2. Small applies on the big image.
  const smallApplies = 2_000;
  let smallNs = 0n;
  const smallUs: number[] = [];
  for (let i = 0; i < smallApplies; i++) {
    const t = (i * 7919) % opts.topics;
    const change: PartitionChangeRecord = {
      type: RecordType.PartitionChange,
      version: 0,
      topicId: topicId(t),
      partitionId: i % opts.partitionsPerTopic,
      leader: LEADER_UNCHANGED,
      isr: replicasFor(t, i % opts.partitionsPerTopic, opts.brokers).slice(0, 2),
    };
    const e = entry(++index, { timestampMs: ++ts, records: [change] });
    const t0 = process.hrtime.bigint();
    sm.apply([e]);
    const took = process.hrtime.bigint() - t0;
    smallNs += took;
    smallUs.push(Number(took) / 1e3);
  }
  smallUs.sort((a, b) => a - b);
  const smallApplyUs = Number(smallNs) / 1e3 / smallApplies;
  const smallP50 = smallUs[Math.floor(smallUs.length / 2)]!;
  const smallP99 = smallUs[Math.floor(smallUs.length * 0.99)]!;
  progress(
    `small applies: mean ${smallApplyUs.toFixed(1)} us, p50 ${smallP50.toFixed(1)} us, p99 ${smallP99.toFixed(1)} us`,
  );

  // 3. Offset commits.
  const groups = 1_000;
  const commitBatches = opts.quick ? 5_000 : 50_000;
  const perBatch = 16;
  let commitNs = 0n;
  for (let i = 0; i < commitBatches; i++) {
    const group = `group-${i % groups}`;
    const t = (i % groups) % opts.topics;
    const recs: MetadataRecord[] = [];
    for (let k = 0; k < perBatch; k++) {
      recs.push({
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: group,
        topic: `topic-${t}`,
        partition: k,
        offset: i * 100 + k,
        metadata: '',
        commitTimestampMs: ts,
      });
    }
    const e = entry(++index, { timestampMs: ++ts, records: recs });
    const t0 = process.hrtime.bigint();
    sm.apply([e]);
    commitNs += process.hrtime.bigint() - t0;
  }
  const commitsPerSec = (commitBatches * perBatch) / (Number(commitNs) / 1e9);
  progress(`offset commits: ${commitsPerSec.toFixed(0)} commits/s`);

  // 4. Fence the broker hosting the most replicas: the controller's handler produces the records
  // (leaders re-elected, the broker leaves every ISR), then they are replayed.
  const counts = new Map<number, number>();
  let led = 0;
  for (const topic of sm.image.topics.topics()) {
    for (const p of topic.partitions) for (const r of p.replicas) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const [victim, hosted] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  for (const topic of sm.image.topics.topics())
    for (const p of topic.partitions) if (p.leader === victim) led++;
  const plan0 = process.hrtime.bigint();
  const fenceRecords = fenceBroker(sm.image, victim);
  const planMs = ms(process.hrtime.bigint() - plan0);
  progress(`fence plan: broker ${victim}, ${fenceRecords.length} records in ${planMs.toFixed(0)} ms`);
  const fenceEntry = entry(++index, { timestampMs: ++ts, records: fenceRecords });
  const f0 = process.hrtime.bigint();
  sm.apply([fenceEntry]);
  const fenceMs = ms(process.hrtime.bigint() - f0);
  progress(`fence replay: broker ${victim}, ${hosted} replicas (${led} led), ${fenceMs.toFixed(0)} ms`);

  // 5. Snapshot.
  const image = sm.image;
  const w0 = process.hrtime.bigint();
  const chunks = [...writeSnapshot(image, { chunkBytes: 1024 * 1024 })];
  const writeMs = ms(process.hrtime.bigint() - w0);
  const snapshotBytes = chunks.reduce((n, c) => n + c.length, 0);
  progress(`snapshot write: ${writeMs.toFixed(0)} ms, ${(snapshotBytes / 1e6).toFixed(1)} MB`);
  const r0 = process.hrtime.bigint();
  const loaded = await readSnapshot(chunks);
  const loadMs = ms(process.hrtime.bigint() - r0);
  progress(`snapshot load: ${loadMs.toFixed(0)} ms`);
  const sameCounts =
    loaded.topics.partitionCount === image.topics.partitionCount &&
    loaded.topics.topicCount === image.topics.topicCount &&
    loaded.offsets.groupCount === image.offsets.groupCount;
  // Full value comparison is O(image) in plain objects; do it on the quick size, sample otherwise.
  const equal = opts.quick ? loaded.equals(image) : sameCounts && sampleEqual(image, loaded);
  // Replaying one delta after a load must behave as on the original.
  const probe = new MetadataDelta(loaded);
  probe.replay({ type: RecordType.NoOp, version: 0 }, index + 1, ts + 1);
  probe.apply();

  const loadMsPer2M = (loadMs * 2_000_000) / partitions;
  const result = {
    benchmark: 'metadata-image',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    totalMemBytes: totalmem(),
    config: {
      topics: opts.topics,
      partitionsPerTopic: opts.partitionsPerTopic,
      partitions,
      brokers: opts.brokers,
      racks: RACKS,
      replicationFactor: RF,
      entriesPerApply: ENTRIES_PER_APPLY,
      quick: opts.quick,
    },
    build: {
      records,
      replayMs: ms(replayNs),
      recordsPerSec,
      heapBytes: heapAfter - heapBefore,
      heapBytesPerPartition: heapPerPartition,
      changeEvents: events,
    },
    smallApply: { applies: smallApplies, meanUs: smallApplyUs, p50Us: smallP50, p99Us: smallP99 },
    offsetCommits: { commits: commitBatches * perBatch, commitsPerBatch: perBatch, groups, commitsPerSec },
    fenceReplay: {
      brokerId: victim,
      replicas: hosted,
      led,
      records: fenceRecords.length,
      ms: fenceMs,
      planMs,
    },
    snapshot: { writeMs, bytes: snapshotBytes, bytesPerPartition: snapshotBytes / partitions, loadMs, equal },
    targets: {
      heapBytesPerPartition: {
        target: TARGET_HEAP_BYTES_PER_PARTITION,
        met: heapPerPartition <= TARGET_HEAP_BYTES_PER_PARTITION,
      },
      snapshotLoadMsPer2M: {
        target: TARGET_SNAPSHOT_LOAD_MS_2M,
        value: loadMsPer2M,
        met: loadMsPer2M <= TARGET_SNAPSHOT_LOAD_MS_2M,
      },
      fencePlanMs: { target: TARGET_FENCE_MS, value: planMs, met: planMs <= TARGET_FENCE_MS },
    },
  };

  const rows: [string, string, string][] = [
    ['partitions', partitions.toLocaleString('en-US'), ''],
    ['records replayed/s (decode+replay+apply)', recordsPerSec.toFixed(0), ''],
    ['heap bytes/partition', heapPerPartition.toFixed(0), `<= ${TARGET_HEAP_BYTES_PER_PARTITION}`],
    [
      'small apply (1 PartitionChange) p50 / p99 / mean, us',
      `${smallP50.toFixed(1)} / ${smallP99.toFixed(1)} / ${smallApplyUs.toFixed(1)}`,
      '',
    ],
    ['offset commits/s (16 per batch)', commitsPerSec.toFixed(0), ''],
    [
      `fence: controller produces records (${hosted} replicas, ${led} led), ms`,
      planMs.toFixed(0),
      `<= ${TARGET_FENCE_MS}`,
    ],
    [`fence: replay of its ${fenceRecords.length} records, ms`, fenceMs.toFixed(0), ''],
    ['snapshot write, ms', writeMs.toFixed(0), ''],
    ['snapshot bytes', snapshotBytes.toLocaleString('en-US'), ''],
    ['snapshot load, ms', loadMs.toFixed(0), `<= ${TARGET_SNAPSHOT_LOAD_MS_2M} per 2M`],
    ['snapshot round trip equal', String(equal), opts.quick ? 'full compare' : 'counts + sample'],
  ];
  const w1 = Math.max(...rows.map((r) => r[0].length));
  const w2 = Math.max(...rows.map((r) => r[1].length));
  say(`\n${'metric'.padEnd(w1)}  ${'value'.padStart(w2)}  target`);
  for (const [a, b, c] of rows) say(`${a.padEnd(w1)}  ${b.padStart(w2)}  ${c}`);

  await mkdir(opts.outDir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  await writeFile(join(opts.outDir, `metadata-${result.date.replaceAll(':', '-')}.json`), json);
  await writeFile(join(opts.outDir, 'metadata-latest.json'), json);
  say(`\nwrote ${join(opts.outDir, 'metadata-latest.json')}`);
  if (!equal) process.exitCode = 1;
}

/** Compares every 97th topic and a few groups between the two images. */
function sampleEqual(a: MetadataImage, b: MetadataImage): boolean {
  let i = 0;
  for (const t of a.topics.topics()) {
    if (i++ % 97 !== 0) continue;
    const u = b.topics.byId(t.id);
    if (u === undefined || JSON.stringify({ ...t }) !== JSON.stringify({ ...u })) return false;
  }
  for (const g of a.offsets.groups()) {
    const h = b.offsets.group(g.groupId);
    if (h === undefined || JSON.stringify([...g.entries()]) !== JSON.stringify([...h.entries()]))
      return false;
  }
  return (
    a.cluster.toComparable() !== undefined &&
    JSON.stringify(a.cluster.toComparable()) === JSON.stringify(b.cluster.toComparable())
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
