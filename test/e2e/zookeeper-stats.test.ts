/**
 * Every node's ZooKeeper listener serves the same stat for the same znode, a restarted node included:
 * stats derive from the replicated metadata alone, so a ZooKeeper client may move between brokers and
 * a conditional write (setData with a version) means the same on each.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zkAddressOf, zkConnect } from './helpers/zk.js';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    zookeeper: true,
    sessionTimeoutMs: 1500,
    brokerHeartbeatIntervalMs: 300,
  });
  client = new Kbroker({ brokers: cluster.brokers });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

const zkAddress = (nodeId: number) => zkAddressOf(cluster, nodeId);

type Session = Awaited<ReturnType<typeof zkConnect>>;

/** Every znode below `/` as `path -> stat and data`, read through one ZooKeeper session. */
async function readTree(z: Session): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (path: string): Promise<void> => {
    const { data, stat } = await z.data(path);
    out.set(path, JSON.stringify({ stat, data: data?.toString('base64') ?? null }));
    for (const name of (await z.children(path)).sort())
      await visit(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  await visit('/');
  return out;
}

/** The paths whose stat or data differ between the trees (or exist in one only). */
function differences(trees: readonly Map<string, string>[]): string[] {
  const paths = new Set(trees.flatMap((t) => [...t.keys()]));
  return [...paths].filter((p) => new Set(trees.map((t) => t.get(p))).size > 1).sort();
}

describe('ZooKeeper stats across nodes and restarts', () => {
  it('a restarted node serves the same stats as the others, deletions and fencing included', async () => {
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'kept', numPartitions: 3, replicationFactor: 3 },
        { topic: 'dropped', numPartitions: 2, replicationFactor: 2 },
      ],
    });
    await admin.alterConfigs({
      resources: [{ type: 'topic', name: 'kept', configEntries: [{ name: 'retention.ms', value: '1000' }] }],
    });
    await admin.alterConfigs({
      resources: [{ type: 'topic', name: 'kept', configEntries: [{ name: 'retention.ms', value: null }] }],
    });
    await admin.deleteTopics({ topics: ['dropped'] });
    await waitFor(async () => !(await admin.listTopics()).includes('dropped'), 'the topic deleted');

    // A broker that is not the controller goes away (fenced: its /brokers/ids znode deleted) and
    // comes back with its history of the log replayed from its own data dir.
    const controller = (await cluster.controller()).nodeId;
    const victim = controller === 3 ? 2 : 3;
    await cluster.killNode(victim);
    const survivor = controller;
    const watcher = await zkConnect(zkAddress(survivor));
    await waitFor(
      async () => !(await watcher.children('/brokers/ids')).includes(String(victim)),
      'the killed broker fenced',
      20_000,
    );
    await cluster.restartNode(victim);
    await cluster.waitUntilReady();
    await waitFor(
      async () => (await watcher.children('/brokers/ids')).includes(String(victim)),
      'the restarted broker back',
      20_000,
    );
    watcher.close();

    const sessions = await Promise.all([1, 2, 3].map((id) => zkConnect(zkAddress(id))));
    let trees: Map<string, string>[] = [];
    // The nodes apply the same log at their own pace: wait until each has caught up, after which
    // the trees must be equal (they never become so when a node derives stats of its own).
    await waitFor(
      async () => {
        trees = await Promise.all(sessions.map(readTree));
        return differences(trees).length === 0;
      },
      'every node serving the same znodes',
      20_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; differing: ${differences(trees).join(', ')}`);
    });
    for (const s of sessions) s.close();

    const parse = (path: string) => JSON.parse(trees[0]!.get(path)!) as { stat: Record<string, unknown> };
    // What the restarted node must have from the log, not from having watched it: one topic
    // deleted, one broker fenced and back, a config emptied and still shown.
    expect(parse('/brokers/topics').stat).toMatchObject({ numChildren: 1, cversion: 3 });
    expect((parse('/brokers/ids').stat.cversion as number) >= 5).toBe(true);
    expect(parse('/config/topics/kept').stat).toMatchObject({ version: 2 });
    expect([...trees[0]!.keys()]).toContain('/controller');
  });
});
