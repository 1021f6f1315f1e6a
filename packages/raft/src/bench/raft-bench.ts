/**
 * The Raft benchmark: three voters as three OS processes on loopback TCP with LevelDB (fsync on) in
 * fresh temporary directories, driven over the fork IPC channel.
 *
 *   node packages/raft/dist/bench/raft-bench.js [--quick] [--duration-ms N] [--warmup-ms N]
 *     [--failover-reps N] [--concurrency 1,16,256] [--fsync-iters N] [--election-timeout-ms N]
 *     [--heartbeat-ms N] [--tick-ms N] [--profile-dir DIR] [--out-dir DIR]
 *
 * Measures: the machine's fdatasync and LevelDB synced-put latency; commits/s and commit latency at
 * several proposer concurrencies (load generated inside the leader process); failover time from
 * SIGKILL of the leader to the first commit by a new leader. Prints a table on stdout (progress on
 * stderr) and writes JSON to bench/results/raft-<timestamp>.json and bench/results/raft-latest.json.
 * Exits 0 whether or not the targets are met; non-zero only when the benchmark itself fails.
 */

import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, arch as osArch, type as osType, platform, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format as formatLine, parseArgs } from 'node:util';
import { RAFT_DEFAULTS } from '../driver.js';
import { type DiskResult, measureDisk, newDiskSamples } from './disk.js';
import { liveProcesses, NodeProcess, withTimeout } from './node-process.js';
import { type LoadResult, type NodeStatusReply, nowMs, sleep, type TimingOverrides } from './protocol.js';
import { type LatencySummary, median, round3 } from './stats.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

const PAYLOAD_BYTES = 200;
const CLUSTER_SIZE = 3;
const TARGET_COMMITS_PER_SEC = 20_000;
const TARGET_CONCURRENCY = 256;
const TARGET_P50_FSYNC_FACTOR = 3;
const TARGET_FAILOVER_MEDIAN_MS = 500;

interface Options {
  quick: boolean;
  durationMs: number;
  warmupMs: number;
  failoverReps: number;
  concurrency: number[];
  fsyncIters: number;
  timing: TimingOverrides;
  profileDir: string | undefined;
  outDir: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'duration-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      'failover-reps': { type: 'string' },
      concurrency: { type: 'string' },
      'fsync-iters': { type: 'string' },
      'election-timeout-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'tick-ms': { type: 'string' },
      'profile-dir': { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    say(
      'usage: raft-bench [--quick] [--duration-ms N] [--warmup-ms N] [--failover-reps N] ' +
        '[--concurrency 1,16,256] [--fsync-iters N] [--election-timeout-ms N] [--heartbeat-ms N] ' +
        '[--tick-ms N] [--profile-dir DIR] [--out-dir DIR]',
    );
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, fallback: number, min = 0): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const quick = values.quick ?? false;
  const timing: TimingOverrides = {};
  if (values['election-timeout-ms'] !== undefined)
    timing.electionTimeoutMs = int('election-timeout-ms', values['election-timeout-ms'], 0, 1);
  if (values['heartbeat-ms'] !== undefined)
    timing.heartbeatIntervalMs = int('heartbeat-ms', values['heartbeat-ms'], 0, 1);
  if (values['tick-ms'] !== undefined) timing.tickMs = int('tick-ms', values['tick-ms'], 0, 1);
  const concurrency = (values.concurrency ?? '1,16,256').split(',').map((s) => int('concurrency', s, 0, 1));
  const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
  return {
    quick,
    durationMs: int('duration-ms', values['duration-ms'], quick ? 1000 : 5000, 1),
    warmupMs: int('warmup-ms', values['warmup-ms'], quick ? 500 : 1000),
    failoverReps: int('failover-reps', values['failover-reps'], quick ? 3 : 20),
    concurrency,
    fsyncIters: int('fsync-iters', values['fsync-iters'], quick ? 200 : 1000, 1),
    timing,
    profileDir: values['profile-dir'] === undefined ? undefined : resolve(values['profile-dir']),
    outDir: resolve(values['out-dir'] ?? join(repoRoot, 'bench', 'results')),
  };
}

function progress(msg: string): void {
  process.stderr.write(`[raft-bench ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

/** Ports the OS says are free right now. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

class Cluster {
  readonly nodes: NodeProcess[];

  constructor(root: string, ports: number[], timing: TimingOverrides, execArgv: string[]) {
    const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    this.nodes = ports.map(
      (_, i) =>
        new NodeProcess(
          { nodeId: i + 1, clusterId: 'raft-bench', dataDir: join(root, `n${i + 1}`), voters, timing },
          execArgv,
        ),
    );
  }

  running(): NodeProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  async statuses(): Promise<NodeStatusReply[]> {
    return Promise.all(this.running().map((n) => n.status(5000)));
  }

  /** Waits until every running node agrees on one leader; returns it. */
  async stableLeader(timeoutMs = 30_000): Promise<NodeProcess> {
    return waitFor(
      async () => {
        const ss = await this.statuses();
        const leaders = ss.filter((s) => s.role === 'leader');
        if (leaders.length !== 1) return undefined;
        const l = leaders[0]!;
        if (!ss.every((s) => s.leaderId === l.nodeId && s.term === l.term)) return undefined;
        return this.nodes[l.nodeId - 1];
      },
      'a stable leader',
      timeoutMs,
    );
  }

  /** Waits until every running node applied everything the leader committed (as of the call). */
  async caughtUp(leader: NodeProcess, timeoutMs = 60_000): Promise<void> {
    const target = (await leader.status()).commitIndex;
    await waitFor(
      async () => ((await this.statuses()).every((s) => s.lastApplied >= target) ? true : undefined),
      `all nodes to apply index ${target}`,
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

interface ThroughputRun extends LoadResult {
  readonly leaderId: number;
  /** CPU of each node process during the run (whole run, warm-up included), % of one core. */
  readonly cpuPctByNode: Record<string, number>;
}

async function runLoad(cluster: Cluster, opts: Options, concurrency: number): Promise<ThroughputRun> {
  const leader = await cluster.stableLeader();
  const before = await cluster.statuses();
  const t0 = performance.now();
  const result = await leader.request<LoadResult>(
    {
      op: 'load',
      concurrency,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      payloadBytes: PAYLOAD_BYTES,
    },
    opts.warmupMs + opts.durationMs + RAFT_DEFAULTS.proposalTimeoutMs + 30_000,
  );
  const elapsedMs = performance.now() - t0;
  const after = await cluster.statuses();
  const cpuPctByNode: Record<string, number> = {};
  for (const a of after) {
    const b = before.find((s) => s.nodeId === a.nodeId);
    if (b === undefined) continue;
    const us = a.cpuUserUs + a.cpuSystemUs - b.cpuUserUs - b.cpuSystemUs;
    cpuPctByNode[String(a.nodeId)] = Math.round((us / 1000 / elapsedMs) * 100);
  }
  return { ...result, leaderId: leader.id, cpuPctByNode };
}

interface FailoverSample {
  readonly rep: number;
  readonly killedLeader: number;
  readonly newLeader: number;
  readonly term: number;
  /** SIGKILL to the first commit by a new leader. */
  readonly ms: number;
  /** SIGKILL to the first survivor becoming leader. */
  readonly electedMs: number | undefined;
  readonly probeAttempts: number;
  /** Restart of the killed node until it applied the leader's commit index. */
  readonly catchUpMs: number;
}

async function runFailover(cluster: Cluster, rep: number, probeTimeoutMs: number): Promise<FailoverSample> {
  const leader = await cluster.stableLeader();
  await cluster.caughtUp(leader);
  const survivors = cluster.running().filter((n) => n !== leader);
  let killAt = Number.POSITIVE_INFINITY;
  let electedAt: number | undefined;
  const onLeaderChange = (m: { at: number; role: string }) => {
    if (m.role === 'leader' && m.at >= killAt && electedAt === undefined) electedAt = m.at;
  };
  let onCommit: (m: { at: number; attempts: number; term: number }, node: NodeProcess) => void = () =>
    undefined;
  const committed = new Promise<{ at: number; node: NodeProcess; attempts: number; term: number }>((ok) => {
    onCommit = (m, node) => ok({ ...m, node });
  });
  const listeners = survivors.map((n) => {
    const c = (m: { at: number; attempts: number; term: number }) => onCommit(m, n);
    n.on('leader-change', onLeaderChange);
    n.on('probe-commit', c);
    return () => {
      n.off('leader-change', onLeaderChange);
      n.off('probe-commit', c);
    };
  });
  try {
    await Promise.all(survivors.map((n) => n.request({ op: 'probe-start', timeoutMs: probeTimeoutMs })));
    killAt = nowMs();
    await leader.kill();
    const first = await withTimeout(committed, 60_000, 'a new leader to commit after the kill');
    await Promise.all(survivors.map((n) => n.request({ op: 'probe-stop' }).catch(() => undefined)));
    const restartAt = performance.now();
    await leader.start();
    const newLeader = await cluster.stableLeader();
    await cluster.caughtUp(newLeader);
    return {
      rep,
      killedLeader: leader.id,
      newLeader: first.node.id,
      term: first.term,
      ms: round3(first.at - killAt),
      electedMs: electedAt === undefined ? undefined : round3(electedAt - killAt),
      probeAttempts: first.attempts,
      catchUpMs: Math.round(performance.now() - restartAt),
    };
  } finally {
    for (const off of listeners) off();
  }
}

interface Target {
  readonly name: string;
  readonly target: string;
  readonly actual: string;
  readonly pass: boolean;
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
    )
    .join('\n');
}

/** The lowest commit rate over one timeline bucket of a run, per second. */
const worstRate = (r: LoadResult): number =>
  r.timeline.length === 0 ? 0 : Math.round((Math.min(...r.timeline) * 1000) / r.timelineBucketMs);

const fmt = (v: number | undefined, digits = 2): string => (v === undefined ? '-' : v.toFixed(digits));

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const root = await mkdtemp(join(tmpdir(), 'kbroker-raft-bench-'));
  let cluster: Cluster | undefined;

  let cleanedUp = false;
  const cleanupSync = () => {
    if (cleanedUp) return;
    cleanedUp = true;
    for (const child of liveProcesses) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: killing node processes and removing ${root}`);
      cleanupSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.once('exit', cleanupSync);

  const timing = { ...opts.timing };
  const effective = {
    tickMs: timing.tickMs ?? RAFT_DEFAULTS.tickMs,
    electionTimeoutMs: timing.electionTimeoutMs ?? RAFT_DEFAULTS.electionTimeoutMs,
    heartbeatIntervalMs: timing.heartbeatIntervalMs ?? RAFT_DEFAULTS.heartbeatIntervalMs,
    proposalTimeoutMs: RAFT_DEFAULTS.proposalTimeoutMs,
  };
  const probeTimeoutMs = Math.max(100, effective.heartbeatIntervalMs * 4);
  progress(
    `data in ${root}; ${opts.quick ? 'quick mode; ' : ''}window ${opts.durationMs} ms after ${opts.warmupMs} ms ` +
      `warm-up; ${opts.failoverReps} failover reps; election timeout ${effective.electionTimeoutMs} ms, ` +
      `heartbeat ${effective.heartbeatIntervalMs} ms`,
  );

  // The disk is measured at the start and again at the end (it can change under other load); the
  // target compares against the combined samples.
  const diskSamples = newDiskSamples();
  let diskStart: DiskResult | undefined;
  let diskEnd: DiskResult | undefined;
  const measure = async (when: string): Promise<DiskResult> => {
    progress(
      `disk (${when}): ${opts.fsyncIters} x (write ${PAYLOAD_BYTES} B + fdatasync), then LevelDB put {sync:true}`,
    );
    const d = await measureDisk(join(root, `disk-${when}`), opts.fsyncIters, PAYLOAD_BYTES, diskSamples);
    progress(
      `disk (${when}): fdatasync p50 ${fmt(d.fdatasync.p50, 3)} ms, ` +
        `LevelDB sync put p50 ${fmt(d.levelPutSync.p50, 3)} ms`,
    );
    return d;
  };
  const throughput: ThroughputRun[] = [];
  const failover: FailoverSample[] = [];
  try {
    diskStart = await measure('start');

    const execArgv = opts.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`];
    if (opts.profileDir !== undefined) await mkdir(opts.profileDir, { recursive: true });
    cluster = new Cluster(root, await freePorts(CLUSTER_SIZE), timing, execArgv);
    progress(`starting ${CLUSTER_SIZE} node processes`);
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const first = await cluster.stableLeader();
    progress(`leader is node ${first.id}`);

    for (const c of opts.concurrency) {
      progress(`load: ${c} proposer${c === 1 ? '' : 's'}`);
      const r = await runLoad(cluster, opts, c);
      throughput.push(r);
      progress(
        `load: ${c} -> ${r.commitsPerSec} commits/s, p50 ${fmt(r.latencyMs.p50, 3)} ms, ` +
          `p99 ${fmt(r.latencyMs.p99, 3)} ms, ${r.errors} errors, slowest ${r.timelineBucketMs} ms ` +
          `at ${worstRate(r)}/s` +
          (r.snapshotIndexAfter !== r.snapshotIndexBefore
            ? `, snapshot taken at ${r.snapshotIndexAfter}`
            : ''),
      );
      await cluster.caughtUp(await cluster.stableLeader());
    }

    for (let rep = 1; rep <= opts.failoverReps; rep++) {
      const s = await runFailover(cluster, rep, probeTimeoutMs);
      failover.push(s);
      progress(
        `failover ${rep}/${opts.failoverReps}: killed ${s.killedLeader}, node ${s.newLeader} committed after ` +
          `${fmt(s.ms, 1)} ms (elected ${fmt(s.electedMs, 1)} ms); restarted node caught up in ${s.catchUpMs} ms`,
      );
    }
    progress('stopping node processes');
    await cluster.stop();
    diskEnd = await measure('end');
  } finally {
    for (const child of liveProcesses) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }

  // ---- results ---------------------------------------------------------------------------------
  const disk = {
    fdatasync: diskSamples.fdatasync.summary(),
    levelPutSync: diskSamples.levelPutSync.summary(),
  };
  const at = (c: number) => throughput.find((r) => r.concurrency === c);
  const single = at(1);
  const top = at(TARGET_CONCURRENCY);
  const failoverMs = failover.map((s) => s.ms);
  const failoverMedian = failoverMs.length > 0 ? round3(median(failoverMs)) : undefined;
  const failoverMax = failoverMs.length > 0 ? round3(Math.max(...failoverMs)) : undefined;
  const electedMs = failover.flatMap((s) => (s.electedMs === undefined ? [] : [s.electedMs]));

  const targets: Target[] = [];
  if (top !== undefined)
    targets.push({
      name: `commits/s at ${TARGET_CONCURRENCY} proposers`,
      target: `>= ${TARGET_COMMITS_PER_SEC}`,
      actual: String(top.commitsPerSec),
      pass: top.commitsPerSec >= TARGET_COMMITS_PER_SEC,
    });
  if (single !== undefined)
    targets.push({
      name: 'single-proposer commit p50',
      target: `<= ${TARGET_P50_FSYNC_FACTOR} x fdatasync p50 = ${fmt(TARGET_P50_FSYNC_FACTOR * disk.fdatasync.p50, 3)} ms`,
      actual: `${fmt(single.latencyMs.p50, 3)} ms (${fmt(single.latencyMs.p50 / disk.fdatasync.p50, 1)} x)`,
      pass: single.latencyMs.p50 <= TARGET_P50_FSYNC_FACTOR * disk.fdatasync.p50,
    });
  if (failoverMedian !== undefined)
    targets.push({
      name: 'failover median',
      target: `<= ${TARGET_FAILOVER_MEDIAN_MS} ms`,
      actual: `${fmt(failoverMedian, 1)} ms`,
      pass: failoverMedian <= TARGET_FAILOVER_MEDIAN_MS,
    });

  const cpuList = cpus();
  const report = {
    benchmark: 'raft',
    timestamp: startedAt.toISOString(),
    machine: {
      cpus: { model: cpuList[0]?.model ?? 'unknown', count: cpuList.length },
      totalMemoryBytes: totalmem(),
      node: process.version,
      os: { type: osType(), platform: platform(), release: release(), arch: osArch() },
    },
    config: {
      voters: CLUSTER_SIZE,
      transport: 'tcp loopback',
      storage: 'LevelDB (classic-level), synced batches',
      processes: 'one OS process per voter (child_process.fork)',
      payloadBytes: PAYLOAD_BYTES,
      quick: opts.quick,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      concurrency: opts.concurrency,
      failoverReps: opts.failoverReps,
      failoverProbeTimeoutMs: probeTimeoutMs,
      fsyncIterations: opts.fsyncIters,
      timeouts: effective,
      timingOverrides: opts.timing,
      raftDefaults: RAFT_DEFAULTS,
      tmpdir: tmpdir(),
      profileDir: opts.profileDir,
    },
    results: {
      disk: {
        iterationsPerMeasurement: opts.fsyncIters,
        payloadBytes: PAYLOAD_BYTES,
        combined: disk,
        start: diskStart,
        end: diskEnd,
      },
      throughput,
      singleProposerLatencyMs: single?.latencyMs,
      failover: {
        reps: failover.length,
        medianMs: failoverMedian,
        maxMs: failoverMax,
        minMs: failoverMs.length > 0 ? round3(Math.min(...failoverMs)) : undefined,
        electedMedianMs: electedMs.length > 0 ? round3(median(electedMs)) : undefined,
        samplesMs: failoverMs,
        samples: failover,
      },
    },
    targets,
    allTargetsPassed: targets.every((t) => t.pass),
  };

  await mkdir(opts.outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/:/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(opts.outDir, `raft-${stamp}.json`);
  await writeFile(file, json);
  await writeFile(join(opts.outDir, 'raft-latest.json'), json);

  // ---- table -----------------------------------------------------------------------------------
  const m = report.machine;
  const out: string[] = [];
  out.push(
    `Raft benchmark  ${report.timestamp}  ${m.cpus.count} x ${m.cpus.model}, ` +
      `${Math.round(m.totalMemoryBytes / 2 ** 30)} GiB, node ${m.node}, ${m.os.type} ${m.os.release}`,
  );
  out.push(
    `3 voters (processes) on loopback TCP, LevelDB fsync on, ${PAYLOAD_BYTES} B payloads, ` +
      `election ${effective.electionTimeoutMs} ms / heartbeat ${effective.heartbeatIntervalMs} ms / tick ${effective.tickMs} ms, ` +
      `window ${opts.durationMs} ms after ${opts.warmupMs} ms warm-up`,
  );
  out.push('');
  out.push(
    pad([
      ['disk (ms)', 'p50', 'p99', 'mean', 'max', 'p50 start', 'p50 end'],
      ...(
        [
          ['write+fdatasync', disk.fdatasync, diskStart?.fdatasync, diskEnd?.fdatasync],
          ['LevelDB put sync', disk.levelPutSync, diskStart?.levelPutSync, diskEnd?.levelPutSync],
        ] as const
      ).map(([n, s, a, b]: readonly [string, LatencySummary, LatencySummary?, LatencySummary?]) => [
        n,
        fmt(s.p50, 3),
        fmt(s.p99, 3),
        fmt(s.mean, 3),
        fmt(s.max, 3),
        fmt(a?.p50, 3),
        fmt(b?.p50, 3),
      ]),
    ]),
  );
  out.push('');
  out.push(
    pad([
      [
        'proposers',
        'commits/s',
        'worst 100ms/s',
        'p50 ms',
        'p99 ms',
        'p999 ms',
        'max ms',
        'errors',
        'snapshot',
        'cpu% by node',
      ],
      ...throughput.map((r) => [
        String(r.concurrency),
        String(r.commitsPerSec),
        String(worstRate(r)),
        fmt(r.latencyMs.p50, 3),
        fmt(r.latencyMs.p99, 3),
        fmt(r.latencyMs.p999, 3),
        fmt(r.latencyMs.max, 3),
        String(r.errors),
        r.snapshotIndexAfter !== r.snapshotIndexBefore ? `@${r.snapshotIndexAfter}` : '-',
        Object.entries(r.cpuPctByNode)
          .map(([id, pct]) => `${id}${Number(id) === r.leaderId ? '*' : ''}:${pct}`)
          .join(' '),
      ]),
    ]),
  );
  out.push('');
  if (failover.length > 0) {
    out.push(
      pad([
        ['failover (ms)', 'reps', 'median', 'max', 'min', 'elected median'],
        [
          'kill -9 -> commit',
          String(failover.length),
          fmt(failoverMedian, 1),
          fmt(failoverMax, 1),
          fmt(report.results.failover.minMs, 1),
          fmt(report.results.failover.electedMedianMs, 1),
        ],
      ]),
    );
    out.push(`samples: ${failoverMs.map((v) => v.toFixed(0)).join(' ')}`);
    out.push('');
  }
  out.push(
    pad([
      ['target', 'wanted', 'actual', 'result'],
      ...targets.map((t) => [t.name, t.target, t.actual, t.pass ? 'PASS' : 'MISS']),
    ]),
  );
  out.push('');
  out.push(`JSON: ${file}`);
  say(out.join('\n'));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`raft-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
