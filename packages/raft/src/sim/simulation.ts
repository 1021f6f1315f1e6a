import type { NodeId } from '../core/types.js';
import { Cluster, type ClusterOptions, SimFailure } from './cluster.js';
import type { Invariant } from './invariants.js';
import { NEMESIS_WEIGHTS, Nemesis, type NemesisAction, type NemesisPlan } from './nemesis.js';
import type { NetworkConfig } from './network.js';
import { Rng } from './rng.js';
import type { StateMachineFactory } from './state-machine.js';
import { type ClientPlan, ClientWorkload, type Workload } from './workload.js';

export type Intensity = 'calm' | 'moderate' | 'violent';

/** Everything a run does, drawn from its seed (and overridable for targeted tests). */
export interface RunPlan {
  readonly seed: number;
  readonly intensity: Intensity;
  /** Cluster shape and behaviour (seed, trace, state machine and invariants come from SimOptions). */
  readonly cluster: Omit<ClusterOptions, 'seed' | 'trace' | 'stateMachine' | 'invariants'>;
  /** Virtual ms of faults and client traffic before the liveness phase. */
  readonly faultMs: number;
  readonly nemesis: NemesisPlan;
  readonly client: ClientPlan;
  /** After healing, a leader must commit and every voter apply a fresh proposal within this. */
  readonly livenessTimeoutMs: number;
  /** Quiet time after liveness before the final checks, so lagging observers catch up. */
  readonly settleMs: number;
}

export interface PlanOverrides {
  readonly intensity?: Intensity;
  readonly faultMs?: number;
  readonly voters?: number;
  readonly observers?: number;
  readonly cluster?: Partial<RunPlan['cluster']>;
  readonly nemesis?: Partial<NemesisPlan>;
  readonly client?: Partial<ClientPlan>;
  readonly livenessTimeoutMs?: number;
}

/** Draws a run's plan from its seed: some runs calm, most with faults, some violent. */
export function planRun(seed: number, o: PlanOverrides = {}): RunPlan {
  const r = new Rng(seed).fork('plan');
  const intensity: Intensity =
    o.intensity ??
    r.weighted<Intensity>([
      [0.15, 'calm'],
      [0.4, 'moderate'],
      [0.45, 'violent'],
    ]);
  const voters = o.voters ?? (r.chance(0.6) ? 3 : 5);
  const observers =
    o.observers ??
    r.weighted([
      [0.4, 0],
      [0.35, 1],
      [0.25, 2],
    ]);
  const violent = intensity === 'violent';
  const calm = intensity === 'calm';
  const network: NetworkConfig = {
    dropRate: calm ? 0 : violent ? r.between(0.01, 0.1) : r.between(0, 0.02),
    dupRate: calm ? 0 : violent ? r.between(0, 0.05) : r.between(0, 0.01),
    reorder: !calm && r.chance(violent ? 0.7 : 0.4),
    minMs: r.between(0.1, 1),
    meanExtraMs: r.between(0.3, violent ? 6 : 3),
    spikeRate: calm ? 0 : r.between(0, violent ? 0.02 : 0.005),
    spikeMs: r.between(10, violent ? 1000 : 150),
    snapshotExtraMs: r.between(1, 20),
  };
  const weights: Partial<Record<NemesisAction, number>> = { ...NEMESIS_WEIGHTS };
  // Some runs concentrate on one family of faults, which reaches deeper states than an even mix.
  if (!calm && r.chance(0.3)) {
    const focus = r.pick(Object.keys(NEMESIS_WEIGHTS) as NemesisAction[]);
    weights[focus] = (weights[focus] ?? 0) + 10;
  }
  return {
    seed,
    intensity,
    cluster: {
      voters,
      observers,
      tickMs: 10,
      clockDrift: r.between(0, 0.1),
      electionTicks: r.range(5, 15),
      heartbeatTicks: r.range(1, 3),
      preVote: r.chance(0.8),
      checkQuorum: r.chance(0.8),
      fsyncMinMs: 0.1,
      fsyncMaxMs: r.between(0.3, 3),
      slowFsyncRate: calm ? 0 : r.between(0, 0.05),
      slowFsyncMs: r.between(5, 60),
      snapshotEvery: r.range(3, 40),
      snapshotKeep: r.range(0, 8),
      maxEntriesPerAppend: r.pick([4, 16, 64]),
      maxInflightAppends: r.pick([1, 4, 16]),
      maxBytesPerAppend: r.pick([8, 64, 1024 * 1024]),
      observerExpiryTicks: r.pick([30, 100]),
      network,
      cloneMessages: r.chance(0.1),
      ...o.cluster,
    },
    faultMs: o.faultMs ?? r.range(2000, 4500),
    nemesis: {
      meanGapMs: calm ? Number.POSITIVE_INFINITY : violent ? r.between(40, 120) : r.between(150, 400),
      meanFaultMs: violent ? r.between(100, 400) : r.between(200, 800),
      weights,
      ...o.nemesis,
    },
    client: {
      meanGapMs: r.between(3, 20),
      readRatio: r.between(0.05, 0.3),
      leaderBias: r.between(0.6, 0.95),
      ...o.client,
    },
    livenessTimeoutMs: o.livenessTimeoutMs ?? 10_000,
    settleMs: 300,
  };
}

export interface SimOptions {
  readonly seed: number;
  readonly overrides?: PlanOverrides;
  readonly stateMachine?: StateMachineFactory;
  readonly workload?: Workload;
  /** Default `defaultInvariants()`; add your own with `() => [...defaultInvariants(), mine()]`. */
  readonly invariants?: () => Invariant[];
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly plan: RunPlan;
  readonly virtualMs: number;
  readonly events: number;
  readonly proposals: number;
  readonly acked: number;
  readonly reads: number;
  readonly readsServed: number;
  readonly maxTerm: number;
  /** Membership changes proposed, and how many were applied by the proposing leader. */
  readonly membershipChanges: {
    readonly proposed: number;
    readonly acked: number;
    readonly refused: readonly string[];
  };
  readonly committed: number;
  readonly crashes: number;
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  readonly messages: { readonly sent: number; readonly dropped: number; readonly duplicated: number };
  readonly faults: Partial<Record<NemesisAction, number>>;
  readonly finalVoters: readonly NodeId[];
  /** Virtual ms from the end of the fault phase until a fresh proposal was applied by every voter. */
  readonly recoveryMs: number;
}

const encoder = new TextEncoder();

/**
 * One complete run: faults and client traffic for `faultMs`, then everything healed and a bounded wait
 * for a fresh proposal to be applied on every voter, then the final checks. Throws a SimFailure (with
 * the seed) on any violated invariant or missed liveness deadline.
 */
export function runSimulation(opts: SimOptions): SimResult {
  const plan = planRun(opts.seed, opts.overrides);
  const cluster = new Cluster({
    ...plan.cluster,
    seed: opts.seed,
    ...(opts.trace !== undefined ? { trace: opts.trace } : {}),
    ...(opts.stateMachine !== undefined ? { stateMachine: opts.stateMachine } : {}),
    ...(opts.invariants !== undefined ? { invariants: opts.invariants } : {}),
  });
  const root = new Rng(opts.seed);
  const nemesis = new Nemesis(cluster, root.fork('nemesis'), plan.nemesis);
  const clients = new ClientWorkload(cluster, root.fork('clients'), plan.client, opts.workload);

  cluster.start();
  nemesis.start();
  clients.start();
  cluster.runUntil(plan.faultMs);

  // Liveness phase: no more faults or client traffic; heal, restart, resume.
  nemesis.stop();
  clients.stop();
  cluster.log('phase: liveness (healed)');
  nemesis.healEverything();
  const healedAt = cluster.now();
  const { voters, index } = awaitFreshCommit(cluster, healedAt + plan.livenessTimeoutMs);
  const recoveryMs = cluster.now() - healedAt;
  cluster.runFor(plan.settleMs);
  cluster.finalCheck({ voters });
  cluster.log(`phase: done (fresh entry ${index} on voters [${voters.join(',')}])`);

  let maxTerm = 0;
  let crashes = 0;
  let snapshotsTaken = 0;
  let snapshotsInstalled = 0;
  for (const n of cluster.nodes.values()) {
    maxTerm = Math.max(maxTerm, n.term);
    crashes += n.stats.crashes;
    snapshotsTaken += n.stats.snapshotsTaken;
    snapshotsInstalled += n.stats.snapshotsInstalled;
  }
  const stats = cluster.network.stats;
  return {
    seed: opts.seed,
    plan,
    virtualMs: cluster.now(),
    events: cluster.eventCount(),
    proposals: cluster.proposals.length,
    acked: cluster.ackedCount,
    reads: cluster.readRecords.length,
    readsServed: cluster.readRecords.filter((r) => r.state === 'served').length,
    maxTerm,
    membershipChanges: {
      proposed: cluster.membershipProposals.length,
      acked: cluster.membershipProposals.filter((p) => p.state === 'acked').length,
      refused: cluster.membershipProposals.filter((p) => p.state === 'dropped').map((p) => p.reason ?? '?'),
    },
    committed: cluster.maxApplied(),
    crashes,
    snapshotsTaken,
    snapshotsInstalled,
    messages: { sent: stats.sent, dropped: stats.dropped, duplicated: stats.duplicated },
    faults: nemesis.counts,
    finalVoters: voters,
    recoveryMs,
  };
}

/**
 * Proposes a fresh entry at the leader (again whenever an attempt is refused or lost) until one is
 * acknowledged and every voter, and every acknowledged proposal, has been applied by every voter.
 * Fails with `Liveness` at `deadline`.
 */
export function awaitFreshCommit(cluster: Cluster, deadline: number): { voters: NodeId[]; index: number } {
  let attempt: { id: number; state: string; index?: number; issuedAt: number } | undefined;
  let n = 0;
  let finished = false;
  const drive = () => {
    if (finished) return;
    const stale =
      attempt === undefined ||
      attempt.state === 'dropped' ||
      attempt.state === 'failed' ||
      attempt.state === 'unknown' ||
      (attempt.state !== 'acked' && cluster.now() - attempt.issuedAt > 1000);
    if (stale) {
      const leader = cluster.leader();
      if (leader !== undefined) attempt = cluster.propose(leader.id, encoder.encode(`fresh-${++n}`));
    }
    cluster.after(20, 'liveness', drive);
  };
  drive();
  let voters: NodeId[] = [];
  const done = (): boolean => {
    if (attempt?.state !== 'acked') return false;
    voters = cluster.currentVoters();
    const need = Math.max(attempt.index ?? 0, cluster.maxAckedIndex);
    for (const id of voters) {
      const node = cluster.node(id);
      if (!node.up || node.applied < need) return false;
    }
    return true;
  };
  const ok = cluster.runUntilCondition(done, deadline);
  finished = true;
  if (!ok) {
    const states = [...cluster.nodes.values()]
      .map(
        (x) =>
          `n${x.id}:${x.up ? (x.paused ? 'paused' : 'up') : 'down'} ${x.role} t${x.term} commit=${x.commit} applied=${x.applied} last=${x.log.lastIndex()} voters=[${x.voters().join(',')}] inbox=${x.inboxSize()}`,
      )
      .join('; ');
    throw cluster.failure(
      'Liveness',
      `no fresh proposal applied on every voter within the deadline (attempt: ${attempt === undefined ? 'none, no leader' : `${attempt.state}${attempt.index !== undefined ? ` at ${attempt.index}` : ''}`}); ${states}`,
    );
  }
  return { voters, index: attempt?.index ?? 0 };
}

export interface SeedFailure {
  readonly seed: number;
  readonly invariant: string;
  readonly message: string;
}

/** Runs seeds `start .. start+count-1` and collects failures instead of stopping at the first one. */
export function runSeeds(
  start: number,
  count: number,
  opts: Omit<SimOptions, 'seed'> = {},
): { readonly passed: number; readonly failures: readonly SeedFailure[]; readonly events: number } {
  const failures: SeedFailure[] = [];
  let events = 0;
  for (let seed = start; seed < start + count; seed++) {
    try {
      events += runSimulation({ ...opts, seed }).events;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      failures.push({ seed, invariant: err instanceof SimFailure ? err.invariant : 'Exception', message });
    }
  }
  return { passed: count - failures.length, failures, events };
}
