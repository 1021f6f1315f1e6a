/**
 * Types shared by the pure Raft core and everything that drives it.
 *
 * The core never does I/O. Each call (`step`, `tick`, `propose`, ...) changes in-memory state only;
 * the caller then takes a {@link Ready} describing what must be persisted, sent and applied, carries
 * it out in the documented order, and acknowledges it with `advance()`.
 */

/** A node id. Positive integers, as Kafka's `node.id`. */
export type NodeId = number;

/** A voting member and the address its quorum listener is reachable at (`host:port`). */
export interface Member {
  readonly id: NodeId;
  readonly address: string;
}

/**
 * The voter set. Observers are not part of it: the leader learns of them when they ask to follow
 * (see `MessageType.ObserverHello`) and forgets them when they fall silent.
 */
export interface Membership {
  readonly voters: readonly Member[];
}

export const EntryKind = {
  /** Application data, handed to the state machine. */
  Normal: 0,
  /** Appended by every new leader; committing it commits everything before it (Raft §5.4.2). */
  NoOp: 1,
  /** A new voter set. It takes effect as soon as it is in the log, committed or not (thesis §4.1). */
  Membership: 2,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  /** Present for `Normal` entries. */
  readonly data?: Uint8Array;
  /** Present for `Membership` entries. */
  readonly membership?: Membership;
}

/** What must be on disk before the core's next messages may leave: currentTerm and votedFor (Figure 2). */
export interface HardState {
  readonly term: number;
  /** 0 when this node has not voted in `term`. */
  readonly vote: NodeId;
  /** Persisted as a hint only; the commit index is recovered from the quorum after a restart. */
  readonly commit: number;
}

/** Describes a snapshot; the bytes travel outside the core. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The voter set as of `index`. */
  readonly membership: Membership;
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
  /** Not in the voter set: replicates the log, never votes or campaigns. */
  Observer: 'observer',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const MessageType = {
  PreVote: 'PreVote',
  PreVoteResp: 'PreVoteResp',
  Vote: 'Vote',
  VoteResp: 'VoteResp',
  Append: 'Append',
  AppendResp: 'AppendResp',
  Heartbeat: 'Heartbeat',
  HeartbeatResp: 'HeartbeatResp',
  /** Leader -> follower: install the snapshot described by `snapshot`; the driver streams its bytes. */
  Snapshot: 'Snapshot',
  /** Follower -> leader: the snapshot was installed (or failed, `reject`). */
  SnapshotResp: 'SnapshotResp',
  /** Leader -> chosen successor: campaign now, ignoring the election timer and leases (thesis §3.10). */
  TimeoutNow: 'TimeoutNow',
  /** Observer -> any voter: "I follow; replicate to me". Non-leaders answer with a leader hint. */
  ObserverHello: 'ObserverHello',
  /** Any voter -> observer: the leader as this voter knows it (0 when unknown). */
  ObserverHelloResp: 'ObserverHelloResp',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One Raft message. A flat record rather than a union keeps the wire encoding uniform; which fields
 * are meaningful depends on `type` (documented per field).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; for PreVote, the term the sender would campaign in. */
  readonly term: number;
  /** Append: index of the entry before `entries`. Vote/PreVote: candidate's last log index. AppendResp: see `reject`. */
  readonly index?: number;
  /** Append: term of the entry at `index`. Vote/PreVote: candidate's last log term. */
  readonly logTerm?: number;
  /** Append: entries to add after `index`. */
  readonly entries?: readonly Entry[];
  /** Append/Heartbeat: the leader's commit index (for heartbeats, capped at the follower's known match). */
  readonly commit?: number;
  /**
   * AppendResp: when false, `index` is the last index now matching the leader's log. When true, `index`
   * echoes the rejected Append's `index`, and `hintIndex`/`hintTerm` locate where to retry (fast backtracking).
   * VoteResp/PreVoteResp/SnapshotResp: the vote was refused / the install failed.
   */
  readonly reject?: boolean;
  readonly hintIndex?: number;
  readonly hintTerm?: number;
  /** Heartbeat/HeartbeatResp: read-index round (0 when the heartbeat is not a read round). */
  readonly context?: number;
  /** Snapshot: what to install. */
  readonly snapshot?: SnapshotMeta;
  /** Vote: part of a leadership transfer, so voters grant it even within a leader lease. */
  readonly transfer?: boolean;
  /** ObserverHelloResp: the leader as the responder knows it (0 when unknown). */
  readonly leader?: NodeId;
  /**
   * Append with no entries sent only to carry the commit index to a replica in replicate state: it
   * needs no AppendResp unless refused (nothing the leader tracks moves; heartbeats keep the replica's
   * contact fresh). Saves two messages per replica and commit under load.
   */
  readonly commitOnly?: boolean;
}

/** A linearizable read may be served once the state machine has applied `index` (Raft thesis §6.4). */
export interface ReadState {
  readonly index: number;
  /** The id the caller gave to `readIndex()`. */
  readonly requestId: number;
}

/** A proposal or read the core had to drop, and why. The driver fails the waiting caller. */
export interface Dropped {
  readonly requestId: number;
  readonly reason:
    | 'not-leader'
    | 'transferring'
    | 'membership-change-pending'
    | 'invalid-membership'
    | 'not-caught-up'
    | 'stepped-down';
  /** The leader, when known, so the caller can redirect. 0 when unknown. */
  readonly leader: NodeId;
}

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
}

/**
 * Everything the core needs done. The driver must:
 *  1. send `messages` (any time, even before step 2: they are the leader's replication traffic, which
 *     is safe to send before the leader's own disk write, thesis §10.2.1);
 *  2. persist `snapshot` (if any), then `entries` (truncating any existing suffix from `entries[0].index`),
 *     then `hardState` (if any), durably (fsync), as one atomic batch where possible;
 *  3. only then send `messagesAfterPersist` (votes and acknowledgements that promise durability);
 *  4. apply `committedEntries` in order (they are committed by a quorum and durable here); if
 *     `snapshot` is set, restore the state machine from it first;
 *  5. call `advance(ready)`.
 * Calling `ready()` again before `advance()` is a programming error.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  /**
   * Whether step 2 needs an fsync: true when there are entries, a snapshot, or a new term or vote.
   * A changed commit index alone is a hint that may be lost (etcd's MustSync).
   */
  readonly mustSync: boolean;
  readonly entries: readonly Entry[];
  readonly snapshot?: SnapshotMeta;
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /**
   * Proposals (by the id given to `propose`) now in the log at `index` in `term`. A proposal succeeded
   * when the entry applied at `index` has `term`; a different term there means it was overwritten.
   */
  readonly accepted: readonly { readonly requestId: number; readonly index: number; readonly term: number }[];
  readonly dropped: readonly Dropped[];
}

/** Per-replica replication state, as the leader sees it. */
export interface ReplicaProgress {
  readonly id: NodeId;
  readonly voter: boolean;
  /** Highest index known to be in the replica's log (its log end offset, as the leader knows it). */
  readonly match: number;
  readonly next: number;
  /** Ticks since the leader last heard from the replica. */
  readonly ticksSinceContact: number;
  /** The replica's last known `match` reached the leader's last index at this tick count. */
  readonly lastCaughtUpTick: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
}

export interface CoreStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly stableIndex: number;
  readonly membership: Membership;
  readonly snapshot: SnapshotMeta;
  /** Present on the leader only. */
  readonly progress?: readonly ReplicaProgress[];
  /** The tick counter (ticks since the core was created). */
  readonly tick: number;
  readonly transferee: NodeId;
}

/** A deterministic source of randomness, injected so a seed replays a run. */
export interface RandomSource {
  /** An integer in [0, bound). */
  int(bound: number): number;
}

export interface CoreConfig {
  readonly id: NodeId;
  /** Election timeout in ticks; the randomized timeout is drawn from [electionTicks, 2*electionTicks). */
  readonly electionTicks: number;
  /** Heartbeat interval in ticks; must be less than electionTicks. */
  readonly heartbeatTicks: number;
  readonly random: RandomSource;
  /** Pre-vote (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Check-quorum: a leader not hearing from a majority within an election timeout steps down. Default true. */
  readonly checkQuorum?: boolean;
  /** Most entries in one Append message. Default 512. */
  readonly maxEntriesPerAppend?: number;
  /** Most bytes of entry data in one Append message. Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Most Append messages in flight to one replica before waiting for acknowledgements. Default 64. */
  readonly maxInflightAppends?: number;
  /**
   * Most bytes of entry data handed to the host to apply in one Ready (at least one entry). Default
   * 1 MiB (etcd's MaxCommittedSizePerReady): the rest comes in the next Readys.
   */
  readonly maxCommittedBytesPerReady?: number;
  /** An observer silent for this many ticks is forgotten by the leader. Default 10 * electionTicks. */
  readonly observerExpiryTicks?: number;
}

/** What the core is started from: the durable state recovered by the driver. */
export interface InitialState {
  readonly hardState: HardState;
  /** The latest snapshot; `index` 0 with the bootstrap voter set when there is none. */
  readonly snapshot: SnapshotMeta;
  /** Durable entries following the snapshot, contiguous from `snapshot.index + 1`. */
  readonly entries: readonly Entry[];
  /** Index of the last entry already applied to the state machine the driver restored. */
  readonly applied: number;
}
