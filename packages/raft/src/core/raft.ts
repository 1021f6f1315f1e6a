import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import {
  type CoreConfig,
  type CoreStatus,
  type Dropped,
  type Entry,
  EntryKind,
  type HardState,
  type InitialState,
  type Membership,
  type Message,
  MessageType,
  type NodeId,
  type ReadState,
  type Ready,
  Role,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

const DEFAULTS = {
  preVote: true,
  checkQuorum: true,
  maxEntriesPerAppend: 512,
  maxBytesPerAppend: 1024 * 1024,
  maxInflightAppends: 64,
  maxCommittedBytesPerReady: 1024 * 1024,
};

/**
 * The longest prefix of `entries` within `maxBytes` of data, and at least one entry: a node catching
 * up applies a long run of committed entries over several Readys, between which the host handles
 * ticks and messages (a leader's heartbeats keep going out).
 */
function firstBytes(entries: readonly Entry[], maxBytes: number): readonly Entry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += entries[i]!.data?.byteLength ?? 0;
    if (bytes > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}

/** A raft invariant was broken: the log or the caller's contract is corrupt. Never caught inside the core. */
export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}

/** The reasons a membership change is refused, returned through `Ready.dropped`. */
interface PendingRead {
  readonly requestId: number;
  readonly index: number;
  /** The heartbeat round whose acknowledgements confirm this read. */
  readonly round: number;
}

/**
 * The Raft state machine (Ongaro's thesis, with pre-vote, check-quorum, read-index, leadership transfer,
 * observers and single-server membership changes). Pure and synchronous: every method only changes
 * memory and queues work that the driver takes through `ready()` (see {@link Ready} for the order).
 *
 * Role transitions:
 * - Follower -> PreCandidate (election timeout, pre-vote on) | Candidate (timeout with pre-vote off, or TimeoutNow)
 * - PreCandidate -> Candidate (majority of pre-votes) | Follower (a leader or higher term appears)
 * - Candidate -> Leader (majority of votes) | Follower (a leader or higher term appears)
 * - Leader -> Follower (higher term, or check-quorum fails, or removed from the voter set once committed)
 * - any -> Observer (the voter set in the log no longer lists this node); Observer -> Follower (listed again)
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly cfg: Required<Omit<CoreConfig, 'random'>> & Pick<CoreConfig, 'random'>;

  private term: number;
  private vote: NodeId;
  private leader: NodeId = 0;
  private role: Role = Role.Follower;
  private readonly log: RaftLog;
  private commit: number;
  /** Invariant: applied <= commit; advanced when the driver acknowledges applying a Ready. */
  private applied: number;

  private tickCount = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;

  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  /** The leader's term has a committed entry (its no-op), so commit and read-index are trustworthy. */
  private committedInTerm = false;
  private transferee: NodeId = 0;
  private transferElapsed = 0;

  private pendingReads: PendingRead[] = [];
  /** Reads asked before this leader committed an entry of its term; they join a round once it has. */
  private deferredReads: number[] = [];
  private readRound = 0;
  private readRoundToSend = 0;
  private readAcks = new Map<NodeId, number>();
  /** New leader entries not yet offered to the replicas (flushed by ready()). */
  private broadcastPending = false;

  // Output queues, drained by ready().
  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private accepted: { requestId: number; index: number; term: number }[] = [];
  private dropped: Dropped[] = [];
  private pendingSnapshot: SnapshotMeta | undefined;

  private prevSoft: SoftState;
  private prevHard: HardState;
  /** Set between ready() and advance(). */
  private inFlight: Ready | undefined;

  constructor(config: CoreConfig, initial: InitialState) {
    if (config.id <= 0 || !Number.isInteger(config.id))
      throw new RaftInvariantError(`invalid node id ${config.id}`);
    if (config.heartbeatTicks >= config.electionTicks) {
      throw new RaftInvariantError('heartbeatTicks must be less than electionTicks');
    }
    this.id = config.id;
    this.cfg = {
      ...DEFAULTS,
      observerExpiryTicks: config.electionTicks * 10,
      ...config,
    } as RaftCore['cfg'];
    this.log = new RaftLog(initial.snapshot, initial.entries);
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.commit = Math.min(Math.max(initial.hardState.commit, initial.snapshot.index), this.log.lastIndex());
    this.applied = Math.max(initial.applied, initial.snapshot.index);
    if (this.applied > this.commit) this.commit = this.applied;
    this.prevHard = { term: this.term, vote: this.vote, commit: this.commit };
    this.role = this.isVoter(this.id) ? Role.Follower : Role.Observer;
    this.resetElectionTimer();
    this.prevSoft = this.softState();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.assertNotInFlight('tick');
    this.tickCount++;
    switch (this.role) {
      case Role.Leader:
        this.tickLeader();
        break;
      case Role.Observer:
        this.tickObserver();
        break;
      default:
        this.tickElection();
    }
  }

  propose(requestId: number, data: Uint8Array): void {
    this.assertNotInFlight('propose');
    if (this.role !== Role.Leader) {
      this.dropped.push({ requestId, reason: 'not-leader', leader: this.leader });
      return;
    }
    if (this.transferee !== 0) {
      this.dropped.push({ requestId, reason: 'transferring', leader: this.leader });
      return;
    }
    const index = this.appendAsLeader([{ kind: EntryKind.Normal, data }]);
    this.accepted.push({ requestId, index, term: this.term });
  }

  /**
   * Proposes a new voter set differing from the current one by exactly one voter (thesis §4.1).
   * Refused while another change is uncommitted, before the leader has committed an entry of its
   * term (the fix to the single-server change bug), or when a new voter has not caught up.
   */
  proposeMembership(requestId: number, membership: Membership): void {
    this.assertNotInFlight('proposeMembership');
    const refuse = (reason: Dropped['reason']) =>
      this.dropped.push({ requestId, reason, leader: this.leader });
    if (this.role !== Role.Leader) return void refuse('not-leader');
    if (this.transferee !== 0) return void refuse('transferring');
    const current = this.log.membership();
    if (current.index > this.commit || !this.committedInTerm) return void refuse('membership-change-pending');
    const before = new Set(current.membership.voters.map((m) => m.id));
    const after = new Set(membership.voters.map((m) => m.id));
    if (after.size !== membership.voters.length || after.size === 0) return void refuse('invalid-membership');
    const added = [...after].filter((id) => !before.has(id));
    const removed = [...before].filter((id) => !after.has(id));
    if (added.length + removed.length > 1) return void refuse('invalid-membership');
    for (const id of added) {
      const pr = this.progress.get(id);
      if (pr === undefined || !this.caughtUp(pr)) return void refuse('not-caught-up');
    }
    const index = this.appendAsLeader([{ kind: EntryKind.Membership, membership }]);
    this.accepted.push({ requestId, index, term: this.term });
  }

  /** Asks for a linearizable read point (thesis §6.4); answered through `Ready.readStates`. */
  readIndex(requestId: number): void {
    this.assertNotInFlight('readIndex');
    if (this.role !== Role.Leader) {
      this.dropped.push({ requestId, reason: 'not-leader', leader: this.leader });
      return;
    }
    if (!this.committedInTerm) {
      this.deferredReads.push(requestId);
      return;
    }
    this.startRead(requestId);
  }

  transferLeadership(to: NodeId): void {
    this.assertNotInFlight('transferLeadership');
    if (this.role !== Role.Leader || to === this.id || !this.isVoter(to)) return;
    if (this.transferee === to) return;
    this.transferee = to;
    this.transferElapsed = 0;
    const pr = this.progress.get(to);
    if (pr === undefined) return;
    if (pr.match === this.log.lastIndex()) this.send({ type: MessageType.TimeoutNow, to, term: this.term });
    else this.sendAppend(to);
  }

  /** The transport could not deliver a snapshot (`ok` false) or finished streaming it (`ok` true). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.assertNotInFlight('reportSnapshot');
    const pr = this.progress.get(to);
    if (this.role !== Role.Leader || pr === undefined || pr.state !== 'snapshot') return;
    // On success, wait in probe for the replica's acknowledgement; on failure, retry after a heartbeat.
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.probeSent = true;
  }

  /** Describes a snapshot of the state machine as of applied `index`, without changing anything. */
  snapshotMeta(index: number): SnapshotMeta {
    if (index > this.applied)
      throw new RaftInvariantError(`snapshot at ${index} beyond applied ${this.applied}`);
    const term = this.log.term(index);
    if (term === undefined) throw new RaftInvariantError(`snapshot at ${index}: entry already discarded`);
    return { index, term, membership: this.log.membershipAt(index) };
  }

  /**
   * Records a state-machine snapshot taken at `index` (<= applied; the driver has made it durable)
   * and discards the log through `discardThrough` (default: `index`); entries kept after it serve
   * slow followers without a snapshot. Returns the snapshot's meta.
   */
  compact(index: number, discardThrough: number = index): SnapshotMeta {
    this.assertNotInFlight('compact');
    if (index <= this.log.snapshot.index) return this.log.snapshot;
    const meta = this.snapshotMeta(index);
    this.log.compact(meta, discardThrough);
    return meta;
  }

  step(m: Message): void {
    this.assertNotInFlight('step');
    if (m.to !== this.id || m.from === this.id) return;
    // Observer hellos are term-agnostic: a fresh observer knows no term yet.
    if (m.type === MessageType.ObserverHello) {
      this.handleObserverHello(m);
      return;
    }
    if (m.type === MessageType.ObserverHelloResp) {
      this.handleObserverHelloResp(m);
      return;
    }

    if (m.term > this.term) {
      if (m.type === MessageType.PreVote || m.type === MessageType.Vote) {
        // A node that heard from a leader within the election timeout ignores campaigns, so a node
        // partitioned away and back cannot depose a healthy leader (thesis §4.2.3, §9.6).
        const inLease =
          this.cfg.checkQuorum && this.leader !== 0 && this.electionElapsed < this.cfg.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === MessageType.PreVote) {
        // Pre-votes never change our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the pre-candidate bumps its term only on a majority.
      } else {
        const fromLeader =
          m.type === MessageType.Append ||
          m.type === MessageType.Heartbeat ||
          m.type === MessageType.Snapshot;
        this.becomeFollower(m.term, fromLeader ? m.from : 0);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Append || m.type === MessageType.Heartbeat)
      ) {
        // A stale leader whose term lags (e.g. it was partitioned while we moved on through pre-vote,
        // which does not bump its term) learns of the newer term from this and steps down.
        this.send({
          type: MessageType.AppendResp,
          to: m.from,
          term: this.term,
          index: m.index ?? 0,
          reject: true,
        });
      } else if (m.type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case MessageType.PreVote:
      case MessageType.Vote:
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }

    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      default:
        this.stepFollower(m);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  hasReady(): boolean {
    if (this.inFlight !== undefined) return false;
    if (this.readRoundToSend !== 0 || this.broadcastPending) return true;
    return (
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.log.lastIndex() > this.log.stableIndex ||
      this.pendingSnapshot !== undefined ||
      this.readStates.length > 0 ||
      this.accepted.length > 0 ||
      this.dropped.length > 0 ||
      this.applicableIndex() > this.applied ||
      !sameHard(this.hardState(), this.prevHard) ||
      !sameSoft(this.softState(), this.prevSoft)
    );
  }

  /** Whether committed, locally durable entries wait to be applied (more than the last Ready carried). */
  hasEntriesToApply(): boolean {
    return this.applicableIndex() > this.applied;
  }

  ready(): Ready {
    this.assertNotInFlight('ready');
    if (this.broadcastPending) {
      this.broadcastPending = false;
      if (this.role === Role.Leader) this.broadcastAppend();
    }
    if (this.readRoundToSend !== 0) {
      this.broadcastHeartbeat(this.readRoundToSend);
      this.readRoundToSend = 0;
    }
    const hard = this.hardState();
    const soft = this.softState();
    const applyTo = this.applicableIndex();
    // After a snapshot install, application resumes right after the snapshot.
    const applyFrom = Math.max(this.applied, this.pendingSnapshot?.index ?? 0) + 1;
    const entries =
      this.log.lastIndex() > this.log.stableIndex
        ? this.log.slice(this.log.stableIndex + 1, this.log.lastIndex() + 1)
        : [];
    const rd: Ready = {
      softState: sameSoft(soft, this.prevSoft) ? undefined : soft,
      hardState: sameHard(hard, this.prevHard) ? undefined : hard,
      mustSync:
        entries.length > 0 ||
        this.pendingSnapshot !== undefined ||
        hard.term !== this.prevHard.term ||
        hard.vote !== this.prevHard.vote,
      entries,
      snapshot: this.pendingSnapshot,
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterPersist,
      committedEntries:
        applyTo >= applyFrom
          ? firstBytes(this.log.slice(applyFrom, applyTo + 1), this.cfg.maxCommittedBytesPerReady)
          : [],
      readStates: this.readStates,
      accepted: this.accepted,
      dropped: this.dropped,
    };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    this.accepted = [];
    this.dropped = [];
    this.pendingSnapshot = undefined;
    this.inFlight = rd;
    return rd;
  }

  advance(rd: Ready): void {
    if (this.inFlight !== rd)
      throw new RaftInvariantError('advance() with a Ready that is not the outstanding one');
    this.inFlight = undefined;
    if (rd.softState !== undefined) this.prevSoft = rd.softState;
    if (rd.hardState !== undefined) this.prevHard = rd.hardState;
    if (rd.snapshot !== undefined) this.applied = Math.max(this.applied, rd.snapshot.index);
    const lastPersisted = rd.entries[rd.entries.length - 1];
    // Entries truncated meanwhile cannot happen (no step between ready and advance), so the persisted
    // batch is exactly what is now durable.
    if (lastPersisted !== undefined)
      this.log.stableIndex = Math.max(this.log.stableIndex, lastPersisted.index);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) this.applied = lastApplied.index;
    if (this.role === Role.Leader) {
      // The leader counts its own log as matched only once durable (etcd #14370: acknowledging
      // entries a single node had not synced lost writes on crash).
      const self = this.progress.get(this.id);
      if (self?.maybeUpdate(this.log.stableIndex) && this.maybeCommit()) this.broadcastAppend();
      this.maybeStepDownAfterRemoval();
    }
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      stableIndex: this.log.stableIndex,
      membership: this.log.membership().membership,
      snapshot: this.log.snapshot,
      tick: this.tickCount,
      transferee: this.transferee,
      progress:
        this.role === Role.Leader
          ? [...this.progress.values()].map((p) => ({
              id: p.id,
              voter: p.voter,
              match: p.match,
              next: p.next,
              ticksSinceContact: p.id === this.id ? 0 : this.tickCount - p.lastContactTick,
              lastCaughtUpTick: p.id === this.id ? this.tickCount : p.lastCaughtUpTick,
              state: p.state,
            }))
          : undefined,
    };
  }

  /** Entry at `index`, if still in memory (used by drivers for read-your-writes checks and tests). */
  entry(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private becomeFollower(term: number, leader: NodeId): void {
    const wasLeader = this.role === Role.Leader;
    if (term !== this.term) {
      this.term = term;
      this.vote = 0;
    }
    this.leader = leader;
    this.role = this.isVoter(this.id) ? Role.Follower : Role.Observer;
    this.resetElectionTimer();
    if (wasLeader) this.abandonLeadership();
  }

  private becomePreCandidate(): void {
    // Neither term nor vote changes: a pre-vote that fails leaves no trace (thesis §9.6).
    this.role = Role.PreCandidate;
    this.leader = 0;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer();
  }

  private becomeCandidate(): void {
    this.term++;
    this.vote = this.id;
    this.role = Role.Candidate;
    this.leader = 0;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer();
  }

  private becomeLeader(): void {
    this.role = Role.Leader;
    this.leader = this.id;
    this.committedInTerm = false;
    this.transferee = 0;
    this.heartbeatElapsed = 0;
    this.electionElapsed = 0;
    const next = this.log.lastIndex() + 1;
    const old = this.progress;
    this.progress = new Map();
    for (const m of this.voters()) {
      this.progress.set(m.id, this.newProgress(m.id, true, next));
    }
    // Keep replicating to observers a previous leadership of ours knew about; others will say hello.
    for (const [id, pr] of old) {
      if (!this.progress.has(id) && !pr.voter) this.progress.set(id, this.newProgress(id, false, next));
    }
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.stableIndex;
      self.next = next;
    }
    this.readAcks = new Map();
    // Committing an entry of the new term commits every earlier one (§5.4.2) and unlocks reads and
    // membership changes.
    this.appendAsLeader([{ kind: EntryKind.NoOp }]);
  }

  private abandonLeadership(): void {
    this.progress = new Map();
    this.transferee = 0;
    this.committedInTerm = false;
    for (const r of this.pendingReads)
      this.dropped.push({ requestId: r.requestId, reason: 'stepped-down', leader: this.leader });
    for (const requestId of this.deferredReads)
      this.dropped.push({ requestId, reason: 'stepped-down', leader: this.leader });
    this.pendingReads = [];
    this.deferredReads = [];
    this.readRoundToSend = 0;
  }

  private campaign(preVote: boolean, transfer: boolean): void {
    if (!this.isVoter(this.id)) return;
    if (preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const type = preVote ? MessageType.PreVote : MessageType.Vote;
    const term = preVote ? this.term + 1 : this.term;
    if (this.tallyWins()) {
      if (preVote) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    for (const m of this.voters()) {
      if (m.id === this.id) continue;
      const msg: Message = {
        type,
        from: this.id,
        to: m.id,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        ...(transfer ? { transfer: true } : {}),
      };
      // A vote request promises our own durable vote (candidate) — it must wait for the persist.
      if (preVote) this.msgs.push(msg);
      else this.msgsAfterPersist.push(msg);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  private tickElection(): void {
    this.electionElapsed++;
    // The only voter needs nobody's vote: waiting out an election timeout would only delay startup.
    if (
      this.role === Role.Follower &&
      this.leader === 0 &&
      this.voters().length === 1 &&
      this.isVoter(this.id)
    ) {
      this.campaign(this.cfg.preVote, false);
      return;
    }
    if (this.electionElapsed >= this.randomizedElectionTicks && this.isVoter(this.id)) {
      this.campaign(this.cfg.preVote, false);
    }
  }

  private tickObserver(): void {
    this.electionElapsed++;
    // Ask to be replicated to whenever the leader has been silent for an election timeout.
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      this.leader = 0;
      for (const m of this.voters()) {
        if (m.id !== this.id) this.send({ type: MessageType.ObserverHello, to: m.id, term: this.term });
      }
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.transferee !== 0 && ++this.transferElapsed >= this.cfg.electionTicks) {
      // The transfer did not complete within an election timeout: accept proposals again.
      this.transferee = 0;
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, 0);
        return;
      }
      this.expireObservers();
      for (const pr of this.progress.values()) pr.recentActive = pr.id === this.id;
    }
    for (const pr of this.progress.values()) {
      // A snapshot that never got an answer (lost, or the replica restarted) is offered again.
      if (pr.state === 'snapshot' && this.tickCount - pr.snapshotSentTick >= this.cfg.electionTicks * 5) {
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(0);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Message handling

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    // We may vote for m.from if we already did in this term, or have voted for nobody and know no leader
    // in this term; a pre-vote for a future term is always a candidate for a grant.
    const canVote =
      this.vote === m.from || (this.vote === 0 && this.leader === 0) || (pre && m.term > this.term);
    const upToDate =
      (m.logTerm ?? 0) > this.log.lastTerm() ||
      ((m.logTerm ?? 0) === this.log.lastTerm() && (m.index ?? 0) >= this.log.lastIndex());
    if (canVote && upToDate) {
      // Observers answer too: they may be voters in a configuration they have not seen yet, and the
      // candidate counts only the voters of its own configuration.
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.msgsAfterPersist.push({ type: respType, from: this.id, to: m.from, term: m.term });
    } else {
      this.msgsAfterPersist.push({
        type: respType,
        from: this.id,
        to: m.from,
        term: this.term,
        reject: true,
      });
    }
  }

  private handleObserverHello(m: Message): void {
    if (this.role !== Role.Leader) {
      this.send({ type: MessageType.ObserverHelloResp, to: m.from, term: this.term, leader: this.leader });
      return;
    }
    let pr = this.progress.get(m.from);
    if (pr === undefined) {
      pr = this.newProgress(m.from, false, this.log.lastIndex() + 1);
      this.progress.set(m.from, pr);
    }
    pr.recentActive = true;
    pr.lastContactTick = this.tickCount;
    if (pr.state === 'probe') pr.probeSent = false;
    this.sendAppend(m.from);
  }

  private handleObserverHelloResp(m: Message): void {
    if (this.role === Role.Observer && m.leader !== undefined && m.leader !== 0 && m.leader !== m.from) {
      this.send({ type: MessageType.ObserverHello, to: m.leader, term: this.term });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppendResp: {
        pr.recentActive = true;
        pr.lastContactTick = this.tickCount;
        if (m.reject) {
          const hint =
            m.hintTerm !== undefined && m.hintIndex !== undefined
              ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm)
              : (m.hintIndex ?? (m.index ?? 1) - 1);
          if (pr.maybeDecrTo(m.index ?? 0, hint)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const index = m.index ?? 0;
        const updated = pr.maybeUpdate(index);
        if (pr.match >= this.log.lastIndex()) pr.lastCaughtUpTick = this.tickCount;
        // A probe answered at our match also proves where the logs agree (etcd: Match == m.Index).
        const settled =
          (pr.state === 'probe' && pr.match === index) ||
          (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot);
        if (!updated && !settled) return;
        if (pr.state !== 'replicate') pr.becomeReplicate();
        if (this.maybeCommit()) this.broadcastAppend();
        // Keep the pipeline full while the window has room.
        while (pr.next <= this.log.lastIndex() && !pr.isPaused()) {
          if (!this.sendAppend(m.from)) break;
        }
        if (m.from === this.transferee && pr.match === this.log.lastIndex()) {
          this.send({ type: MessageType.TimeoutNow, to: m.from, term: this.term });
        }
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.lastContactTick = this.tickCount;
        pr.onHeartbeatResponse();
        // Force an Append even when everything was sent: pipelined Appends may have been lost (the
        // replica restarted), and only an Append at `next - 1` makes the replica confirm or reject.
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
        else pr.lastCaughtUpTick = this.tickCount;
        if ((m.context ?? 0) > 0 && pr.voter) this.ackReadRound(m.from, m.context ?? 0);
        return;
      }
      case MessageType.SnapshotResp: {
        pr.recentActive = true;
        pr.lastContactTick = this.tickCount;
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        return;
      }
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        // A leader exists in our term: we lost (same term: our own term; pre-candidates never bumped it).
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        if ((m.type === MessageType.PreVoteResp) !== (this.role === Role.PreCandidate)) return;
        this.votes.set(m.from, !m.reject);
        if (this.tallyWins()) {
          if (this.role === Role.PreCandidate) this.campaign(false, false);
          else this.becomeLeader();
        } else if (this.tallyLost()) {
          this.becomeFollower(this.term, 0);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leader = m.from;
        // The heartbeat's commit is capped at what the leader knows we hold, so it is within our log.
        this.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()));
        this.send({ type: MessageType.HeartbeatResp, to: m.from, term: this.term, context: m.context ?? 0 });
        return;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        if (this.role === Role.Follower) this.campaign(false, true);
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    const prevIndex = m.index ?? 0;
    const prevTerm = m.logTerm ?? 0;
    const entries = m.entries ?? [];
    if (prevIndex < this.commit) {
      // Everything up to our commit index matches the leader's log already.
      if (m.commitOnly === true) return;
      this.msgsAfterPersist.push({
        type: MessageType.AppendResp,
        from: this.id,
        to: m.from,
        term: this.term,
        index: this.commit,
      });
      return;
    }
    if (this.log.matchTerm(prevIndex, prevTerm)) {
      const lastNew = prevIndex + entries.length;
      let k = 0;
      // Skip entries we already hold; truncate from the first conflict (Figure 2, receiver rule 3).
      for (; k < entries.length; k++) {
        const e = entries[k]!;
        const t = this.log.term(e.index);
        if (t === undefined) break;
        if (t !== e.term) {
          if (e.index <= this.commit) {
            throw new RaftInvariantError(
              `entry ${e.index} conflicts with the committed log (commit ${this.commit})`,
            );
          }
          this.log.truncateFrom(e.index);
          this.onMembershipMaybeChanged();
          break;
        }
      }
      if (k < entries.length) {
        this.log.append(entries.slice(k));
        this.onMembershipMaybeChanged();
      }
      this.commitTo(Math.min(m.commit ?? 0, lastNew));
      if (m.commitOnly === true && entries.length === 0) return;
      this.msgsAfterPersist.push({
        type: MessageType.AppendResp,
        from: this.id,
        to: m.from,
        term: this.term,
        index: lastNew,
      });
      return;
    }
    const hintIndex = this.log.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), prevTerm);
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.msgsAfterPersist.push({
      type: MessageType.AppendResp,
      from: this.id,
      to: m.from,
      term: this.term,
      index: prevIndex,
      reject: true,
      hintIndex,
      hintTerm,
    });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    const reply = (index: number) =>
      this.msgsAfterPersist.push({
        type: MessageType.AppendResp,
        from: this.id,
        to: m.from,
        term: this.term,
        index,
      });
    if (snap.index <= this.commit) {
      reply(this.commit);
      return;
    }
    if (this.log.matchTerm(snap.index, snap.term)) {
      // We hold the snapshot's last entry: just fast-forward the commit index (etcd does the same).
      this.commitTo(snap.index);
      reply(snap.index);
      return;
    }
    this.log.restore(snap);
    this.commit = snap.index;
    this.pendingSnapshot = snap;
    this.onMembershipMaybeChanged();
    reply(snap.index);
  }

  // ---------------------------------------------------------------------------------------------
  // Leader helpers

  private appendAsLeader(
    entries: { kind: Entry['kind']; data?: Uint8Array; membership?: Membership }[],
  ): number {
    let index = this.log.lastIndex();
    const full: Entry[] = entries.map((e) => {
      index++;
      return { index, term: this.term, ...e };
    });
    this.log.append(full);
    if (full.some((e) => e.kind === EntryKind.Membership)) this.onMembershipMaybeChanged();
    // Proposals made before the next ready() leave in one Append per replica.
    this.broadcastPending = true;
    return index;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.sendAppend(id);
    }
  }

  private broadcastHeartbeat(context: number): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      this.send({
        type: MessageType.Heartbeat,
        to: pr.id,
        term: this.term,
        commit: Math.min(pr.match, this.commit),
        context,
      });
    }
  }

  /**
   * Sends what `to` is missing: entries, or the snapshot if they are discarded. An Append with no
   * entries goes out only to probe or to carry a commit index the replica has not been sent.
   */
  private sendAppend(to: NodeId, force = false): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) {
      const snap = this.log.snapshot;
      pr.becomeSnapshot(snap.index, this.tickCount);
      this.send({ type: MessageType.Snapshot, to, term: this.term, snapshot: snap });
      return true;
    }
    const entries = this.log.slice(
      pr.next,
      this.log.lastIndex() + 1,
      this.cfg.maxEntriesPerAppend,
      this.cfg.maxBytesPerAppend,
    );
    if (entries.length === 0 && !force && pr.state !== 'probe' && pr.sentCommit >= this.commit) return false;
    this.send({
      type: MessageType.Append,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.commit,
      ...(entries.length === 0 && !force && pr.state === 'replicate' ? { commitOnly: true } : {}),
    });
    pr.sentCommit = this.commit;
    const last = entries[entries.length - 1];
    pr.sent(last === undefined ? prevIndex : last.index, entries.length);
    return true;
  }

  /** Advances the commit index to the highest index stored on a quorum of voters, if from this term. */
  private maybeCommit(): boolean {
    const voters = this.voters();
    const matches = voters.map((m) => this.progress.get(m.id)?.match ?? 0).sort((a, b) => b - a);
    const quorumIndex = matches[Math.floor(voters.length / 2)] ?? 0;
    // Only entries of the current term are committed by counting replicas (§5.4.2, Figure 8).
    if (quorumIndex > this.commit && this.log.term(quorumIndex) === this.term) {
      this.commitTo(quorumIndex);
      if (!this.committedInTerm) {
        this.committedInTerm = true;
        const deferred = this.deferredReads;
        this.deferredReads = [];
        for (const requestId of deferred) this.startRead(requestId);
      }
      this.maybeStepDownAfterRemoval();
      return true;
    }
    return false;
  }

  private startRead(requestId: number): void {
    if (this.voters().length === 1 && this.isVoter(this.id)) {
      this.readStates.push({ index: this.commit, requestId });
      return;
    }
    // All reads gathered until the next ready() share one heartbeat round.
    if (this.readRoundToSend === 0) this.readRoundToSend = ++this.readRound;
    this.pendingReads.push({ requestId, index: this.commit, round: this.readRoundToSend });
  }

  private ackReadRound(from: NodeId, round: number): void {
    const prev = this.readAcks.get(from) ?? 0;
    if (round > prev) this.readAcks.set(from, round);
    // A round is confirmed once a quorum (us included) answered it or a later round.
    const voters = this.voters();
    const acked = voters
      .map((v) => (v.id === this.id ? Number.POSITIVE_INFINITY : (this.readAcks.get(v.id) ?? 0)))
      .sort((a, b) => b - a);
    const confirmed = acked[Math.floor(voters.length / 2)] ?? 0;
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.round <= confirmed) {
      const r = this.pendingReads.shift()!;
      this.readStates.push({ index: r.index, requestId: r.requestId });
    }
  }

  private quorumActive(): boolean {
    const voters = this.voters();
    let active = 0;
    for (const v of voters) {
      const pr = this.progress.get(v.id);
      if (v.id === this.id || pr?.recentActive) active++;
    }
    return active > voters.length / 2;
  }

  private expireObservers(): void {
    for (const [id, pr] of this.progress) {
      if (!pr.voter && this.tickCount - pr.lastContactTick > this.cfg.observerExpiryTicks)
        this.progress.delete(id);
    }
  }

  /** A new voter must be close behind before it counts toward quorums (thesis §4.2.1). */
  private caughtUp(pr: Progress): boolean {
    return (
      this.log.lastIndex() - pr.match <= this.cfg.maxEntriesPerAppend &&
      this.tickCount - pr.lastContactTick < this.cfg.electionTicks
    );
  }

  /** A leader removed from the voter set steps down once that change is committed (thesis §4.2.2). */
  private maybeStepDownAfterRemoval(): void {
    if (this.role !== Role.Leader || this.isVoter(this.id)) return;
    if (this.log.membership().index <= this.commit) this.becomeFollower(this.term, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Shared helpers

  private onMembershipMaybeChanged(): void {
    const voter = this.isVoter(this.id);
    if (!voter && this.role !== Role.Leader && this.role !== Role.Observer) this.role = Role.Observer;
    else if (voter && this.role === Role.Observer) {
      this.role = Role.Follower;
      this.resetElectionTimer();
    }
    if (this.role !== Role.Leader) return;
    const ids = new Set(this.voters().map((m) => m.id));
    for (const id of ids) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(id, true, this.log.lastIndex() + 1));
      else pr.voter = true;
    }
    // A removed voter stays a (non-voting) replica: it must receive the entry that removes it, or it
    // keeps campaigning under the old voter set. It is forgotten like any silent observer.
    for (const pr of this.progress.values()) {
      if (!ids.has(pr.id)) pr.voter = false;
    }
    // The quorum may be smaller now.
    this.maybeCommit();
  }

  private commitTo(index: number): void {
    if (index > this.commit) {
      if (index > this.log.lastIndex()) {
        throw new RaftInvariantError(
          `commit ${index} beyond the last index ${this.log.lastIndex()}: was the log lost?`,
        );
      }
      this.commit = index;
    }
  }

  /** Entries are applied once committed and durable here. */
  private applicableIndex(): number {
    return Math.min(this.commit, this.log.stableIndex);
  }

  private newProgress(id: NodeId, voter: boolean, next: number): Progress {
    return new Progress(id, voter, Math.max(1, next), this.tickCount, this.cfg.maxInflightAppends);
  }

  private voters(): readonly { id: NodeId; address: string }[] {
    return this.log.membership().membership.voters;
  }

  private isVoter(id: NodeId): boolean {
    return this.voters().some((m) => m.id === id);
  }

  private tallyWins(): boolean {
    let granted = 0;
    const voters = this.voters();
    for (const v of voters) if (this.votes.get(v.id) === true) granted++;
    return granted > voters.length / 2;
  }

  private tallyLost(): boolean {
    let refused = 0;
    const voters = this.voters();
    for (const v of voters) if (this.votes.get(v.id) === false) refused++;
    // Lost once the grants still possible cannot reach a majority.
    return refused > voters.length - (Math.floor(voters.length / 2) + 1);
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTicks = this.cfg.electionTicks + this.cfg.random.int(this.cfg.electionTicks);
  }

  private send(m: Omit<Message, 'from'>): void {
    this.msgs.push({ ...m, from: this.id } as Message);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  private assertNotInFlight(op: string): void {
    if (this.inFlight !== undefined) throw new RaftInvariantError(`${op}() between ready() and advance()`);
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}
