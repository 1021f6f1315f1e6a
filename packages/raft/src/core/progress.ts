import type { NodeId } from './types.js';

/**
 * The leader's view of one replica.
 *
 * Invariant: 0 <= match < next.
 * - probe: the leader does not know where the logs diverge; at most one Append is outstanding.
 * - replicate: the logs match up to `match`; Appends are pipelined, at most `maxInflight` at once,
 *   and `next` advances optimistically as they are sent.
 * - snapshot: the replica needs the snapshot at `pendingSnapshot`; no Appends until it reports back.
 */
export class Progress {
  match = 0;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** probe: an Append is outstanding; cleared by any response or heartbeat response. */
  probeSent = false;
  pendingSnapshot = 0;
  /** Tick at which the snapshot was sent, to retry if the replica never answers. */
  snapshotSentTick = 0;
  /** Last index of each Append in flight, ascending. */
  private inflight: number[] = [];
  /** The commit index carried by the last Append sent, so commit-only Appends are not repeated. */
  sentCommit = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = true;
  lastContactTick: number;
  lastCaughtUpTick: number;

  constructor(
    readonly id: NodeId,
    public voter: boolean,
    next: number,
    nowTick: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
    this.lastContactTick = nowTick;
    this.lastCaughtUpTick = nowTick;
  }

  becomeProbe(): void {
    // Leaving snapshot state, resume right after the snapshot if it landed, else after the match.
    this.next =
      this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflight = [];
  }

  becomeSnapshot(index: number, nowTick: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotSentTick = nowTick;
    this.probeSent = false;
    this.inflight = [];
  }

  /** Records an acknowledged match; returns whether it moved forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  /**
   * Handles a rejected Append at `rejected`; `hint` is the highest index the leader believes may match.
   * Returns false when the rejection is stale (answers an Append sent before a later decision).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Notes an Append carrying entries up to `lastIndex` as sent. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** A heartbeat came back: unblock a probe, and free one pipelined slot in case its answer was lost. */
  onHeartbeatResponse(): void {
    this.probeSent = false;
    if (this.state === 'replicate' && this.inflight.length >= this.maxInflight) this.inflight.shift();
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }
}
