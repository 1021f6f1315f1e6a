import { describe, expect, it } from 'vitest';
import { membership, Net } from './helpers/net.js';

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
});
