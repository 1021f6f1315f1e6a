import { EventEmitter } from 'node:events';
import { type Logger, pino } from 'pino';
import { RaftCore } from './core/raft.js';
import {
  type Entry,
  type HardState,
  type Member,
  type Membership,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  type Role,
  type SnapshotMeta,
} from './core/types.js';
import {
  LeadershipLostError,
  MembershipChangeError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  RaftTimeoutError,
  TooManyRequestsError,
} from './errors.js';
import type { RaftStorage, SnapshotStore, StateMachine, Transport } from './ports.js';
import { decodeRaftFrame } from './transport/raft-frames.js';

/** How long a commit hint waits for a synced write to carry it before it is written on its own. */
const HINT_DELAY_MS = 100;

/** Defaults, documented in docs/raft.md. */
export const RAFT_DEFAULTS = {
  tickMs: 10,
  electionTimeoutMs: 250,
  heartbeatIntervalMs: 50,
  maxEntriesPerAppend: 512,
  maxBytesPerAppend: 1024 * 1024,
  maxInflightAppends: 64,
  snapshotThresholdBytes: 20 * 1024 * 1024,
  snapshotTrailingEntries: 1024,
  snapshotChunkBytes: 1024 * 1024,
  proposalTimeoutMs: 10_000,
  maxPendingProposals: 100_000,
};

/** What travels between drivers: Raft messages, and the chunks of a snapshot ahead of its Snapshot message. */
export type RaftFrame =
  | { readonly k: 'raft'; readonly m: Message }
  | {
      readonly k: 'snap';
      readonly meta: SnapshotMeta;
      readonly seq: number;
      readonly data: Uint8Array;
      readonly last: boolean;
    }
  | { readonly k: 'snap-abort'; readonly index: number };

export interface RaftNodeOptions {
  readonly nodeId: NodeId;
  /** The voter set the cluster was bootstrapped with; the log's membership entries supersede it. */
  readonly bootstrapVoters: readonly Member[];
  readonly storage: RaftStorage;
  readonly snapshots: SnapshotStore;
  readonly transport: Transport<RaftFrame>;
  readonly stateMachine: StateMachine;
  readonly logger?: Logger;
  readonly tickMs?: number;
  readonly electionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly maxEntriesPerAppend?: number;
  readonly maxBytesPerAppend?: number;
  readonly maxInflightAppends?: number;
  /** Take a snapshot once this many bytes of entries were applied since the last one. */
  readonly snapshotThresholdBytes?: number;
  /** Entries kept in the log behind a snapshot, so slightly slow replicas need no snapshot. */
  readonly snapshotTrailingEntries?: number;
  readonly snapshotChunkBytes?: number;
  readonly proposalTimeoutMs?: number;
  readonly maxPendingProposals?: number;
  /** Randomness for election timeouts; default Math.random. */
  readonly random?: () => number;
}

export interface ReplicaStatus {
  readonly id: NodeId;
  readonly voter: boolean;
  /** The replica's log end offset as the leader knows it (last matching index + 1). */
  readonly logEndOffset: number;
  readonly lag: number;
  /** Milliseconds since the leader last heard from the replica. */
  readonly lastContactMsAgo: number;
  /** Milliseconds since the replica last had everything the leader had. */
  readonly lastCaughtUpMsAgo: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
}

export interface RaftStatus {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly Member[];
  /** Present on the leader: every voter and every observer it replicates to. */
  readonly replicas?: readonly ReplicaStatus[];
}

export interface LeaderChange {
  readonly leaderId: NodeId;
  readonly term: number;
  readonly role: Role;
}

interface PendingProposal {
  resolve(index: number): void;
  reject(err: Error): void;
  index: number;
  term: number;
  timer: NodeJS.Timeout;
  /** Called once the leader appended the entry (before it commits), with its log position. */
  onAccepted?: ((index: number, term: number) => void) | undefined;
}

interface PendingRead {
  resolve(index: number): void;
  reject(err: Error): void;
  index: number;
  timer: NodeJS.Timeout;
}

/**
 * Runs a {@link RaftCore} with a real clock, storage, transport and state machine.
 *
 * One loop owns the core: inputs (ticks, messages, proposals, reads) are queued and stepped together,
 * then the resulting Ready is carried out (send, one synced persist, send acknowledgements, apply), so
 * every proposal arriving during an fsync shares the next one (group commit).
 *
 * Events: 'leader-change' (LeaderChange), 'applied' (index), 'error' (Error) when the loop fails.
 */
export class RaftNode extends EventEmitter {
  readonly id: NodeId;
  private readonly core: RaftCore;
  private readonly opts: RaftNodeOptions;
  private readonly log: Logger;
  private readonly cfg: typeof RAFT_DEFAULTS;
  private inbox: (() => void)[] = [];
  private wake: (() => void) | undefined;
  private stopped = false;
  private loopDone: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private nextRequestId = 1;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly proposalsByIndex = new Map<number, number>();
  private readonly reads = new Map<number, PendingRead>();
  /** Reads whose index is known, waiting for the state machine to catch up, ordered by index. */
  private readyReads: PendingRead[] = [];
  private applied: number;
  private appliedBytesSinceSnapshot = 0;
  private snapshotting = false;
  /** True while a Ready is being carried out (the core must not be touched then). */
  private inReady = false;
  private lastSoft: LeaderChange = { leaderId: 0, term: 0, role: 'follower' };
  private membership: Membership;
  private readonly incomingSnapshots = new Map<
    NodeId,
    { meta: SnapshotMeta; seq: number; sink: ReturnType<SnapshotStore['create']> }
  >();
  private readonly outgoingSnapshots = new Set<NodeId>();
  private waitersForApplied: { index: number; resolve(): void }[] = [];
  /** A commit hint not written yet (see handleReady). */
  private deferredHardState: HardState | undefined;
  private hintTimer: NodeJS.Timeout | undefined;
  private snapshotWork: Promise<void> = Promise.resolve();
  private partitioned: ReadonlySet<NodeId> | 'all' | undefined;
  /** Per sender, the index of the last snapshot whose bytes were committed here. */
  private readonly receivedSnapshots = new Map<NodeId, number>();

  private constructor(
    opts: RaftNodeOptions,
    core: RaftCore,
    applied: number,
    membership: Membership,
    log: Logger,
  ) {
    super();
    this.opts = opts;
    this.id = opts.nodeId;
    this.core = core;
    this.applied = applied;
    this.membership = membership;
    this.log = log;
    this.cfg = { ...RAFT_DEFAULTS, ...definedOnly(opts) };
  }

  /** Recovers durable state, restores the state machine from the latest snapshot, and starts the loop. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'raft' });
    const cfg = { ...RAFT_DEFAULTS, ...definedOnly(opts) };
    const latest = await opts.snapshots.latest();
    const snapshot: SnapshotMeta = latest ?? {
      index: 0,
      term: 0,
      membership: { voters: opts.bootstrapVoters },
    };
    if (latest !== undefined) await opts.stateMachine.restore(latest, opts.snapshots.read(latest.index));
    const hardState = await opts.storage.loadHardState();
    const entries = await opts.storage.loadEntries();
    const random = opts.random ?? Math.random;
    const core = new RaftCore(
      {
        id: opts.nodeId,
        electionTicks: Math.max(2, Math.round(cfg.electionTimeoutMs / cfg.tickMs)),
        heartbeatTicks: Math.max(1, Math.round(cfg.heartbeatIntervalMs / cfg.tickMs)),
        random: { int: (bound) => Math.floor(random() * bound) },
        maxEntriesPerAppend: cfg.maxEntriesPerAppend,
        maxBytesPerAppend: cfg.maxBytesPerAppend,
        maxInflightAppends: cfg.maxInflightAppends,
      },
      { hardState, snapshot, entries, applied: snapshot.index },
    );
    const node = new RaftNode(opts, core, snapshot.index, core.status().membership, log);
    node.updatePeerAddresses();
    opts.transport.onReceive((from, frame) => node.receive(from, frame));
    node.loopDone = node.loop();
    node.ticker = setInterval(() => node.enqueue(() => node.core.tick()), cfg.tickMs);
    log.info(
      {
        term: hardState.term,
        lastIndex: core.status().lastIndex,
        snapshotIndex: snapshot.index,
        commit: core.status().commit,
      },
      'raft node started',
    );
    return node;
  }

  /**
   * Replicates `data`; resolves with its log index once it is committed and applied here.
   * Rejects with NotLeaderError (carrying the leader) when this node is not the leader.
   */
  propose(
    data: Uint8Array,
    timeoutMs = this.cfg.proposalTimeoutMs,
    options: { onAccepted?: (index: number, term: number) => void } = {},
  ): Promise<number> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    if (this.proposals.size >= this.cfg.maxPendingProposals) {
      return Promise.reject(new TooManyRequestsError(this.cfg.maxPendingProposals));
    }
    const requestId = this.nextRequestId++;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => this.failProposal(requestId, new RaftTimeoutError('proposal', timeoutMs)),
        timeoutMs,
      );
      this.proposals.set(requestId, {
        resolve,
        reject,
        index: 0,
        term: 0,
        timer,
        onAccepted: options.onAccepted,
      });
      this.enqueue(() => this.core.propose(requestId, data));
    });
  }

  /**
   * A linearizable read point: resolves with an index once this node (the leader) confirmed its
   * leadership with a quorum and its state machine has applied that index, so local state read
   * afterwards reflects every write acknowledged before the call.
   */
  readIndex(timeoutMs = this.cfg.proposalTimeoutMs): Promise<number> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    const requestId = this.nextRequestId++;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(requestId);
        this.readyReads = this.readyReads.filter((r) => r !== read);
        reject(new RaftTimeoutError('read index', timeoutMs));
      }, timeoutMs);
      const read: PendingRead = { resolve, reject, index: 0, timer };
      this.reads.set(requestId, read);
      this.enqueue(() => this.core.readIndex(requestId));
    });
  }

  /** Adds a voter. The node must already follow as an observer; waits until it has caught up. */
  async addVoter(member: Member, timeoutMs = this.cfg.proposalTimeoutMs): Promise<void> {
    await this.changeMembership((voters) => {
      if (voters.some((v) => v.id === member.id))
        throw new MembershipChangeError('invalid-membership', `node ${member.id} is already a voter`);
      return [...voters, member];
    }, timeoutMs);
  }

  async removeVoter(id: NodeId, timeoutMs = this.cfg.proposalTimeoutMs): Promise<void> {
    await this.changeMembership((voters) => {
      if (!voters.some((v) => v.id === id))
        throw new MembershipChangeError('invalid-membership', `node ${id} is not a voter`);
      return voters.filter((v) => v.id !== id);
    }, timeoutMs);
  }

  /** Hands leadership to `to` (default: the most caught-up voter); resolves once this node is no longer leader. */
  async transferLeadership(to?: NodeId, timeoutMs = this.cfg.electionTimeoutMs * 4): Promise<void> {
    const status = this.core.status();
    if (status.role !== 'leader') return;
    const target =
      to ??
      (status.progress ?? [])
        .filter((p) => p.voter && p.id !== this.id)
        .sort((a, b) => b.match - a.match || a.ticksSinceContact - b.ticksSinceContact)[0]?.id;
    if (target === undefined) return;
    this.enqueue(() => this.core.transferLeadership(target));
    const stillLeader = () => this.core.status().role === 'leader' && !this.stopped;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('leader-change', onChange);
        resolve();
      };
      const onChange = () => {
        if (!stillLeader()) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.on('leader-change', onChange);
    });
    if (stillLeader()) throw new RaftTimeoutError(`leadership transfer to ${target}`, timeoutMs);
  }

  status(): RaftStatus {
    const s = this.core.status();
    const tickMs = this.cfg.tickMs;
    return {
      nodeId: this.id,
      role: s.role,
      term: s.term,
      leaderId: s.leader,
      commitIndex: s.commit,
      lastApplied: this.applied,
      lastIndex: s.lastIndex,
      firstIndex: s.firstIndex,
      snapshotIndex: s.snapshot.index,
      voters: s.membership.voters,
      replicas: s.progress?.map((p) => ({
        id: p.id,
        voter: p.voter,
        logEndOffset: p.match + 1,
        lag: s.lastIndex - p.match,
        lastContactMsAgo: p.ticksSinceContact * tickMs,
        lastCaughtUpMsAgo: (s.tick - p.lastCaughtUpTick) * tickMs,
        state: p.state,
      })),
    };
  }

  /** The address of a voter, as the current membership lists it. */
  addressOf(id: NodeId): string | undefined {
    return this.membership.voters.find((v) => v.id === id)?.address;
  }

  /** Resolves once the state machine has applied `index`. */
  waitForApplied(index: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.waitersForApplied.push({ index, resolve }));
  }

  /** Takes a snapshot now (normally triggered by bytes applied). Resolves with its index. */
  async snapshot(): Promise<number> {
    return this.takeSnapshot();
  }

  /**
   * Stops the node. With `graceful`, a leader first hands leadership to another voter so the cluster
   * does not wait an election timeout. Everything acknowledged is already durable either way.
   */
  async stop(graceful = true): Promise<void> {
    if (this.stopped) return;
    if (graceful) {
      try {
        await this.transferLeadership();
      } catch (err) {
        this.log.warn({ err }, 'leadership transfer before stopping failed');
      }
    }
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.wake?.();
    await this.loopDone;
    if (this.hintTimer) clearTimeout(this.hintTimer);
    this.hintTimer = undefined;
    // The last commit hint, so a restart applies what was committed without waiting for a leader.
    const hint = this.deferredHardState;
    this.deferredHardState = undefined;
    if (hint !== undefined && graceful)
      await this.opts.storage
        .persist({ entries: [], hardState: hint, sync: true })
        .catch((err) => this.log.warn({ err }, 'writing the commit hint failed'));
    for (const [id, p] of this.proposals) {
      clearTimeout(p.timer);
      p.reject(new NodeStoppedError());
      this.proposals.delete(id);
    }
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(new NodeStoppedError());
    }
    this.reads.clear();
    for (const s of this.incomingSnapshots.values()) await s.sink.abort().catch(() => undefined);
    await this.opts.transport.close();
    await this.opts.storage.close();
    this.log.info('raft node stopped');
  }

  // ---------------------------------------------------------------------------------------------

  /** Runs `fn` now when the loop is idle between iterations' Ready handling, else queues it. */
  private enqueueOrRun(fn: () => void): void {
    if (this.inReady) this.enqueue(fn);
    else fn();
  }

  private enqueue(fn: () => void): void {
    if (this.stopped) return;
    this.inbox.push(fn);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * Testing hook: drops all Raft traffic to and from `peers` (every peer when 'all'; none when
   * undefined), as a network partition would. Used by in-process clusters to partition a node.
   */
  setPartitioned(peers: ReadonlySet<NodeId> | 'all' | undefined): void {
    this.partitioned = peers;
  }

  private isCut(peer: NodeId): boolean {
    const p = this.partitioned;
    return p !== undefined && (p === 'all' || p.has(peer));
  }

  private receive(from: NodeId, raw: RaftFrame): void {
    if (this.isCut(from)) return;
    let frame: RaftFrame;
    try {
      frame = decodeRaftFrame(raw);
    } catch (err) {
      // A malformed frame never reaches the core (whose invariant checks would stop the node).
      this.log.warn({ from, err: (err as Error).message }, 'dropping a malformed raft frame');
      return;
    }
    switch (frame.k) {
      case 'raft':
        // The transport proved `from`; a frame claiming another sender is dropped.
        if (frame.m.from !== from) return;
        if (frame.m.type === MessageType.Snapshot) {
          this.serializeSnapshotWork(() => this.onSnapshotMessage(from, frame.m));
          return;
        }
        this.enqueue(() => this.core.step(frame.m));
        return;
      case 'snap':
        this.serializeSnapshotWork(() => this.onSnapshotChunk(from, frame));
        return;
      case 'snap-abort':
        this.serializeSnapshotWork(async () => {
          const inc = this.incomingSnapshots.get(from);
          if (inc !== undefined && inc.meta.index === frame.index) {
            this.incomingSnapshots.delete(from);
            await inc.sink.abort();
          }
        });
        return;
    }
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped) {
        if (this.inbox.length === 0 && !this.core.hasReady()) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        const batch = this.inbox;
        this.inbox = [];
        for (const fn of batch) fn();
        if (this.core.hasReady()) {
          this.inReady = true;
          let applied = false;
          try {
            const rd = this.core.ready();
            applied = rd.committedEntries.length > 0;
            await this.handleReady(rd);
          } finally {
            this.inReady = false;
          }
          // Committed entries left over (a Ready carries at most maxCommittedBytesPerReady): let timers
          // and sockets have a turn first, so a long catch-up apply does not starve ticks (a leader's
          // heartbeats) when no write to disk gives the event loop one.
          if (applied && this.core.hasEntriesToApply()) await new Promise((r) => setImmediate(r));
        }
      }
    } catch (err) {
      // A storage failure or a broken invariant: stop serving rather than risk acknowledging a lost write.
      this.log.fatal({ err }, 'raft loop failed; node stopped');
      this.stopped = true;
      if (this.ticker) clearInterval(this.ticker);
      this.emit('error', err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.sendAll(rd.messages);
    if (rd.mustSync) {
      // A deferred commit hint rides along (rd.hardState, when present, is newer and whole).
      const hardState = rd.hardState ?? this.deferredHardState;
      this.deferredHardState = undefined;
      await this.opts.storage.persist({ entries: rd.entries, hardState, snapshot: rd.snapshot });
    } else if (rd.hardState !== undefined) {
      // Only the commit hint changed: nothing waits on it (a lost hint is recovered from the leader), so
      // it goes with the next synced write, or on its own, unsynced, once writes pause. Under load the
      // commit moves with nearly every Ready: one database write saved per commit.
      this.deferredHardState = rd.hardState;
      this.hintTimer ??= setTimeout(() => {
        this.hintTimer = undefined;
        this.enqueue(() => this.flushHint());
      }, HINT_DELAY_MS);
    }
    if (rd.snapshot !== undefined) {
      await this.opts.stateMachine.restore(rd.snapshot, this.opts.snapshots.read(rd.snapshot.index));
      await this.opts.snapshots.pruneBefore(rd.snapshot.index);
      this.applied = rd.snapshot.index;
      this.appliedBytesSinceSnapshot = 0;
      // Proposals at or below the snapshot can no longer be matched to their entries.
      for (const [index, requestId] of this.proposalsByIndex) {
        if (index <= rd.snapshot.index)
          this.failProposal(requestId, new ProposalDroppedError('replaced by a snapshot from the leader'));
      }
    }
    this.sendAll(rd.messagesAfterPersist);
    for (const a of rd.accepted) {
      const p = this.proposals.get(a.requestId);
      if (p === undefined) continue;
      p.index = a.index;
      p.term = a.term;
      this.proposalsByIndex.set(a.index, a.requestId);
      p.onAccepted?.(a.index, a.term);
    }
    for (const d of rd.dropped) {
      const err =
        d.reason === 'not-leader' || d.reason === 'stepped-down'
          ? new NotLeaderError(d.leader, this.addressOf(d.leader))
          : new MembershipChangeError(d.reason, `membership change refused: ${d.reason}`);
      if (this.proposals.has(d.requestId)) this.failProposal(d.requestId, err);
      const read = this.reads.get(d.requestId);
      if (read !== undefined) {
        this.reads.delete(d.requestId);
        clearTimeout(read.timer);
        read.reject(err);
      }
    }
    if (rd.committedEntries.length > 0) await this.apply(rd.committedEntries);
    for (const r of rd.readStates) {
      const read = this.reads.get(r.requestId);
      if (read === undefined) continue;
      this.reads.delete(r.requestId);
      read.index = r.index;
      this.readyReads.push(read);
    }
    this.releaseReads();
    if (rd.softState !== undefined)
      this.onSoftState(rd.softState.leader, rd.softState.term, rd.softState.role);
    this.core.advance(rd);
    const membership = this.core.status().membership;
    if (membership !== this.membership) {
      this.membership = membership;
      this.updatePeerAddresses();
      this.log.info({ voters: membership.voters.map((v) => v.id) }, 'voter set changed');
    }
    if (this.appliedBytesSinceSnapshot >= this.cfg.snapshotThresholdBytes && !this.snapshotting) {
      void this.takeSnapshot().catch((err) => this.log.error({ err }, 'snapshot failed'));
    }
  }

  /** Writes a deferred commit hint on its own (unsynced; storage keeps write order). */
  private flushHint(): void {
    const hardState = this.deferredHardState;
    if (hardState === undefined) return;
    this.deferredHardState = undefined;
    this.opts.storage
      .persist({ entries: [], hardState, sync: false })
      .catch((err) => this.log.warn({ err }, 'writing the commit hint failed'));
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    await this.opts.stateMachine.apply(entries);
    for (const e of entries) {
      this.appliedBytesSinceSnapshot += e.data?.byteLength ?? 0;
      const requestId = this.proposalsByIndex.get(e.index);
      if (requestId === undefined) continue;
      this.proposalsByIndex.delete(e.index);
      const p = this.proposals.get(requestId);
      if (p === undefined) continue;
      this.proposals.delete(requestId);
      clearTimeout(p.timer);
      // Same index, same term: our entry. Another term: a later leader overwrote it.
      if (e.term === p.term) p.resolve(e.index);
      else p.reject(new ProposalDroppedError(`overwritten by the leader of term ${e.term}`));
    }
    const last = entries[entries.length - 1]!;
    this.applied = last.index;
    if (this.waitersForApplied.length > 0) {
      const still: typeof this.waitersForApplied = [];
      for (const w of this.waitersForApplied) w.index <= this.applied ? w.resolve() : still.push(w);
      this.waitersForApplied = still;
    }
    this.emit('applied', this.applied);
  }

  private releaseReads(): void {
    if (this.readyReads.length === 0) return;
    const waiting: PendingRead[] = [];
    for (const r of this.readyReads) {
      if (r.index <= this.applied) {
        clearTimeout(r.timer);
        r.resolve(r.index);
      } else waiting.push(r);
    }
    this.readyReads = waiting;
  }

  private onSoftState(leaderId: NodeId, term: number, role: Role): void {
    const prev = this.lastSoft;
    this.lastSoft = { leaderId, term, role };
    if (prev.role === 'leader' && role !== 'leader') this.failUncommitted(prev.term);
    if (prev.leaderId !== leaderId || prev.role !== role) {
      if (role === 'leader') this.log.info({ term }, 'elected leader');
      else if (leaderId !== prev.leaderId && leaderId !== 0)
        this.log.info({ term, leaderId }, 'following new leader');
      this.emit('leader-change', this.lastSoft);
    }
  }

  private sendAll(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (this.isCut(m.to)) continue;
      if (m.type === MessageType.Snapshot) void this.streamSnapshot(m);
      else this.opts.transport.send(m.to, { k: 'raft', m });
    }
  }

  /**
   * Leadership was lost: proposals not known to be committed and unconfirmed reads would otherwise wait
   * for their timeout (a deposed leader cut off from the quorum learns nothing more), so callers learn
   * now and can retry with the new leader. Committed proposals still resolve when applied.
   */
  private failUncommitted(term: number): void {
    const commitIndex = this.core.status().commit;
    for (const [requestId, p] of this.proposals) {
      if (p.index === 0 || p.index > commitIndex) this.failProposal(requestId, new LeadershipLostError(term));
    }
    for (const [requestId, read] of this.reads) {
      this.reads.delete(requestId);
      clearTimeout(read.timer);
      read.reject(new LeadershipLostError(term));
    }
    // Reads whose index a quorum already confirmed stay valid: they complete once applied.
  }

  private failProposal(requestId: number, err: Error): void {
    const p = this.proposals.get(requestId);
    if (p === undefined) return;
    this.proposals.delete(requestId);
    if (p.index !== 0) this.proposalsByIndex.delete(p.index);
    clearTimeout(p.timer);
    p.reject(err);
  }

  private async changeMembership(
    change: (voters: readonly Member[]) => Member[],
    timeoutMs: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const voters = change(this.core.status().membership.voters);
      const requestId = this.nextRequestId++;
      try {
        await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(
            () => this.failProposal(requestId, new RaftTimeoutError('membership change', timeoutMs)),
            Math.max(1, deadline - Date.now()),
          );
          this.proposals.set(requestId, { resolve, reject, index: 0, term: 0, timer });
          this.enqueue(() => this.core.proposeMembership(requestId, { voters }));
        });
        this.log.info({ voters: voters.map((v) => v.id) }, 'membership change committed');
        return;
      } catch (err) {
        // A new voter still catching up, or the previous change still committing: wait and retry.
        if (err instanceof MembershipChangeError && err.retriable && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, this.cfg.heartbeatIntervalMs));
          continue;
        }
        throw err;
      }
    }
  }

  private updatePeerAddresses(): void {
    for (const v of this.membership.voters)
      if (v.id !== this.id) this.opts.transport.setPeerAddress(v.id, v.address);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

  private async takeSnapshot(): Promise<number> {
    if (this.snapshotting) return this.core.status().snapshot.index;
    this.snapshotting = true;
    try {
      // Capture between loop iterations, where `applied` and the state machine agree.
      const captured = await new Promise<
        { meta: SnapshotMeta; chunks: ReturnType<StateMachine['snapshot']> } | undefined
      >((resolve) =>
        this.enqueueOrRun(() => {
          if (this.applied <= this.core.status().snapshot.index) return resolve(undefined);
          this.appliedBytesSinceSnapshot = 0;
          resolve({ meta: this.core.snapshotMeta(this.applied), chunks: this.opts.stateMachine.snapshot() });
        }),
      );
      if (captured === undefined) return this.core.status().snapshot.index;
      const { meta, chunks } = captured;
      const index = meta.index;
      const sink = this.opts.snapshots.create(meta);
      try {
        for await (const chunk of chunks) {
          await sink.write(chunk);
          // The chunks are produced on this thread as they are pulled: a macrotask between them lets
          // Raft I/O and clients in, so a snapshot of a large image is a CPU cost, not a stall of
          // every write (one 7 MB image took ~0.7 s to encode in one go on each node at once).
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await sink.commit();
      } catch (err) {
        await sink.abort().catch(() => undefined);
        throw err;
      }
      const discardThrough = Math.max(0, index - this.cfg.snapshotTrailingEntries);
      await new Promise<void>((resolve) =>
        this.enqueueOrRun(() => {
          this.core.compact(index, discardThrough);
          resolve();
        }),
      );
      await this.opts.storage.discardThrough(this.core.status().firstIndex - 1);
      await this.opts.snapshots.pruneBefore(index);
      this.log.info({ index, term: meta.term }, 'snapshot taken');
      return index;
    } finally {
      this.snapshotting = false;
    }
  }

  /** Streams the snapshot named by `m` to its replica, then the Snapshot message itself. */
  private async streamSnapshot(m: Message): Promise<void> {
    const meta = m.snapshot!;
    if (this.outgoingSnapshots.has(m.to)) return;
    this.outgoingSnapshots.add(m.to);
    let ok = false;
    try {
      let seq = 0;
      let pending: Uint8Array | undefined;
      for await (const chunk of this.opts.snapshots.read(meta.index)) {
        if (this.stopped) throw new NodeStoppedError();
        if (pending !== undefined)
          this.opts.transport.send(m.to, { k: 'snap', meta, seq: seq++, data: pending, last: false });
        pending = chunk;
        await this.drained(m.to);
      }
      this.opts.transport.send(m.to, {
        k: 'snap',
        meta,
        seq,
        data: pending ?? new Uint8Array(0),
        last: true,
      });
      this.opts.transport.send(m.to, { k: 'raft', m });
      ok = true;
      this.log.info({ to: m.to, index: meta.index }, 'snapshot sent');
    } catch (err) {
      this.log.warn({ err, to: m.to, index: meta.index }, 'snapshot transfer failed');
      this.opts.transport.send(m.to, { k: 'snap-abort', index: meta.index });
    } finally {
      this.outgoingSnapshots.delete(m.to);
      this.enqueue(() => this.core.reportSnapshot(m.to, ok));
    }
  }

  /** Waits while the transport holds a lot for `to`, so a large snapshot does not overflow its queue. */
  private async drained(to: NodeId): Promise<void> {
    const t = this.opts.transport as { stats?: () => Map<NodeId, { queuedBytes: number }> };
    if (t.stats === undefined) return;
    const limit = this.cfg.snapshotChunkBytes * 4;
    while (!this.stopped && (t.stats().get(to)?.queuedBytes ?? 0) > limit) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async onSnapshotChunk(from: NodeId, f: Extract<RaftFrame, { k: 'snap' }>): Promise<void> {
    let inc = this.incomingSnapshots.get(from);
    if (f.seq === 0) {
      if (inc !== undefined) await inc.sink.abort().catch(() => undefined);
      inc = { meta: f.meta, seq: 0, sink: this.opts.snapshots.create(f.meta) };
      this.incomingSnapshots.set(from, inc);
    } else if (inc === undefined || inc.meta.index !== f.meta.index || inc.seq !== f.seq) {
      // A chunk went missing (a dropped frame or reconnect): give up; the leader offers it again.
      if (inc !== undefined) {
        this.incomingSnapshots.delete(from);
        await inc.sink.abort().catch(() => undefined);
      }
      return;
    }
    inc.seq++;
    try {
      await inc.sink.write(f.data);
      if (f.last) {
        await inc.sink.commit();
        this.incomingSnapshots.delete(from);
        this.receivedSnapshots.set(from, f.meta.index);
      }
    } catch (err) {
      this.log.warn({ err, from, index: f.meta.index }, 'receiving snapshot failed');
      this.incomingSnapshots.delete(from);
      await inc.sink.abort().catch(() => undefined);
    }
  }

  /**
   * Snapshot frames from all senders are handled one at a time, in arrival order, so chunk writes never
   * overlap and a Snapshot message is handled after the chunks sent before it.
   */
  private serializeSnapshotWork(work: () => Promise<void>): void {
    this.snapshotWork = this.snapshotWork
      .then(work)
      .catch((err) => this.log.warn({ err }, 'snapshot receive failed'));
  }

  /** A Snapshot message is stepped only once its bytes are durable here. */
  private async onSnapshotMessage(from: NodeId, m: Message): Promise<void> {
    const index = m.snapshot?.index ?? -1;
    if (this.receivedSnapshots.get(from) === index) {
      this.receivedSnapshots.delete(from);
      this.enqueue(() => this.core.step(m));
    } else {
      this.opts.transport.send(from, {
        k: 'raft',
        m: { type: MessageType.SnapshotResp, from: this.id, to: from, term: m.term, reject: true },
      });
    }
  }
}

function definedOnly(opts: object): Partial<typeof RAFT_DEFAULTS> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(RAFT_DEFAULTS)) {
    const v = (opts as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<typeof RAFT_DEFAULTS>;
}
