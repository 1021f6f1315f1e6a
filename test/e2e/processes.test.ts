/**
 * kbroker as real processes over loopback: `node packages/broker/bin/kbroker.js` per node, killed with
 * SIGKILL or stopped with SIGTERM, observed through @kbroker/client, the CLI, the nodes' own client
 * listeners and their http listeners. Short session timeouts (1500 ms, heartbeats 300 ms) keep the
 * fencing waits short; nothing sleeps a fixed time: every wait is for a condition or a log line.
 */
import type { Kbroker } from '@kbroker/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupProcesses,
  type KbrokerProcess,
  ProcessCluster,
  randomClusterIdFromCli,
} from './helpers/processes.js';

const SESSION_TIMEOUT_MS = 1_500;
const HEARTBEAT_MS = 300;

afterAll(async () => {
  await cleanupProcesses();
});

/** Keeps committing offsets, one new group per commit, and remembers which commits were acknowledged. */
function commitLoad(client: Kbroker, topic: string, partitions: number, prefix: string) {
  const acked: string[] = [];
  let failed = 0;
  let stop = false;
  const offsets = client.offsets();
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const group = `${prefix}-${i}`;
      try {
        await offsets.commit(group, [{ topic, partition: i % partitions, offset: i }]);
        acked.push(group);
      } catch {
        // Not acknowledged: it may or may not be there afterwards.
        failed++;
      }
    }
  })();
  return {
    acked,
    get failed() {
      return failed;
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}

/** Every group of `groups` is in `node`'s own image. */
async function hasGroups(node: KbrokerProcess, groups: readonly string[]): Promise<boolean> {
  const { groups: found } = await node.query('listGroups', {});
  const names = new Set(found.map((g) => g.groupId));
  return groups.every((g) => names.has(g));
}

/** Partitions of `topics` led by `nodeId`, as `node`'s own image says. */
async function ledBy(node: KbrokerProcess, topics: readonly string[], nodeId: number): Promise<string[]> {
  const { topics: found } = await node.query('describeTopics', { names: topics });
  return found.flatMap((t) =>
    t.partitions.filter((p) => p.leader === nodeId).map((p) => `${t.name}-${p.partition}`),
  );
}

describe('a three-node cluster of kbroker processes', () => {
  let cluster: ProcessCluster;
  const TOPICS = ['orders', 'payments'];

  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      voters: 3,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
  });

  it('elects a controller, unfences every broker, and serves /health and /metrics', async () => {
    const controller = await cluster.controllerId();
    expect([1, 2, 3]).toContain(controller);
    const desc = await cluster.client().admin().describeCluster();
    expect(desc.controller).toBe(controller);
    expect(desc.brokers.map((b) => [b.nodeId, b.fenced])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    for (const n of cluster.nodes) {
      const health = await n.http('/health');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', nodeId: n.nodeId, broker: 'unfenced' });
      const metrics = await n.http('/metrics');
      expect(metrics.status).toBe(200);
      const term = /^kbroker_raft_term\{[^}]*\} (\d+)$/m.exec(metrics.body);
      expect(term, metrics.body.slice(0, 500)).not.toBeNull();
      expect(Number(term![1])).toBeGreaterThanOrEqual(1);
      expect(metrics.body).toMatch(/^# TYPE kbroker_raft_term gauge$/m);
    }
    const quorum = await cluster.cli(['quorum', 'describe', '--status', '--json']);
    expect(quorum.code, quorum.stderr).toBe(0);
    const status = JSON.parse(quorum.stdout) as { leaderId: number; currentVoters: { id: number }[] };
    expect(status.leaderId).toBe(controller);
    expect(status.currentVoters.map((v) => v.id).sort()).toEqual([1, 2, 3]);
  });

  it('creates topics through the CLI, and every node serves them', async () => {
    const orders = await cluster.cli([
      'topics',
      'create',
      '--topic',
      'orders',
      '--partitions',
      '6',
      '--replication-factor',
      '3',
    ]);
    expect(orders, orders.stderr).toMatchObject({ code: 0, stdout: 'Created topic orders.\n' });
    const payments = await cluster.cli([
      'topics',
      'create',
      '--topic',
      'payments',
      '--partitions',
      '3',
      '--replication-factor',
      '3',
    ]);
    expect(payments.code, payments.stderr).toBe(0);
    const again = await cluster.cli([
      'topics',
      'create',
      '--topic',
      'orders',
      '--partitions',
      '1',
      '--replication-factor',
      '1',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^kbroker: TOPIC_ALREADY_EXISTS/);
    for (const n of cluster.nodes) {
      await cluster.waitFor(async () => {
        const { topics } = await n.query('describeTopics', { names: TOPICS });
        return (
          topics.length === 2 &&
          topics.every((t) => t.partitions.every((p) => p.leader > 0 && p.isr.length === 3))
        );
      }, `node ${n.nodeId} to serve both topics with leaders`);
    }
    const list = await cluster.cli(['topics', 'list']);
    expect(list).toMatchObject({ code: 0, stdout: 'orders\npayments\n' });
  });

  it('a broker-only node follows the log: it serves the topics and /health turns 200', async () => {
    const observer = await cluster.addNode({ nodeId: 4 });
    expect((await observer.http('/health')).status).not.toBe(200);
    await cluster.waitFor(() => observer.healthy(), 'node 4 healthy');
    const { topics } = await observer.query('describeTopics', { names: TOPICS });
    expect(topics.map((t) => [t.name, t.partitions.length])).toEqual([
      ['orders', 6],
      ['payments', 3],
    ]);
    const desc = await observer.query('describeCluster', {});
    expect(desc.brokers.map((b) => [b.id, b.fenced])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, false],
    ]);
    const quorum = await cluster.cli(['quorum', 'describe', '--status', '--json']);
    const status = JSON.parse(quorum.stdout) as {
      currentVoters: { id: number }[];
      currentObservers: { id: number }[];
    };
    expect(status.currentVoters.map((v) => v.id).sort()).toEqual([1, 2, 3]);
    expect(status.currentObservers.map((v) => v.id)).toContain(4);
  });

  it('refuses a node formatted with another cluster id', async () => {
    const marks = new Map(cluster.nodes.map((n) => [n.nodeId, n.mark()]));
    const stranger = await cluster.addNode({ nodeId: 9, clusterId: await randomClusterIdFromCli() });
    const rejection = /INVALID_CLUSTER_ID/;
    const first = await Promise.any(
      [stranger, ...cluster.nodes.filter((n) => n !== stranger)].map(async (n) => ({
        node: n,
        line: await n.waitForLog(rejection, { after: marks.get(n.nodeId) ?? 0 }),
      })),
    );
    expect(first.line.text).toMatch(/handshake/);
    // Refused again on its next attempt, and still not serving.
    await first.node.waitForLog(rejection, { after: first.line.seq });
    expect((await stranger.http('/health')).status).toBe(503);
    expect(stranger.running).toBe(true);
    const desc = await cluster.client().admin().describeCluster();
    expect(desc.brokers.map((b) => b.nodeId)).not.toContain(9);
    await stranger.kill9();
  });

  it('kill -9 of the active controller: another is elected and no acknowledged metadata is lost', async () => {
    const client = cluster.client();
    const old = await cluster.controllerId();
    await client
      .admin()
      .createTopics({ topics: [{ topic: 'before-kill', numPartitions: 2, replicationFactor: 3 }] });
    const load = commitLoad(client, 'orders', 6, 'ctl');
    try {
      await cluster.waitFor(() => load.acked.length >= 20, '20 acknowledged commits');
      await cluster.node(old).kill9();
      const atKill = load.acked.length;
      await cluster.waitFor(async () => {
        const c = await cluster.controllerId();
        return c > 0 && c !== old;
      }, 'a new active controller');
      await cluster.waitFor(() => load.acked.length >= atKill + 20, '20 more commits after the failover');
    } finally {
      await load.stop();
    }
    const acked = [...load.acked];
    const survivors = cluster.running();
    expect(survivors.map((n) => n.nodeId)).toEqual([1, 2, 3, 4].filter((id) => id !== old));
    for (const n of survivors) {
      await cluster.waitFor(() => hasGroups(n, acked), `node ${n.nodeId} to have every acknowledged commit`);
      const { topics } = await n.query('listTopics', {});
      expect(topics.map((t) => t.name).sort()).toEqual(['before-kill', 'orders', 'payments']);
    }
    const last = acked.at(-1)!;
    const lastOffset = Number(last.split('-')[1]);
    expect(await client.offsets().fetch(last)).toEqual([
      { topic: 'orders', partition: lastOffset % 6, offset: lastOffset, metadata: '' },
    ]);
    // The killed node comes back with everything, from its own log and the new leader.
    const restarted = cluster.node(old).start();
    await cluster.waitFor(() => restarted.healthy(), `node ${old} healthy again`);
    await cluster.waitFor(() => hasGroups(restarted, acked), `node ${old} to have every acknowledged commit`);
    await cluster.waitUntilReady();
  });

  it('kill -9 of a broker fences it after the session timeout and moves its leaderships; a restart brings it and its preferred leaderships back', async () => {
    const controller = await cluster.controllerId();
    const observer = cluster.node(controller);
    // A broker that is not the controller and leads something.
    let victimId = -1;
    for (const id of [1, 2, 3]) {
      if (id !== controller && (await ledBy(observer, TOPICS, id)).length > 0) victimId = id;
    }
    expect(victimId).toBeGreaterThan(0);
    const victim = cluster.node(victimId);
    const client = cluster.client();
    const killedAt = performance.now();
    await victim.kill9();
    await cluster.waitFor(async () => {
      const d = await observer.query('describeCluster', {});
      return d.brokers.find((b) => b.id === victimId)?.fenced === true;
    }, `broker ${victimId} fenced`);
    const fencedAfterMs = performance.now() - killedAt;
    // Not before its last heartbeat's session ran out.
    expect(fencedAfterMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - HEARTBEAT_MS - 200);
    for (const n of cluster.running()) {
      await cluster.waitFor(
        async () => (await ledBy(n, TOPICS, victimId)).length === 0,
        `node ${n.nodeId}: no partition led by ${victimId}`,
      );
    }
    const { topics } = await client.admin().describeTopics({ topics: TOPICS });
    for (const p of topics.flatMap((t) => t.partitions)) {
      expect(p.leader).toBeGreaterThan(0);
      expect(p.isr).not.toContain(victimId);
    }

    victim.start();
    await cluster.waitFor(() => victim.healthy(), `node ${victimId} unfenced again`);
    await cluster.waitFor(async () => {
      const { topics: now } = await observer.query('describeTopics', { names: TOPICS });
      return now.every((t) =>
        t.partitions.every((p) => p.leader === p.replicas[0] && p.isr.length === p.replicas.length),
      );
    }, 'every preferred leader back, full ISRs');
    // The restarted node's own image catches up on its own time: wait for it, do not race it.
    await cluster.waitFor(
      async () => (await ledBy(victim, TOPICS, victimId)).length > 0,
      `node ${victimId} sees its preferred leaderships`,
    );
  });

  it('SIGTERM shuts a node down in a controlled way: exit code 0, no leadership left behind', async () => {
    await cluster.waitUntilReady();
    const targetId = await cluster.controllerId();
    const target = cluster.node(targetId);
    const survivors = cluster.running().filter((n) => n !== target);
    expect((await ledBy(survivors[0]!, TOPICS, targetId)).length).toBeGreaterThan(0);
    const mark = target.mark();
    const exit = await target.terminate();
    expect(exit, target.tail()).toEqual({ code: 0, signal: null });
    // Its leaderships had moved before it exited: the survivors' images say so well within a session
    // timeout (its last heartbeat was the shutdown one, so it cannot have been fenced for silence), and
    // they record it as shut down in a controlled way.
    for (const n of survivors) {
      await cluster.waitFor(
        async () => (await ledBy(n, TOPICS, targetId)).length === 0,
        `node ${n.nodeId}: nothing led by ${targetId}`,
        SESSION_TIMEOUT_MS - HEARTBEAT_MS,
      );
      const { brokers } = await n.query('describeCluster', {});
      expect(brokers.find((b) => b.id === targetId)).toMatchObject({ inControlledShutdown: true });
    }
    const msgs = target.records(mark).map((r) => r.msg);
    expect(msgs).toEqual(
      expect.arrayContaining(['controlled shutdown', 'controlled shutdown complete', 'stopped']),
    );
    expect(msgs.indexOf('controlled shutdown complete')).toBeLessThan(msgs.indexOf('stopped'));
    expect(msgs.at(-1)).toBe('stopped');
    const out = target
      .allLines()
      .filter((l) => l.seq > mark && l.stream === 'stdout')
      .map((l) => l.text);
    expect(out).toEqual([
      `SIGTERM: stopping node ${targetId} (controlled shutdown)...`,
      `node ${targetId} stopped.`,
    ]);
    await cluster.waitFor(async () => {
      const c = await cluster.controllerId();
      return c > 0 && c !== targetId;
    }, 'another active controller');
  });
});

describe('voter changes under load', () => {
  it('adds a broker-only node as a voter and removes another while offsets are committed; nothing acknowledged is lost', async () => {
    const cluster = await ProcessCluster.start({
      voters: 3,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    const joiner = await cluster.addNode({ nodeId: 4, quorumListener: true });
    await cluster.waitFor(() => joiner.healthy(), 'node 4 healthy');
    const create = await cluster.cli([
      'topics',
      'create',
      '--topic',
      'load',
      '--partitions',
      '4',
      '--replication-factor',
      '3',
    ]);
    expect(create.code, create.stderr).toBe(0);
    const describe = async () => {
      const r = await cluster.cli(['quorum', 'describe', '--status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as {
        leaderId: number;
        currentVoters: { id: number; endpoints?: string[] }[];
        currentObservers: { id: number }[];
      };
    };
    const load = commitLoad(cluster.newClient('load'), 'load', 4, 'v');
    let removed = -1;
    try {
      await cluster.waitFor(() => load.acked.length >= 20, '20 acknowledged commits');
      const add = await cluster.cli([
        'quorum',
        'add-voter',
        '--node-id',
        '4',
        '--address',
        joiner.spec.quorumListener!,
      ]);
      expect(add, add.stderr).toMatchObject({
        code: 0,
        stdout: `Added voter 4 at ${joiner.spec.quorumListener}.\n`,
      });
      const afterAdd = await describe();
      expect(afterAdd.currentVoters.map((v) => v.id).sort()).toEqual([1, 2, 3, 4]);
      expect(afterAdd.currentVoters.find((v) => v.id === 4)?.endpoints).toEqual([
        `CONTROLLER://${joiner.spec.quorumListener}`,
      ]);
      await cluster.waitFor(
        async () => JSON.parse((await joiner.http('/health')).body).role === 'follower',
        'node 4 to follow as a voter',
      );
      const mark = load.acked.length;
      await cluster.waitFor(() => load.acked.length >= mark + 20, '20 commits with four voters');

      removed = [1, 2, 3].find((id) => id !== afterAdd.leaderId)!;
      const rm = await cluster.cli(['quorum', 'remove-voter', '--node-id', String(removed)]);
      expect(rm, rm.stderr).toMatchObject({ code: 0, stdout: `Removed voter ${removed}.\n` });
      const afterRemove = await describe();
      expect(afterRemove.currentVoters.map((v) => v.id).sort()).toEqual(
        [1, 2, 3, 4].filter((id) => id !== removed),
      );
      expect(afterRemove.leaderId).not.toBe(removed);
      const mark2 = load.acked.length;
      await cluster.waitFor(() => load.acked.length >= mark2 + 20, '20 commits after the removal');
    } finally {
      await load.stop();
    }
    const acked = [...load.acked];
    expect(acked.length).toBeGreaterThanOrEqual(60);
    for (const n of cluster.running()) {
      await cluster.waitFor(() => hasGroups(n, acked), `node ${n.nodeId} to have every acknowledged commit`);
    }
    // The removed voter keeps serving as a broker.
    expect(await cluster.node(removed).healthy()).toBe(true);
  });
});
