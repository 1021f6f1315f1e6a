import type { NodeId } from '../core/types.js';
import type { Cluster } from './cluster.js';
import type { NetworkConfig } from './network.js';
import type { Rng } from './rng.js';

export type NemesisAction =
  | 'partition'
  | 'isolateLeader'
  | 'oneWay'
  | 'heal'
  | 'crash'
  | 'crashLeader'
  | 'bounce'
  | 'pause'
  | 'flaky'
  | 'slowDisk'
  | 'transfer'
  | 'membership'
  | 'compact';

export interface NemesisPlan {
  /** Mean virtual ms between fault actions; Infinity for a calm run. */
  readonly meanGapMs: number;
  /** Relative weights of the actions (missing: 0). */
  readonly weights: Partial<Record<NemesisAction, number>>;
  /** Mean duration of a transient fault (partition, pause, crash before restart, flaky window). */
  readonly meanFaultMs: number;
}

export const NEMESIS_WEIGHTS: Record<NemesisAction, number> = {
  partition: 3,
  isolateLeader: 2,
  oneWay: 2,
  heal: 2,
  crash: 3,
  crashLeader: 2,
  bounce: 2,
  pause: 2,
  flaky: 2,
  slowDisk: 1,
  transfer: 2,
  membership: 3,
  compact: 1,
};

/**
 * Injects faults into a running cluster, drawing every choice from its own stream. Actions are chosen
 * when they fire (not planned up front), so they can target the leader of the moment; the schedule is
 * still a pure function of the seed because the event order is.
 *
 * Transient faults undo themselves after a random duration; `stop()` ends the schedule and
 * `healEverything()` undoes whatever is still in force (the start of the liveness phase).
 */
export class Nemesis {
  private active = false;
  private readonly baseNetwork: NetworkConfig;
  private readonly actions: (readonly [number, NemesisAction])[];
  /** Counts per action, for reports. */
  readonly counts: Partial<Record<NemesisAction, number>> = {};

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Rng,
    private readonly plan: NemesisPlan,
  ) {
    this.baseNetwork = { ...cluster.network.config };
    this.actions = (Object.keys(NEMESIS_WEIGHTS) as NemesisAction[])
      .map((a) => [plan.weights[a] ?? 0, a] as const)
      .filter(([w]) => w > 0);
  }

  start(): void {
    if (!Number.isFinite(this.plan.meanGapMs) || this.actions.length === 0) return;
    this.active = true;
    this.scheduleNext();
  }

  stop(): void {
    this.active = false;
  }

  /** Heals every link, restores the network's base behaviour, restarts and resumes every node. */
  healEverything(): void {
    const c = this.cluster;
    c.heal();
    c.network.config = { ...this.baseNetwork, dropRate: 0, dupRate: 0, spikeRate: 0 };
    for (const n of c.nodes.values()) {
      n.slowDiskUntil = 0;
      if (!n.up) c.restart(n.id);
      else if (n.paused) c.resume(n.id);
    }
  }

  private scheduleNext(): void {
    this.cluster.after(this.rng.exp(this.plan.meanGapMs), 'nemesis', () => {
      if (!this.active) return;
      const action = this.rng.weighted(this.actions);
      this.counts[action] = (this.counts[action] ?? 0) + 1;
      this.perform(action);
      this.scheduleNext();
    });
  }

  /** Runs `undo` after a random fault duration, unless the schedule has ended (then the heal does it). */
  private later(undo: () => void): void {
    this.cluster.after(10 + this.rng.exp(this.plan.meanFaultMs), 'nemesis-undo', () => {
      if (this.active) undo();
    });
  }

  private perform(action: NemesisAction): void {
    const c = this.cluster;
    const rng = this.rng;
    const ids = c.ids;
    switch (action) {
      case 'partition': {
        const shuffled = rng.shuffle(ids);
        const k = rng.range(1, ids.length - 1);
        const a = shuffled.slice(0, k);
        const b = shuffled.slice(k);
        c.partition(a, b);
        this.later(() => c.unpartition(a, b));
        return;
      }
      case 'isolateLeader': {
        const leader = c.leader();
        if (leader === undefined) return;
        const others = ids.filter((x) => x !== leader.id);
        c.partition([leader.id], others);
        this.later(() => c.unpartition([leader.id], others));
        return;
      }
      case 'oneWay': {
        const from = rng.pick(ids);
        const to = rng.pick(ids.filter((x) => x !== from));
        c.cut(from, to);
        this.later(() => c.uncut(from, to));
        return;
      }
      case 'heal':
        c.heal();
        return;
      case 'crash':
      case 'crashLeader': {
        const live = [...c.nodes.values()].filter((n) => n.up);
        const target = action === 'crashLeader' ? c.leader() : live.length > 0 ? rng.pick(live) : undefined;
        if (target === undefined) return;
        c.crash(target.id);
        this.later(() => c.restart(target.id));
        return;
      }
      case 'bounce': {
        // A quick process restart: lands inside elections and persists in progress.
        const live = [...c.nodes.values()].filter((n) => n.up);
        if (live.length === 0) return;
        const target = rng.pick(live);
        c.crash(target.id);
        c.after(rng.between(0.5, 15), 'nemesis-undo', () => c.restart(target.id));
        return;
      }
      case 'pause': {
        const live = [...c.nodes.values()].filter((n) => n.up && !n.paused);
        if (live.length === 0) return;
        const target = rng.pick(live);
        c.pause(target.id);
        this.later(() => c.resume(target.id));
        return;
      }
      case 'flaky': {
        const cfg = c.network.config;
        c.network.config = {
          ...cfg,
          dropRate: rng.between(0.1, 0.5),
          dupRate: rng.between(0, 0.2),
          reorder: true,
          spikeRate: 0.05,
          spikeMs: 50,
        };
        c.log(`fault: flaky network drop=${c.network.config.dropRate.toFixed(2)}`);
        this.later(() => {
          c.network.config = { ...this.baseNetwork };
          c.log('fault: network back to base');
        });
        return;
      }
      case 'slowDisk': {
        const n = rng.pick([...c.nodes.values()]);
        n.slowDiskUntil = c.now() + 10 + rng.exp(this.plan.meanFaultMs);
        n.slowDiskMs = rng.between(10, 100);
        c.log(`fault: slow disk n${n.id} until ${n.slowDiskUntil.toFixed(1)}`);
        return;
      }
      case 'transfer': {
        const leader = c.leader();
        if (leader === undefined) return;
        const others = leader.voters().filter((x) => x !== leader.id);
        if (others.length === 0) return;
        c.transferLeadership(leader.id, rng.pick(others));
        return;
      }
      case 'membership': {
        const leader = c.leader();
        if (leader === undefined) return;
        const voters = leader.voters();
        const outside = ids.filter((x) => !voters.includes(x) && c.node(x).up);
        const canAdd = outside.length > 0 && voters.length < 5;
        const canRemove = voters.length > 3;
        if (!canAdd && !canRemove) return;
        if (canAdd && (!canRemove || rng.chance(0.5))) {
          c.proposeMembership(leader.id, [...voters, rng.pick(outside)]);
        } else {
          // Occasionally the leader removes itself (it steps down once the change commits).
          const victim: NodeId = rng.chance(0.15)
            ? leader.id
            : rng.pick(voters.filter((x) => x !== leader.id));
          c.proposeMembership(
            leader.id,
            voters.filter((x) => x !== victim),
          );
        }
        return;
      }
      case 'compact': {
        const live = [...c.nodes.values()].filter((n) => n.up);
        if (live.length > 0) rng.pick(live).compactSoon();
        return;
      }
    }
  }
}
