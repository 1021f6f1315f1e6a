/**
 * kbroker against a real ZooKeeper 3.8 ensemble, side by side on one machine, through the same
 * ZooKeeper client (our pipelined jute client, ZkWireClient) and the same operations.
 *
 *   npm run bench:vs-zookeeper -- [--quick] [--topics N] [--offset-partitions N] [--clients 1,16,256]
 *     [--duration-ms N] [--rounds N] [--failover-reps N] [--election-timeout-ms N] [--profile]
 *     [--only commits,reads,create,failover] [--out-dir DIR]
 *
 * Systems, started here on loopback with data on disk and fsync on: a 3-server ZooKeeper ensemble
 * (Debian's package, forceSync=yes as by default) and 3 kbroker processes (broker + controller each,
 * `--zookeeper-listener`; every Raft write is fsynced). Each system runs with its defaults: kbroker's
 * Raft election timeout (250 ms; `--election-timeout-ms` to change it), ZooKeeper with Debian's
 * sample timing (tickTime 2000, initLimit 10, syncLimit 5).
 *
 * Data set: `--topics` topics (10,000; 200 with --quick) of 10 partitions created in kbroker by its
 * admin client, plus one consumer group with an offset znode for each of the first
 * `--offset-partitions` partitions (10,000; 1,000), created through kbroker's ZooKeeper listener;
 * then kbroker's whole znode tree is copied into ZooKeeper, so both serve the same paths and bytes.
 *
 * Workloads. N clients are N sessions spread round-robin over the 3 servers, each with one request
 * in flight (closed loop); each case runs both systems alternately (`--rounds` times, the order
 * flipping each round) and pools the rounds:
 *   1. offset commits: setData `/consumers/<g>/offsets/<t>/<p>` (ASCII decimal), each client going
 *      round its own share of the partitions, with 1, 16 and 256 clients; kbroker turns each into an
 *      offset-commit record through its controller.
 *   2. metadata reads: getData of random `/brokers/topics/<t>/partitions/<p>/state`, and getChildren
 *      of `/brokers/topics` (all topics), with 1, 16 and 256 clients.
 *   3. topic creation: create `/brokers/topics/<t>` with a 10-partition assignment, then wait (an
 *      exists watch) for the last partition's state znode. kbroker's controller makes the state
 *      znodes; for ZooKeeper the harness runs what a ZooKeeper-era Kafka controller did there: a child
 *      watch on /brokers/topics, on each event getChildren (all topics) and getData of each new
 *      topic, then one multi creating its partitions/<p>/state znodes. (It leaves out the real
 *      controller's LeaderAndIsr requests to brokers, so ZooKeeper's time is a lower bound.)
 *   4. failover: a steady offset-commit load (16 clients; 4 with --quick), kill -9 of ZooKeeper's
 *      leader (`srvr` Mode: leader) / kbroker's active controller (describeCluster), and the time from
 *      the kill until a write issued after it succeeds; clients whose connection died reconnect to the
 *      other servers (a new session). The killed server is restarted and rejoins before the next rep.
 * Latencies in hdr-histogram-js (µs). Targets: kbroker >= 2x ZooKeeper's write throughput with 256
 * clients, >= 1x its read throughput (every read case with the most clients), failover median <= 0.5x.
 * When the write target is missed (or with `--profile`), the write case with the most clients runs
 * once more on a fresh kbroker started with `node --cpu-prof`, ZooKeeper stopped, and the harness
 * prints where kbroker's time goes: CPU per process and thread, and CPU microseconds per commit by
 * component of the code (cpu-profile.ts); the JSON keeps it under `profile`.
 * Prints tables on stdout (progress on stderr), writes bench/results/vs-zookeeper-<date>.json and
 * vs-zookeeper-latest.json; exits 0 whether or not the targets are met.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format as formatLine, parseArgs } from 'node:util';
import { ZkError, ZkWireClient } from '../client/zk-client.js';
import {
  createTopics,
  fmt,
  type Histogram,
  histogram,
  type Latency,
  machine,
  positiveInt,
  readTree,
  renderTable,
  summarise,
  topicName,
  waitForTopics,
  writeResults,
  writeTree,
} from './common.js';
import { type ProfileSummary, summariseProfiles, threadCpuMs } from './cpu-profile.js';
import { type KbrokerDeployment, kbrokerAdmin, repoRoot, startKbroker } from './kbroker-procs.js';
import { pool } from './zk-client.js';
import {
  liveChildren,
  type RestartableDeployment,
  startZooKeeper,
  zookeeperModes,
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
  offsetPartitions: number;
  clients: number[];
  durationMs: number;
  warmupMs: number;
  rounds: number;
  createClients: number[];
  failoverReps: number;
  failoverClients: number;
  /** null: kbroker's own default (the Raft default, 250 ms). */
  electionTimeoutMs: number | null;
  profile: boolean;
  /** The workloads to run: commits, reads, create, failover. */
  only: Set<string>;
  outDir: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      topics: { type: 'string' },
      'offset-partitions': { type: 'string' },
      clients: { type: 'string' },
      'duration-ms': { type: 'string' },
      rounds: { type: 'string' },
      'failover-reps': { type: 'string' },
      'election-timeout-ms': { type: 'string' },
      profile: { type: 'boolean', default: false },
      only: { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    say(
      'usage: vs-zookeeper [--quick] [--topics N] [--offset-partitions N] [--clients 1,16,256] [--duration-ms N] ' +
        '[--rounds N] [--failover-reps N] [--election-timeout-ms N] [--profile] [--only commits,reads,create,failover] [--out-dir DIR]',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = positiveInt;
  const clients = (values.clients ?? (quick ? '1,16' : '1,16,256'))
    .split(',')
    .map((c) => int('clients', c, 1));
  const topics = int('topics', values.topics, quick ? 200 : 10_000);
  return {
    quick,
    topics,
    partitions: 10,
    offsetPartitions: Math.min(
      topics * 10,
      int('offset-partitions', values['offset-partitions'], quick ? 1000 : 10_000),
    ),
    clients,
    durationMs: int('duration-ms', values['duration-ms'], quick ? 700 : 6000),
    warmupMs: quick ? 200 : 1500,
    rounds: int('rounds', values.rounds, quick ? 1 : 2),
    createClients: quick ? [1, 4] : [1, 16],
    failoverReps: int('failover-reps', values['failover-reps'], quick ? 1 : 10),
    failoverClients: quick ? 4 : 16,
    electionTimeoutMs:
      values['election-timeout-ms'] === undefined
        ? null
        : int('election-timeout-ms', values['election-timeout-ms'], 0),
    profile: values.profile ?? false,
    only: new Set((values.only ?? 'commits,reads,create,failover').split(',')),
    outDir: resolve(values['out-dir'] ?? join(repoRoot, 'bench', 'results')),
  };
}

const t00 = performance.now();
const log = (msg: string) =>
  console.error(`[vs-zookeeper ${((performance.now() - t00) / 1000).toFixed(1)}s] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEALTHY_TIMEOUT_MS = 180_000;

type Kind = 'kbroker' | 'zookeeper';
interface Sys {
  readonly kind: Kind;
  readonly name: string;
  readonly servers: readonly string[];
  readonly deployment: RestartableDeployment;
}

/** `n` sessions, the i-th on server i mod 3. */
async function openSessions(sys: Sys, n: number): Promise<ZkWireClient[]> {
  const out: ZkWireClient[] = new Array(n);
  await pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      out[i] = await ZkWireClient.connect(sys.servers[i % sys.servers.length]!, { sessionTimeoutMs: 30_000 });
    },
  );
  return out;
}

const closeAll = (sessions: readonly ZkWireClient[]) =>
  Promise.all(sessions.map((s) => s.close().catch(() => {})));

/** Percentile curve of a histogram, for the latency-distribution charts. */
const PERCENTILES = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100];
function curve(h: Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  return PERCENTILES.map((p) => [p, Number((h.getValueAtPercentile(p) / 1000).toFixed(3))]);
}

interface LoadResult {
  system: string;
  workload: string;
  clients: number;
  durationMs: number;
  ops: number;
  errors: number;
  firstError?: string;
  opsPerSec: number;
  latency: Latency;
  percentiles: [number, number][];
}

/**
 * Each session runs `op` back to back for warm-up + `durationMs`; operations started after the
 * warm-up are timed and counted. Several runs of the same case pool into one result via `into`.
 */
async function closedLoop(
  sessions: readonly ZkWireClient[],
  durationMs: number,
  warmupMs: number,
  op: (s: ZkWireClient, client: number, seq: number) => Promise<unknown>,
  into: { h: Histogram; ops: number; errors: number; ms: number; firstError?: string },
): Promise<void> {
  const start = performance.now();
  const from = start + warmupMs;
  const until = from + durationMs;
  let lastEnd = from;
  await Promise.all(
    sessions.map(async (s, c) => {
      for (let seq = 0; ; seq++) {
        const t0 = performance.now();
        if (t0 >= until) return;
        try {
          await op(s, c, seq);
          const t1 = performance.now();
          if (t0 >= from) {
            into.ops++;
            into.h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
            lastEnd = Math.max(lastEnd, t1);
          }
        } catch (err) {
          if (t0 >= from) into.errors++;
          into.firstError ??= (err as Error).message;
          if (!s.isOpen) throw err;
          await sleep(10);
        }
      }
    }),
  );
  into.ms += Math.max(until, lastEnd) - from;
}

/** Runs `run(sys)` for every system, `rounds` times, flipping the order each round; pools per system. */
async function alternate(
  systems: readonly Sys[],
  rounds: number,
  workload: string,
  clients: number,
  run: (
    sys: Sys,
    acc: { h: Histogram; ops: number; errors: number; ms: number; firstError?: string },
  ) => Promise<void>,
): Promise<LoadResult[]> {
  const acc = new Map(
    systems.map((s) => [
      s.name,
      { h: histogram(), ops: 0, errors: 0, ms: 0 } as {
        h: Histogram;
        ops: number;
        errors: number;
        ms: number;
        firstError?: string;
      },
    ]),
  );
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? systems : [...systems].reverse();
    for (const s of order) await run(s, acc.get(s.name)!);
  }
  return systems.map((s) => {
    const a = acc.get(s.name)!;
    const res: LoadResult = {
      system: s.name,
      workload,
      clients,
      durationMs: Math.round(a.ms),
      ops: a.ops,
      errors: a.errors,
      ...(a.firstError !== undefined ? { firstError: a.firstError } : {}),
      opsPerSec: Math.round((a.ops / Math.max(1, a.ms)) * 1000),
      latency: summarise(a.h),
      percentiles: curve(a.h),
    };
    log(
      `  ${workload} ${clients} clients ${s.name}: ${fmt(res.opsPerSec)} ops/s, p50 ${res.latency.p50Ms} ms, p99 ${res.latency.p99Ms} ms${a.errors > 0 ? `, ${a.errors} errors (${a.firstError})` : ''}`,
    );
    return res;
  });
}

// ---------------------------------------------------------------- setup

const GROUP = 'vszk-group';

function offsetPaths(opts: Options): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < opts.offsetPartitions; i++)
    for (let p = 0; p < opts.partitions && out.length < opts.offsetPartitions; p++)
      out.push(`/consumers/${GROUP}/offsets/${topicName(i)}/${p}`);
  return out;
}

/** Creates the offset znodes through kbroker's ZooKeeper listener (each an offset commit). */
async function createOffsets(kb: Sys, paths: readonly string[]): Promise<void> {
  const sessions = await openSessions(kb, 3);
  try {
    let k = 0;
    await pool(paths, 96, async (path) => {
      const s = sessions[k++ % sessions.length]!;
      for (let attempt = 1; ; attempt++) {
        try {
          await s.create(path, Buffer.from('0'));
          return;
        } catch (err) {
          if (err instanceof ZkError && err.code === 'NODEEXISTS') return;
          if (attempt >= 20 || !s.isOpen) throw err;
          await sleep(100);
        }
      }
    });
  } finally {
    await closeAll(sessions);
  }
}

// ---------------------------------------------------------------- topic creation

const assignment = (partitions: number, k: number) => {
  const parts: Record<string, number[]> = {};
  for (let p = 0; p < partitions; p++) parts[String(p)] = [0, 1, 2].map((r) => ((k + p + r) % 3) + 1);
  return Buffer.from(JSON.stringify({ version: 1, partitions: parts }));
};

/**
 * What a ZooKeeper-era Kafka controller wrote in ZooKeeper for a new topic: one event thread; a child
 * watch on /brokers/topics; on each event the whole child list again (re-arming the watch), the new
 * topics' assignments, and their partition state znodes (one multi a topic).
 */
class ZkEraController {
  private known = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private dirty = false;
  private stopped = false;

  private constructor(private readonly session: ZkWireClient) {}

  static async start(server: string): Promise<ZkEraController> {
    const c = new ZkEraController(await ZkWireClient.connect(server));
    c.session.onWatch((e) => {
      if (e.type === 4 && e.path === '/brokers/topics') c.schedule();
    });
    const first = await c.session.getChildren('/brokers/topics', { watch: true });
    c.known = new Set(first?.children ?? []);
    return c;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running = this.running.then(async () => {
      if (!this.dirty || this.stopped) return;
      this.dirty = false;
      try {
        await this.onTopicsChanged();
      } catch (err) {
        log(`  zk-era controller: ${(err as Error).message}`);
      }
    });
  }

  private async onTopicsChanged(): Promise<void> {
    const res = await this.session.getChildren('/brokers/topics', { watch: true });
    const fresh = (res?.children ?? []).filter((t) => !this.known.has(t));
    for (const t of fresh) this.known.add(t);
    await Promise.all(
      fresh.map(async (t) => {
        const read = await this.session.getData(`/brokers/topics/${t}`);
        if (read?.data == null) return;
        const parts = (
          JSON.parse(Buffer.from(read.data).toString('utf8')) as { partitions: Record<string, number[]> }
        ).partitions;
        const nodes: { path: string; data: Uint8Array | null }[] = [
          { path: `/brokers/topics/${t}/partitions`, data: null },
        ];
        for (const [p, replicas] of Object.entries(parts)) {
          nodes.push({ path: `/brokers/topics/${t}/partitions/${p}`, data: null });
          nodes.push({
            path: `/brokers/topics/${t}/partitions/${p}/state`,
            data: Buffer.from(
              JSON.stringify({
                controller_epoch: 1,
                leader: replicas[0],
                version: 1,
                leader_epoch: 0,
                isr: replicas,
              }),
            ),
          });
        }
        await this.session.createMany(nodes);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.session.close();
  }
}

/** Resolves once `path` exists, through an exists watch on `s` (`waiters` dispatches its events). */
async function waitForZnode(s: ZkWireClient, waiters: Map<string, () => void>, path: string): Promise<void> {
  const created = new Promise<void>((r) => waiters.set(path, r));
  if ((await s.exists(path, { watch: true })) !== undefined) {
    waiters.delete(path);
    return;
  }
  await created;
}

async function createTopicsLoad(
  systems: readonly Sys[],
  opts: Options,
  clients: number,
  round: { n: number },
): Promise<LoadResult[]> {
  return alternate(systems, opts.rounds, 'create topic', clients, async (sys, acc) => {
    const sessions = await openSessions(sys, clients);
    const waiters = sessions.map((s) => {
      const m = new Map<string, () => void>();
      s.onWatch((e) => {
        if (e.type === 1) {
          m.get(e.path)?.();
          m.delete(e.path);
        }
      });
      return m;
    });
    const controller = sys.kind === 'zookeeper' ? await ZkEraController.start(sys.servers[0]!) : undefined;
    const r = round.n++;
    try {
      await closedLoop(
        sessions,
        opts.durationMs,
        opts.warmupMs,
        async (s, c, seq) => {
          const t = `vszk-new-${r}-${c}-${seq}`;
          await s.create(`/brokers/topics/${t}`, assignment(opts.partitions, c + seq));
          await waitForZnode(s, waiters[c]!, `/brokers/topics/${t}/partitions/${opts.partitions - 1}/state`);
        },
        acc,
      );
    } finally {
      await controller?.stop();
      await closeAll(sessions);
    }
  });
}

// ---------------------------------------------------------------- failover

interface FailoverSample {
  system: string;
  rep: number;
  killed: string;
  /** Kill -> first success of a write issued after the kill. */
  recoveryMs: number;
  /** Kill -> every client has had such a success. */
  allClientsMs: number;
  writesBefore: number;
}

async function findLeader(sys: Sys, brokers: readonly string[] | undefined): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (sys.kind === 'zookeeper') {
      const i = (await zookeeperModes(sys.servers)).indexOf('leader');
      if (i >= 0) return i;
    } else {
      const admin = await kbrokerAdmin(brokers!).catch(() => undefined);
      if (admin !== undefined) {
        try {
          const d = await admin.describeCluster();
          if (d.controller > 0) return d.controller - 1;
        } catch {
          // try again
        } finally {
          await admin.disconnect().catch(() => {});
        }
      }
    }
    if (Date.now() > deadline) throw new Error(`${sys.name}: no leader within 30 s`);
    await sleep(100);
  }
}

/**
 * Resolves once every server of `sys` serves again (kbroker: a controller and three unfenced brokers;
 * ZooKeeper: one leader and two followers), or rejects after `timeoutMs` saying what was missing. A
 * kbroker node restarted under load with a large image can take tens of seconds to be unfenced (it must
 * apply the log up to its new registration), so the wait is long and says what it waits for.
 */
async function waitHealthy(
  sys: Sys,
  brokers: readonly string[] | undefined,
  timeoutMs = HEALTHY_TIMEOUT_MS,
): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let state = 'no answer yet';
  let said = started;
  for (;;) {
    let ok = false;
    if (sys.kind === 'zookeeper') {
      const modes = await zookeeperModes(sys.servers);
      ok =
        modes.filter((m) => m === 'leader').length === 1 &&
        modes.every((m) => m === 'leader' || m === 'follower');
      state = `modes ${modes.join(', ')}`;
    } else {
      const admin = await kbrokerAdmin(brokers!).catch(() => undefined);
      if (admin !== undefined) {
        const d = await admin.describeCluster().catch(() => undefined);
        await admin.disconnect().catch(() => {});
        ok =
          d !== undefined && d.controller > 0 && d.brokers.length === 3 && d.brokers.every((b) => !b.fenced);
        state =
          d === undefined
            ? 'describeCluster failed'
            : `controller ${d.controller}, fenced brokers [${d.brokers
                .filter((b) => b.fenced)
                .map((b) => b.nodeId)
                .join(', ')}] of ${d.brokers.length}`;
      }
    }
    if (ok) {
      const probes = await Promise.all(
        sys.servers.map((s) =>
          ZkWireClient.connect(s, { connectTimeoutMs: 2000 }).then(
            async (c) => {
              const good = (await c.getData('/brokers').catch(() => undefined)) !== undefined;
              await c.close();
              return good;
            },
            () => false,
          ),
        ),
      );
      if (probes.every(Boolean)) return;
      state = `servers not answering reads: ${sys.servers.filter((_s, i) => !probes[i]).join(', ')}`;
    }
    if (Date.now() > deadline)
      throw new Error(`${sys.name}: not healthy again within ${timeoutMs / 1000} s (${state})`);
    if (Date.now() - said >= 15_000) {
      said = Date.now();
      log(`  ${sys.name} not healthy yet after ${Math.round((said - started) / 1000)} s: ${state}`);
    }
    await sleep(200);
  }
}

async function failoverOnce(
  sys: Sys,
  opts: Options,
  paths: readonly string[],
  rep: number,
  brokers: readonly string[] | undefined,
): Promise<FailoverSample> {
  const n = opts.failoverClients;
  const sessions: (ZkWireClient | undefined)[] = await openSessions(sys, n);
  let stop = false;
  let killAt = Number.POSITIVE_INFINITY;
  let writesBefore = 0;
  const recoveredAt: number[] = new Array(n).fill(Number.NaN);
  let firstRecovery = Number.NaN;
  const recovered = new Promise<void>((resolveAll) => {
    const mine = (c: number) => paths.filter((_, i) => i % n === c);
    const loops = sessions.map(async (_, c) => {
      const own = mine(c);
      for (let seq = 0; !stop; seq++) {
        let s = sessions[c];
        if (s === undefined || !s.isOpen) {
          // Reconnect to the servers, starting with the next one (a new session).
          const order = sys.servers.map((_x, i) => sys.servers[(c + 1 + i) % sys.servers.length]!);
          s = await ZkWireClient.connect(order.join(','), { connectTimeoutMs: 2000 }).catch(() => undefined);
          sessions[c] = s;
          if (s === undefined) {
            await sleep(20);
            continue;
          }
        }
        const t0 = performance.now();
        try {
          await s.setData(own[seq % own.length]!, Buffer.from(String(seq + 1)));
          const t1 = performance.now();
          if (t0 < killAt) writesBefore++;
          else if (Number.isNaN(recoveredAt[c]!)) {
            recoveredAt[c] = t1;
            if (Number.isNaN(firstRecovery)) firstRecovery = t1;
            if (recoveredAt.every((x) => !Number.isNaN(x))) resolveAll();
          }
        } catch {
          if (s.isOpen) await sleep(10);
        }
      }
    });
    void Promise.all(loops);
  });
  try {
    await sleep(opts.quick ? 300 : 1000);
    const leader = await findLeader(sys, brokers);
    killAt = performance.now();
    await sys.deployment.kill(leader);
    const timeout = sleep(60_000).then(() => 'timeout' as const);
    if ((await Promise.race([recovered, timeout])) === 'timeout')
      throw new Error(`${sys.name}: writes did not all recover within 60 s of the kill`);
    await sleep(200);
    stop = true;
    const sample: FailoverSample = {
      system: sys.name,
      rep,
      killed: sys.servers[leader]!,
      recoveryMs: Number((firstRecovery - killAt).toFixed(1)),
      allClientsMs: Number((Math.max(...recoveredAt) - killAt).toFixed(1)),
      writesBefore,
    };
    await sys.deployment.restart(leader);
    return sample;
  } finally {
    stop = true;
    await closeAll(sessions.filter((s): s is ZkWireClient => s !== undefined));
  }
}

// ---------------------------------------------------------------- profile

interface WriteProfile {
  readonly clients: number;
  readonly topics: number;
  readonly offsets: number;
  readonly durationMs: number;
  readonly opsPerSec: number;
  readonly latency: Latency;
  /** CPU of each kbroker process (main thread, other threads) and of the client, % of one core. */
  readonly cpu: readonly {
    readonly process: string;
    readonly mainPct: number;
    readonly otherPct: number;
    /** Of main + other, the kernel's part (system calls). */
    readonly kernelPct: number;
  }[];
  readonly summary: ProfileSummary;
  readonly tables: { readonly cpu: string; readonly components: string; readonly hot: string };
}

/**
 * The write case with the most clients again, on a fresh kbroker run with `node --cpu-prof`, alone on
 * the machine (ZooKeeper stopped): CPU per process and thread from /proc, and the profiles cut to the
 * measured window and summed by component (see cpu-profile.ts). The topics are only as many as the
 * offsets need.
 */
async function profileWrites(opts: Options): Promise<WriteProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'vszk-prof-'));
  const d = await startKbroker(3, 90_000, undefined, {
    electionTimeoutMs: opts.electionTimeoutMs,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  const clients = Math.max(...opts.clients);
  const topics = Math.min(opts.topics, Math.ceil(opts.offsetPartitions / opts.partitions));
  const acc = { h: histogram(), ops: 0, errors: 0, ms: 0 };
  let window:
    | { fromUs: number; toUs: number; cpu: { mainPct: number; otherPct: number; kernelPct: number }[] }
    | undefined;
  let clientKernelPct = 0;
  let clientPct = 0;
  try {
    const sys: Sys = { kind: 'kbroker', name: 'kbroker', servers: d.servers, deployment: d };
    const admin = await kbrokerAdmin(d.brokers);
    await createTopics(admin, { topics, partitions: opts.partitions }, log).finally(() => admin.disconnect());
    await waitForTopics(sys, { topics, partitions: opts.partitions });
    const paths = offsetPaths(opts);
    await createOffsets(sys, paths);
    const sessions = await openSessions(sys, clients);
    const shares = Array.from({ length: clients }, (_, c) => paths.filter((_p, i) => i % clients === c));
    const pids = d.pids().filter((p): p is number => p !== undefined);
    const usNow = () => Number(process.hrtime.bigint() / 1000n);
    let start: {
      us: number;
      cpu: Awaited<ReturnType<typeof threadCpuMs>>[];
      client: NodeJS.CpuUsage;
    };
    const begin = setTimeout(async () => {
      const cpu = await Promise.all(pids.map(threadCpuMs));
      start = { us: usNow(), cpu, client: process.cpuUsage() };
    }, opts.warmupMs);
    const finish = setTimeout(async () => {
      const cpu = await Promise.all(pids.map(threadCpuMs));
      const toUs = usNow();
      const client = process.cpuUsage(start.client);
      const wallMs = (toUs - start.us) / 1000;
      const pct = (ms: number) => Math.round((100 * ms) / wallMs);
      clientPct = pct((client.user + client.system) / 1000);
      clientKernelPct = pct(client.system / 1000);
      window = {
        fromUs: start.us,
        toUs,
        cpu: cpu.map((c, i) => ({
          mainPct: pct((c?.mainMs ?? 0) - (start.cpu[i]?.mainMs ?? 0)),
          otherPct: pct((c?.otherMs ?? 0) - (start.cpu[i]?.otherMs ?? 0)),
          kernelPct: pct((c?.kernelMs ?? 0) - (start.cpu[i]?.kernelMs ?? 0)),
        })),
      };
    }, opts.warmupMs + opts.durationMs);
    let counter = 0;
    try {
      await closedLoop(
        sessions,
        opts.durationMs,
        opts.warmupMs,
        (s, c, seq) => {
          const own = shares[c]!;
          return s.setData(own[seq % own.length]!, Buffer.from(String(++counter)));
        },
        acc,
      );
    } finally {
      clearTimeout(begin);
      clearTimeout(finish);
      await closeAll(sessions);
    }
  } finally {
    // The profiles are written as the processes exit.
    await d.stop();
  }
  try {
    if (window === undefined) throw new Error('the profiled run ended before its measurement window');
    const summary = await summariseProfiles(dir, window.fromUs, window.toUs, acc.ops, repoRoot);
    const cpu = [
      ...window.cpu.map((c, i) => ({ process: `kbroker node ${i + 1}`, ...c })),
      {
        process: 'client (all sessions, this process)',
        mainPct: clientPct,
        otherPct: 0,
        kernelPct: clientKernelPct,
      },
    ];
    const opsPerSec = Math.round((acc.ops / Math.max(1, acc.ms)) * 1000);
    return {
      clients,
      topics,
      offsets: opts.offsetPartitions,
      durationMs: Math.round(acc.ms),
      opsPerSec,
      latency: summarise(acc.h),
      cpu,
      summary,
      tables: {
        cpu: renderTable(
          ['process', 'main thread % of a core', 'other threads %', 'of which kernel %'],
          cpu.map((c) => [c.process, String(c.mainPct), String(c.otherPct), String(c.kernelPct)]),
        ),
        components: renderTable(
          ['component (kbroker processes, innermost own frame)', 'share of busy', 'CPU us per commit'],
          summary.components.map((c) => [c.component, `${c.percent.toFixed(1)}%`, c.usPerOp.toFixed(1)]),
        ),
        hot: renderTable(
          ['share of busy', 'function (self time)'],
          summary.hot.map(([pct, name]) => [`${pct.toFixed(1)}%`, name]),
        ),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const why = zookeeperUnavailable();
  if (why !== undefined) throw new Error(`cannot run: ${why}`);
  const started = performance.now();
  const stops: (() => Promise<void>)[] = [];
  const onSignal = () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('starting kbroker (3 processes) and a 3-server ZooKeeper ensemble');
    const [kbd, zkd] = await Promise.all([
      startKbroker(3, 90_000, undefined, { electionTimeoutMs: opts.electionTimeoutMs }).then((d) => {
        stops.push(d.stop);
        return d;
      }),
      startZooKeeper(3, 90_000).then((d) => {
        stops.push(d.stop);
        return d;
      }),
    ]);
    const kbDeployment: KbrokerDeployment = kbd;
    const kb: Sys = { kind: 'kbroker', name: 'kbroker', servers: kbd.servers, deployment: kbd };
    const zk: Sys = { kind: 'zookeeper', name: 'zookeeper', servers: zkd.servers, deployment: zkd };
    const systems = [kb, zk];

    log(`creating ${opts.topics} topics x ${opts.partitions} partitions in kbroker`);
    const admin = await kbrokerAdmin(kbDeployment.brokers);
    const topicCreateMs = await createTopics(admin, opts, log).finally(() => admin.disconnect());
    await waitForTopics(kb, opts);
    const paths = offsetPaths(opts);
    log(`creating ${paths.length} offset znodes of group ${GROUP} through kbroker's ZooKeeper listener`);
    const t1 = performance.now();
    await createOffsets(kb, paths);
    const offsetCreateMs = performance.now() - t1;
    const tree = await readTree(kb.servers[0]!);
    log(`copying kbroker's tree (${tree.length} znodes) into ZooKeeper`);
    const zookeeperWriteMs = await writeTree(zk, tree);
    await waitForTopics(zk, opts);
    log(`setup done in ${fmt((performance.now() - started) / 1000, 1)} s`);

    const statePaths: string[] = [];
    for (let i = 0; i < opts.topics; i++)
      for (let p = 0; p < opts.partitions; p++)
        statePaths.push(`/brokers/topics/${topicName(i)}/partitions/${p}/state`);

    const results: LoadResult[] = [];
    const withSessions =
      (n: number, f: (s: ZkWireClient, c: number, seq: number) => Promise<unknown>) =>
      async (sys: Sys, acc: Parameters<typeof closedLoop>[4]) => {
        const sessions = await openSessions(sys, n);
        try {
          await closedLoop(sessions, opts.durationMs, opts.warmupMs, f, acc);
        } finally {
          await closeAll(sessions);
        }
      };

    // 1. Offset commits.
    log('workload 1: offset commits (setData /consumers/<g>/offsets/<t>/<p>)');
    for (const n of opts.only.has('commits') ? opts.clients : []) {
      const shares = Array.from({ length: n }, (_, c) => paths.filter((_p, i) => i % n === c));
      let counter = 0;
      results.push(
        ...(await alternate(
          systems,
          opts.rounds,
          'offset commit',
          n,
          withSessions(n, (s, c, seq) => {
            const own = shares[c]!;
            return s.setData(own[seq % own.length]!, Buffer.from(String(++counter)));
          }),
        )),
      );
    }

    // 2. Metadata reads.
    log('workload 2: metadata reads');
    const readClients = opts.only.has('reads') ? opts.clients : [];
    for (const n of readClients)
      results.push(
        ...(await alternate(
          systems,
          opts.rounds,
          'getData partition state',
          n,
          withSessions(n, (s) => s.getData(statePaths[Math.floor(Math.random() * statePaths.length)]!)),
        )),
      );
    for (const n of readClients)
      results.push(
        ...(await alternate(
          systems,
          opts.rounds,
          'getChildren /brokers/topics',
          n,
          withSessions(n, (s) => s.getChildren('/brokers/topics')),
        )),
      );

    // 3. Topic creation.
    log('workload 3: topic creation (create /brokers/topics/<t> until its partition states exist)');
    const round = { n: 0 };
    for (const n of opts.only.has('create') ? opts.createClients : [])
      results.push(...(await createTopicsLoad(systems, opts, n, round)));

    // 4. Failover.
    log(`workload 4: failover (${opts.failoverReps} reps, ${opts.failoverClients} writing clients)`);
    const failovers: FailoverSample[] = [];
    for (let rep = 0; rep < (opts.only.has('failover') ? opts.failoverReps : 0); rep++) {
      const order = rep % 2 === 0 ? systems : [...systems].reverse();
      for (const s of order) {
        const brokers = s.kind === 'kbroker' ? kbDeployment.brokers : undefined;
        await waitHealthy(s, brokers);
        const f = await failoverOnce(s, opts, paths, rep, brokers);
        failovers.push(f);
        log(
          `  failover ${rep + 1}/${opts.failoverReps} ${s.name}: writes again after ${f.recoveryMs} ms (all clients ${f.allClientsMs} ms)`,
        );
      }
    }
    // After the last repetition: a system slow to heal is recorded, not a reason to lose the run.
    const warnings: string[] = [];
    for (const s of systems)
      await waitHealthy(s, s.kind === 'kbroker' ? kbDeployment.brokers : undefined).catch((err: Error) => {
        warnings.push(err.message);
        log(`  ${err.message}`);
      });

    // ---- summary
    const of = (sys: string, w: string, n: number) =>
      results.find((r) => r.system === sys && r.workload === w && r.clients === n);
    const cases = [...new Set(results.map((r) => `${r.workload}|${r.clients}`))];
    const rows = cases.map((c) => {
      const [w, n] = c.split('|') as [string, string];
      const k = of('kbroker', w, Number(n))!;
      const z = of('zookeeper', w, Number(n))!;
      return {
        workload: w,
        clients: Number(n),
        kbroker: { opsPerSec: k.opsPerSec, ...k.latency },
        zookeeper: { opsPerSec: z.opsPerSec, ...z.latency },
        throughputRatio: Number((k.opsPerSec / Math.max(1, z.opsPerSec)).toFixed(2)),
        p99Ratio: Number((k.latency.p99Ms / Math.max(0.001, z.latency.p99Ms)).toFixed(2)),
      };
    });
    const fo = systems.flatMap((s) => {
      if (failovers.length === 0) return [];
      const xs = failovers.filter((f) => f.system === s.name);
      return [
        {
          system: s.name,
          reps: xs.length,
          medianMs: Number(median(xs.map((f) => f.recoveryMs)).toFixed(1)),
          maxMs: Math.max(...xs.map((f) => f.recoveryMs)),
          allClientsMedianMs: Number(median(xs.map((f) => f.allClientsMs)).toFixed(1)),
          allClientsMaxMs: Math.max(...xs.map((f) => f.allClientsMs)),
        },
      ];
    });
    const maxClients = Math.max(...opts.clients);
    const writeRows = rows.filter((r) => r.workload === 'offset commit' && r.clients === maxClients);
    const readRows = rows.filter((r) => r.workload.startsWith('get') && r.clients === maxClients);
    const foRatios =
      fo.length === 2 ? [Number((fo[0]!.medianMs / Math.max(0.1, fo[1]!.medianMs)).toFixed(2))] : [];
    const targets = [
      ...writeRows.map((r) => ({
        name: `offset-commit (write) throughput, ${maxClients} clients`,
        wanted: '>= 2x',
        ratio: r.throughputRatio,
        pass: r.throughputRatio >= 2,
      })),
      ...readRows.map((r) => ({
        name: `${r.workload} throughput, ${maxClients} clients`,
        wanted: '>= 1x',
        ratio: r.throughputRatio,
        pass: r.throughputRatio >= 1,
      })),
      ...foRatios.map((ratio) => ({
        name: 'failover, median time until writes succeed',
        wanted: '<= 0.5x',
        ratio,
        pass: ratio <= 0.5,
      })),
    ];

    const loadTable = renderTable(
      [
        'workload',
        'clients',
        'kbroker ops/s',
        'zk ops/s',
        'kb/zk',
        'kb p50/p99/p999 ms',
        'zk p50/p99/p999 ms',
      ],
      rows.map((r) => [
        r.workload,
        String(r.clients),
        fmt(r.kbroker.opsPerSec),
        fmt(r.zookeeper.opsPerSec),
        `${r.throughputRatio.toFixed(2)}x`,
        `${r.kbroker.p50Ms.toFixed(2)}/${r.kbroker.p99Ms.toFixed(2)}/${r.kbroker.p999Ms.toFixed(2)}`,
        `${r.zookeeper.p50Ms.toFixed(2)}/${r.zookeeper.p99Ms.toFixed(2)}/${r.zookeeper.p999Ms.toFixed(2)}`,
      ]),
    );
    const failoverTable = renderTable(
      [
        'failover (kill -9 of the leader)',
        'reps',
        'median ms',
        'max ms',
        'all clients median ms',
        'all clients max ms',
      ],
      fo.map((f) => [
        f.system,
        String(f.reps),
        fmt(f.medianMs, 1),
        fmt(f.maxMs, 1),
        fmt(f.allClientsMedianMs, 1),
        fmt(f.allClientsMaxMs, 1),
      ]),
    );
    const targetTable = renderTable(
      ['target (kbroker / ZooKeeper)', 'wanted', 'ratio', 'result'],
      targets.map((t) => [t.name, t.wanted, `${t.ratio.toFixed(2)}x`, t.pass ? 'PASS' : 'MISS']),
    );
    const m = machine();
    say(
      `\nkbroker vs ZooKeeper: 3 servers each on loopback, fsync on; ${opts.topics} topics x ${opts.partitions} partitions, ` +
        `${paths.length} offset znodes; ${opts.durationMs} ms per case after ${opts.warmupMs} ms warm-up, ${opts.rounds} round(s) alternating`,
    );
    say(
      `${m.cpus} CPUs (${m.cpuModel}), node ${m.node}, ${m.java}; load average ${m.loadAverage.join(' ')}\n`,
    );
    say(loadTable);
    say(`\n${failoverTable}\n\n${targetTable}`);

    const stoppedMs = performance.now();
    await Promise.all(stops.splice(0).map((s) => s().catch(() => {})));
    // A missed write target comes with a profile of kbroker's side of that case (or with --profile).
    const writeMissed = targets.some((t) => t.name.startsWith('offset-commit') && !t.pass);
    let profile: WriteProfile | undefined;
    if (opts.only.has('commits') && (opts.profile || writeMissed)) {
      log(`profiling kbroker's offset commits with ${Math.max(...opts.clients)} clients (node --cpu-prof)`);
      // The measurements above are done: a failed profile is reported, not a reason to lose them.
      profile = await profileWrites(opts).catch((err: Error) => {
        warnings.push(`the write profile failed: ${err.message}`);
        log(`  the write profile failed: ${err.message}`);
        return undefined;
      });
      if (profile !== undefined) {
        say(
          `\nwhere kbroker's time goes: offset commits, ${profile.clients} clients, ${fmt(profile.opsPerSec)} commits/s ` +
            `under the profiler (${profile.topics} topics, ${profile.offsets} offsets, ZooKeeper stopped)\n`,
        );
        say(`${profile.tables.cpu}\n\n${profile.tables.components}\n\n${profile.tables.hot}`);
      }
    }

    const result = {
      benchmark: 'vs-zookeeper',
      date: new Date().toISOString(),
      quick: opts.quick,
      options: { ...opts, outDir: undefined },
      machine: m,
      systems: {
        kbroker: { servers: kb.servers, electionTimeoutMs: opts.electionTimeoutMs ?? 'default (250)' },
        zookeeper: {
          servers: zk.servers,
          config: 'tickTime=2000 initLimit=10 syncLimit=5 forceSync=yes (default)',
        },
      },
      setup: {
        topicCreateMs: Math.round(topicCreateMs),
        offsetCreateMs: Math.round(offsetCreateMs),
        znodes: tree.length,
        zookeeperWriteMs: Math.round(zookeeperWriteMs),
      },
      results,
      rows,
      failovers,
      failover: fo,
      targets,
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(profile !== undefined ? { profile } : {}),
      tables: { load: loadTable, failover: failoverTable, targets: targetTable },
      totalMs: Math.round(stoppedMs - started),
    };
    const file = await writeResults(opts.outDir, 'vs-zookeeper', result);
    say(`\nwrote ${file} and vs-zookeeper-latest.json (total ${fmt(result.totalMs / 1000, 1)} s)`);
  } finally {
    await Promise.all(stops.map((s) => s().catch(() => {})));
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
