import { type Entry, type HardState, type NodeId, Role, type SnapshotMeta } from '../core/types.js';
import { bytesEqual, deepEqual, LogStateMachine, type SimStateMachine } from './state-machine.js';
import type { EntryLog } from './storage.js';

/** A client proposal as the harness tracks it, from submission to its outcome. */
export interface ProposalRecord {
  readonly id: number;
  /** The node it was submitted to. */
  readonly node: NodeId;
  readonly issuedAt: number;
  readonly data?: Uint8Array;
  readonly membership?: { readonly voters: readonly { readonly id: NodeId; readonly address: string }[] };
  /**
   * pending: not yet answered; accepted: in the leader's log at (index, term); acked: the proposing node
   * applied (index, term), exactly when a real driver answers the client; failed: a different entry was
   * applied at `index`; dropped: the core refused it; unknown: the node crashed or skipped the index by
   * installing a snapshot, so the client never learns the outcome.
   */
  state: 'pending' | 'accepted' | 'acked' | 'failed' | 'dropped' | 'unknown';
  index?: number;
  term?: number;
  ackedAt?: number;
  reason?: string;
}

/** A linearizable read (read-index) as the harness tracks it. */
export interface ReadRecord {
  readonly id: number;
  readonly node: NodeId;
  readonly issuedAt: number;
  /** The highest index of any proposal acknowledged before the read was issued. */
  readonly mustSee: number;
  state: 'pending' | 'ready' | 'served' | 'dropped' | 'unknown';
  /** The read index the core released. */
  index?: number;
  /** The node's applied index when the read was served: what the read observed. */
  observed?: number;
}

/**
 * What the harness reports to the invariants, in the order it happens. Where an observation describes a
 * change, it is dispatched *before* the harness's view of the node (its mirror log, commit, applied) is
 * updated, so an invariant can compare old and new.
 */
export type Observation =
  | { readonly type: 'restart'; readonly node: NodeId; readonly commit: number; readonly applied: number }
  | { readonly type: 'crash'; readonly node: NodeId }
  /** The core replaced its log by the leader's snapshot (Ready.snapshot). */
  | { readonly type: 'installSnapshot'; readonly node: NodeId; readonly meta: SnapshotMeta }
  /** The core's in-memory log gained `entries`, replacing any suffix from `entries[0].index`. */
  | { readonly type: 'append'; readonly node: NodeId; readonly entries: readonly Entry[] }
  | {
      readonly type: 'hardState';
      readonly node: NodeId;
      readonly prev: HardState;
      readonly hardState: HardState;
    }
  /** The core reports `entries` committed; `term` is the node's current term at that moment. */
  | {
      readonly type: 'committed';
      readonly node: NodeId;
      readonly entries: readonly Entry[];
      readonly term: number;
    }
  | {
      readonly type: 'role';
      readonly node: NodeId;
      readonly role: Role;
      readonly term: number;
      readonly leader: NodeId;
    }
  /** The harness has mirrored one whole Ready (log, commit, role). */
  | { readonly type: 'readyDone'; readonly node: NodeId }
  /** A persist completed: `hardState` is now what the node's disk holds. */
  | {
      readonly type: 'persisted';
      readonly node: NodeId;
      readonly prev: HardState;
      readonly hardState: HardState;
    }
  /** The state machine was restored from a snapshot. */
  | {
      readonly type: 'restored';
      readonly node: NodeId;
      readonly meta: SnapshotMeta;
      readonly appliedBefore: number;
    }
  | {
      readonly type: 'applied';
      readonly node: NodeId;
      readonly entries: readonly Entry[];
      readonly appliedBefore: number;
    }
  | { readonly type: 'ack'; readonly node: NodeId; readonly proposal: ProposalRecord; readonly entry: Entry }
  | { readonly type: 'read'; readonly node: NodeId; readonly read: ReadRecord };

/** A node as the invariants see it. */
export interface NodeView {
  readonly id: NodeId;
  readonly up: boolean;
  readonly role: Role;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  /** The harness's mirror of the core's in-memory log. */
  readonly log: EntryLog;
  readonly sm: SimStateMachine | undefined;
}

export interface World {
  readonly seed: number;
  nodeViews(): readonly NodeView[];
  nodeView(id: NodeId): NodeView | undefined;
  /** The entry first applied at `index` by any node (all later applications must equal it). */
  appliedEntry(index: number): Entry | undefined;
}

/** What the end-of-run checks get: the voter set every node had to converge on. */
export interface FinalState {
  readonly voters: readonly NodeId[];
}

/**
 * A named safety property. `observe` runs on every observation (so after every event) and `final` once
 * the liveness phase has converged; each returns a failure description, or undefined when the property
 * holds. Instances carry history, so create a fresh set per run.
 */
export interface Invariant {
  readonly name: string;
  observe?(o: Observation, world: World): string | undefined;
  final?(world: World, state: FinalState): string | undefined;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.kind !== b.kind) return false;
  if (!bytesEqual(a.data, b.data)) return false;
  if ((a.membership === undefined) !== (b.membership === undefined)) return false;
  return a.membership === undefined || deepEqual(a.membership, b.membership);
}

export function describeEntry(e: Entry | undefined): string {
  if (e === undefined) return '(none)';
  const body =
    e.data !== undefined
      ? JSON.stringify(Buffer.from(e.data).toString('latin1').slice(0, 40))
      : e.membership !== undefined
        ? `voters[${e.membership.voters.map((m) => m.id).join(',')}]`
        : 'noop';
  return `${e.index}/t${e.term}:${body}`;
}

/** Election safety (Figure 3): at most one leader per term, over the whole history. */
export function atMostOneLeaderPerTerm(): Invariant {
  const leaders = new Map<number, NodeId>();
  return {
    name: 'AtMostOneLeaderPerTerm',
    observe(o) {
      if (o.type !== 'role' || o.role !== Role.Leader) return undefined;
      const prev = leaders.get(o.term);
      if (prev !== undefined && prev !== o.node)
        return `nodes ${prev} and ${o.node} were both leader in term ${o.term}`;
      leaders.set(o.term, o.node);
      return undefined;
    },
  };
}

/**
 * Log matching (Figure 3): if two logs hold an entry with the same index and term, the logs are identical
 * up to it. Checked incrementally and history-wide: every (index, term) ever appended anywhere must always
 * carry the same content and follow the same term at index-1. By induction down the log this is the
 * pairwise property for every pair of logs at every time (below a log's first index nothing is compared).
 */
export function logMatching(): Invariant {
  const seen = new Map<number, { entry: Entry; prevTerm: number | undefined; node: NodeId }>();
  return {
    name: 'LogMatching',
    observe(o, world) {
      if (o.type !== 'append') return undefined;
      const view = world.nodeView(o.node);
      if (view === undefined) return undefined;
      let prevTerm = view.log.term(o.entries[0]!.index - 1);
      for (const e of o.entries) {
        const key = e.index * 1048576 + e.term;
        const known = seen.get(key);
        if (known === undefined) {
          seen.set(key, { entry: e, prevTerm, node: o.node });
        } else {
          if (!sameEntry(known.entry, e)) {
            return `entry ${e.index}/t${e.term} differs: node ${known.node} had ${describeEntry(known.entry)}, node ${o.node} appends ${describeEntry(e)}`;
          }
          if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
            return `entry ${e.index}/t${e.term} follows term ${known.prevTerm} on node ${known.node} but term ${prevTerm} on node ${o.node}`;
          }
          if (known.prevTerm === undefined) known.prevTerm = prevTerm;
        }
        prevTerm = e.term;
      }
      return undefined;
    },
  };
}

/**
 * Leader completeness (Figure 3): an entry committed in term U is in the log of every leader of a term
 * above U. The harness cannot see U directly; when a node reports an entry committed while in term C,
 * the entry was committed in some term <= C, so every leader of a term above C must hold it. The smallest
 * such C over all reports is kept. Checked when a node becomes leader (its whole log) and whenever a
 * new report concerns a current leader; leaders only append while they lead, so nothing else can break it.
 */
export function leaderCompleteness(): Invariant {
  const committedTerm: number[] = [];
  const knownIn: number[] = [];
  let maxCommitted = 0;
  const elected = new Set<NodeId>();
  const check = (leader: NodeView, index: number): string | undefined => {
    const want = committedTerm[index];
    const since = knownIn[index];
    if (want === undefined || since === undefined || leader.term <= since) return undefined;
    if (index <= leader.log.offset) return undefined;
    const have = leader.log.term(index);
    if (have === want) return undefined;
    return `leader ${leader.id} of term ${leader.term} has ${have === undefined ? 'no entry' : `term ${have}`} at ${index}, but ${index}/t${want} was committed by term ${since}`;
  };
  return {
    name: 'LeaderCompleteness',
    observe(o, world) {
      if (o.type === 'role' && o.role === Role.Leader) {
        elected.add(o.node);
        return undefined;
      }
      if (o.type === 'readyDone' && elected.has(o.node)) {
        elected.delete(o.node);
        const leader = world.nodeView(o.node);
        if (leader === undefined || leader.role !== Role.Leader) return undefined;
        for (let i = Math.max(1, leader.log.offset + 1); i <= maxCommitted; i++) {
          const err = check(leader, i);
          if (err !== undefined) return err;
        }
        return undefined;
      }
      if (o.type !== 'committed') return undefined;
      const changed: number[] = [];
      for (const e of o.entries) {
        const t = committedTerm[e.index];
        if (t === undefined) committedTerm[e.index] = e.term;
        // A different term is StateMachineSafety's to report; keep the first.
        const k = knownIn[e.index];
        if (k === undefined || o.term < k) {
          knownIn[e.index] = o.term;
          changed.push(e.index);
        }
        if (e.index > maxCommitted) maxCommitted = e.index;
      }
      if (changed.length === 0) return undefined;
      for (const n of world.nodeViews()) {
        if (!n.up || n.role !== Role.Leader) continue;
        for (const i of changed) {
          const err = check(n, i);
          if (err !== undefined) return err;
        }
      }
      return undefined;
    },
  };
}

/**
 * Every node applies a gap-free sequence (entries one after another; a snapshot only moves it forward),
 * so together with StateMachineSafety each node's applied sequence is a prefix of one common sequence.
 */
export function committedPrefixesIdentical(): Invariant {
  return {
    name: 'CommittedPrefixesIdentical',
    observe(o) {
      if (o.type === 'restored') {
        if (o.meta.index < o.appliedBefore) {
          return `node ${o.node} restored a snapshot at ${o.meta.index} after applying through ${o.appliedBefore}`;
        }
        return undefined;
      }
      if (o.type === 'committed') {
        for (let k = 1; k < o.entries.length; k++) {
          if (o.entries[k]!.index !== o.entries[k - 1]!.index + 1) {
            return `node ${o.node} reported non-contiguous committed entries at ${o.entries[k]!.index}`;
          }
        }
        return undefined;
      }
      if (o.type !== 'applied') return undefined;
      let expect = o.appliedBefore + 1;
      for (const e of o.entries) {
        if (e.index !== expect)
          return `node ${o.node} applied ${e.index} but its next entry to apply was ${expect}`;
        expect++;
      }
      return undefined;
    },
  };
}

/**
 * Within one lifetime a node's commit index never decreases, it never exceeds the node's log, and a node
 * never replaces an entry at or below its commit index. After a restart the commit index restarts from
 * the durable hint (the core may take less: then entries are re-committed, and the other invariants check
 * they are the same ones).
 */
export function commitIndexMonotonic(): Invariant {
  return {
    name: 'CommitIndexMonotonic',
    observe(o, world) {
      if (o.type === 'hardState') {
        if (o.hardState.commit < o.prev.commit) {
          return `node ${o.node} commit index went from ${o.prev.commit} to ${o.hardState.commit}`;
        }
        if (o.hardState.term < o.prev.term)
          return `node ${o.node} term went from ${o.prev.term} to ${o.hardState.term}`;
        return undefined;
      }
      if (o.type === 'readyDone') {
        const n = world.nodeView(o.node);
        if (n !== undefined && n.commit > n.log.lastIndex()) {
          return `node ${o.node} commit index ${n.commit} is beyond its last index ${n.log.lastIndex()}`;
        }
        return undefined;
      }
      if (o.type === 'installSnapshot') {
        const n = world.nodeView(o.node);
        if (n !== undefined && o.meta.index < n.commit) {
          return `node ${o.node} replaced its log by a snapshot at ${o.meta.index} below its commit index ${n.commit}`;
        }
        return undefined;
      }
      if (o.type !== 'append') return undefined;
      const n = world.nodeView(o.node);
      if (n === undefined) return undefined;
      for (const e of o.entries) {
        if (e.index > n.commit) break;
        const had = n.log.term(e.index);
        if (had !== undefined && had !== e.term) {
          return `node ${o.node} overwrote committed entry ${e.index} (term ${had}, commit ${n.commit}) with term ${e.term}`;
        }
      }
      return undefined;
    },
  };
}

/**
 * A leader's log never holds more than one membership entry past the commit point (thesis §4.1: one
 * single-server change at a time). The commit point is the highest index any node has reported
 * committed, not the leader's own commit index: a new leader's commit index lags until it commits its
 * no-op, while it may legitimately hold a change committed by its predecessor and the next one after it.
 */
export function atMostOneUncommittedMembershipChange(): Invariant {
  let committed = 0;
  return {
    name: 'AtMostOneUncommittedMembershipChange',
    observe(o, world) {
      if (o.type === 'hardState' && o.hardState.commit > committed) committed = o.hardState.commit;
      if (o.type === 'committed') {
        const last = o.entries[o.entries.length - 1];
        if (last !== undefined && last.index > committed) committed = last.index;
      }
      if (o.type !== 'readyDone') return undefined;
      const n = world.nodeView(o.node);
      if (n === undefined || n.role !== Role.Leader) return undefined;
      const pending = n.log.membershipEntriesAfter(committed);
      if (pending.length > 1) {
        return `leader ${n.id} (term ${n.term}) has ${pending.length} membership entries after the commit point ${committed}: ${pending.map(describeEntry).join(', ')}`;
      }
      return undefined;
    },
  };
}

/** State machine safety (Figure 3): no two nodes apply different entries at one index; snapshots agree too. */
export function stateMachineSafety(): Invariant {
  return {
    name: 'StateMachineSafety',
    observe(o, world) {
      if (o.type === 'applied' || o.type === 'committed') {
        for (const e of o.entries) {
          const first = world.appliedEntry(e.index);
          if (first !== undefined && !sameEntry(first, e)) {
            return `node ${o.node} ${o.type} ${describeEntry(e)} but ${describeEntry(first)} was applied at ${e.index}`;
          }
        }
        return undefined;
      }
      if (o.type === 'restored' || o.type === 'installSnapshot') {
        const first = world.appliedEntry(o.meta.index);
        if (first !== undefined && first.term !== o.meta.term) {
          return `node ${o.node} installs a snapshot at ${o.meta.index}/t${o.meta.term} but ${describeEntry(first)} was applied there`;
        }
      }
      return undefined;
    },
  };
}

/**
 * Every acknowledged proposal stays: the entry acked is the one proposed, it is the entry every node
 * applies at that index, and at the end every voter has applied it.
 */
export function noAcknowledgedProposalLost(): Invariant {
  const acked: ProposalRecord[] = [];
  return {
    name: 'NoAcknowledgedProposalLost',
    observe(o) {
      if (o.type !== 'ack') return undefined;
      const p = o.proposal;
      const e = o.entry;
      if (e.index !== p.index || e.term !== p.term) {
        return `proposal ${p.id} acked at ${e.index}/t${e.term} but was accepted at ${p.index}/t${p.term}`;
      }
      const same =
        p.data !== undefined
          ? bytesEqual(p.data, e.data)
          : p.membership !== undefined && deepEqual(p.membership, e.membership);
      if (!same) return `proposal ${p.id} acked at ${describeEntry(e)}, which is not what was proposed`;
      acked.push(p);
      return undefined;
    },
    final(world, state) {
      for (const p of acked) {
        const e = world.appliedEntry(p.index!);
        if (e === undefined || e.term !== p.term) {
          return `proposal ${p.id} acked at ${p.index}/t${p.term} but the committed log has ${describeEntry(e)}`;
        }
        for (const n of world.nodeViews()) {
          if (state.voters.includes(n.id) && n.applied < p.index!) {
            return `voter ${n.id} applied only through ${n.applied}, missing acked proposal ${p.id} at ${p.index}`;
          }
        }
      }
      return undefined;
    },
  };
}

/** Linearizability (lite): a read observes every proposal acknowledged before the read was issued. */
export function readLinearizable(): Invariant {
  return {
    name: 'ReadLinearizable',
    observe(o) {
      if (o.type !== 'read') return undefined;
      const r = o.read;
      if ((r.index ?? 0) < r.mustSee) {
        return `read ${r.id} on node ${r.node} got read index ${r.index}, below ${r.mustSee} acknowledged before it was issued`;
      }
      if ((r.observed ?? 0) < r.mustSee) {
        return `read ${r.id} on node ${r.node} observed applied index ${r.observed}, below ${r.mustSee} acknowledged before it was issued`;
      }
      return undefined;
    },
  };
}

/**
 * currentTerm and votedFor on disk (Figure 2): the durable term never decreases, and a durable vote is
 * never changed within its term, across crashes included. Otherwise a node could vote twice in a term.
 */
export function durableVoteStable(): Invariant {
  return {
    name: 'DurableVoteStable',
    observe(o) {
      if (o.type !== 'persisted') return undefined;
      const a = o.prev;
      const b = o.hardState;
      if (b.term < a.term) return `node ${o.node} persisted term ${b.term} after term ${a.term}`;
      if (b.term === a.term && a.vote !== 0 && b.vote !== a.vote) {
        return `node ${o.node} persisted vote ${b.vote} in term ${b.term} after voting ${a.vote}`;
      }
      return undefined;
    },
  };
}

/**
 * At the end, nodes that applied the same prefix hold equal state (compared through `snapshot()`), and
 * the default state machine holds exactly the Normal payloads of the common log.
 */
export function stateMachinesConverge(): Invariant {
  return {
    name: 'StateMachinesConverge',
    final(world) {
      const byApplied = new Map<number, NodeView>();
      for (const n of world.nodeViews()) {
        if (!n.up || n.sm === undefined) continue;
        if (n.sm instanceof LogStateMachine) {
          const want: Uint8Array[] = [];
          for (let i = 1; i <= n.applied; i++) {
            const e = world.appliedEntry(i);
            if (e === undefined)
              return `no node applied index ${i}, yet node ${n.id} applied through ${n.applied}`;
            if (e.data !== undefined && e.kind === 0) want.push(e.data);
          }
          if (!deepEqual(n.sm.payloads, want)) {
            return `node ${n.id} state machine (${n.sm.payloads.length} payloads) differs from the committed log through ${n.applied} (${want.length} payloads)`;
          }
        }
        const other = byApplied.get(n.applied);
        if (other === undefined) byApplied.set(n.applied, n);
        else if (!deepEqual(other.sm!.snapshot(), n.sm.snapshot())) {
          return `nodes ${other.id} and ${n.id} both applied through ${n.applied} but hold different state`;
        }
      }
      return undefined;
    },
  };
}

/** The standard set, fresh per run. */
export function defaultInvariants(): Invariant[] {
  return [
    atMostOneLeaderPerTerm(),
    logMatching(),
    leaderCompleteness(),
    committedPrefixesIdentical(),
    commitIndexMonotonic(),
    atMostOneUncommittedMembershipChange(),
    stateMachineSafety(),
    noAcknowledgedProposalLost(),
    readLinearizable(),
    durableVoteStable(),
    stateMachinesConverge(),
  ];
}
