/**
 * Scripted scenarios: each test sets up logs and a message interleaving by hand and checks one rule of
 * the Raft paper (sections and figures named in each test).
 */
import { describe, expect, it } from 'vitest';
import { MessageType } from '../src/core/types.js';
import { ent, membership, Net } from './helpers/net.js';

/** Entries from a list of terms, starting at index 1. */
function logOf(terms: number[]) {
  return terms.map((t, i) => ent(i + 1, t, `t${t}i${i + 1}`));
}

function terms(net: Net, id: number): number[] {
  const disk = net.disks.get(id)!;
  return disk.entries.map((e) => e.term);
}

describe('Figure 7: a new leader brings every follower log to its own', () => {
  it('repairs missing, extra and conflicting entries', () => {
    const ids = [1, 2, 3, 4, 5, 6, 7];
    const net = new Net(membership(...ids));
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<number, number[]> = {
      2: [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one
      3: [1, 1, 1, 4], // (b) missing many
      4: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra uncommitted entry
      5: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) two extra entries of a later term
      6: [1, 1, 1, 4, 4, 4, 4], // (e) conflicting term-4 entries
      7: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) a leader of terms 2 and 3 that never committed
    };
    net.add(1, { term: 7, entries: logOf(leaderLog) });
    for (const id of ids.slice(1)) net.add(id, { term: 7, entries: logOf(followers[id]!) });
    // (c) and (d) have more up-to-date logs and refuse; the other four votes make a majority of 7.
    net.campaign(1);
    expect(net.leader()).toBe(1);
    net.run(3);
    const expected = [...leaderLog, net.core(1).status().term];
    for (const id of ids) expect(terms(net, id)).toEqual(expected);
    expect(net.core(1).status().commit).toBe(expected.length);
  });
});

describe('Figure 8: entries of earlier terms are not committed by counting replicas', () => {
  it('commits the old entry only together with an entry of the current term', () => {
    const net = new Net(membership(1, 2, 3, 4, 5));
    // (c): S1 leads again in term 4; index 2 (term 2) is on S1, S2, S3, a majority; S5 holds (2, term 3).
    net.add(1, { term: 3, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(2, { term: 3, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(3, { term: 3, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(4, { term: 3, entries: [ent(1, 1, 'a')], commit: 1 });
    net.add(5, { term: 3, entries: [ent(1, 1, 'a'), ent(2, 3, 'x')], commit: 1 });
    net.crash(5);
    // Elect S1 but hold back its Appends, so nothing of its term is replicated yet.
    net.core(1).tick();
    for (let i = 0; i < 30 && net.core(1).status().role !== 'leader'; i++) {
      net.tick(1);
      net.deliver((m) => m.type !== MessageType.Append);
    }
    const s1 = net.core(1);
    expect(s1.status().role).toBe('leader');
    expect(s1.status().term).toBe(4);
    net.queue.length = 0;
    // S2 and S3 acknowledge index 2 only: a majority holds it, yet it is from term 2.
    for (const from of [2, 3]) s1.step({ type: MessageType.AppendResp, from, to: 1, term: 4, index: 2 });
    net.process(1);
    expect(s1.status().commit).toBe(1);
    // Once S2 and S3 hold the term-4 no-op at index 3, both 2 and 3 commit.
    for (const from of [2, 3]) s1.step({ type: MessageType.AppendResp, from, to: 1, term: 4, index: 3 });
    net.process(1);
    expect(s1.status().commit).toBe(3);
  });

  it('an uncommitted old-term entry may be overwritten by a later leader (d)', () => {
    const net = new Net(membership(1, 2, 3, 4, 5));
    net.add(1, { term: 4, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(2, { term: 4, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(3, { term: 4, entries: [ent(1, 1, 'a'), ent(2, 2, 'b')], commit: 1 });
    net.add(4, { term: 4, entries: [ent(1, 1, 'a')], commit: 1 });
    net.add(5, { term: 4, entries: [ent(1, 1, 'a'), ent(2, 3, 'x')], commit: 1 });
    net.crash(1);
    // S5's last term (3) beats the others' (2): it wins and overwrites index 2 everywhere.
    net.campaign(5);
    expect(net.leader()).toBe(5);
    net.run(3);
    for (const id of [2, 3, 4, 5]) expect(terms(net, id).slice(0, 2)).toEqual([1, 3]);
  });
});

describe('stale leaders and partitions', () => {
  it('a partitioned minority cannot commit; the majority elects and commits; all converge on heal', () => {
    const net = new Net(membership(1, 2, 3, 4, 5));
    for (const id of [1, 2, 3, 4, 5]) net.add(id);
    net.campaign(1);
    net.propose(1, 1, 'before');
    net.stabilize();
    net.partition([1, 2], [3, 4, 5]);
    net.propose(1, 2, 'minority');
    net.stabilize();
    expect(net.appliedData(1)).toEqual(['before']);
    // The majority side elects a new leader once its election timers fire.
    for (let i = 0; i < 40 && ![3, 4, 5].includes(net.leader()); i++) {
      net.tickAll();
      net.stabilize();
    }
    const newLeader = [3, 4, 5].find((id) => net.core(id).status().role === 'leader')!;
    expect(newLeader).toBeDefined();
    net.propose(newLeader, 3, 'majority');
    net.stabilize();
    net.run(2);
    expect(net.appliedData(newLeader)).toEqual(['before', 'majority']);
    // Check-quorum: within two election timeouts the old leader steps down, not hearing from a majority.
    net.run(20);
    expect(net.core(1).status().role).not.toBe('leader');
    net.heal();
    net.run(3);
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(['before', 'majority']);
    // The minority's uncommitted entry was overwritten.
    expect(
      net.disks.get(1)!.entries.some((e) => e.data && new TextDecoder().decode(e.data) === 'minority'),
    ).toBe(false);
  });

  it('a stale leader without check-quorum keeps its role but commits nothing, and steps down on contact', () => {
    const net = new Net(membership(1, 2, 3), { checkQuorum: false });
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    net.partition([1], [2, 3]);
    net.campaign(2);
    expect(net.core(2).status().role).toBe('leader');
    expect(net.core(1).status().role).toBe('leader');
    net.propose(1, 1, 'stale');
    net.stabilize();
    expect(net.appliedData(1)).toEqual([]);
    net.heal();
    net.run(2);
    expect(net.core(1).status().role).toBe('follower');
    expect(net.core(1).status().leader).toBe(2);
    expect(net.disks.get(1)!.entries.map((e) => e.term)).toEqual(
      net.disks.get(2)!.entries.map((e) => e.term),
    );
  });

  it('pre-vote: an isolated follower does not inflate its term and does not disrupt on return', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    const term = net.core(1).status().term;
    net.partition([3], [1, 2]);
    for (let i = 0; i < 100; i++) {
      net.tickAll();
      net.stabilize();
    }
    expect(net.core(3).status().term).toBe(term);
    net.heal();
    net.run(2);
    expect(net.leader()).toBe(1);
    expect(net.core(1).status().term).toBe(term);
  });

  it('without pre-vote the same isolated follower bumps its term', () => {
    const net = new Net(membership(1, 2, 3), { preVote: false });
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    const term = net.core(1).status().term;
    net.partition([3], [1, 2]);
    for (let i = 0; i < 100; i++) {
      net.tickAll();
      net.stabilize();
    }
    expect(net.core(3).status().term).toBeGreaterThan(term);
  });
});

describe('reads, transfers, fast backtracking', () => {
  it('read-index answers only after a quorum confirms leadership, with the commit index', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    net.propose(1, 1, 'x');
    net.stabilize();
    const commit = net.core(1).status().commit;
    net.core(1).readIndex(77);
    net.process(1);
    expect(net.readStates.get(1)).toBeUndefined();
    net.stabilize();
    expect(net.readStates.get(1)).toEqual([{ index: commit, requestId: 77 }]);
  });

  it('an isolated leader never answers a read, and drops it when it steps down', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    net.partition([1], [2, 3]);
    net.core(1).readIndex(5);
    net.stabilize();
    net.tick(1, 30);
    net.stabilize();
    expect(net.readStates.get(1)).toBeUndefined();
    expect(net.dropped.get(5)).toBe('stepped-down');
  });

  it('leadership transfer hands over without waiting for an election timeout', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    const term = net.core(1).status().term;
    net.core(1).transferLeadership(3);
    net.stabilize();
    expect(net.leader()).toBe(3);
    expect(net.core(3).status().term).toBe(term + 1);
    net.propose(3, 9, 'after');
    net.stabilize();
    expect(net.appliedData(3)).toEqual(['after']);
  });

  it('fast backtracking skips a whole conflicting term per round trip', () => {
    const net = new Net(membership(1, 2, 3));
    const long = [1, ...Array(50).fill(2)];
    net.add(1, { term: 3, entries: logOf([1, ...Array(50).fill(3)]) });
    net.add(2, { term: 3, entries: logOf(long) });
    net.add(3, { term: 3, entries: logOf([1]) });
    net.campaign(1);
    let appends = 0;
    for (let i = 0; i < 20; i++) {
      appends += net.queue.filter((m) => m.type === MessageType.Append && m.to === 2).length;
      net.deliver();
      net.tickAll();
    }
    net.stabilize();
    expect(terms(net, 2)).toEqual(terms(net, 1));
    expect(appends).toBeLessThan(15);
  });
});
