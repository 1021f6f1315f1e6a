import { type Entry, type Membership, type Message, type NodeId, Role } from '../core/types.js';
import {
  defaultInvariants,
  describeEntry,
  type FinalState,
  type Invariant,
  type NodeView,
  type Observation,
  type ProposalRecord,
  type ReadRecord,
  type World,
} from './invariants.js';
import { CALM_NETWORK, type NetworkConfig, type NetworkHost, SimNetwork } from './network.js';
import { type NodeHost, SimNode } from './node.js';
import { EventQueue } from './queue.js';
import { Rng } from './rng.js';
import { LogStateMachine, type StateMachineFactory } from './state-machine.js';

export interface ClusterOptions {
  readonly seed: number;
  /** Initial voters get ids 1..voters. */
  readonly voters: number;
  /** Observers (ids after the voters) start outside the voter set and may be added later. */
  readonly observers?: number;
  /** Nominal tick interval in virtual ms. Default 10. */
  readonly tickMs?: number;
  /** Each node's clock runs at 1 + d for a d drawn from [-clockDrift, clockDrift]. Default 0.05. */
  readonly clockDrift?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxEntriesPerAppend?: number;
  readonly maxInflightAppends?: number;
  readonly maxBytesPerAppend?: number;
  readonly observerExpiryTicks?: number;
  readonly fsyncMinMs?: number;
  readonly fsyncMaxMs?: number;
  readonly slowFsyncRate?: number;
  readonly slowFsyncMs?: number;
  /** Applied entries between snapshots. Small values make snapshot installs frequent. Default 20. */
  readonly snapshotEvery?: number;
  /** Entries kept before a snapshot for slow followers, drawn from [0, snapshotKeep]. Default 5. */
  readonly snapshotKeep?: number;
  readonly network?: Partial<NetworkConfig>;
  /** Deep-copy every message in flight (catches a core that shares mutable state through messages). */
  readonly cloneMessages?: boolean;
  readonly stateMachine?: StateMachineFactory;
  /** The invariants to check; default `defaultInvariants()`. Called once per cluster. */
  readonly invariants?: () => Invariant[];
  /** Receives a line per event (and per harness action) when set. */
  readonly trace?: (line: string) => void;
  /** A run that schedules more events than this fails (a message storm or a livelock). Default 3e6. */
  readonly maxEvents?: number;
  readonly inboxLimit?: number;
  /**
   * Client requests to one node arrive in the order they were made, as over one connection (a
   * controller proposing to its own Raft node relies on that). Default false: independent clients,
   * each request with its own latency, so they may overtake each other.
   */
  readonly orderedClients?: boolean;
}

/** A violated invariant (or a crash of the core or the harness), with everything needed to replay it. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
  constructor(
    readonly invariant: string,
    readonly detail: string,
    readonly seed: number,
    readonly time: number,
    readonly event: number,
  ) {
    super(
      `[${invariant}] seed=${seed} t=${time.toFixed(3)}ms event=#${event}: ${detail}\n  replay: npm run sim -- --seed ${seed} --trace`,
    );
  }
}

export function memberOf(id: NodeId): { id: NodeId; address: string } {
  return { id, address: `sim-${id}:9093` };
}

export function membershipOf(ids: readonly NodeId[]): Membership {
  return { voters: [...ids].sort((a, b) => a - b).map(memberOf) };
}

/**
 * A simulated cluster on one virtual clock. Every source of nondeterminism (latencies, losses, timer
 * phases, election timeouts, fsync durations) is drawn from streams forked from `seed`, and events at
 * equal times run in scheduling order, so a seed replays exactly.
 */
export class Cluster implements NodeHost, NetworkHost, World {
  readonly seed: number;
  readonly rng: Rng;
  readonly network: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  private readonly nodeList: SimNode[] = [];
  readonly ids: readonly NodeId[];
  readonly bootstrapVoters: readonly NodeId[];
  readonly proposals: ProposalRecord[] = [];
  readonly readRecords: ReadRecord[] = [];
  readonly membershipProposals: ProposalRecord[] = [];
  /** Highest index of any acknowledged proposal so far. */
  maxAckedIndex = 0;
  ackedCount = 0;
  private readonly queue = new EventQueue();
  private time = 0;
  private events = 0;
  private readonly maxEvents: number;
  private readonly invariants: Invariant[];
  /** The first entry applied at each index, by any node. */
  private readonly canonical: (Entry | undefined)[] = [];
  private nextRequestId = 1;
  private readonly clientRng: Rng;
  /** Per node, when the last ordered client request arrives (orderedClients). */
  private readonly lastClientArrival = new Map<NodeId, number>();
  readonly trace: ((line: string) => void) | undefined;

  constructor(readonly opts: ClusterOptions) {
    this.seed = opts.seed;
    this.rng = new Rng(opts.seed);
    this.trace = opts.trace;
    this.maxEvents = opts.maxEvents ?? 3_000_000;
    this.invariants = (opts.invariants ?? defaultInvariants)();
    this.network = new SimNetwork(this, this.rng.fork('network'), { ...CALM_NETWORK, ...opts.network });
    this.network.cloneMessages = opts.cloneMessages ?? false;
    this.clientRng = this.rng.fork('client-latency');
    const voters = Array.from({ length: opts.voters }, (_, i) => i + 1);
    const observers = Array.from({ length: opts.observers ?? 0 }, (_, i) => opts.voters + i + 1);
    this.bootstrapVoters = voters;
    this.ids = [...voters, ...observers];
    const bootstrap = membershipOf(voters);
    const tickMs = opts.tickMs ?? 10;
    const drift = opts.clockDrift ?? 0.05;
    for (const id of this.ids) {
      const nodeRng = this.rng.fork(`node-${id}`);
      const node = new SimNode(
        this,
        {
          id,
          bootstrap,
          core: {
            electionTicks: opts.electionTicks ?? 10,
            heartbeatTicks: opts.heartbeatTicks ?? 2,
            preVote: opts.preVote ?? true,
            checkQuorum: opts.checkQuorum ?? true,
            maxEntriesPerAppend: opts.maxEntriesPerAppend ?? 64,
            maxInflightAppends: opts.maxInflightAppends ?? 16,
            ...(opts.maxBytesPerAppend !== undefined ? { maxBytesPerAppend: opts.maxBytesPerAppend } : {}),
            ...(opts.observerExpiryTicks !== undefined
              ? { observerExpiryTicks: opts.observerExpiryTicks }
              : {}),
          },
          tickMs: tickMs * (1 + nodeRng.between(-drift, drift)),
          fsyncMinMs: opts.fsyncMinMs ?? 0.2,
          fsyncMaxMs: opts.fsyncMaxMs ?? 2,
          slowFsyncRate: opts.slowFsyncRate ?? 0.01,
          slowFsyncMs: opts.slowFsyncMs ?? 30,
          snapshotEvery: opts.snapshotEvery ?? 20,
          snapshotKeep: opts.snapshotKeep ?? 5,
          stateMachine: opts.stateMachine ?? (() => new LogStateMachine()),
          inboxLimit: opts.inboxLimit ?? 10_000,
        },
        nodeRng,
      );
      this.nodes.set(id, node);
      this.nodeList.push(node);
    }
  }

  /** Boots every node. */
  start(): void {
    for (const n of this.nodes.values()) this.guard(() => n.start());
  }

  // ---------------------------------------------------------------------------------------------
  // Clock and events

  now(): number {
    return this.time;
  }

  eventCount(): number {
    return this.events;
  }

  schedule(at: number, kind: string, node: NodeId, run: () => void, describe?: () => string): void {
    this.queue.push(Math.max(at, this.time), kind, node, run, describe);
  }

  /** Runs `run` after `delayMs` of virtual time. */
  after(delayMs: number, kind: string, run: () => void): void {
    this.schedule(this.time + delayMs, kind, 0, run);
  }

  /** Runs the next event; false when none is left. */
  runOne(): boolean {
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.time = ev.time;
    this.events++;
    if (this.events > this.maxEvents) {
      throw this.failure('EventBudget', `more than ${this.maxEvents} events: a message storm or livelock`);
    }
    if (this.trace !== undefined) {
      this.trace(
        `${ev.time.toFixed(3).padStart(10)} #${this.events} ${ev.kind} n${ev.node} ${ev.describe?.() ?? ''}`,
      );
    }
    this.guard(ev.run);
    return true;
  }

  /** Runs every event up to virtual time `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.time > t) break;
      this.runOne();
    }
    if (t > this.time) this.time = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.time + ms);
  }

  /** Runs until `done()` holds (checked after every event) or virtual time `deadline`; returns `done()`. */
  runUntilCondition(done: () => boolean, deadline: number): boolean {
    if (done()) return true;
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.time > deadline) break;
      this.runOne();
      if (done()) return true;
    }
    if (deadline > this.time) this.time = deadline;
    return done();
  }

  /** Runs `fn`, turning anything it throws into a SimFailure that names the seed, time and event. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof SimFailure) throw err;
      const e = err as Error;
      const name = e?.name === 'RaftInvariantError' ? 'CoreInvariant' : 'Exception';
      throw this.failure(name, `${e?.message ?? String(err)}\n${e?.stack ?? ''}`);
    }
  }

  failure(invariant: string, detail: string): SimFailure {
    return new SimFailure(invariant, detail, this.seed, this.time, this.events);
  }

  log(line: string): void {
    this.trace?.(`${this.time.toFixed(3).padStart(10)} ${line}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Hosts for nodes and the network; the world the invariants see

  send(from: SimNode, msg: Message, snapshotData: unknown): void {
    this.network.send(from.id, msg, snapshotData, from.gen);
  }

  deliver(to: NodeId, msg: Message, snapshotData: unknown): boolean {
    return this.nodes.get(to)?.deliver(msg, snapshotData) ?? false;
  }

  snapshotOutcome(from: NodeId, to: NodeId, ok: boolean, senderGen: number): void {
    const node = this.nodes.get(from);
    if (node !== undefined && node.gen === senderGen) node.snapshotReport(to, ok);
  }

  observe(o: Observation): void {
    if (this.trace !== undefined) this.traceObservation(o);
    if (o.type === 'ack') {
      this.ackedCount++;
      if (o.entry.index > this.maxAckedIndex) this.maxAckedIndex = o.entry.index;
    }
    for (const inv of this.invariants) {
      const err = inv.observe?.(o, this);
      if (err !== undefined) throw this.failure(inv.name, err);
    }
  }

  private traceObservation(o: Observation): void {
    const n = `n${o.node}`;
    switch (o.type) {
      case 'role':
        this.log(`  ${n} is ${o.role} in term ${o.term} (leader ${o.leader})`);
        return;
      case 'append':
        this.log(`  ${n} log += ${o.entries.map(describeEntry).join(' ')}`);
        return;
      case 'installSnapshot':
        this.log(`  ${n} log := snapshot ${o.meta.index}/t${o.meta.term}`);
        return;
      case 'committed':
        this.log(`  ${n} committed through ${o.entries[o.entries.length - 1]!.index} (term ${o.term})`);
        return;
      case 'persisted':
        this.log(
          `  ${n} durable: term ${o.hardState.term} vote ${o.hardState.vote} commit ${o.hardState.commit}`,
        );
        return;
      case 'ack':
        this.log(`  ${n} acks proposal ${o.proposal.id} at ${describeEntry(o.entry)}`);
        return;
      case 'read':
        this.log(
          `  ${n} serves read ${o.read.id}: index ${o.read.index}, observed ${o.read.observed}, must see ${o.read.mustSee}`,
        );
        return;
      case 'restart':
        this.log(`  ${n} booted: commit ${o.commit}, applied ${o.applied}`);
        return;
      default:
        return;
    }
  }

  noteApplied(entries: readonly Entry[]): void {
    for (const e of entries) if (this.canonical[e.index] === undefined) this.canonical[e.index] = e;
  }

  nodeViews(): readonly NodeView[] {
    return this.nodeList;
  }

  nodeView(id: NodeId): NodeView | undefined {
    return this.nodes.get(id);
  }

  appliedEntry(index: number): Entry | undefined {
    return this.canonical[index];
  }

  /** The highest index any node has applied. */
  maxApplied(): number {
    return this.canonical.length - 1;
  }

  /** Runs every invariant's end-of-run check. */
  finalCheck(state: FinalState): void {
    for (const inv of this.invariants) {
      const err = inv.final?.(this, state);
      if (err !== undefined) throw this.failure(inv.name, err);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** The live node that believes it leads, in the highest term (a stale leader may still believe so). */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && n.role === Role.Leader && (best === undefined || n.term > best.term)) best = n;
    }
    return best;
  }

  /** The voter set as the current leader's log has it (else the most advanced live node's). */
  currentVoters(): NodeId[] {
    const leader = this.leader();
    if (leader !== undefined) return leader.voters();
    let best: SimNode | undefined;
    for (const n of this.nodes.values())
      if (best === undefined || n.log.lastIndex() > best.log.lastIndex()) best = n;
    return best?.voters() ?? [...this.bootstrapVoters];
  }

  // ---------------------------------------------------------------------------------------------
  // Clients: requests reach the node after a short client-network latency.

  private clientLatency(): number {
    return 0.05 + this.clientRng.exp(0.3);
  }

  /** When a client request to `nodeId` made now arrives (never before an earlier one when ordered). */
  private clientArrival(nodeId: NodeId): number {
    const at = this.time + this.clientLatency();
    if (!this.opts.orderedClients) return at;
    const ordered = Math.max(at, this.lastClientArrival.get(nodeId) ?? 0);
    this.lastClientArrival.set(nodeId, ordered);
    return ordered;
  }

  propose(nodeId: NodeId, data: Uint8Array): ProposalRecord {
    const p: ProposalRecord = {
      id: this.nextRequestId++,
      node: nodeId,
      issuedAt: this.time,
      data,
      state: 'pending',
    };
    this.proposals.push(p);
    this.submit(nodeId, p);
    return p;
  }

  proposeMembership(nodeId: NodeId, voters: readonly NodeId[]): ProposalRecord {
    const membership = membershipOf(voters);
    const p: ProposalRecord = {
      id: this.nextRequestId++,
      node: nodeId,
      issuedAt: this.time,
      membership,
      state: 'pending',
    };
    this.membershipProposals.push(p);
    this.submit(nodeId, p);
    this.log(`client: propose voters [${voters.join(',')}] at n${nodeId} (req ${p.id})`);
    return p;
  }

  private submit(nodeId: NodeId, p: ProposalRecord): void {
    this.schedule(
      this.clientArrival(nodeId),
      'client-propose',
      nodeId,
      () => {
        if (!this.node(nodeId).propose(p)) p.state = 'unknown';
      },
      () =>
        `req ${p.id} ${p.data !== undefined ? describeEntry({ index: 0, term: 0, kind: 0, data: p.data }) : 'membership'}`,
    );
  }

  read(nodeId: NodeId): ReadRecord {
    const r: ReadRecord = {
      id: this.nextRequestId++,
      node: nodeId,
      issuedAt: this.time,
      mustSee: this.maxAckedIndex,
      state: 'pending',
    };
    this.readRecords.push(r);
    this.schedule(
      this.clientArrival(nodeId),
      'client-read',
      nodeId,
      () => {
        if (!this.node(nodeId).read(r)) r.state = 'unknown';
      },
      () => `req ${r.id} must see ${r.mustSee}`,
    );
    return r;
  }

  transferLeadership(from: NodeId, to: NodeId): void {
    this.log(`admin: transfer leadership n${from} -> n${to}`);
    this.schedule(this.time + this.clientLatency(), 'client-transfer', from, () => {
      this.node(from).transferLeadership(to);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  crash(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    this.log(`fault: crash n${id}`);
    this.guard(() => n.crash());
  }

  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.up) return;
    this.log(`fault: restart n${id}`);
    this.guard(() => n.start());
  }

  pause(id: NodeId): void {
    this.log(`fault: pause n${id}`);
    this.node(id).pause();
  }

  resume(id: NodeId): void {
    this.log(`fault: resume n${id}`);
    this.guard(() => this.node(id).resume());
  }

  /** Splits the cluster: no traffic between `a` and `b` (both directions). */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.log(`fault: partition [${a.join(',')}] | [${b.join(',')}]`);
    this.network.partition(a, b);
  }

  /** Undoes one `partition(a, b)`. */
  unpartition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.log(`fault: undo partition [${a.join(',')}] | [${b.join(',')}]`);
    this.network.unpartition(a, b);
  }

  uncut(from: NodeId, to: NodeId): void {
    this.log(`fault: undo cut n${from} -> n${to}`);
    this.network.uncut(from, to);
  }

  /** Cuts `from` -> `to` only. */
  cut(from: NodeId, to: NodeId): void {
    this.log(`fault: cut n${from} -> n${to}`);
    this.network.cut(from, to);
  }

  isolate(id: NodeId): void {
    this.partition(
      [id],
      this.ids.filter((x) => x !== id),
    );
  }

  heal(): void {
    this.log('fault: heal all links');
    this.network.heal();
  }
}
