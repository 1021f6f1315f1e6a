/**
 * kbroker's ZooKeeper-compatible view through real ZooKeeper clients: node-zookeeper-client and the
 * zkCli.sh of Debian's zookeeper package (which .ci/run installs).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zkAddressOf, zkConnect } from './helpers/zk.js';

const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';
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
  await client
    .admin()
    .createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3 }] });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

const zkAddress = (nodeId: number) => zkAddressOf(cluster, nodeId);

describe('the ZooKeeper-compatible view', () => {
  it('serves the Kafka layout to a ZooKeeper client', async () => {
    const z = await zkConnect(zkAddress(1));
    expect((await z.children('/brokers/ids')).sort()).toEqual(['1', '2', '3']);
    expect(await z.children('/brokers/topics')).toContain('orders');
    const topic = JSON.parse((await z.data('/brokers/topics/orders')).data!.toString());
    expect(topic).toMatchObject({
      version: 3,
      partitions: { 0: expect.any(Array), 1: expect.any(Array), 2: expect.any(Array) },
    });
    const state = await z.data('/brokers/topics/orders/partitions/0/state');
    const parsed = JSON.parse(state.data!.toString());
    expect(parsed).toMatchObject({ version: 1, leader: expect.any(Number), isr: expect.any(Array) });
    const broker = await z.data('/brokers/ids/1');
    expect(JSON.parse(broker.data!.toString())).toMatchObject({ version: 5, host: '127.0.0.1' });
    expect(broker.stat.ephemeralOwner.some((b) => b !== 0)).toBe(true);
    expect(JSON.parse((await z.data('/cluster/id')).data!.toString())).toEqual({
      version: '1',
      id: cluster.clusterId,
    });
    z.close();
  });

  it('fires a child watch on /brokers/ids when a broker is fenced, and shows it again once back', async () => {
    const controller = await cluster.controller();
    const victim = controller.nodeId === 3 ? 2 : 3;
    const watcherNode = controller.nodeId;
    const z = await zkConnect(zkAddress(watcherNode));
    let fired = false;
    expect((await z.children('/brokers/ids', () => (fired = true))).sort()).toEqual(['1', '2', '3']);
    await cluster.killNode(victim);
    await waitFor(() => fired, 'the child watch to fire', 15_000);
    expect(await z.children('/brokers/ids')).not.toContain(String(victim));
    await cluster.restartNode(victim);
    await cluster.waitUntilReady();
    await waitFor(
      async () => (await z.children('/brokers/ids')).includes(String(victim)),
      'the broker back in /brokers/ids',
    );
    z.close();
  });

  it('answers zkCli.sh: ls, get and stat', async () => {
    expect(existsSync(ZKCLI), `${ZKCLI} is missing: .ci/run installs Debian's zookeeper package`).toBe(true);
    // zkCli's watcher thread prints its connection event on the same stdout, at any point of the
    // command's own output (even inside `ls`'s list): those lines are taken out before matching.
    const run = async (...args: string[]) =>
      (
        await promisify(execFile)(ZKCLI, ['-server', zkAddress(1), ...args], { timeout: 30_000 })
      ).stdout.replace(/\n?WatchedEvent [^\n]*\n?/g, '');
    expect((await run('ls', '/brokers/ids')).replace(/\s/g, '')).toContain('[1,2,3]');
    expect(await run('get', '/brokers/topics/orders/partitions/0/state')).toMatch(/"leader":\d+/);
    expect(await run('stat', '/brokers/topics/orders')).toMatch(/dataVersion = 0/);
  });
});
