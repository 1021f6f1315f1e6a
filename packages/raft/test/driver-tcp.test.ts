/**
 * Three drivers over real TCP and real LevelDB: elect, replicate, kill, restart, compare logs.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LeadershipLostError, NotLeaderError } from '../src/errors.js';
import { startRaftNode } from '../src/node.js';
import { DataDirMismatchError } from '../src/storage/data-dir.js';
import { LevelStorage } from '../src/storage/level-storage.js';
import { ListStateMachine, TestCluster, waitFor } from './helpers/cluster.js';

const enc = (s: string) => new TextEncoder().encode(s);
let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('RaftNode over TCP and LevelDB', () => {
  it('elects, replicates, survives a killed follower and a killed leader; logs end equal', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    const first = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.propose(enc(`a${i}`))));
    expect(new Set(first).size).toBe(200);

    const follower = cluster.running().find((n) => n !== leader)!;
    const err = await follower.propose(enc('x')).catch((e) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(err.leaderId).toBe(leader.id);
    expect(err.leaderAddress).toBe(follower.addressOf(leader.id));

    // Kill a follower (no graceful step), write more, restart it from its data dir.
    await cluster.stopNode(follower.id);
    await Promise.all(Array.from({ length: 100 }, (_, i) => leader.propose(enc(`b${i}`))));
    const restarted = await cluster.startNode(follower.id);
    await waitFor(
      () => restarted.status().lastApplied >= leader.status().commitIndex,
      'restarted follower to catch up',
    );

    // Kill the leader; the others elect a new one and keep committing.
    await cluster.stopNode(leader.id);
    const next = await cluster.leader();
    expect(next.id).not.toBe(leader.id);
    await Promise.all(Array.from({ length: 50 }, (_, i) => next.propose(enc(`c${i}`))));
    await cluster.startNode(leader.id);
    const all = cluster.running();
    await waitFor(
      () => all.every((n) => n.status().lastApplied === next.status().commitIndex),
      'all nodes applied',
    );
    const logs = cluster.nodes.map((n) => n.sm.items);
    expect(logs[0]).toHaveLength(350);
    for (const l of logs) expect(l).toEqual(logs[0]);
  });

  it('writes the commit hint once writes pause, and on a graceful stop', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    const [a, b] = cluster.nodes.filter((n) => n.id !== leader.id);
    // What the follower writes (the storage is the driver's own port).
    const storage = (a!.node as unknown as { opts: { storage: LevelStorage } }).opts.storage;
    const persist = storage.persist.bind(storage);
    const hints: number[] = [];
    storage.persist = (batch) => {
      if (batch.entries.length === 0 && batch.sync === false && batch.hardState !== undefined)
        hints.push(batch.hardState.commit);
      return persist(batch);
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(enc(`h${i}`))));
    const commit = leader.status().commitIndex;
    // Once the writes stop, the deferred hint goes on its own (one write, not one per commit).
    await waitFor(() => hints.some((c) => c >= commit), 'the commit hint written on its own');
    expect(hints.length).toBeLessThan(commit);
    const storedCommit = async (dir: string) => {
      const s = await LevelStorage.open(join(dir, 'raft'));
      try {
        return (await s.loadHardState()).commit;
      } finally {
        await s.close();
      }
    };
    // A graceful stop right after a write carries the newest hint.
    await leader.propose(enc('last'));
    const last = leader.status().commitIndex;
    await waitFor(() => b!.node!.status().commitIndex >= last, 'follower to learn the last commit');
    await cluster.stopNode(b!.id, true);
    expect(await storedCommit(b!.dir)).toBeGreaterThanOrEqual(last);
  });

  it('catches a restarted follower up by snapshot after the leader compacted its log', async () => {
    cluster = new TestCluster(3, { snapshotThresholdBytes: 2_000, snapshotTrailingEntries: 10 });
    await cluster.start();
    const leader = await cluster.leader();
    const lagging = cluster.running().find((n) => n !== leader)!;
    await cluster.stopNode(lagging.id);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => leader.propose(enc(`s${round}-${i}-${'x'.repeat(40)}`))),
      );
    }
    await waitFor(() => leader.status().firstIndex > 50, 'the leader to compact its log');
    const back = await cluster.startNode(lagging.id);
    await waitFor(
      () => back.status().lastApplied >= leader.status().commitIndex,
      'the lagging follower to catch up',
    );
    expect(back.status().snapshotIndex).toBeGreaterThan(0);
    const items = cluster.nodes[lagging.id - 1]!.sm.items;
    expect(items).toHaveLength(500);
    expect(items).toEqual(cluster.nodes[leader.id - 1]!.sm.items);
  });

  it('takes a snapshot a chunk at a time, letting other work in between', async () => {
    // Chunks produced lazily, as the metadata image's are: each pull notes whether a macrotask
    // scheduled at the previous one ran first (the event loop was not held for the whole snapshot).
    const turns: boolean[] = [];
    class Lazy extends ListStateMachine {
      override snapshot(): Iterable<Uint8Array> {
        const chunks = [...super.snapshot()];
        return (function* () {
          let ran = true;
          for (const c of chunks) {
            turns.push(ran);
            ran = false;
            setImmediate(() => {
              ran = true;
            });
            yield c;
          }
        })();
      }
    }
    cluster = new TestCluster(
      3,
      { snapshotThresholdBytes: 2_000, snapshotTrailingEntries: 10 },
      'test-cluster',
      () => new Lazy(),
    );
    await cluster.start();
    const leader = await cluster.leader();
    await Promise.all(Array.from({ length: 300 }, (_, i) => leader.propose(enc(`c${i}-${'x'.repeat(40)}`))));
    await waitFor(() => leader.status().snapshotIndex > 0, 'a snapshot');
    // At least one snapshot of 300 items: 6+ chunks of 50.
    expect(turns.length).toBeGreaterThanOrEqual(6);
    expect(turns.every((t) => t)).toBe(true);
  });

  it('serves linearizable reads through read-index and hands leadership over on graceful stop', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    const index = await leader.propose(enc('r1'));
    const readAt = await leader.readIndex();
    expect(readAt).toBeGreaterThanOrEqual(index);
    const before = leader.status().term;
    await cluster.stopNode(leader.id, true);
    const next = await cluster.leader();
    expect(next.status().term).toBe(before + 1);
  });

  it('a leader cut off from the quorum fails its uncommitted proposals when it steps down', async () => {
    cluster = new TestCluster(3);
    await cluster.start();
    const leader = await cluster.leader();
    await leader.propose(enc('before'));
    leader.setPartitioned('all');
    // A proposal timeout far beyond the test's: only the step-down can end it in time.
    const pending = leader.propose(enc('cut off'), 10 * 60_000).catch((e: unknown) => e);
    const err = await pending;
    expect(err).toBeInstanceOf(LeadershipLostError);
    expect(err).toMatchObject({ code: 'LEADERSHIP_LOST', retriable: true });
    expect(leader.status().role).not.toBe('leader');
    leader.setPartitioned(undefined);
  });

  it('refuses a data dir formatted for another cluster, naming both ids', async () => {
    cluster = new TestCluster(1);
    await cluster.start();
    await cluster.stopNode(1);
    const err = await startRaftNode({
      nodeId: 1,
      clusterId: 'other-cluster',
      dataDir: cluster.nodes[0]!.dir,
      voters: cluster.quorum,
      stateMachine: new ListStateMachine(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataDirMismatchError);
    expect(err.message).toContain('test-cluster');
    expect(err.message).toContain('other-cluster');
  });
});
