/**
 * Membership changes, observers, snapshots and unsafe recovery, scripted step by step.
 */
import { describe, expect, it } from 'vitest';
import { unsafeForceMembership } from '../src/core/recovery.js';
import { EntryKind, MessageType } from '../src/core/types.js';
import { membership, Net } from './helpers/net.js';

function elected(ids: number[], leader = 1): Net {
  const net = new Net(membership(...ids));
  for (const id of ids) net.add(id);
  net.campaign(leader);
  expect(net.leader()).toBe(leader);
  return net;
}

describe('observers', () => {
  it('an observer says hello, is replicated to, and never votes or campaigns', () => {
    const net = elected([1, 2, 3]);
    net.propose(1, 1, 'a');
    net.stabilize();
    net.add(4);
    expect(net.core(4).status().role).toBe('observer');
    net.run(12); // the observer's hello fires after an election timeout
    net.propose(1, 2, 'b');
    net.run(2);
    expect(net.appliedData(4)).toEqual(['a', 'b']);
    // A silent leader never makes the observer campaign.
    net.crash(1);
    net.run(100);
    expect(net.core(4).status().role).toBe('observer');
    expect([2, 3]).toContain(net.leader());
  });

  it('the leader forgets an observer that falls silent', () => {
    const net = elected([1, 2, 3]);
    net.add(4);
    net.run(12);
    expect(
      net
        .core(1)
        .status()
        .progress!.some((p) => p.id === 4),
    ).toBe(true);
    net.crash(4);
    net.run(120);
    expect(
      net
        .core(1)
        .status()
        .progress!.some((p) => p.id === 4),
    ).toBe(false);
  });
});

describe('single-server membership changes', () => {
  it('promotes a caught-up observer to voter', () => {
    const net = elected([1, 2, 3]);
    net.add(4);
    net.run(12);
    net.core(1).proposeMembership(10, membership(1, 2, 3, 4));
    net.run(2);
    expect(net.accepted.get(10)).toBeDefined();
    expect(net.core(4).status().role).toBe('follower');
    expect(
      net
        .core(1)
        .status()
        .membership.voters.map((v) => v.id),
    ).toEqual([1, 2, 3, 4]);
    // Four voters: a quorum is three, so losing two stops commits.
    net.crash(3);
    net.crash(4);
    net.propose(1, 11, 'x');
    net.run(2);
    expect(net.appliedData(1)).toEqual([]);
  });

  it('refuses a voter that is not caught up, two changes at once, and multi-voter jumps', () => {
    const net = elected([1, 2, 3]);
    net.core(1).proposeMembership(1, membership(1, 2, 3, 9));
    net.process(1);
    expect(net.dropped.get(1)).toBe('not-caught-up');
    net.core(1).proposeMembership(2, membership(1));
    net.process(1);
    expect(net.dropped.get(2)).toBe('invalid-membership');
    net.core(1).proposeMembership(3, membership(1, 2));
    net.core(1).proposeMembership(4, membership(1));
    net.process(1);
    expect(net.accepted.get(3)).toBeDefined();
    expect(net.dropped.get(4)).toBe('membership-change-pending');
    net.core(2).proposeMembership(5, membership(1, 2));
    net.process(2);
    expect(net.dropped.get(5)).toBe('not-leader');
  });

  it('refuses a change before the new leader has committed an entry of its term', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    // Elect node 1 while holding back every Append, so its no-op stays uncommitted.
    for (let i = 0; i < 40 && net.core(1).status().role !== 'leader'; i++) {
      net.tick(1);
      net.deliver((m) => m.type !== MessageType.Append);
    }
    expect(net.core(1).status().role).toBe('leader');
    net.core(1).proposeMembership(6, membership(1, 2));
    net.process(1);
    expect(net.dropped.get(6)).toBe('membership-change-pending');
    net.stabilize();
    net.core(1).proposeMembership(7, membership(1, 2));
    net.process(1);
    expect(net.accepted.get(7)).toBeDefined();
  });

  it('a removed leader keeps leading until the change commits, then steps down', () => {
    const net = elected([1, 2, 3]);
    net.core(1).proposeMembership(7, membership(2, 3));
    net.process(1);
    expect(net.core(1).status().role).toBe('leader');
    net.run(1);
    expect(net.core(1).status().role).toBe('observer');
    net.run(40);
    const leader = net.leader();
    expect([2, 3]).toContain(leader);
    net.propose(leader, 8, 'after-removal');
    net.run(20);
    expect(net.appliedData(leader)).toEqual(['after-removal']);
    // The removed node follows as an observer.
    expect(net.appliedData(1)).toContain('after-removal');
  });
});

describe('snapshots', () => {
  it('a follower behind the compacted log catches up by snapshot', () => {
    const net = elected([1, 2, 3]);
    net.crash(3);
    for (let i = 0; i < 20; i++) net.propose(1, i, `v${i}`);
    net.run(2);
    const leader = net.core(1);
    const meta = leader.compact(leader.status().applied);
    expect(leader.status().firstIndex).toBe(meta.index + 1);
    net.add(3);
    net.run(5);
    // Only a Snapshot message installs a snapshot on a follower's disk.
    expect(net.disks.get(3)!.snapshot.index).toBe(meta.index);
    net.propose(1, 100, 'after');
    net.run(2);
    expect(net.appliedData(3)).toEqual(['after']);
    expect(net.core(3).status().applied).toBe(net.core(1).status().applied);
  });

  it('keeps trailing entries so a slightly slow follower needs no snapshot', () => {
    const net = elected([1, 2, 3]);
    for (let i = 0; i < 10; i++) net.propose(1, i, `v${i}`);
    net.run(2);
    const leader = net.core(1);
    leader.compact(leader.status().applied, leader.status().applied - 5);
    expect(leader.status().firstIndex).toBe(leader.status().applied - 4);
    expect(leader.status().snapshot.index).toBe(leader.status().applied);
  });
});

describe('unsafe recovery', () => {
  it('a lone survivor forced to a one-voter set elects itself and keeps its log', () => {
    const net = elected([1, 2, 3]);
    net.propose(1, 1, 'kept');
    net.run(2);
    net.crash(1);
    net.crash(2);
    net.crash(3);
    const disk = net.disks.get(2)!;
    const forced = unsafeForceMembership(
      { hardState: disk.hard, snapshot: disk.snapshot, entries: disk.entries, applied: 0 },
      membership(2),
    );
    expect(forced.entry.kind).toBe(EntryKind.Membership);
    expect(forced.entry.term).toBeGreaterThan(disk.hard.term);
    disk.entries = [...disk.entries, forced.entry];
    disk.hard = forced.hardState;
    const solo = new Net(membership(1, 2, 3));
    solo.disks.set(2, disk);
    solo.add(2);
    solo.run(25);
    expect(solo.core(2).status().role).toBe('leader');
    solo.propose(2, 5, 'new');
    solo.run(2);
    expect(solo.appliedData(2)).toEqual(['kept', 'new']);
  });
});
