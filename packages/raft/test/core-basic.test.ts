import { describe, expect, it } from 'vitest';
import { RaftCore } from '../src/core/raft.js';
import { MessageType } from '../src/core/types.js';
import { ent, fixedRandom, membership, Net } from './helpers/net.js';

describe('RaftCore basics', () => {
  it('a single voter elects itself and commits after its own persist', () => {
    const net = new Net(membership(1));
    net.add(1);
    net.campaign(1);
    expect(net.core(1).status().role).toBe('leader');
    net.propose(1, 1, 'a');
    net.stabilize();
    expect(net.appliedData(1)).toEqual(['a']);
  });

  it('three voters elect one leader and replicate', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    expect(net.leader()).toBe(1);
    expect(net.core(1).status().term).toBe(1);
    for (let i = 0; i < 10; i++) net.propose(1, i, `v${i}`);
    net.stabilize();
    net.tickAll(2);
    net.stabilize();
    for (const id of [1, 2, 3])
      expect(net.appliedData(id)).toEqual([...Array(10).keys()].map((i) => `v${i}`));
  });

  it('a commit index alone travels in an Append that replicas do not answer', () => {
    const net = new Net(membership(1, 2, 3));
    for (const id of [1, 2, 3]) net.add(id);
    net.campaign(1);
    net.stabilize();
    const trace: string[] = [];
    const step = (m: {
      type: string;
      from: number;
      to: number;
      entries?: readonly unknown[];
      commitOnly?: boolean;
    }) =>
      trace.push(
        `${m.from}->${m.to} ${m.type}${m.entries?.length ? `(${m.entries.length})` : ''}${m.commitOnly ? ' commit-only' : ''}`,
      );
    net.propose(1, 1, 'a');
    net.processAll();
    for (let round = 0; round < 10 && net.queue.length > 0; round++) {
      for (const m of net.queue) step(m);
      net.deliver();
    }
    expect(trace.sort()).toEqual([
      '1->2 Append commit-only',
      '1->2 Append(1)',
      '1->3 Append commit-only',
      '1->3 Append(1)',
      '2->1 AppendResp',
      '3->1 AppendResp',
    ]);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(['a']);
    // One that does not match the replica's log is still answered, with a refusal.
    const term = net.core(1).status().term;
    net.core(2).step({
      type: MessageType.Append,
      from: 1,
      to: 2,
      term,
      index: 9,
      logTerm: term,
      entries: [],
      commit: 9,
      commitOnly: true,
    });
    net.process(2);
    expect(net.queue.map((m) => [m.type, m.reject])).toEqual([[MessageType.AppendResp, true]]);
  });
});

describe('RaftCore apply pacing', () => {
  it('hands committed entries to apply at most maxCommittedBytesPerReady at a time, at least one', () => {
    const entries = ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeeeeeeeeeeeeeee', 'ffff'].map((t, i) =>
      ent(i + 1, 1, t),
    );
    const core = new RaftCore(
      {
        id: 1,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: fixedRandom([3]),
        maxCommittedBytesPerReady: 10,
      },
      {
        hardState: { term: 1, vote: 1, commit: 6 },
        snapshot: { index: 0, term: 0, membership: membership(1) },
        entries,
        applied: 0,
      },
    );
    const slices: string[][] = [];
    while (core.hasReady()) {
      const rd = core.ready();
      if (rd.committedEntries.length > 0)
        slices.push(rd.committedEntries.map((e) => new TextDecoder().decode(e.data!)));
      core.advance(rd);
      expect(core.hasEntriesToApply()).toBe(slices.flat().length < 6);
    }
    // 4 + 4 bytes fit in 10; an entry over the limit goes alone.
    expect(slices).toEqual([['aaaa', 'bbbb'], ['cccc', 'dddd'], ['eeeeeeeeeeeeeeee'], ['ffff']]);
  });
});
