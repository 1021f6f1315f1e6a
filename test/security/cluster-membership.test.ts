/**
 * Who may talk to the cluster, with real `kbroker` processes: three voters with mutual TLS on the
 * quorum (TLS on the client listener too). A third voter whose certificate comes from another CA can
 * neither join nor vote: the listeners refuse it, both sides log it, and the other two keep the quorum
 * and serve writes. A node formatted for another cluster (with a valid certificate) is refused by
 * cluster id, logged on both sides, and so is a client hello naming another cluster (what the
 * broker-to-controller channel sends).
 */
import { join } from 'node:path';
import { InconsistentClusterIdError, Kbroker } from '@kbroker/client';
import { Connection } from '@kbroker/client/connection';
import { freePorts, waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupProcesses,
  KbrokerProcess,
  randomClusterIdFromCli,
  tempDir,
} from '../e2e/helpers/processes.js';
import { createTestCa, type Leaf, type TestCa } from './helpers/certs.js';

let ca: TestCa;
let rogueCa: TestCa;
let clusterId: string;
let quorum: string;
let dir: string;
const nodes: KbrokerProcess[] = [];
const clients: Kbroker[] = [];

function tlsArgs(leaf: Leaf): string[] {
  return [
    '--tls-cert',
    leaf.certFile,
    '--tls-key',
    leaf.keyFile,
    '--tls-ca',
    ca.caFile,
    '--tls-listeners',
    'client,quorum',
  ];
}

async function nodeProcess(nodeId: number, leaf: Leaf, quorumPort: number | undefined, cluster = clusterId) {
  const [client, http] = await freePorts(2);
  return new KbrokerProcess({
    nodeId,
    clusterId: cluster,
    controllerQuorum: quorum,
    dataDir: join(dir, `node-${nodeId}`),
    client: `127.0.0.1:${client}`,
    http: `127.0.0.1:${http}`,
    sessionTimeoutMs: 1_500,
    heartbeatIntervalMs: 300,
    ...(quorumPort === undefined ? {} : { quorumListener: `127.0.0.1:${quorumPort}` }),
    extraArgs: tlsArgs(leaf),
  });
}

function client(): Kbroker {
  const k = new Kbroker({
    brokers: nodes.slice(0, 2).map((n) => n.client),
    tls: { ca: ca.ca },
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 5_000,
    retry: { retries: 8, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 },
  });
  clients.push(k);
  return k;
}

beforeAll(async () => {
  [ca, rogueCa] = await Promise.all([createTestCa(), createTestCa('rogue-ca')]);
  dir = await tempDir('kbroker-membership-');
  clusterId = await randomClusterIdFromCli();
  const quorumPorts = await freePorts(3);
  quorum = quorumPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
  const leaves = await Promise.all([ca.issue('node-1'), ca.issue('node-2'), rogueCa.issue('node-3')]);
  for (let i = 0; i < 3; i++) nodes.push(await nodeProcess(i + 1, leaves[i]!, undefined));
  for (const n of nodes) n.start();
  // Nodes 1 and 2 form the quorum on their own; node 3 is never let in.
  await Promise.all(
    nodes.slice(0, 2).map((n) => waitFor(() => n.healthy(), `node ${n.nodeId} healthy`, 30_000)),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
  await cleanupProcesses();
  await Promise.all([ca?.remove(), rogueCa?.remove()]);
});

describe('cluster membership', () => {
  it('a voter without a certificate from the cluster CA cannot join or vote; the others keep the quorum', async () => {
    const [n1, n2, n3] = nodes as [KbrokerProcess, KbrokerProcess, KbrokerProcess];
    await Promise.any(
      [n1, n2].map((n) => n.waitForLog(/refusing a quorum connection: TLS handshake failed/)),
    );
    await n3.waitForLog(/TLS handshake with peer failed/);
    const admin = client().admin();
    expect(
      await admin.createTopics({
        topics: [{ topic: 'kept-quorum', numPartitions: 1, replicationFactor: 2 }],
      }),
    ).toBe(true);
    // Node 3 never heard from the quorum: not serving, no leader known, not in the cluster's brokers.
    expect(await n3.healthy()).toBe(false);
    expect((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort()).toEqual([1, 2]);
  });

  it('a node formatted for another cluster is refused, and both sides log it', async () => {
    const strangerId = await randomClusterIdFromCli();
    const marks = nodes.map((n) => n.mark());
    const stranger = await nodeProcess(9, await ca.issue('node-9'), (await freePorts(1))[0], strangerId);
    nodes.push(stranger);
    stranger.start();
    await stranger.waitForLog(
      /peer rejected our handshake.*INVALID_CLUSTER_ID|INVALID_CLUSTER_ID.*peer rejected our handshake/,
    );
    await Promise.any(
      nodes.slice(0, 2).map((n, i) => n.waitForLog(/rejecting handshake/, { after: marks[i] })),
    );
    expect(await stranger.healthy()).toBe(false);
  });

  it('a client hello naming another cluster (as the broker-to-controller channel sends) is refused and logged', async () => {
    const n1 = nodes[0]!;
    const mark = n1.mark();
    const [host, port] = n1.client.split(':');
    const endpoint = { host: host!, port: Number(port) };
    await expect(
      Connection.connect(endpoint, {
        ...endpoint,
        clientId: 'kbroker-node-9',
        clusterId: 'not-this-cluster',
        tls: { ca: ca.ca },
        connectionTimeoutMs: 2_000,
        requestTimeoutMs: 2_000,
      }),
    ).rejects.toBeInstanceOf(InconsistentClusterIdError);
    const line = await n1.waitForLog(/refusing a client hello/, { after: mark });
    expect(line.text).toContain('INCONSISTENT_CLUSTER_ID');
  });
});
