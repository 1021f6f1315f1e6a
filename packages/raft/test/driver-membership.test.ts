/**
 * Observers, voter changes and unsafe recovery through the driver, over TCP and LevelDB.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftNode } from '../src/driver.js';
import { startRaftNode, unsafeRecoverDataDir } from '../src/node.js';
import { freePorts, ListStateMachine, TestCluster, waitFor } from './helpers/cluster.js';

const enc = (s: string) => new TextEncoder().encode(s);
let cluster: TestCluster | undefined;
const extra: RaftNode[] = [];

afterEach(async () => {
  await Promise.all(extra.splice(0).map((n) => n.stop(false)));
  await cluster?.stop();
  cluster = undefined;
});

describe('membership through the driver', () => {
  it('an observer follows; it is added as a voter under load, then a voter is removed', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(enc(`pre${i}`))));

    const [port] = await freePorts(1);
    const address = `127.0.0.1:${port}`;
    const sm = new ListStateMachine();
    const observer = await startRaftNode({
      nodeId: 4,
      clusterId: cluster.clusterId,
      dataDir: join(cluster.nodes[0]!.dir, '..', 'n4'),
      formatIfEmpty: true,
      voters: cluster.quorum,
      listen: address,
      stateMachine: sm,
    });
    extra.push(observer);
    expect(observer.status().role).toBe('observer');
    await waitFor(() => sm.items.length === 50, 'the observer to replicate');

    // Keep writing while the voter set changes: nothing acknowledged may be lost.
    let stop = false;
    let written = 0;
    const load = (async () => {
      while (!stop) {
        await leader.propose(enc(`load${written}`));
        written++;
      }
    })();
    await leader.addVoter({ id: 4, address });
    await waitFor(() => observer.status().role === 'follower', 'node 4 to become a voter');
    expect(leader.status().voters.map((v) => v.id)).toEqual([1, 2, 3, 4]);

    const victim = cluster.running().find((n) => n !== leader)!;
    await leader.removeVoter(victim.id);
    expect(leader.status().voters.map((v) => v.id)).not.toContain(victim.id);
    stop = true;
    await load;
    expect(written).toBeGreaterThan(0);
    await waitFor(() => sm.items.length === 50 + written, 'node 4 to apply everything');
    expect(sm.items).toEqual(cluster.nodes[leader.id - 1]!.sm.items);
  });

  it('an observer joining after the log was compacted catches up by snapshot', async () => {
    cluster = new TestCluster(3, { snapshotThresholdBytes: 2_000, snapshotTrailingEntries: 10 });
    await cluster.start();
    const leader = await cluster.leader();
    await Promise.all(Array.from({ length: 300 }, (_, i) => leader.propose(enc(`w${i}-${'y'.repeat(30)}`))));
    await waitFor(() => leader.status().firstIndex > 100, 'the leader to compact its log');
    const sm = new ListStateMachine();
    const observer = await startRaftNode({
      nodeId: 9,
      clusterId: cluster.clusterId,
      dataDir: join(cluster.nodes[0]!.dir, '..', 'n9'),
      formatIfEmpty: true,
      voters: cluster.quorum,
      stateMachine: sm,
    });
    extra.push(observer);
    await waitFor(() => sm.items.length === 300, 'the observer to catch up');
    expect(observer.status().snapshotIndex).toBeGreaterThan(0);
    expect(sm.items).toEqual(cluster.nodes[leader.id - 1]!.sm.items);
    expect(leader.status().replicas!.find((r) => r.id === 9)).toMatchObject({ voter: false });
  });

  it('unsafe recovery brings a lone survivor back as a one-voter cluster with its data', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(enc(`keep${i}`))));
    const survivor = cluster.running().find((n) => n !== leader)!;
    await waitFor(() => survivor.status().lastApplied === leader.status().commitIndex, 'survivor caught up');
    for (const n of cluster.nodes) await cluster.stopNode(n.id);
    const dir = cluster.nodes[survivor.id - 1]!.dir;
    const voter = `${survivor.id}@${survivor.addressOf(survivor.id)}`;
    await unsafeRecoverDataDir(dir, { clusterId: cluster.clusterId, nodeId: survivor.id }, voter);
    const sm = new ListStateMachine();
    const alone = await startRaftNode({
      nodeId: survivor.id,
      clusterId: cluster.clusterId,
      dataDir: dir,
      voters: voter,
      stateMachine: sm,
    });
    extra.push(alone);
    await waitFor(() => alone.status().role === 'leader', 'the survivor to lead');
    await alone.propose(enc('after'));
    expect(sm.items).toEqual([...Array.from({ length: 20 }, (_, i) => `keep${i}`), 'after']);
  });
});
