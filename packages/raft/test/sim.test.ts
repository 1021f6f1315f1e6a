/**
 * Targeted scenarios on the simulated cluster, plus the harness's own guarantees (determinism, and that
 * the invariants do fire). The randomized seeds run in sim-seeds-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Role } from '../src/core/types.js';
import {
  atMostOneLeaderPerTerm,
  awaitFreshCommit,
  Cluster,
  type ClusterOptions,
  commitIndexMonotonic,
  type LogStateMachine,
  type ProposalRecord,
  Rng,
  runSimulation,
  SimFailure,
  type SimResult,
  type World,
} from '../src/sim/index.js';

const enc = (s: string) => new TextEncoder().encode(s);

function cluster(opts: Partial<ClusterOptions> & { voters: number }): Cluster {
  const c = new Cluster({ seed: 7, ...opts });
  c.start();
  return c;
}

function electLeader(c: Cluster) {
  expect(c.runUntilCondition(() => c.leader() !== undefined, c.now() + 3000)).toBe(true);
  return c.leader()!;
}

function awaitAcked(c: Cluster, ps: readonly ProposalRecord[], withinMs = 3000): boolean {
  return c.runUntilCondition(() => ps.every((p) => p.state === 'acked'), c.now() + withinMs);
}

function payloads(c: Cluster, id: number): string[] {
  const sm = c.node(id).sm as LogStateMachine;
  return sm.payloads.map((p) => new TextDecoder().decode(p));
}

describe('partitions', () => {
  it('a minority partition holding the old leader cannot commit; the majority elects and commits', () => {
    const c = cluster({ voters: 5 });
    const old = electLeader(c);
    const others = c.ids.filter((x) => x !== old.id);
    const minority = [old.id, others[0]!];
    const majority = others.slice(1);
    c.partition(minority, majority);
    const stuck = [c.propose(old.id, enc('minority-1')), c.propose(old.id, enc('minority-2'))];
    c.runFor(2000);
    expect(stuck.map((p) => p.state)).not.toContain('acked');
    const leader = c.leader()!;
    expect(majority).toContain(leader.id);
    expect(leader.term).toBeGreaterThan(old.term);
    // check-quorum: the old leader noticed it lost its majority.
    expect(c.node(old.id).role).not.toBe(Role.Leader);
    const fresh = c.propose(leader.id, enc('majority-1'));
    expect(awaitAcked(c, [fresh])).toBe(true);

    c.heal();
    expect(
      c.runUntilCondition(() => c.ids.every((id) => c.node(id).applied >= fresh.index!), c.now() + 3000),
    ).toBe(true);
    for (const id of c.ids) {
      expect(payloads(c, id)).toContain('majority-1');
      expect(payloads(c, id)).not.toContain('minority-1');
      expect(payloads(c, id)).not.toContain('minority-2');
    }
    expect(stuck.map((p) => p.state)).not.toContain('acked');
    c.finalCheck({ voters: c.ids });
  });

  it('a leader keeps committing with a majority, and a one-way cut does not stop it', () => {
    const c = cluster({ voters: 5 });
    const leader = electLeader(c);
    const followers = c.ids.filter((x) => x !== leader.id);
    // Four against one, and within the four the follower's answers to the leader are lost: the leader
    // still hears from a majority (itself and two others), so it neither steps down nor stops committing.
    c.partition([leader.id, followers[0]!, followers[1]!, followers[2]!], [followers[3]!]);
    c.cut(followers[0]!, leader.id);
    const ps = Array.from({ length: 10 }, (_, i) => c.propose(leader.id, enc(`v${i}`)));
    expect(awaitAcked(c, ps)).toBe(true);
    expect(c.leader()!.id).toBe(leader.id);
    c.heal();
    expect(
      c.runUntilCondition(() => c.ids.every((id) => c.node(id).applied >= ps[9]!.index!), c.now() + 3000),
    ).toBe(true);
    c.finalCheck({ voters: c.ids });
  });

  it('no quorum, no progress: with every node isolated nothing commits, and all recovers after healing', () => {
    const c = cluster({ voters: 3 });
    const leader = electLeader(c);
    for (const id of c.ids) c.isolate(id);
    const p = c.propose(leader.id, enc('nope'));
    c.runFor(3000);
    expect(p.state).not.toBe('acked');
    expect(c.leader()).toBeUndefined();
    c.heal();
    const next = electLeader(c);
    const q = c.propose(next.id, enc('yes'));
    expect(awaitAcked(c, [q])).toBe(true);
  });
});

describe('crashes and snapshots', () => {
  it('a crashed follower restarts and catches up through a snapshot install', () => {
    const c = cluster({ voters: 3, snapshotEvery: 5, snapshotKeep: 0 });
    const leader = electLeader(c);
    const victim = c.ids.find((x) => x !== leader.id)!;
    c.crash(victim);
    const ps = Array.from({ length: 40 }, (_, i) => c.propose(leader.id, enc(`e${i}`)));
    expect(awaitAcked(c, ps)).toBe(true);
    expect(c.node(leader.id).store.snapshot.index).toBeGreaterThan(10);
    c.restart(victim);
    const target = ps[39]!.index!;
    expect(c.runUntilCondition(() => c.node(victim).applied >= target, c.now() + 3000)).toBe(true);
    expect(c.node(victim).stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    expect(payloads(c, victim)).toEqual(payloads(c, leader.id).slice(0, payloads(c, victim).length));
    expect(payloads(c, victim)).toContain('e39');
    c.finalCheck({ voters: c.ids });
  });

  it('a node restarted from disk keeps its log, term and vote', () => {
    const c = cluster({ voters: 3 });
    const leader = electLeader(c);
    const ps = Array.from({ length: 5 }, (_, i) => c.propose(leader.id, enc(`d${i}`)));
    expect(awaitAcked(c, ps)).toBe(true);
    const before = c.node(leader.id).store.hardState;
    c.crash(leader.id);
    c.restart(leader.id);
    const n = c.node(leader.id);
    expect(n.term).toBe(before.term);
    expect(n.log.lastIndex()).toBeGreaterThanOrEqual(ps[4]!.index!);
    expect(n.core!.status().vote).toBe(before.vote);
  });
});

describe('membership', () => {
  it('an observer catches up, is added as a voter, and a voter is removed', () => {
    const c = cluster({ voters: 3, observers: 1 });
    const leader = electLeader(c);
    const ps = Array.from({ length: 5 }, (_, i) => c.propose(leader.id, enc(`m${i}`)));
    expect(awaitAcked(c, ps)).toBe(true);
    expect(c.runUntilCondition(() => c.node(4).applied >= ps[4]!.index!, c.now() + 3000)).toBe(true);
    expect(c.node(4).role).toBe(Role.Observer);
    const add = c.proposeMembership(leader.id, [1, 2, 3, 4]);
    expect(awaitAcked(c, [add])).toBe(true);
    expect(c.runUntilCondition(() => c.node(4).role === Role.Follower, c.now() + 1000)).toBe(true);
    const victim = c.ids.find((x) => x !== leader.id && x !== 4)!;
    const remove = c.proposeMembership(
      leader.id,
      [1, 2, 3, 4].filter((x) => x !== victim),
    );
    expect(awaitAcked(c, [remove])).toBe(true);
    expect(c.node(leader.id).voters()).not.toContain(victim);
    // The removed node keeps running (it may never learn of its removal) without disrupting the rest.
    c.runFor(2000);
    expect(c.leader()!.id).toBe(leader.id);
    const q = c.propose(leader.id, enc('after'));
    expect(awaitAcked(c, [q])).toBe(true);
    const { voters } = awaitFreshCommit(c, c.now() + 3000);
    expect(voters).toEqual([1, 2, 3, 4].filter((x) => x !== victim));
    c.finalCheck({ voters });
  });

  it('a leader that removes itself steps down and the rest elect a new one', () => {
    const c = cluster({ voters: 3, observers: 1 });
    const leader = electLeader(c);
    const warm = c.propose(leader.id, enc('warm'));
    expect(awaitAcked(c, [warm])).toBe(true);
    expect(c.runUntilCondition(() => c.node(4).applied >= warm.index!, c.now() + 3000)).toBe(true);
    const add = c.proposeMembership(leader.id, [1, 2, 3, 4]);
    expect(awaitAcked(c, [add])).toBe(true);
    const remove = c.proposeMembership(
      leader.id,
      [1, 2, 3, 4].filter((x) => x !== leader.id),
    );
    expect(awaitAcked(c, [remove])).toBe(true);
    expect(c.runUntilCondition(() => (c.leader()?.id ?? leader.id) !== leader.id, c.now() + 3000)).toBe(true);
    const next = c.leader()!;
    const q = c.propose(next.id, enc('new-era'));
    expect(awaitAcked(c, [q])).toBe(true);
  });
});

describe('leadership transfer', () => {
  it('hands leadership to the chosen voter', () => {
    const c = cluster({ voters: 3 });
    const leader = electLeader(c);
    const to = c.ids.find((x) => x !== leader.id)!;
    c.transferLeadership(leader.id, to);
    expect(c.runUntilCondition(() => c.leader()?.id === to, c.now() + 2000)).toBe(true);
  });
});

describe('reads', () => {
  it('a read at the leader sees every acknowledged write', () => {
    const c = cluster({ voters: 3 });
    const leader = electLeader(c);
    const ps = Array.from({ length: 5 }, (_, i) => c.propose(leader.id, enc(`r${i}`)));
    expect(awaitAcked(c, ps)).toBe(true);
    const r = c.read(leader.id);
    expect(c.runUntilCondition(() => r.state === 'served', c.now() + 1000)).toBe(true);
    expect(r.observed).toBeGreaterThanOrEqual(ps[4]!.index!);
    const notLeader = c.read(c.ids.find((x) => x !== leader.id)!);
    c.runFor(100);
    expect(notLeader.state).toBe('dropped');
  });
});

describe('the harness', () => {
  const summary = (r: SimResult) => ({ ...r, plan: undefined });

  it('replays a seed exactly', () => {
    const traceA: string[] = [];
    const traceB: string[] = [];
    const a = runSimulation({ seed: 1234, trace: (l) => traceA.push(l) });
    const b = runSimulation({ seed: 1234, trace: (l) => traceB.push(l) });
    expect(summary(b)).toEqual(summary(a));
    expect(traceB).toEqual(traceA);
    expect(traceA.length).toBeGreaterThan(1000);
    const c = runSimulation({ seed: 1235 });
    expect(c.events).not.toBe(a.events);
  });

  it('covers calm and violent runs, snapshots installs and membership changes across seeds', () => {
    let installs = 0;
    let memberships = 0;
    let crashes = 0;
    const intensities = new Set<string>();
    for (let seed = 100; seed < 140; seed++) {
      const r = runSimulation({ seed });
      installs += r.snapshotsInstalled;
      memberships += r.membershipChanges.acked;
      crashes += r.crashes;
      intensities.add(r.plan.intensity);
    }
    expect(intensities).toEqual(new Set(['calm', 'moderate', 'violent']));
    expect(installs).toBeGreaterThan(10);
    expect(memberships).toBeGreaterThan(5);
    expect(crashes).toBeGreaterThan(20);
  });

  it('reports a violation with the invariant, the seed, the time and the event', () => {
    // A deliberately wrong invariant (no node may ever lead) must fail the run with full context.
    const neverLead = () => [
      {
        name: 'NoLeaderEver',
        observe: (o: { type: string; role?: string }) =>
          o.type === 'role' && o.role === Role.Leader ? 'a leader appeared' : undefined,
      },
    ];
    let failure: unknown;
    try {
      runSimulation({ seed: 3, invariants: neverLead });
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(SimFailure);
    const f = failure as SimFailure;
    expect(f.invariant).toBe('NoLeaderEver');
    expect(f.seed).toBe(3);
    expect(f.event).toBeGreaterThan(0);
    expect(f.message).toContain('seed=3');
    expect(f.message).toContain('npm run sim -- --seed 3');
  });

  it('flags two leaders in one term and a commit index going backwards', () => {
    const world = {} as World;
    const leaders = atMostOneLeaderPerTerm();
    expect(
      leaders.observe!({ type: 'role', node: 1, role: Role.Leader, term: 4, leader: 1 }, world),
    ).toBeUndefined();
    expect(leaders.observe!({ type: 'role', node: 2, role: Role.Leader, term: 4, leader: 2 }, world)).toMatch(
      /term 4/,
    );
    const commit = commitIndexMonotonic();
    const hs = (c: number) => ({ term: 2, vote: 1, commit: c });
    expect(commit.observe!({ type: 'hardState', node: 1, prev: hs(5), hardState: hs(4) }, world)).toMatch(
      /5 to 4/,
    );
  });

  it('forks independent, reproducible random streams', () => {
    const a = new Rng(9).fork('node-1');
    const b = new Rng(9).fork('node-1');
    const c = new Rng(9).fork('node-2');
    const xs = Array.from({ length: 5 }, () => a.int(1000));
    expect(Array.from({ length: 5 }, () => b.int(1000))).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.int(1000))).not.toEqual(xs);
    for (let i = 0; i < 1000; i++) {
      const v = a.int(7);
      expect(v >= 0 && v < 7 && Number.isInteger(v)).toBe(true);
    }
  });
});
