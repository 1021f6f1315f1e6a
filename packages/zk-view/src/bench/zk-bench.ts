/**
 * The ZooKeeper-view benchmark: kbroker's ZooKeeper listener against a real ZooKeeper 3.8 (standalone,
 * and a 3-server ensemble on loopback), same client (node-zookeeper-client), same machine, same run,
 * over the same znode layout.
 *
 *   npm run bench:zk -- [--quick] [--topics N] [--partitions N] [--duration-ms N] [--rounds N] [--watch-samples N]
 *     [--no-ensemble] [--out-dir DIR]
 *
 * Procedure:
 *   - kbroker: 3 processes (broker + controller each) with `--zookeeper-listener`; the topics (10,000 of
 *     10 partitions, replication factor 3; 500 with --quick) created through the admin client in
 *     batches, then waited for in the znode tree of every node;
 *   - ZooKeeper: the tree kbroker serves (every znode but /zookeeper: paths and bytes) read back over
 *     the ZooKeeper protocol and written into each real ZooKeeper, level by level as multi
 *     transactions of 500 creates, pipelined (ephemerals such as /brokers/ids/<id> written as
 *     persistent znodes); the ensemble is used once `srvr` names a leader;
 *   - reads: with 1 and 8 connections (spread over the servers of a system, 64 requests in flight
 *     each) getData of random /brokers/topics/<t>/partitions/<p>/state znodes, getChildren of
 *     /brokers/topics (10,000 names) and getChildren of random /brokers/topics/<t>/partitions, for a
 *     fixed duration after a short warm-up, split into rounds (5) in which the systems take turns, so
 *     the drift of a shared machine falls on all of them;
 *   - watch: a data watch on /config/topics/<t> (getData with a watcher, on one connection), then a
 *     change from another connection (kbroker: admin alterConfigs of the topic's retention.ms, which
 *     the controller commits and every node's view turns into a new /config/topics/<t>; ZooKeeper:
 *     setData of the same path), timed from issuing the write to the watch event (write -> event; it
 *     includes the commit), and the write's own acknowledgement (write -> ack).
 * Latencies in hdr-histogram-js (µs). Target: kbroker's read throughput at least ZooKeeper's in
 * every read case. Prints a table on stdout (progress on stderr) and writes
 * bench/results/zk-<timestamp>.json and bench/results/zk-latest.json. Exits 0 whether or not the target
 * is met. Every process and temporary dir it starts is removed at the end.
 */

import { cpus, loadavg, type as osType, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { format as formatLine, parseArgs } from 'node:util';
import {
  createTopics,
  fmt,
  type Histogram,
  histogram,
  type Latency,
  positiveInt,
  ratio,
  readTree,
  renderTable,
  type System,
  summarise,
  topicName,
  waitForTopics,
  writeResults,
  writeTree,
} from './common.js';
import {
  type BenchAdmin,
  type KbrokerDeployment,
  kbrokerAdmin,
  repoRoot,
  startKbroker,
} from './kbroker-procs.js';
import { connectClient, setData, type ZkClient } from './zk-client.js';
import {
  liveChildren,
  startZooKeeper,
  type ZooKeeperDeployment,
  zookeeperUnavailable,
} from './zookeeper-server.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

interface Options {
  quick: boolean;
  topics: number;
  partitions: number;
  durationMs: number;
  warmupMs: number;
  watchSamples: number;
  /** Turns each system takes in a read case (its measured time split among them). */
  rounds: number;
  ensemble: boolean;
  outDir: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      topics: { type: 'string' },
      partitions: { type: 'string' },
      'duration-ms': { type: 'string' },
      'watch-samples': { type: 'string' },
      rounds: { type: 'string' },
      'no-ensemble': { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    say(
      'usage: zk-bench [--quick] [--topics N] [--partitions N] [--duration-ms N] [--rounds N] [--watch-samples N] [--no-ensemble] [--out-dir DIR]',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = positiveInt;
  return {
    quick,
    topics: int('topics', values.topics, quick ? 500 : 10_000),
    partitions: int('partitions', values.partitions, 10),
    durationMs: int('duration-ms', values['duration-ms'], quick ? 1000 : 5000),
    warmupMs: quick ? 200 : 1000,
    watchSamples: int('watch-samples', values['watch-samples'], quick ? 30 : 50),
    rounds: int('rounds', values.rounds, quick ? 2 : 5),
    ensemble: !(values['no-ensemble'] ?? false),
    outDir: resolve(values['out-dir'] ?? join(repoRoot, 'bench', 'results')),
  };
}

const log = (msg: string) => console.error(`[zk-bench ${(performance.now() / 1000).toFixed(1)}s] ${msg}`);

// ---------------------------------------------------------------- setup

// ---------------------------------------------------------------- reads

/**
 * getData: a random partition state; getChildren: `/brokers/topics` (10,000 names, ~150 kB a reply);
 * getChildrenPartitions: a random topic's `partitions` (10 names).
 */
type ReadOp = 'getData' | 'getChildren' | 'getChildrenPartitions';
interface ReadResult {
  system: string;
  op: ReadOp;
  connections: number;
  inflight: number;
  durationMs: number;
  ops: number;
  errors: number;
  opsPerSec: number;
  latency: Latency;
}

/** One system's side of a read case: its connections, and what its rounds measured so far. */
interface ReadSide {
  readonly sys: System;
  readonly clients: ZkClient[];
  readonly h: Histogram;
  ops: number;
  errors: number;
  elapsedMs: number;
  firstError: Error | undefined;
}

/**
 * Runs `op` on every connection of `side`, `inflight` requests each, for `durationMs`; counts and
 * records only when `record`.
 */
async function round(
  side: ReadSide,
  op: ReadOp,
  inflight: number,
  durationMs: number,
  record: boolean,
  paths: { readonly states: readonly string[]; readonly partitionLists: readonly string[] },
): Promise<void> {
  const start = performance.now();
  const deadline = start + durationMs;
  let last = start;
  const { states, partitionLists } = paths;
  await Promise.all(
    side.clients.flatMap((c) =>
      Array.from(
        { length: inflight },
        () =>
          new Promise<void>((done) => {
            const loop = () => {
              const t0 = performance.now();
              if (t0 >= deadline) return done();
              const cb = (err: Error | null) => {
                const t1 = performance.now();
                last = t1;
                if (record) {
                  if (err) {
                    side.errors++;
                    side.firstError ??= err;
                  } else {
                    side.ops++;
                    side.h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
                  }
                }
                loop();
              };
              if (op === 'getData') c.getData(states[Math.floor(Math.random() * states.length)]!, cb);
              else if (op === 'getChildren') c.getChildren('/brokers/topics', cb);
              else c.getChildren(partitionLists[Math.floor(Math.random() * partitionLists.length)]!, cb);
            };
            loop();
          }),
      ),
    ),
  );
  // Requests in flight at the deadline complete after it: the round lasted until the last one.
  if (record) side.elapsedMs += Math.max(last, deadline) - start;
}

/**
 * One read case on every system: connections opened on each (spread over its servers), a warm-up
 * round each, then `rounds` rounds per system, the systems taking turns, so the drift of this shared
 * machine falls on all of them alike; each system measured `durationMs` in all.
 */
async function readCase(
  systems: readonly System[],
  op: ReadOp,
  connections: number,
  inflight: number,
  paths: { readonly states: readonly string[]; readonly partitionLists: readonly string[] },
  opts: Options,
): Promise<ReadResult[]> {
  const sides: ReadSide[] = [];
  try {
    for (const sys of systems) {
      const clients = await Promise.all(
        Array.from({ length: connections }, (_, i) => connectClient(sys.servers[i % sys.servers.length]!)),
      );
      sides.push({ sys, clients, h: histogram(), ops: 0, errors: 0, elapsedMs: 0, firstError: undefined });
    }
    for (const side of sides) await round(side, op, inflight, opts.warmupMs, false, paths);
    const rounds = opts.rounds;
    for (let r = 0; r < rounds; r++)
      for (const side of sides) await round(side, op, inflight, opts.durationMs / rounds, true, paths);
  } finally {
    for (const side of sides) for (const c of side.clients) c.close();
  }
  return sides.map((side) => {
    if (side.firstError !== undefined)
      log(`  ${side.sys.name} ${op}: ${side.errors} errors, first: ${side.firstError.message}`);
    const elapsed = Math.max(1, side.elapsedMs);
    return {
      system: side.sys.name,
      op,
      connections,
      inflight,
      durationMs: Math.round(elapsed),
      ops: side.ops,
      errors: side.errors,
      opsPerSec: Math.round((side.ops / elapsed) * 1000),
      latency: summarise(side.h),
    };
  });
}

// ---------------------------------------------------------------- watch

interface WatchResult {
  system: string;
  samples: number;
  timeouts: number;
  trigger: string;
  writeToEvent: Latency;
  writeToAck: Latency;
}

async function watchLatency(
  sys: System,
  topics: readonly string[],
  samples: number,
  trigger: string,
  write: (topic: string, i: number) => Promise<void>,
): Promise<WatchResult> {
  // The watching session on the last server (a follower's view for an ensemble, another node for kbroker).
  const watcher = await connectClient(sys.servers[sys.servers.length - 1]!);
  const toEvent = histogram();
  const toAck = histogram();
  let timeouts = 0;
  try {
    for (let i = 0; i < samples; i++) {
      const topic = topics[(i * 7919 + 13) % topics.length]!;
      const path = `/config/topics/${topic}`;
      const ok = await new Promise<boolean>((resolveSample) => {
        let t0 = 0;
        let event = -1;
        let ack = -1;
        const timer = setTimeout(() => resolveSample(false), 10_000);
        const finish = () => {
          if (event < 0 || ack < 0) return;
          clearTimeout(timer);
          toEvent.recordValue(Math.max(1, Math.round((event - t0) * 1000)));
          toAck.recordValue(Math.max(1, Math.round((ack - t0) * 1000)));
          resolveSample(true);
        };
        watcher.getData(
          path,
          () => {
            event = performance.now();
            finish();
          },
          (err) => {
            if (err) {
              clearTimeout(timer);
              log(`  ${sys.name} watch ${path}: ${err.message}`);
              return resolveSample(false);
            }
            t0 = performance.now();
            write(topic, i).then(
              () => {
                ack = performance.now();
                finish();
              },
              (e: Error) => {
                clearTimeout(timer);
                log(`  ${sys.name} write ${path}: ${e.message}`);
                resolveSample(false);
              },
            );
          },
        );
      });
      if (!ok) timeouts++;
    }
  } finally {
    watcher.close();
  }
  return {
    system: sys.name,
    samples,
    timeouts,
    trigger,
    writeToEvent: summarise(toEvent),
    writeToAck: summarise(toAck),
  };
}

// ---------------------------------------------------------------- report

function table(systems: readonly System[], reads: ReadResult[], watches: WatchResult[]): string {
  const kb = systems[0]!.name;
  const zks = systems.slice(1).map((s) => s.name);
  const head = [
    'case',
    ...systems.map((s) => s.name),
    ...zks.map((z) => `kb/${z.replace('zookeeper', 'zk')}`),
  ];
  const rows: string[][] = [];
  const cases = [...new Set(reads.map((r) => `${r.op} ${r.connections}x${r.inflight}`))];
  for (const c of cases) {
    const of = (s: string) =>
      reads.find((r) => r.system === s && `${r.op} ${r.connections}x${r.inflight}` === c)!;
    const k = of(kb);
    rows.push([
      `${c} ops/s`,
      ...systems.map((s) => fmt(of(s.name).opsPerSec)),
      ...zks.map((z) => ratio(k.opsPerSec, of(z).opsPerSec)),
    ]);
    rows.push([
      `${c} p99 ms`,
      ...systems.map((s) => fmt(of(s.name).latency.p99Ms, 2)),
      ...zks.map((z) => ratio(k.latency.p99Ms, of(z).latency.p99Ms)),
    ]);
  }
  const w = (s: string) => watches.find((x) => x.system === s);
  for (const [label, pick] of [
    ['watch write->event p50 ms', (x: WatchResult) => x.writeToEvent.p50Ms],
    ['watch write->event p99 ms', (x: WatchResult) => x.writeToEvent.p99Ms],
    ['watch write->ack p50 ms', (x: WatchResult) => x.writeToAck.p50Ms],
  ] as const) {
    const k = w(kb);
    rows.push([
      label,
      ...systems.map((s) => {
        const x = w(s.name);
        return x === undefined ? '-' : fmt(pick(x), 2);
      }),
      ...zks.map((z) => {
        const x = w(z);
        return k === undefined || x === undefined ? '-' : ratio(pick(k), pick(x));
      }),
    ]);
  }
  return renderTable(head, rows);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const why = zookeeperUnavailable();
  if (why !== undefined) throw new Error(`cannot run: ${why}`);
  const started = performance.now();
  const deployments: ZooKeeperDeployment[] = [];
  const onSignal = () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let admin: BenchAdmin | undefined;
  try {
    log(
      `starting kbroker (3 processes) and ZooKeeper (standalone${opts.ensemble ? ' + 3-server ensemble' : ''})`,
    );
    const track = <T extends ZooKeeperDeployment>(d: T): T => {
      deployments.push(d);
      return d;
    };
    const [kbroker, zk1, zk3] = await Promise.all([
      startKbroker(3).then(track),
      startZooKeeper(1).then(track),
      opts.ensemble ? startZooKeeper(3).then(track) : Promise.resolve(undefined),
    ]);
    const kb: KbrokerDeployment = kbroker;
    const systems: System[] = [kb, zk1, ...(zk3 ? [zk3] : [])];
    const setupStartedMs = performance.now() - started;
    log(
      `up after ${fmt(setupStartedMs)} ms; creating ${opts.topics} topics x ${opts.partitions} partitions (RF 3)`,
    );
    admin = await kbrokerAdmin(kb.brokers);
    const createMs = await createTopics(admin, opts, log);
    await waitForTopics(kb, opts);
    log(`topics created and visible on every kbroker node in ${fmt(createMs)} ms (+ wait)`);
    const tree = await readTree(kb.servers[0]!);
    log(`kbroker's tree: ${tree.length} znodes; writing it into ZooKeeper`);
    const writeMs: Record<string, number> = {};
    await Promise.all(
      systems.slice(1).map(async (s) => {
        writeMs[s.name] = await writeTree(s, tree);
        log(`  ${s.name}: written in ${fmt(writeMs[s.name]!)} ms`);
      }),
    );
    for (const s of systems.slice(1)) await waitForTopics(s, opts);

    const topics = Array.from({ length: opts.topics }, (_, i) => topicName(i));
    const statePaths: string[] = [];
    for (const t of topics)
      for (let p = 0; p < opts.partitions; p++) statePaths.push(`/brokers/topics/${t}/partitions/${p}/state`);

    // One untimed pass per system first, so the first measured case does not pay for JIT warm-up (JVM and V8).
    const paths = {
      states: statePaths,
      partitionLists: topics.map((t) => `/brokers/topics/${t}/partitions`),
    };
    await readCase(systems, 'getData', 8, 64, paths, {
      ...opts,
      warmupMs: opts.warmupMs * 2,
      rounds: 1,
      durationMs: 1,
    });
    const reads: ReadResult[] = [];
    for (const op of ['getData', 'getChildren', 'getChildrenPartitions'] as const) {
      for (const conns of [1, 8]) {
        for (const r of await readCase(systems, op, conns, 64, paths, opts)) {
          reads.push(r);
          log(`${op} ${conns}x64 ${r.system}: ${fmt(r.opsPerSec)} ops/s, p99 ${r.latency.p99Ms} ms`);
        }
      }
    }

    const watches: WatchResult[] = [];
    let seq = 0;
    watches.push(
      await watchLatency(kb, topics, opts.watchSamples, 'admin alterConfigs retention.ms', (topic) =>
        admin!.alterConfigs({
          resources: [
            {
              type: 'topic',
              name: topic,
              configEntries: [{ name: 'retention.ms', value: String(604_800_000 + ++seq) }],
            },
          ],
        }),
      ),
    );
    for (const s of systems.slice(1)) {
      const writer = await connectClient(s.servers[0]!);
      try {
        watches.push(
          await watchLatency(s, topics, opts.watchSamples, 'setData /config/topics/<t>', (topic) =>
            setData(
              writer,
              `/config/topics/${topic}`,
              Buffer.from(
                JSON.stringify({ version: 1, config: { 'retention.ms': String(604_800_000 + ++seq) } }),
              ),
            ),
          ),
        );
      } finally {
        writer.close();
      }
    }
    for (const w of watches)
      log(
        `watch ${w.system}: write->event p50 ${w.writeToEvent.p50Ms} ms p99 ${w.writeToEvent.p99Ms} ms (${w.timeouts} timeouts)`,
      );

    // Target: kbroker's read throughput >= each ZooKeeper's, in every read case.
    const ratios = reads
      .filter((r) => r.system !== kb.name)
      .map((z) => {
        const k = reads.find(
          (r) => r.system === kb.name && r.op === z.op && r.connections === z.connections,
        )!;
        return {
          op: z.op,
          connections: z.connections,
          inflight: z.inflight,
          versus: z.system,
          throughputRatio: Number((k.opsPerSec / Math.max(1, z.opsPerSec)).toFixed(3)),
          p99Ratio: Number((k.latency.p99Ms / Math.max(0.001, z.latency.p99Ms)).toFixed(3)),
        };
      });
    const targetMet = ratios.every((r) => r.throughputRatio >= 1);

    const out = table(systems, reads, watches);
    const loadAverage = loadavg().map((x) => Number(x.toFixed(2)));
    say(
      `\nZooKeeper view: ${opts.topics} topics x ${opts.partitions} partitions, ${tree.length} znodes; ${opts.durationMs} ms per read case (after ${opts.warmupMs} ms warm-up), 64 in flight per connection`,
    );
    say(
      `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}; client, kbroker and ZooKeeper share the machine; load average at the end ${loadAverage.join(' ')}\n`,
    );
    say(out);
    say(
      `\ntarget (kbroker read throughput >= ZooKeeper's in every read case): ${targetMet ? 'PASS' : 'MISS'}`,
    );
    for (const r of ratios.filter((x) => x.throughputRatio < 1))
      say(`  below: ${r.op} ${r.connections}x${r.inflight} vs ${r.versus}: ${r.throughputRatio}x`);

    const result = {
      benchmark: 'zk',
      date: new Date().toISOString(),
      quick: opts.quick,
      options: { ...opts, outDir: undefined },
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memoryBytes: totalmem(),
        os: `${osType()} ${release()}`,
        node: process.version,
      },
      systems: systems.map((s) => ({ name: s.name, servers: s.servers })),
      setup: {
        startMs: Math.round(setupStartedMs),
        topicCreateMs: Math.round(createMs),
        znodes: tree.length,
        zookeeperWriteMs: writeMs,
      },
      reads,
      watches,
      ratios,
      target: {
        description: "kbroker read throughput >= ZooKeeper's in every read case",
        met: targetMet,
        verdict: targetMet ? 'PASS' : 'MISS',
      },
      load: loadAverage,
      table: out,
      totalMs: Math.round(performance.now() - started),
    };
    const stamped = await writeResults(opts.outDir, 'zk', result);
    say(`\nwrote ${stamped} and zk-latest.json (total ${fmt(result.totalMs / 1000, 1)} s)`);
  } finally {
    await admin?.disconnect().catch(() => {});
    await Promise.all(
      deployments.map((d) => d.stop().catch((e: Error) => log(`stop ${d.name}: ${e.message}`))),
    );
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    for (const c of liveChildren) c.kill('SIGKILL');
    process.exit(1);
  },
);
