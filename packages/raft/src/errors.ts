import type { NodeId } from './core/types.js';

/** Every error the driver hands to callers: a stable `code` and whether retrying may succeed. */
export class RaftError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** This node is not the leader. `leaderId` is 0 and `leaderAddress` undefined when no leader is known. */
export class NotLeaderError extends RaftError {
  constructor(
    readonly leaderId: NodeId,
    readonly leaderAddress: string | undefined,
  ) {
    super(
      'NOT_LEADER',
      leaderId === 0
        ? 'not the leader, and no leader is known'
        : `not the leader; the leader is ${leaderId} at ${leaderAddress ?? 'an unknown address'}`,
      true,
    );
  }
}

/** The proposal's entry was overwritten by another leader's, or its fate cannot be known any more. */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super('PROPOSAL_DROPPED', `the proposal was not committed: ${reason}`, true);
  }
}

/**
 * This node stopped leading before the proposal committed. Its outcome is unknown: the next leader may
 * still commit the entry (as hashicorp/raft's ErrLeadershipLost). Retry only what is safe to repeat.
 */
export class LeadershipLostError extends RaftError {
  constructor(term: number) {
    super(
      'LEADERSHIP_LOST',
      `leadership of term ${term} was lost before the proposal committed; it may still commit under the next leader`,
      true,
    );
  }
}

export class RaftTimeoutError extends RaftError {
  constructor(what: string, timeoutMs: number) {
    super('REQUEST_TIMED_OUT', `${what} timed out after ${timeoutMs} ms`, true);
  }
}

/** A membership change was refused; `reason` is the core's (`not-caught-up`, `membership-change-pending`, ...). */
export class MembershipChangeError extends RaftError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(
      'MEMBERSHIP_CHANGE_REFUSED',
      message,
      reason === 'not-caught-up' || reason === 'membership-change-pending',
    );
  }
}

export class NodeStoppedError extends RaftError {
  constructor() {
    super('NODE_STOPPED', 'the raft node is stopped', false);
  }
}

export class TooManyRequestsError extends RaftError {
  constructor(limit: number) {
    super('TOO_MANY_REQUESTS', `more than ${limit} proposals are waiting; slow down`, true);
  }
}
