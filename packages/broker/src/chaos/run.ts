/**
 * One chaos run: start the cluster behind the fault proxy, run the workload while the nemesis applies
 * the seeded schedule, heal, measure recovery, read the final state from every node, check.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kbroker } from '@kbroker/client';
import { Rng } from '@kbroker/raft/testing';
import { checkRun, formatVerdict, type Verdict } from './checkers.js';
import { ChaosCluster } from './cluster.js';
import type { FaultEvent, FinalNodeState, RunRecord } from './history.js';
import { describeFault, type Fault, generateSchedule } from './schedule.js';
import { REGISTER_GROUP, REGISTER_TOPIC, Workload } from './workload.js';

export interface ChaosOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: number;
  /** Bound on the time to recover after healing. Default 30 s. */
  readonly recoveryBoundMs?: number;
  readonly keys?: number;
  /** Where a failing run's record and node logs go. Default `chaos-results`. */
  readonly resultsDir?: string;
  /** Save the record even when the run passes. */
  readonly save?: boolean;
  /** Progress lines for people. */
  readonly out?: (line: string) => void;
  readonly electionTimeoutMs?: number;
  /** How long the cluster may take to start serving. Default 90 s. */
  readonly startTimeoutMs?: number;
}

export interface ChaosResult {
  readonly record: RunRecord;
  readonly verdict: Verdict;
  /** The saved record, when saved. */
  readonly savedTo?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await attempt();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await sleep(100);
  }
}

function probeClient(brokers: readonly string[], id: string): Kbroker {
  return new Kbroker({
    brokers,
    clientId: id,
    requestTimeoutMs: 5_000,
    connectionTimeoutMs: 2_000,
    retry: { retries: 0 },
  });
}

/** A write and a linearizable read through the proxies; true once both succeed. */
async function writeAndRead(client: Kbroker, value: number): Promise<boolean> {
  await client.offsets().commit('chaos-probe', [{ topic: REGISTER_TOPIC, partition: 0, offset: value }]);
  const got = await client.offsets().fetch('chaos-probe', [REGISTER_TOPIC], { linearizable: true });
  return got.some((o) => o.offset === value);
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const out = opts.out ?? (() => {});
  const keys = opts.keys ?? 5;
  const recoveryBoundMs = opts.recoveryBoundMs ?? 30_000;
  const topicNames = ['churn-a', 'churn-b', 'churn-c'];
  const schedule = generateSchedule({ seed: opts.seed, nodes: opts.nodes, durationMs: opts.durationMs });
  out(`chaos: seed ${opts.seed}, ${opts.nodes} nodes, ${(opts.durationMs / 1000).toFixed(0)} s`);
  out(`schedule (${schedule.length} faults):`);
  for (const f of schedule) out(`  ${describeFault(f)}`);

  const dir = await mkdtemp(join(tmpdir(), `kbroker-chaos-${opts.seed}-`));
  const cluster = new ChaosCluster({
    nodes: opts.nodes,
    dir,
    electionTimeoutMs: opts.electionTimeoutMs ?? 1000,
  });
  const rng = new Rng(opts.seed).fork('nemesis');
  const faultLog: FaultEvent[] = [];
  const record: RunRecord = {
    version: 1,
    seed: opts.seed,
    nodes: opts.nodes,
    durationMs: opts.durationMs,
    keys,
    topicNames,
    schedule,
    faultLog,
    history: [],
    healedAt: 0,
    recoveryMs: null,
    recoveryBoundMs,
    finalAt: 0,
    final: [],
  };
  let failed = true;
  let workload: Workload | undefined;
  try {
    await cluster.start();
    out(`cluster ${cluster.clusterId} starting in ${dir}`);
    const setup = new Kbroker({
      brokers: cluster.brokers,
      clientId: 'chaos-setup',
      requestTimeoutMs: 10_000,
      retry: { retries: 10, initialRetryTimeMs: 200, maxRetryTimeMs: 2_000 },
    });
    try {
      await until('the cluster to create the register topic', opts.startTimeoutMs ?? 90_000, async () => {
        await setup.admin().createTopics({
          topics: [
            { topic: REGISTER_TOPIC, numPartitions: keys, replicationFactor: Math.min(3, opts.nodes) },
          ],
          waitForLeaders: false,
        });
        return (await writeAndRead(setup, 1)) ? true : undefined;
      });
    } finally {
      await setup.disconnect();
    }
    out('cluster ready; workload and faults start');

    const t0 = performance.now();
    const now = () => performance.now() - t0;
    workload = new Workload({
      seed: opts.seed,
      brokers: cluster.brokers,
      registerWorkers: opts.nodes + 1,
      topicWorkers: 1,
      keys,
      topicNames,
      now,
    });
    record.history = workload.history;
    workload.start();

    for (const fault of schedule) {
      await sleep(fault.at - now());
      const nodes = await resolveTargets(cluster, fault, rng);
      const text = describeFault(fault, nodes);
      faultLog.push({ at: now(), index: fault.index, phase: 'start', kind: fault.kind, nodes, text });
      out(`[${(now() / 1000).toFixed(1)}s] fault ${text}`);
      await applyFault(cluster, fault, nodes);
      await sleep(fault.at + fault.durationMs - now());
      if (fault.kind === 'restart') for (const id of nodes) cluster.node(id).start();
      cluster.heal();
      faultLog.push({ at: now(), index: fault.index, phase: 'heal', kind: fault.kind, nodes, text });
      out(`[${(now() / 1000).toFixed(1)}s] healed #${fault.index}`);
    }
    await sleep(opts.durationMs - now());
    cluster.heal();
    record.healedAt = now();
    out(`[${(record.healedAt / 1000).toFixed(1)}s] faults over, everything healed; measuring recovery`);

    const probe = probeClient(cluster.brokers, 'chaos-recovery');
    try {
      let value = 1_000;
      await until('recovery', Math.max(recoveryBoundMs * 2, 60_000), async () =>
        (await writeAndRead(probe, ++value)) ? true : undefined,
      );
      record.recoveryMs = now() - record.healedAt;
      out(`recovered ${(record.recoveryMs / 1000).toFixed(2)} s after healing`);
    } catch (err) {
      out(`no recovery: ${(err as Error).message}`);
    } finally {
      await probe.disconnect();
    }
    await workload.stop();
    workload = undefined;

    try {
      record.final = await finalStates(cluster, keys);
      record.finalAt = now();
    } catch (err) {
      record.finalError = (err as Error).message;
      record.finalAt = now();
    }
    failed = false;
  } catch (err) {
    record.finalError = `the run broke off: ${(err as Error).message}`;
    out(record.finalError);
  } finally {
    await workload?.stop();
    await cluster.stop();
  }

  const verdict = checkRun(record);
  if (failed && verdict.ok) throw new Error('unreachable: a broken run passed');
  out(formatVerdict(verdict));
  let savedTo: string | undefined;
  if (!verdict.ok || opts.save) {
    const results = resolve(opts.resultsDir ?? 'chaos-results');
    await mkdir(results, { recursive: true });
    savedTo = join(results, `${opts.seed}.json`);
    await writeFile(savedTo, JSON.stringify(record));
    if (!verdict.ok) {
      const logs = join(results, `${opts.seed}-logs`);
      await mkdir(logs, { recursive: true });
      for (const n of cluster.nodes)
        await copyFile(n.logFile, join(logs, `node-${n.id}.log`)).catch(() => {});
      out(`node logs: ${logs}`);
    }
    out(`history saved: ${savedTo}`);
    out(`replay the checkers: npm run chaos -- --replay ${savedTo}`);
  }
  await rm(dir, { recursive: true, force: true });
  return { record, verdict, ...(savedTo === undefined ? {} : { savedTo }) };
}

/** Re-runs the checkers on a saved record. */
export async function replay(file: string): Promise<Verdict> {
  const record = JSON.parse(await readFile(file, 'utf8')) as RunRecord;
  return checkRun(record);
}

/** The fault's nodes: `leader` is the current Raft leader (a random node when none is known). */
async function resolveTargets(cluster: ChaosCluster, fault: Fault, rng: Rng): Promise<number[]> {
  const all = cluster.nodes.map((n) => n.id);
  let leader = -1;
  if (fault.targets.includes('leader')) leader = await cluster.leader();
  if (leader <= 0) leader = rng.pick(all);
  const ids = fault.targets.map((t) => (t === 'leader' ? leader : t));
  // A fixed target that turned out to be the leader is replaced by a node not hit yet.
  const seen = new Set<number>();
  return ids.map((id) => {
    const pick = seen.has(id) ? all.find((x) => !seen.has(x) && !ids.includes(x))! : id;
    seen.add(pick);
    return pick;
  });
}

async function applyFault(cluster: ChaosCluster, fault: Fault, nodes: readonly number[]): Promise<void> {
  const net = cluster.network;
  const [a, b] = nodes as [number, number];
  switch (fault.kind) {
    case 'drop':
      net.block(a, b);
      net.block(b, a);
      break;
    case 'cut-one':
      net.block(a, b);
      break;
    case 'cut-both':
      net.reject(a, b);
      break;
    case 'delay':
      net.delay(a, b, fault.delayMs ?? 100);
      net.delay(b, a, fault.delayMs ?? 100);
      break;
    case 'isolate':
      for (const n of cluster.nodes) if (n.id !== a) net.reject(a, n.id);
      break;
    case 'partition':
      for (const x of nodes) for (const n of cluster.nodes) if (!nodes.includes(n.id)) net.reject(x, n.id);
      break;
    case 'client-cut':
      net.reject(0, a);
      break;
    case 'pause':
      cluster.node(a).pause();
      break;
    case 'kill':
    case 'kill-majority':
    case 'restart':
      await Promise.all(nodes.map((id) => cluster.node(id).kill9()));
      break;
  }
}

/**
 * Reads every node's final state at one metadata offset: polls each node's offset and image digest
 * until all nodes stand at the same offset, then reads their registers and topics from their own
 * images, checking the offset did not move meanwhile.
 */
async function finalStates(cluster: ChaosCluster, keys: number): Promise<FinalNodeState[]> {
  return until('every node at the same metadata offset', 120_000, async () => {
    const states = await Promise.all(
      cluster.nodes.map(async (n): Promise<FinalNodeState | undefined> => {
        const before = await n.query('metadataStatus', { digest: true });
        const offsets = await n.query('fetchOffsets', { groupId: REGISTER_GROUP, topics: [REGISTER_TOPIC] });
        const topics = await n.query('listTopics', {});
        const after = await n.query('metadataStatus', {});
        if (after.offset !== before.offset || before.digest === undefined) return undefined;
        const values: Record<string, number> = {};
        for (const o of offsets.offsets) if (o.partition < keys) values[o.partition] = o.offset;
        return {
          node: n.id,
          offset: before.offset,
          digest: before.digest,
          values,
          topics: topics.topics.map((t) => t.name).filter((t) => t !== REGISTER_TOPIC),
        };
      }),
    );
    if (states.some((s) => s === undefined)) return undefined;
    const all = states as FinalNodeState[];
    if (new Set(all.map((s) => s.offset)).size !== 1) return undefined;
    return all;
  });
}
