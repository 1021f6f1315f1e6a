/**
 * The client benchmark, end to end over TCP against kbroker nodes running as separate processes
 * (`node packages/broker/bin/kbroker.js start ...`, as in production; the brokers do not share this
 * process's CPU time with the client).
 *
 *   npm run bench:client [-- --quick] [--duration-ms N] [--only NAME] [--profile] [--out-dir DIR]
 *
 * Measures, with p50/p99 latency (HdrHistogram, microsecond resolution):
 * 1. Metadata reads against ONE broker (the client is bootstrapped with that broker only, and reads are
 *    sticky): `describeTopics` (one topic, 16 partitions x 3 replicas) and `describeCluster`, with 1 and
 *    64 concurrent callers sharing one client.
 * 2. Offset commits against a 3-node cluster (routed to the active controller, replicated by the Raft
 *    quorum before they are acknowledged): 1 and 100 partitions per commit, 1 and 64 callers (each
 *    caller commits for its own group).
 *
 * Targets: at least 20,000 metadata reads/s per broker with 64 callers; at least 10,000 partitions
 * committed per second end to end. `--profile` runs the brokers with `--cpu-prof` and prints each
 * process's hottest functions (self time); run this script itself with `node --cpu-prof` to profile the
 * client side.
 *
 * Prints a table and writes bench/results/client-latest.json (and a timestamped copy).
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { format as formatLine, parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import { Kbroker } from '../index.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const KBROKER_BIN = join(REPO_ROOT, 'packages/broker/bin/kbroker.js');

const TARGET_READS_PER_SEC = 20_000;
const TARGET_PARTITIONS_COMMITTED_PER_SEC = 10_000;

interface Options {
  readonly quick: boolean;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly profile: boolean;
  readonly outDir: string;
  /** Only the cases whose name contains this (e.g. to profile one). */
  readonly only: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'duration-ms': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      only: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const durationMs = Number(values['duration-ms'] ?? (quick ? 1_500 : 8_000));
  if (!Number.isFinite(durationMs) || durationMs <= 0) throw new Error('--duration-ms must be positive');
  return {
    quick,
    durationMs,
    warmupMs: Math.min(1_000, Math.round(durationMs / 4)),
    profile: values.profile ?? false,
    outDir: resolve(values['out-dir'] ?? join(REPO_ROOT, 'bench/results')),
    only: values.only,
  };
}

// ---- The cluster: kbroker processes --------------------------------------------------------------

interface BrokerProcess {
  readonly nodeId: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** The last lines the process wrote, for the error when it dies. */
  readonly tail: string[];
  exited: boolean;
}

interface ProcessCluster {
  readonly brokers: readonly BrokerProcess[];
  readonly profileDir: string | undefined;
  stop(): Promise<void>;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((ok) => {
          const s = net.createServer();
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

async function startProcessCluster(nodes: number, profile: boolean): Promise<ProcessCluster> {
  const root = await mkdtemp(join(os.tmpdir(), 'kbroker-client-bench-'));
  const profileDir = profile ? join(root, 'profiles') : undefined;
  const idRun = spawnSync(process.execPath, [KBROKER_BIN, 'random-cluster-id'], { encoding: 'utf8' });
  const clusterId = idRun.stdout.trim();
  if (idRun.status !== 0 || clusterId === '') throw new Error(`random-cluster-id failed: ${idRun.stderr}`);
  const ports = await freePorts(nodes * 2);
  const quorum = Array.from({ length: nodes }, (_, i) => `${i + 1}@127.0.0.1:${ports[nodes + i]}`).join(',');
  const brokers: BrokerProcess[] = [];
  for (let i = 0; i < nodes; i++) {
    const nodeId = i + 1;
    const address = `127.0.0.1:${ports[i]}`;
    const nodeArgs =
      profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}/node-${nodeId}`];
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        KBROKER_BIN,
        'start',
        '--node-id',
        String(nodeId),
        '--controller-quorum',
        quorum,
        '--listener',
        address,
        '--data-dir',
        join(root, `node-${nodeId}`),
        '--cluster-id',
        clusterId,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const b: BrokerProcess = { nodeId, address, child, tail: [], exited: false };
    const keep = (d: Buffer) => {
      b.tail.push(...d.toString().split('\n').filter(Boolean));
      b.tail.splice(0, Math.max(0, b.tail.length - 20));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => {
      b.exited = true;
    });
    brokers.push(b);
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      brokers.map(async (b) => {
        if (b.exited) return;
        const exited = new Promise((ok) => b.child.once('exit', ok));
        b.child.kill('SIGTERM');
        const timer = setTimeout(() => b.child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  };
  const cluster: ProcessCluster = {
    brokers,
    profileDir,
    stop: async () => {
      await stop();
      if (profileDir !== undefined) await summarizeProfiles(profileDir);
      await rm(root, { recursive: true, force: true });
    },
  };
  // Ready: a controller, and every broker registered and unfenced.
  const probe = new Kbroker({ brokers: brokers.map((b) => b.address), clientId: 'bench-probe' });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      const dead = brokers.find((b) => b.exited);
      if (dead !== undefined) throw new Error(`node ${dead.nodeId} exited:\n${dead.tail.join('\n')}`);
      try {
        const d = await probe.admin().describeCluster();
        if (d.controller > 0 && d.brokers.length === nodes && d.brokers.every((x) => !x.fenced)) break;
      } catch {
        // Not up yet.
      }
      if (Date.now() > deadline) throw new Error(`the ${nodes}-node cluster did not become ready`);
      await sleep(100);
    }
  } catch (err) {
    await probe.disconnect();
    await cluster.stop();
    throw err;
  }
  await probe.disconnect();
  return cluster;
}

// ---- Measuring -----------------------------------------------------------------------------------

interface CaseResult {
  readonly name: string;
  readonly group: 'metadata' | 'offsets';
  readonly callers: number;
  /** Partitions per commit (offsets) or 1. */
  readonly itemsPerOp: number;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly itemsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
}

function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Runs `op` in `callers` concurrent loops: a warm-up (not recorded), then `durationMs` recorded.
 * Every call's latency goes into one histogram.
 */
async function measure(
  name: string,
  group: CaseResult['group'],
  callers: number,
  itemsPerOp: number,
  opts: Options,
  op: (caller: number, seq: number) => Promise<unknown>,
): Promise<CaseResult | undefined> {
  if (opts.only !== undefined && !name.includes(opts.only)) return undefined;
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: false,
  });
  let recording = false;
  let stopping = false;
  let ops = 0;
  let errors = 0;
  let seq = 0;
  const loop = async (caller: number): Promise<void> => {
    while (!stopping) {
      const t0 = performance.now();
      try {
        await op(caller, seq++);
      } catch (err) {
        errors++;
        if (errors === 1) console.error(`${name}: ${(err as Error).message}`);
        continue;
      }
      if (recording) {
        histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        ops++;
      }
    }
  };
  const loops = Array.from({ length: callers }, (_, i) => loop(i));
  await sleep(opts.warmupMs);
  recording = true;
  const started = performance.now();
  await sleep(opts.durationMs);
  recording = false;
  const seconds = (performance.now() - started) / 1000;
  stopping = true;
  await Promise.all(loops);
  const ms = (us: number) => round(us / 1000);
  const result: CaseResult = {
    name,
    group,
    callers,
    itemsPerOp,
    ops,
    seconds: round(seconds),
    opsPerSec: Math.round(ops / seconds),
    itemsPerSec: Math.round((ops * itemsPerOp) / seconds),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    errors,
  };
  histogram.destroy();
  say(
    `  ${name.padEnd(34)} ${String(callers).padStart(3)} callers  ${String(result.opsPerSec).padStart(7)} ops/s` +
      `  ${String(result.itemsPerSec).padStart(7)} items/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms` +
      (errors > 0 ? `  (${errors} errors)` : ''),
  );
  return result;
}

// ---- Profiles ------------------------------------------------------------------------------------

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly hitCount?: number;
}

/** Prints the hottest functions (self time) of every `.cpuprofile` under `dir`. */
async function summarizeProfiles(dir: string, top = 15): Promise<void> {
  let subdirs: string[];
  try {
    subdirs = await readdir(dir);
  } catch {
    return;
  }
  for (const sub of subdirs.sort()) {
    for (const file of await readdir(join(dir, sub))) {
      if (!file.endsWith('.cpuprofile')) continue;
      const profile = JSON.parse(await readFile(join(dir, sub, file), 'utf8')) as {
        nodes: CpuProfileNode[];
        startTime: number;
        endTime: number;
      };
      say(`\n${sub} (${file}): hottest functions by self time`);
      printHotSpots(profile.nodes, top);
    }
  }
}

function printHotSpots(nodes: readonly CpuProfileNode[], top: number): void {
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const n of nodes) {
    const hits = n.hitCount ?? 0;
    total += hits;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${REPO_ROOT}/`, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  const rows = [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, hits] of rows) {
    say(`  ${((100 * hits) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${key}`);
  }
}

// ---- The benchmark -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions();
  say(
    `client benchmark${opts.quick ? ' (--quick)' : ''}: ${opts.durationMs} ms per case after ${opts.warmupMs} ms ` +
      `of warm-up; ${os.cpus().length} CPUs, node ${process.version}`,
  );
  say('starting a 3-node kbroker cluster (3 processes)...');
  const cluster = await startProcessCluster(3, opts.profile);
  const results: CaseResult[] = [];
  const keep = (r: CaseResult | undefined): void => {
    if (r !== undefined) results.push(r);
  };
  let target: string;
  try {
    const all = cluster.brokers.map((b) => b.address);
    const setup = new Kbroker({ brokers: all, clientId: 'bench-setup' });
    const setupAdmin = setup.admin();
    await setupAdmin.createTopics({
      topics: [
        { topic: 'bench-meta', numPartitions: 16, replicationFactor: 3 },
        { topic: 'bench-offsets', numPartitions: 100, replicationFactor: 3 },
      ],
    });
    const controller = (await setupAdmin.describeCluster()).controller;
    await setup.disconnect();

    // 1. Metadata reads against one broker: a follower (not the controller), bootstrapped alone.
    const reader = cluster.brokers.find((b) => b.nodeId !== controller) ?? cluster.brokers[0]!;
    target = reader.address;
    say(`\nmetadata reads against broker ${reader.nodeId} only (${reader.address})`);
    const readClient = new Kbroker({ brokers: [reader.address], clientId: 'bench-reads' });
    const admin = readClient.admin();
    await admin.connect();
    for (const callers of [1, 64]) {
      keep(
        await measure('describeTopics (16 partitions)', 'metadata', callers, 1, opts, () =>
          admin.describeTopics({ topics: ['bench-meta'] }),
        ),
      );
    }
    for (const callers of [1, 64]) {
      keep(
        await measure('describeCluster (3 brokers)', 'metadata', callers, 1, opts, () =>
          admin.describeCluster(),
        ),
      );
    }
    await readClient.disconnect();

    // 2. Offset commits against the 3-node cluster.
    say(`\noffset commits against the 3-node cluster (controller: node ${controller})`);
    const commitClient = new Kbroker({ brokers: all, clientId: 'bench-commits' });
    const offsets = commitClient.offsets();
    await commitClient.connect();
    const one = (caller: number, seq: number) =>
      offsets.commit(`group-${caller}`, [{ topic: 'bench-offsets', partition: seq % 100, offset: seq }]);
    const batches = Array.from({ length: 100 }, (_, p) => p);
    const hundred = (caller: number, seq: number) =>
      offsets.commit(
        `group-${caller}`,
        batches.map((partition) => ({ topic: 'bench-offsets', partition, offset: seq })),
      );
    for (const callers of [1, 64]) {
      keep(await measure('commit (1 partition)', 'offsets', callers, 1, opts, one));
    }
    for (const callers of [1, 64]) {
      keep(await measure('commit (100 partitions)', 'offsets', callers, 100, opts, hundred));
    }
    await commitClient.disconnect();
  } finally {
    await cluster.stop();
  }

  // Targets.
  const reads64 = results.filter((r) => r.group === 'metadata' && r.callers === 64);
  const readsMet = reads64.every((r) => r.opsPerSec >= TARGET_READS_PER_SEC);
  const commitCases = results.filter((r) => r.group === 'offsets');
  const commitBest = Math.max(0, ...commitCases.map((r) => r.itemsPerSec));
  const commitsMet = commitBest >= TARGET_PARTITIONS_COMMITTED_PER_SEC;
  /** A target is judged only when its cases ran (`--only` may skip them). */
  const verdict = (ran: boolean, met: boolean): string => (!ran ? 'SKIP' : met ? 'PASS' : 'MISS');

  say('\n| case | callers | ops/s | items/s | p50 ms | p99 ms | max ms | errors |');
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    say(
      `| ${r.name} | ${r.callers} | ${r.opsPerSec} | ${r.itemsPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.errors} |`,
    );
  }
  say('');
  for (const r of reads64) {
    say(
      `${r.opsPerSec >= TARGET_READS_PER_SEC ? 'PASS' : 'MISS'}  ${r.name} with 64 callers: ${r.opsPerSec} reads/s ` +
        `on one broker (target >= ${TARGET_READS_PER_SEC})`,
    );
  }
  const commits64 = results.filter((r) => r.group === 'offsets' && r.callers === 64);
  for (const r of commits64) {
    say(
      `${r.itemsPerSec >= TARGET_PARTITIONS_COMMITTED_PER_SEC ? 'pass' : 'miss'}  ${r.name} with 64 callers: ` +
        `${r.itemsPerSec} partitions committed/s`,
    );
  }
  say(
    `${verdict(commitCases.length > 0, commitsMet)}  offset commits: ${commitBest} partitions committed/s at best ` +
      `(target >= ${TARGET_PARTITIONS_COMMITTED_PER_SEC})`,
  );
  if ((reads64.length > 0 && !readsMet) || (commitCases.length > 0 && !commitsMet)) {
    say(
      'a target was missed: rerun with --profile (brokers) and with node --cpu-prof (this client) to see why',
    );
  }

  const date = new Date().toISOString();
  const output = {
    benchmark: 'client',
    date,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    config: {
      quick: opts.quick,
      durationMs: opts.durationMs,
      warmupMs: opts.warmupMs,
      cluster: '3 kbroker processes (broker+controller each) on 127.0.0.1',
      readsAgainst: target,
      profile: opts.profile,
    },
    results,
    targets: {
      metadataReadsPerSecPerBroker64Callers: {
        target: TARGET_READS_PER_SEC,
        values: Object.fromEntries(reads64.map((r) => [r.name, r.opsPerSec])),
        met: reads64.length > 0 ? readsMet : null,
      },
      partitionsCommittedPerSec: {
        target: TARGET_PARTITIONS_COMMITTED_PER_SEC,
        value: commitBest,
        met: commitCases.length > 0 ? commitsMet : null,
        perCase64Callers: Object.fromEntries(commits64.map((r) => [r.name, r.itemsPerSec])),
      },
    },
  };
  await mkdir(opts.outDir, { recursive: true });
  const json = `${JSON.stringify(output, null, 2)}\n`;
  await writeFile(join(opts.outDir, `client-${date.replaceAll(':', '-')}.json`), json);
  await writeFile(join(opts.outDir, 'client-latest.json'), json);
  say(`\nwrote ${join(opts.outDir, 'client-latest.json')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
