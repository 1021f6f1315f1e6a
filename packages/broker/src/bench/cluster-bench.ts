/**
 * The cluster benchmark: real `kbroker` processes (packages/broker/bin/kbroker.js) on loopback, each
 * with a fresh data dir, observed over the client protocol.
 *
 *   node packages/broker/dist/bench/cluster-bench.js [--quick] [--runs N] [--detect-reps N]
 *     [--duration-ms N] [--profile] [--out-dir DIR]
 *
 * Measures:
 *   - time to serve: from spawning the process to the first `describeCluster` answered by the node
 *     that shows it registered and unfenced (one node: the single-node setup; three nodes: until all
 *     three are unfenced); the median of `--runs` runs (5; 3 with --quick), with where the time goes
 *     (from the nodes' own log lines);
 *   - time to detect a dead broker: kill -9 of a broker that leads partitions (not the controller),
 *     until the controller's image shows it fenced and leads none of its partitions, with the default
 *     session timeout (9 s, heartbeats 2 s) and with `--session-timeout-ms 1000 --heartbeat-interval-ms 250`;
 *   - topic creations per second (10 partitions, replication factor 3) through the CLI's code path:
 *     `kbroker topics create` run in-process by the CLI's own `main` (one connection per command, as
 *     the command line does), and the same `admin.createTopics` call on one long-lived admin client;
 *     at concurrency 1 and 16.
 * Target: a single node serves within 500 ms of its process start. With `--profile` (or when the
 * target is missed) one more single-node start runs under `--cpu-prof`, and the CPU it spent until it
 * served is summarised by function (self time), beside the idle time the node spent waiting on timers.
 *
 * Prints a table on stdout (progress on stderr) and writes JSON to bench/results/cluster-<timestamp>.json
 * and bench/results/cluster-latest.json. Exits 0 whether or not the target is met.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { cpus, type as osType, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { format as formatLine, parseArgs } from 'node:util';
import { Kbroker } from '@kbroker/client';
import { Connection } from '@kbroker/client/connection';
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { main } from '../cli/main.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

const TARGET_SINGLE_NODE_SERVE_MS = 500;
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(repoRoot, 'packages', 'broker', 'bin', 'kbroker.js');

interface Options {
  quick: boolean;
  runs: number;
  detectReps: number;
  durationMs: number;
  profile: boolean;
  outDir: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      'detect-reps': { type: 'string' },
      'duration-ms': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    say(
      'usage: cluster-bench [--quick] [--runs N] [--detect-reps N] [--duration-ms N] [--profile] [--out-dir DIR]',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = (name: string, v: string | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    quick,
    runs: int('runs', values.runs, quick ? 3 : 5),
    detectReps: int('detect-reps', values['detect-reps'], quick ? 1 : 3),
    durationMs: int('duration-ms', values['duration-ms'], quick ? 2_000 : 5_000),
    profile: values.profile ?? false,
    outDir: resolve(values['out-dir'] ?? join(repoRoot, 'bench', 'results')),
  };
}

const progress = (msg: string) => process.stderr.write(`[cluster-bench] ${msg}\n`);
const round1 = (v: number) => Math.round(v * 10) / 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((ok) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---- processes -------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

interface LogRecord {
  readonly time: number;
  readonly msg: string;
}

/** One kbroker process; its pino lines are kept with their timestamps. */
class NodeProc {
  readonly child: ChildProcess;
  /** Date.now() just before spawn (pino times are epoch ms too). */
  readonly spawnedAt: number;
  /** performance.now() just before spawn. */
  readonly spawnedPerf: number;
  readonly records: LogRecord[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly nodeId: number,
    readonly client: string,
    args: readonly string[],
    nodeArgs: readonly string[] = [],
  ) {
    this.spawnedAt = Date.now();
    this.spawnedPerf = performance.now();
    this.child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    live.add(this.child);
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        const r = JSON.parse(line) as { time?: number; msg?: string };
        if (typeof r.time === 'number' && typeof r.msg === 'string')
          this.records.push({ time: r.time, msg: r.msg });
      } catch {
        // not a log record
      }
    });
    this.exited = new Promise((ok) =>
      this.child.once('exit', (code) => {
        live.delete(this.child);
        ok(code);
      }),
    );
  }

  /** ms from spawn to the first log record `msg`. */
  at(msg: string): number | undefined {
    const r = this.records.find((x) => x.msg === msg);
    return r === undefined ? undefined : r.time - this.spawnedAt;
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async terminate(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

interface ClusterPlan {
  readonly nodes: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly nodeArgs?: readonly string[];
}

/** Spawns `plan.nodes` broker+controller nodes in a fresh dir (formatted by `--cluster-id`). */
async function spawnCluster(plan: ClusterPlan): Promise<{ nodes: NodeProc[]; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'kbroker-cluster-bench-'));
  const ports = await freePorts(plan.nodes * 2);
  const quorum = Array.from(
    { length: plan.nodes },
    (_, i) => `${i + 1}@127.0.0.1:${ports[plan.nodes + i]}`,
  ).join(',');
  const clusterId = `bench${Math.random().toString(36).slice(2, 12)}`;
  const nodes = Array.from({ length: plan.nodes }, (_, i) => {
    const client = `127.0.0.1:${ports[i]}`;
    const args = [
      '--node-id',
      String(i + 1),
      '--controller-quorum',
      quorum,
      '--cluster-id',
      clusterId,
      '--listener',
      client,
      '--data-dir',
      join(root, `node-${i + 1}`),
      '--log-level',
      'info',
    ];
    if (plan.sessionTimeoutMs !== undefined) args.push('--session-timeout-ms', String(plan.sessionTimeoutMs));
    if (plan.heartbeatIntervalMs !== undefined)
      args.push('--heartbeat-interval-ms', String(plan.heartbeatIntervalMs));
    return new NodeProc(i + 1, client, args, plan.nodeArgs);
  });
  return { nodes, root };
}

async function teardown(c: { nodes: NodeProc[]; root: string }): Promise<void> {
  await Promise.all(c.nodes.map((n) => n.kill9()));
  await rm(c.root, { recursive: true, force: true });
}

/** A connection to one node, dialled until it accepts (the node may still be starting). */
async function dial(address: string, deadline: number): Promise<Connection> {
  const [host, port] = address.split(':');
  const endpoint = { host: host!, port: Number(port) };
  for (;;) {
    try {
      return await Connection.connect(endpoint, {
        ...endpoint,
        clientId: 'cluster-bench',
        connectionTimeoutMs: 1_000,
        requestTimeoutMs: 5_000,
      });
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await sleep(2);
    }
  }
}

/** Polls `api` on one node (every `everyMs`) until `done` says so; resolves with performance.now(). */
async function pollNode<A extends ApiName>(
  address: string,
  api: A,
  body: ApiRequest<A>,
  done: (res: ApiResponse<A>) => boolean,
  timeoutMs: number,
  everyMs = 2,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let conn = await dial(address, deadline);
  try {
    for (;;) {
      try {
        if (done(await conn.request(api, body))) return performance.now();
      } catch (err) {
        if (!conn.isOpen) conn = await dial(address, deadline);
        else if (performance.now() > deadline) throw err;
      }
      if (performance.now() > deadline) throw new Error(`timed out polling ${api} on ${address}`);
      await sleep(everyMs);
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

const allUnfenced = (ids: readonly number[]) => (d: ApiResponse<'describeCluster'>) =>
  ids.every((id) => d.brokers.some((b) => b.id === id && !b.fenced));

// ---- time to serve ---------------------------------------------------------------------------------

interface StartupSample {
  readonly serveMs: number;
  /** ms from spawn to each node's log records. */
  readonly phases: Record<string, number | undefined>;
}

const PHASES = [
  'listening',
  'kbroker node started',
  'elected leader',
  'registered with the controller',
  'unfenced',
];

async function startupRun(nodes: number, nodeArgs: readonly string[] = []): Promise<StartupSample> {
  const c = await spawnCluster({ nodes, nodeArgs });
  try {
    const ids = c.nodes.map((n) => n.nodeId);
    const readyAt = await pollNode(c.nodes[0]!.client, 'describeCluster', {}, allUnfenced(ids), 30_000, 5);
    const serveMs = readyAt - c.nodes[0]!.spawnedPerf;
    const phases: Record<string, number | undefined> = {};
    for (const p of PHASES) {
      const times = c.nodes.map((n) => n.at(p)).filter((t): t is number => t !== undefined);
      phases[p] = times.length === 0 ? undefined : Math.max(...times);
    }
    if (nodeArgs.length > 0) await Promise.all(c.nodes.map((n) => n.terminate()));
    return { serveMs: round1(serveMs), phases };
  } finally {
    await teardown(c);
  }
}

async function startup(nodes: number, runs: number) {
  const samples: StartupSample[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await startupRun(nodes);
    progress(`${nodes} node(s) run ${i + 1}/${runs}: serving after ${s.serveMs} ms`);
    samples.push(s);
  }
  const phaseMedians: Record<string, number | undefined> = {};
  for (const p of PHASES) {
    const v = samples.map((s) => s.phases[p]).filter((t): t is number => t !== undefined);
    phaseMedians[p] = v.length === 0 ? undefined : round1(median(v));
  }
  const serve = samples.map((s) => s.serveMs);
  return {
    nodes,
    runs,
    medianMs: round1(median(serve)),
    minMs: Math.min(...serve),
    maxMs: Math.max(...serve),
    samplesMs: serve,
    phaseMediansMs: phaseMedians,
  };
}

// ---- profile ---------------------------------------------------------------------------------------

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One single-node start under --cpu-prof: where the CPU went until the node served. */
async function profileStartup() {
  const dir = await mkdtemp(join(tmpdir(), 'kbroker-cpuprof-'));
  try {
    const sample = await startupRun(1, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200']);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) return { serveMs: sample.serveMs, note: 'no profile written' };
    const prof = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as CpuProfile;
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    // Only the samples until the node served (the profile runs until its SIGTERM).
    const windowUs = sample.serveMs * 1000;
    const self = new Map<string, number>();
    const byUrl = new Map<string, number>();
    let t = 0;
    let idleUs = 0;
    let busyUs = 0;
    for (let i = 0; i < prof.samples.length; i++) {
      t += prof.timeDeltas[i] ?? 0;
      if (t > windowUs) break;
      const dt = prof.timeDeltas[i + 1] ?? 0;
      const node = byId.get(prof.samples[i]!);
      if (node === undefined) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') {
        idleUs += dt;
        continue;
      }
      busyUs += dt;
      const short = url.replace(/^file:\/\//, '').replace(repoRoot, '');
      const key = `${functionName || '(anonymous)'} ${short}${url ? `:${lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      const area =
        /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(short)?.[1] ??
        (short.startsWith('packages/')
          ? short.split('/').slice(0, 2).join('/')
          : short === ''
            ? `(${functionName})`
            : 'node:internal');
      byUrl.set(area, (byUrl.get(area) ?? 0) + dt);
    }
    const top = (m: Map<string, number>, n: number) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([name, us]) => ({ name, ms: round1(us / 1000) }));
    return {
      serveMs: sample.serveMs,
      phasesMs: sample.phases,
      note:
        'the profile starts once node has bootstrapped (after ~the first 30-50 ms of the process); ' +
        'idle = the main thread waiting (timers, I/O)',
      profiledMs: round1(Math.min(t, windowUs) / 1000),
      cpuMs: round1(busyUs / 1000),
      idleMs: round1(idleUs / 1000),
      topSelf: top(self, 12),
      byArea: top(byUrl, 10),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- dead broker detection -------------------------------------------------------------------------

async function detectOnce(sessionTimeoutMs?: number, heartbeatIntervalMs?: number) {
  const c = await spawnCluster({ nodes: 3, sessionTimeoutMs, heartbeatIntervalMs });
  const client = new Kbroker({ brokers: c.nodes.map((n) => n.client), clientId: 'cluster-bench' });
  try {
    await pollNode(c.nodes[0]!.client, 'describeCluster', {}, allUnfenced([1, 2, 3]), 30_000, 20);
    const admin = client.admin();
    await admin.createTopics({ topics: [{ topic: 'detect', numPartitions: 12, replicationFactor: 3 }] });
    const d = await admin.describeCluster();
    const controller = c.nodes.find((n) => n.nodeId === d.controller)!;
    const { topics } = await admin.describeTopics({ topics: ['detect'] });
    const victimId = [1, 2, 3].find(
      (id) => id !== d.controller && topics[0]!.partitions.some((p) => p.leader === id),
    )!;
    const led = topics[0]!.partitions.filter((p) => p.leader === victimId).length;
    await admin.disconnect();
    const victim = c.nodes.find((n) => n.nodeId === victimId)!;
    const t0 = performance.now();
    await victim.kill9();
    const fencedAt = await pollNode(
      controller.client,
      'describeCluster',
      {},
      (r) => r.brokers.some((b) => b.id === victimId && b.fenced),
      60_000,
      5,
    );
    const movedAt = await pollNode(
      controller.client,
      'describeTopics',
      { names: ['detect'] },
      (r) => r.topics[0]!.partitions.every((p) => p.leader > 0 && p.leader !== victimId),
      60_000,
      5,
    );
    return { fencedMs: round1(fencedAt - t0), leadersMovedMs: round1(movedAt - t0), partitionsMoved: led };
  } finally {
    await client.disconnect();
    await teardown(c);
  }
}

async function detection(
  label: string,
  reps: number,
  sessionTimeoutMs?: number,
  heartbeatIntervalMs?: number,
) {
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const s = await detectOnce(sessionTimeoutMs, heartbeatIntervalMs);
    progress(
      `${label} rep ${i + 1}/${reps}: fenced after ${s.fencedMs} ms, leaders moved after ${s.leadersMovedMs} ms`,
    );
    samples.push(s);
  }
  return {
    label,
    sessionTimeoutMs: sessionTimeoutMs ?? 9_000,
    heartbeatIntervalMs: heartbeatIntervalMs ?? 2_000,
    reps,
    fencedMedianMs: round1(median(samples.map((s) => s.fencedMs))),
    leadersMovedMedianMs: round1(median(samples.map((s) => s.leadersMovedMs))),
    samples,
  };
}

// ---- topic creation rate ---------------------------------------------------------------------------

const sink = { write: () => true };

async function createRate(
  mode: 'cli' | 'admin',
  concurrency: number,
  durationMs: number,
  bootstrap: string,
  prefix: string,
) {
  const client = new Kbroker({ brokers: bootstrap.split(','), clientId: 'kbroker-cli' });
  const admin = client.admin();
  await admin.connect();
  const latencies: number[] = [];
  const errorSamples = new Map<string, number>();
  let errors = 0;
  let next = 0;
  const failed = (message: string) => {
    errors++;
    // Group by message shape (ids and names vary).
    const key = message
      .trim()
      .replace(/topic id \S+/g, 'topic id <id>')
      .replace(/offset \d+/g, 'offset <n>')
      .slice(0, 120);
    errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
  };
  const started = performance.now();
  const end = started + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const topic = `${prefix}-${next++}`;
      const t = performance.now();
      if (mode === 'cli') {
        let stderr = '';
        const code = await main(
          [
            'node',
            'kbroker',
            'topics',
            'create',
            '--topic',
            topic,
            '--partitions',
            '10',
            '--replication-factor',
            '3',
            '--bootstrap',
            bootstrap,
          ],
          {
            stdout: sink,
            stderr: {
              write: (c: string) => {
                stderr += c;
                return true;
              },
            },
          },
        );
        if (code === 0) latencies.push(performance.now() - t);
        else failed(stderr);
      } else {
        try {
          await admin.createTopics({
            topics: [{ topic, numPartitions: 10, replicationFactor: 3, configEntries: [] }],
          });
          latencies.push(performance.now() - t);
        } catch (err) {
          failed(`${(err as { code?: string }).code ?? ''}: ${(err as Error).message}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  // What the cluster holds, acknowledged or not (a failed request may have created its topic).
  const existing = (await admin.listTopics()).filter((n) => n.startsWith(`${prefix}-`)).length;
  await client.disconnect();
  return {
    mode,
    concurrency,
    attempted: next,
    acknowledged: latencies.length,
    errors,
    existingAfter: existing,
    elapsedMs: round1(elapsed),
    topicsPerSec: round1((latencies.length / elapsed) * 1000),
    existingPerSec: round1((existing / elapsed) * 1000),
    latencyMs: {
      p50: round1(percentile(latencies, 50)),
      p99: round1(percentile(latencies, 99)),
      max: round1(latencies.length === 0 ? Number.NaN : Math.max(...latencies)),
    },
    errorSamples: Object.fromEntries(errorSamples),
  };
}

async function creation(durationMs: number) {
  const c = await spawnCluster({ nodes: 3 });
  try {
    await pollNode(c.nodes[0]!.client, 'describeCluster', {}, allUnfenced([1, 2, 3]), 30_000, 20);
    const bootstrap = c.nodes.map((n) => n.client).join(',');
    const results = [];
    for (const mode of ['cli', 'admin'] as const) {
      for (const concurrency of [1, 16]) {
        const r = await createRate(mode, concurrency, durationMs, bootstrap, `${mode}-c${concurrency}`);
        progress(
          `create (${mode}, concurrency ${concurrency}): ${r.topicsPerSec} topics/s, p50 ${r.latencyMs.p50} ms`,
        );
        results.push(r);
      }
    }
    return results;
  } finally {
    await teardown(c);
  }
}

// ---- report ----------------------------------------------------------------------------------------

function pad(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));

async function run(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  progress(`${opts.quick ? 'quick mode; ' : ''}${opts.runs} startup runs, ${opts.detectReps} detection reps`);

  const single = await startup(1, opts.runs);
  const three = await startup(3, opts.runs);
  const singlePass = single.medianMs <= TARGET_SINGLE_NODE_SERVE_MS;
  const profile = opts.profile || !singlePass ? await profileStartup() : undefined;
  const detect = [
    await detection('default session (9000/2000 ms)', opts.detectReps),
    await detection('short session (1000/250 ms)', opts.detectReps, 1_000, 250),
  ];
  const create = await creation(opts.durationMs);

  const cpuList = cpus();
  const report = {
    benchmark: 'cluster',
    timestamp: startedAt.toISOString(),
    machine: {
      cpus: { model: cpuList[0]?.model ?? 'unknown', count: cpuList.length },
      totalMemoryBytes: totalmem(),
      node: process.version,
      os: `${osType()} ${release()}`,
    },
    config: {
      quick: opts.quick,
      runs: opts.runs,
      detectReps: opts.detectReps,
      createDurationMs: opts.durationMs,
    },
    results: { startup: { single, three }, profile, detection: detect, creation: create },
    targets: [
      {
        name: 'single node serves (median, ms)',
        target: `<= ${TARGET_SINGLE_NODE_SERVE_MS}`,
        actual: single.medianMs,
        pass: singlePass,
      },
    ],
  };
  await mkdir(opts.outDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(opts.outDir, `cluster-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(join(opts.outDir, 'cluster-latest.json'), json);

  const m = report.machine;
  const out: string[] = [];
  out.push(
    `Cluster benchmark  ${report.timestamp}  ${m.cpus.count} x ${m.cpus.model}, node ${m.node}, ${m.os}`,
  );
  out.push('kbroker processes on loopback TCP, LevelDB with fsync, fresh data dirs');
  out.push('');
  const phase = (s: typeof single, p: string) => fmt(s.phaseMediansMs[p]);
  out.push(
    pad([
      [
        'time to serve (ms)',
        'runs',
        'median',
        'min',
        'max',
        'listening',
        'started',
        'elected',
        'registered',
        'unfenced',
      ],
      ...[single, three].map((s) => [
        `${s.nodes} node${s.nodes > 1 ? 's' : ''}, spawn -> unfenced`,
        String(s.runs),
        fmt(s.medianMs),
        fmt(s.minMs),
        fmt(s.maxMs),
        phase(s, 'listening'),
        phase(s, 'kbroker node started'),
        phase(s, 'elected leader'),
        phase(s, 'registered with the controller'),
        phase(s, 'unfenced'),
      ]),
    ]),
  );
  out.push('(phase columns: median ms from spawn to the node log line; for 3 nodes the slowest node)');
  out.push('');
  out.push(
    pad([
      ['dead broker (kill -9)', 'reps', 'fenced median', 'leaders moved median', 'samples (fenced/moved)'],
      ...detect.map((d) => [
        d.label,
        String(d.reps),
        fmt(d.fencedMedianMs),
        fmt(d.leadersMovedMedianMs),
        d.samples.map((s) => `${s.fencedMs.toFixed(0)}/${s.leadersMovedMs.toFixed(0)}`).join(' '),
      ]),
    ]),
  );
  out.push('');
  out.push(
    pad([
      [
        'topic creation (10 partitions, RF 3)',
        'concurrency',
        'acked/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'errors',
        'created/s',
      ],
      ...create.map((r) => [
        r.mode === 'cli'
          ? 'CLI main (topics create, connect per command)'
          : 'admin.createTopics (one client)',
        String(r.concurrency),
        fmt(r.topicsPerSec),
        fmt(r.latencyMs.p50),
        fmt(r.latencyMs.p99),
        fmt(r.latencyMs.max),
        `${r.errors}/${r.attempted}`,
        fmt(r.existingPerSec),
      ]),
    ]),
  );
  out.push('(created/s: topics present afterwards, acknowledged or not)');
  const errorLines = create.flatMap((r) =>
    Object.entries(r.errorSamples).map(([m, n]) => `  ${r.mode} c${r.concurrency}: ${n} x ${m}`),
  );
  if (errorLines.length > 0) out.push('errors:', ...errorLines);
  out.push('');
  if (profile !== undefined && 'topSelf' in profile) {
    out.push(
      `profile of one single-node start (--cpu-prof): served after ${profile.serveMs} ms; ` +
        `of the ${profile.profiledMs} ms profiled, CPU ${profile.cpuMs} ms, idle ${profile.idleMs} ms`,
    );
    out.push(pad([['by area', 'self ms'], ...profile.byArea!.map((r) => [r.name, fmt(r.ms)])]));
    out.push(pad([['top functions', 'self ms'], ...profile.topSelf!.map((r) => [r.name, fmt(r.ms)])]));
    out.push('');
  }
  out.push(
    pad([
      ['target', 'wanted', 'actual', 'result'],
      ...report.targets.map((t) => [t.name, t.target, String(t.actual), t.pass ? 'PASS' : 'MISS']),
    ]),
  );
  out.push('');
  out.push(`JSON: ${file}`);
  say(out.join('\n'));
}

run().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `cluster-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
