import { describe, expect, it } from 'vitest';
import { RaftLog } from '../src/core/log.js';
import { Progress } from '../src/core/progress.js';
import { ent, membership } from './helpers/net.js';

const snap = (index = 0, term = 0) => ({ index, term, membership: membership(1, 2, 3) });

describe('RaftLog', () => {
  it('answers terms, slices and bounds', () => {
    const log = new RaftLog(snap(), [ent(1, 1, 'a'), ent(2, 1, 'b'), ent(3, 2, 'c')]);
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm()]).toEqual([1, 3, 2]);
    expect([log.term(0), log.term(2), log.term(4)]).toEqual([0, 1, undefined]);
    expect(log.slice(2, 4).map((e) => e.index)).toEqual([2, 3]);
    expect(log.slice(1, 4, 2).map((e) => e.index)).toEqual([1, 2]);
    expect(() => log.slice(0, 2)).toThrow();
  });

  it('limits a slice by bytes but always returns at least one entry', () => {
    const log = new RaftLog(snap(), [ent(1, 1, 'x'.repeat(100)), ent(2, 1, 'y'.repeat(100))]);
    expect(log.slice(1, 3, 10, 150)).toHaveLength(1);
    expect(log.slice(1, 3, 10, 10)).toHaveLength(1);
  });

  it('truncates a suffix, pulling the stable index back and forgetting later memberships', () => {
    const log = new RaftLog(snap(), [ent(1, 1, 'a'), ent(2, 1, 'b')]);
    log.append([{ index: 3, term: 1, kind: 2, membership: membership(1, 2) }]);
    expect(log.membership().membership.voters).toHaveLength(2);
    log.stableIndex = 3;
    log.truncateFrom(3);
    expect([log.lastIndex(), log.stableIndex]).toEqual([2, 2]);
    expect(log.membership().membership.voters).toHaveLength(3);
  });

  it('refuses gaps', () => {
    const log = new RaftLog(snap(), [ent(1, 1)]);
    expect(() => log.append([ent(3, 1)])).toThrow(/does not follow/);
    expect(() => new RaftLog(snap(5, 1), [ent(7, 1)])).toThrow(/gap/);
  });

  it('finds the conflict point by term for fast backtracking', () => {
    const log = new RaftLog(
      snap(),
      [1, 1, 2, 2, 4, 4].map((t, i) => ent(i + 1, t)),
    );
    expect(log.findConflictByTerm(6, 3)).toBe(4);
    expect(log.findConflictByTerm(6, 4)).toBe(6);
    expect(log.findConflictByTerm(6, 0)).toBe(0);
  });

  it('compacts behind a snapshot, keeping trailing entries, and knows the membership at an index', () => {
    const log = new RaftLog(
      snap(),
      [1, 1, 1, 1, 1].map((t, i) => ent(i + 1, t)),
    );
    log.compact({ index: 4, term: 1, membership: membership(1, 2, 3) }, 2);
    expect([log.firstIndex(), log.snapshot.index, log.term(2), log.term(1)]).toEqual([3, 4, 1, undefined]);
    expect(log.membershipAt(4).voters).toHaveLength(3);
  });

  it('accepts a recovered log whose entries start before the snapshot (trailing entries)', () => {
    const log = new RaftLog(
      snap(5, 1),
      [3, 4, 5, 6].map((i) => ent(i, 1)),
    );
    expect([log.firstIndex(), log.lastIndex(), log.term(5), log.term(2)]).toEqual([3, 6, 1, undefined]);
  });
});

describe('Progress', () => {
  it('pipelines in replicate state up to the inflight limit and frees slots on acknowledgement', () => {
    const pr = new Progress(2, true, 1, 0, 2);
    pr.becomeReplicate();
    pr.sent(5, 5);
    pr.sent(9, 4);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(5)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.next).toBe(10);
  });

  it('sends one probe at a time and ignores stale rejections', () => {
    const pr = new Progress(2, true, 10, 0, 8);
    pr.sent(9, 0);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeDecrTo(5, 3)).toBe(false);
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect([pr.next, pr.isPaused()]).toEqual([4, false]);
  });

  it('a heartbeat response unblocks a probe and frees one pipelined slot', () => {
    const pr = new Progress(2, true, 1, 0, 1);
    pr.becomeReplicate();
    pr.sent(3, 3);
    expect(pr.isPaused()).toBe(true);
    pr.onHeartbeatResponse();
    expect(pr.isPaused()).toBe(false);
  });

  it('waits in snapshot state, then resumes after the snapshot', () => {
    const pr = new Progress(2, true, 1, 0, 4);
    pr.becomeSnapshot(50, 7);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect([pr.state, pr.next]).toEqual(['probe', 51]);
  });
});
