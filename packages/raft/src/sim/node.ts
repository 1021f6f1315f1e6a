import { RaftCore } from '../core/raft.js';
import {
  type CoreConfig,
  type Entry,
  type HardState,
  type Membership,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  Role,
  type SnapshotMeta,
} from '../core/types.js';
import type { NodeView, Observation, ProposalRecord, ReadRecord } from './invariants.js';
import type { Rng } from './rng.js';
import type { SimStateMachine, StateMachineFactory } from './state-machine.js';
import { DurableStore, EntryLog, type PersistBatch } from './storage.js';

/** What a node needs from the cluster around it. */
export interface NodeHost {
  now(): number;
  schedule(at: number, kind: string, node: NodeId, run: () => void, describe?: () => string): void;
  /** Puts a message on the network; `snapshotData` rides along with Snapshot messages. */
  send(from: SimNode, msg: Message, snapshotData: unknown): void;
  /** Reports an observation to the invariants (throws on a violation). */
  observe(o: Observation): void;
  /** Records entries applied by a node, after the invariants have seen them. */
  noteApplied(entries: readonly Entry[]): void;
}

export interface NodeOptions {
  readonly id: NodeId;
  readonly bootstrap: Membership;
  /** Core settings other than id and randomness. */
  readonly core: Omit<CoreConfig, 'id' | 'random'>;
  /** This node's tick interval in virtual ms (the nominal interval with this node's clock drift). */
  readonly tickMs: number;
  /** fsync latency: uniform in [fsyncMinMs, fsyncMaxMs], and with `slowFsyncRate` up to `slowFsyncMs` more. */
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly slowFsyncRate: number;
  readonly slowFsyncMs: number;
  /** Take a snapshot after this many entries applied since the last one. */
  readonly snapshotEvery: number;
  /** Keep up to this many entries before the snapshot index for slow followers (random in [0, keep]). */
  readonly snapshotKeep: number;
  readonly stateMachine: StateMachineFactory;
  /** Inputs queued beyond this are dropped (a full socket buffer while the process is stalled). */
  readonly inboxLimit: number;
}

type Input =
  | { readonly t: 'msg'; readonly msg: Message; readonly snapshotData: unknown }
  | { readonly t: 'tick' }
  | { readonly t: 'propose'; readonly p: ProposalRecord }
  | { readonly t: 'read'; readonly r: ReadRecord }
  | { readonly t: 'transfer'; readonly to: NodeId }
  | { readonly t: 'snapshotReport'; readonly to: NodeId; readonly ok: boolean }
  | { readonly t: 'compact' };

/** One Ready in progress: taken from the core, maybe waiting for its persist, not yet advanced. */
interface InFlight {
  readonly rd: Ready;
  readonly batch: PersistBatch | undefined;
  persisted: boolean;
}

export interface NodeStats {
  readies: number;
  persists: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  crashes: number;
  restarts: number;
  inputsDropped: number;
}

/**
 * One simulated server: a RaftCore driven exactly as the production driver drives it, a durable store,
 * a state machine, and the bookkeeping that lets the harness answer clients the way a real driver would.
 *
 * The node is single-threaded: it handles one input at a time, and while a persist is in flight (or
 * the process is paused) inputs wait in `inbox`. A crash loses the inbox, the in-flight persist and all
 * volatile state; `restart` rebuilds everything from the durable store.
 */
export class SimNode implements NodeView {
  readonly id: NodeId;
  readonly store: DurableStore;
  /** Mirror of the core's in-memory log, updated from every Ready (the invariants read it). */
  log: EntryLog;
  core: RaftCore | undefined;
  sm: SimStateMachine | undefined;
  up = false;
  paused = false;
  /** Incarnation: bumps on crash, so events scheduled for an earlier life are ignored. */
  gen = 0;
  role: Role = Role.Follower;
  term = 0;
  leader: NodeId = 0;
  commit = 0;
  applied = 0;
  /** The in-memory hard state as of the last Ready. */
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private inbox: Input[] = [];
  private inboxHead = 0;
  private tickQueued = false;
  private inFlight: InFlight | undefined;
  /** Snapshot data received with Snapshot messages, by index, until installed. */
  private readonly received = new Map<number, unknown>();
  /** Proposals this node accepted, by log index, until it applies that index. */
  private readonly acceptedAt = new Map<number, ProposalRecord[]>();
  private readonly proposals = new Map<number, ProposalRecord>();
  private readonly reads = new Map<number, ReadRecord>();
  /** Reads released by the core, waiting for `applied` to reach their index. */
  private waitingReads: ReadRecord[] = [];
  /** When set, fsyncs take up to `slowDiskMs` longer until virtual time `slowDiskUntil`. */
  slowDiskUntil = 0;
  slowDiskMs = 0;
  readonly stats: NodeStats = {
    readies: 0,
    persists: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    restarts: 0,
    inputsDropped: 0,
  };

  constructor(
    private readonly host: NodeHost,
    readonly opts: NodeOptions,
    private readonly rng: Rng,
  ) {
    this.id = opts.id;
    const sm = opts.stateMachine();
    this.store = new DurableStore(opts.bootstrap, sm.snapshot());
    this.log = new EntryLog(this.store.snapshot);
  }

  /** Boots (or reboots) the node from its durable store. */
  start(): void {
    if (this.up) return;
    const initial = this.store.initialState();
    this.sm = this.opts.stateMachine();
    if (initial.snapshot.index > 0) this.sm.restore(this.store.snapshotData);
    // Each incarnation draws its election timeouts from its own stream, derived from the node's.
    const random = this.rng.fork(`core-${this.gen}`);
    this.core = new RaftCore({ ...this.opts.core, id: this.id, random }, initial);
    this.log = new EntryLog(initial.snapshot, initial.entries);
    const st = this.core.status();
    this.role = st.role;
    this.term = st.term;
    this.leader = st.leader;
    this.commit = st.commit;
    this.applied = st.applied;
    this.hard = { term: st.term, vote: st.vote, commit: st.commit };
    this.up = true;
    this.paused = false;
    if (this.gen > 0) this.stats.restarts++;
    this.host.observe({ type: 'restart', node: this.id, commit: this.commit, applied: this.applied });
    // The first tick lands at a random phase, so nodes started together do not tick in lockstep.
    this.scheduleTick(this.host.now() + this.rng.float() * this.opts.tickMs);
    this.pump();
  }

  /** Kills the process: everything not on the durable store is lost. */
  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.paused = false;
    this.gen++;
    this.stats.crashes++;
    this.core = undefined;
    this.sm = undefined;
    this.inFlight = undefined;
    this.inbox = [];
    this.inboxHead = 0;
    this.tickQueued = false;
    this.received.clear();
    for (const p of this.proposals.values())
      if (p.state === 'pending' || p.state === 'accepted') p.state = 'unknown';
    for (const r of this.reads.values())
      if (r.state === 'pending' || r.state === 'ready') r.state = 'unknown';
    this.proposals.clear();
    this.acceptedAt.clear();
    this.reads.clear();
    this.waitingReads = [];
    this.role = Role.Follower;
    this.leader = 0;
    this.host.observe({ type: 'crash', node: this.id });
  }

  pause(): void {
    if (this.up) this.paused = true;
  }

  resume(): void {
    if (!this.up || !this.paused) return;
    this.paused = false;
    this.pump();
  }

  /** An input arriving from outside (network, client, transport). Returns false if the node is down. */
  enqueue(input: Input): boolean {
    if (!this.up) return false;
    if (this.inbox.length - this.inboxHead >= this.opts.inboxLimit) {
      this.stats.inputsDropped++;
      if (input.t === 'propose') this.settle(input.p, 'unknown');
      if (input.t === 'read') input.r.state = 'unknown';
      return true;
    }
    this.inbox.push(input);
    this.pump();
    return true;
  }

  deliver(msg: Message, snapshotData: unknown): boolean {
    return this.enqueue({ t: 'msg', msg, snapshotData });
  }

  propose(p: ProposalRecord): boolean {
    return this.enqueue({ t: 'propose', p });
  }

  read(r: ReadRecord): boolean {
    return this.enqueue({ t: 'read', r });
  }

  transferLeadership(to: NodeId): boolean {
    return this.enqueue({ t: 'transfer', to });
  }

  snapshotReport(to: NodeId, ok: boolean): boolean {
    return this.enqueue({ t: 'snapshotReport', to, ok });
  }

  /** Asks the node to snapshot its state machine at the next opportunity, whatever its threshold. */
  compactSoon(): boolean {
    return this.enqueue({ t: 'compact' });
  }

  /** Voters in the node's latest membership (its log's view, committed or not). */
  voters(): NodeId[] {
    return this.log.membership().voters.map((m) => m.id);
  }

  inboxSize(): number {
    return this.inbox.length - this.inboxHead;
  }

  // ---------------------------------------------------------------------------------------------

  private scheduleTick(at: number): void {
    const gen = this.gen;
    this.host.schedule(at, 'tick', this.id, () => {
      if (this.gen !== gen || !this.up) return;
      // Timer fires while the node is busy or paused coalesce into one pending tick, as a
      // process that did not get scheduled sees one late timer, not a burst.
      if (!this.tickQueued) {
        this.tickQueued = true;
        this.inbox.push({ t: 'tick' });
        this.pump();
      }
      this.scheduleTick(at + this.opts.tickMs);
    });
  }

  /** Runs the node until it blocks on a persist, is paused, or has nothing left to do. */
  private pump(): void {
    while (this.up && !this.paused) {
      const core = this.core!;
      if (this.inFlight !== undefined) {
        if (!this.inFlight.persisted) return;
        this.finishReady();
        continue;
      }
      if (core.hasReady()) {
        this.startReady();
        continue;
      }
      if (this.inboxHead >= this.inbox.length) {
        this.inbox = [];
        this.inboxHead = 0;
        return;
      }
      const input = this.inbox[this.inboxHead++]!;
      this.handle(core, input);
    }
  }

  private handle(core: RaftCore, input: Input): void {
    switch (input.t) {
      case 'msg': {
        if (input.msg.type === MessageType.Snapshot && input.msg.snapshot !== undefined) {
          this.received.set(input.msg.snapshot.index, input.snapshotData);
        }
        core.step(input.msg);
        return;
      }
      case 'tick':
        this.tickQueued = false;
        core.tick();
        return;
      case 'propose': {
        const p = input.p;
        this.proposals.set(p.id, p);
        if (p.membership !== undefined) core.proposeMembership(p.id, p.membership);
        else core.propose(p.id, p.data ?? new Uint8Array());
        return;
      }
      case 'read':
        this.reads.set(input.r.id, input.r);
        core.readIndex(input.r.id);
        return;
      case 'transfer':
        core.transferLeadership(input.to);
        return;
      case 'snapshotReport':
        core.reportSnapshot(input.to, input.ok);
        return;
      case 'compact':
        this.maybeCompact(true);
        return;
    }
  }

  /** Takes a Ready: mirrors it for the invariants, sends `messages`, and starts the persist. */
  private startReady(): void {
    const core = this.core!;
    const rd = core.ready();
    this.stats.readies++;
    const host = this.host;
    let snapshotData: unknown;
    if (rd.snapshot !== undefined) {
      snapshotData = this.received.get(rd.snapshot.index);
      if (!this.received.has(rd.snapshot.index)) {
        throw new Error(
          `node ${this.id}: the core installs snapshot ${rd.snapshot.index} that never arrived`,
        );
      }
      host.observe({ type: 'installSnapshot', node: this.id, meta: rd.snapshot });
      this.log.restore(rd.snapshot);
    }
    if (rd.entries.length > 0) {
      host.observe({ type: 'append', node: this.id, entries: rd.entries });
      this.log.append(rd.entries);
    }
    if (rd.hardState !== undefined) {
      host.observe({ type: 'hardState', node: this.id, prev: this.hard, hardState: rd.hardState });
      this.hard = rd.hardState;
      this.term = rd.hardState.term;
      this.commit = rd.hardState.commit;
    }
    if (rd.committedEntries.length > 0) {
      host.observe({ type: 'committed', node: this.id, entries: rd.committedEntries, term: this.term });
    }
    if (rd.softState !== undefined) {
      this.role = rd.softState.role;
      this.leader = rd.softState.leader;
      this.term = rd.softState.term;
      host.observe({ type: 'role', node: this.id, role: this.role, term: this.term, leader: this.leader });
    }
    host.observe({ type: 'readyDone', node: this.id });

    for (const a of rd.accepted) {
      const p = this.proposals.get(a.requestId);
      if (p === undefined) continue;
      p.state = 'accepted';
      p.index = a.index;
      p.term = a.term;
      const list = this.acceptedAt.get(a.index);
      if (list === undefined) this.acceptedAt.set(a.index, [p]);
      else list.push(p);
    }
    for (const d of rd.dropped) {
      const p = this.proposals.get(d.requestId);
      if (p !== undefined) {
        this.settle(p, 'dropped', d.reason);
        continue;
      }
      const r = this.reads.get(d.requestId);
      if (r !== undefined) {
        r.state = 'dropped';
        this.reads.delete(r.id);
      }
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.requestId);
      if (r === undefined) continue;
      r.state = 'ready';
      r.index = rs.index;
      this.waitingReads.push(r);
    }

    for (const m of rd.messages) this.sendOne(m);

    const needsPersist = rd.snapshot !== undefined || rd.entries.length > 0 || rd.hardState !== undefined;
    if (!needsPersist) {
      this.inFlight = { rd, batch: undefined, persisted: true };
      return;
    }
    const batch: PersistBatch = {
      entries: rd.entries,
      ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
      ...(rd.snapshot !== undefined ? { snapshot: { meta: rd.snapshot, data: snapshotData } } : {}),
    };
    const inFlight: InFlight = { rd, batch, persisted: false };
    this.inFlight = inFlight;
    const gen = this.gen;
    this.host.schedule(this.host.now() + this.fsyncLatency(), 'persist', this.id, () => {
      // A crash before this point lost the write: it never reached the disk.
      if (this.gen !== gen || this.inFlight !== inFlight) return;
      const prev = this.store.hardState;
      this.store.persist(batch);
      this.stats.persists++;
      this.host.observe({ type: 'persisted', node: this.id, prev, hardState: this.store.hardState });
      inFlight.persisted = true;
      this.pump();
    });
  }

  /** The rest of a Ready once its persist is durable: send, restore/apply, advance. */
  private finishReady(): void {
    const core = this.core!;
    const { rd, batch } = this.inFlight!;
    for (const m of rd.messagesAfterPersist) this.sendOne(m);
    if (rd.snapshot !== undefined) {
      const meta = rd.snapshot;
      this.host.observe({ type: 'restored', node: this.id, meta, appliedBefore: this.applied });
      this.sm!.restore(batch!.snapshot!.data);
      this.stats.snapshotsInstalled++;
      this.applied = Math.max(this.applied, meta.index);
      for (const index of this.received.keys()) if (index <= meta.index) this.received.delete(index);
      // Proposals at indices the snapshot covers are never seen applied here: their outcome is unknown.
      for (const [index, list] of this.acceptedAt) {
        if (index > meta.index) continue;
        for (const p of list) this.settle(p, 'unknown');
        this.acceptedAt.delete(index);
      }
    }
    if (rd.committedEntries.length > 0) {
      const entries = rd.committedEntries;
      this.host.observe({ type: 'applied', node: this.id, entries, appliedBefore: this.applied });
      this.host.noteApplied(entries);
      this.sm!.apply(entries);
      this.applied = entries[entries.length - 1]!.index;
      for (const e of entries) {
        const list = this.acceptedAt.get(e.index);
        if (list === undefined) continue;
        this.acceptedAt.delete(e.index);
        for (const p of list) {
          if (p.term === e.term) {
            // Exactly when a real driver answers the client: the proposing node applied it.
            p.state = 'acked';
            p.ackedAt = this.host.now();
            this.proposals.delete(p.id);
            this.host.observe({ type: 'ack', node: this.id, proposal: p, entry: e });
          } else {
            this.settle(p, 'failed', `overwritten by ${e.index}/t${e.term}`);
          }
        }
      }
    }
    core.advance(rd);
    this.inFlight = undefined;
    this.serveReads();
    this.maybeCompact(false);
  }

  private serveReads(): void {
    if (this.waitingReads.length === 0) return;
    const still: ReadRecord[] = [];
    for (const r of this.waitingReads) {
      if ((r.index ?? 0) > this.applied) {
        still.push(r);
        continue;
      }
      r.state = 'served';
      r.observed = this.applied;
      this.reads.delete(r.id);
      this.host.observe({ type: 'read', node: this.id, read: r });
    }
    this.waitingReads = still;
  }

  /** Snapshots the state machine when enough was applied since the last snapshot (or when forced). */
  private maybeCompact(force: boolean): void {
    const core = this.core!;
    const last = this.store.snapshot.index;
    if (this.applied <= last) return;
    if (!force && this.applied - last < this.opts.snapshotEvery) return;
    const data = this.sm!.snapshot();
    const through = Math.max(last, this.applied - this.rng.int(this.opts.snapshotKeep + 1));
    const meta: SnapshotMeta = core.compact(this.applied, through);
    if (meta.index !== this.applied) {
      throw new Error(`node ${this.id}: compact(${this.applied}) returned a snapshot at ${meta.index}`);
    }
    this.store.compact(meta, data, through);
    this.log.compact(meta, through);
    this.stats.snapshotsTaken++;
  }

  private sendOne(m: Message): void {
    let data: unknown;
    if (m.type === MessageType.Snapshot) {
      const meta = m.snapshot;
      if (
        meta === undefined ||
        meta.index !== this.store.snapshot.index ||
        meta.term !== this.store.snapshot.term
      ) {
        throw new Error(
          `node ${this.id}: the core sends snapshot ${meta?.index}/t${meta?.term} but the store holds ${this.store.snapshot.index}/t${this.store.snapshot.term}`,
        );
      }
      data = this.store.snapshotData;
    }
    this.host.send(this, m, data);
  }

  private settle(p: ProposalRecord, state: 'dropped' | 'failed' | 'unknown', reason?: string): void {
    if (p.state === 'acked') return;
    p.state = state;
    if (reason !== undefined) p.reason = reason;
    this.proposals.delete(p.id);
  }

  private fsyncLatency(): number {
    const o = this.opts;
    let ms = o.fsyncMinMs + this.rng.float() * (o.fsyncMaxMs - o.fsyncMinMs);
    if (this.rng.chance(o.slowFsyncRate)) ms += this.rng.float() * o.slowFsyncMs;
    if (this.host.now() < this.slowDiskUntil) ms += this.rng.float() * this.slowDiskMs;
    return ms;
  }
}
