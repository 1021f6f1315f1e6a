import type { Cluster } from './cluster.js';
import type { Rng } from './rng.js';

/** What clients propose. Swap it to drive another state machine (e.g. a metadata controller's commands). */
export interface Workload {
  /** The payload of the `n`-th proposal of the run (n is unique per run, from 1). */
  command(n: number, rng: Rng): Uint8Array;
}

const encoder = new TextEncoder();

/** Unique opaque payloads `p<n>`, for the default list state machine. */
export const uniquePayloads: Workload = {
  command: (n) => encoder.encode(`p${n}`),
};

export interface ClientPlan {
  /** Mean virtual ms between client requests. */
  readonly meanGapMs: number;
  /** Fraction of requests that are linearizable reads. */
  readonly readRatio: number;
  /** Probability that a request goes to the current leader rather than a random node. */
  readonly leaderBias: number;
}

/**
 * Open-loop clients: requests arrive at random times whether or not earlier ones were answered, each
 * sent to the current leader (as a client following leader hints would) or to a random node, which
 * refuses it unless it leads. Outcomes are tracked on the records the cluster keeps.
 */
export class ClientWorkload {
  private active = false;
  private n = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Rng,
    private readonly plan: ClientPlan,
    private readonly workload: Workload = uniquePayloads,
  ) {}

  start(): void {
    this.active = true;
    this.scheduleNext();
  }

  stop(): void {
    this.active = false;
  }

  private scheduleNext(): void {
    this.cluster.after(this.rng.exp(this.plan.meanGapMs), 'client', () => {
      if (!this.active) return;
      this.issue();
      this.scheduleNext();
    });
  }

  private issue(): void {
    const c = this.cluster;
    const leader = c.leader();
    const target =
      leader !== undefined && this.rng.chance(this.plan.leaderBias) ? leader.id : this.rng.pick(c.ids);
    if (this.rng.chance(this.plan.readRatio)) c.read(target);
    else c.propose(target, this.workload.command(++this.n, this.rng));
  }
}
