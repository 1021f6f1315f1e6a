// Admin: the cluster (brokers, active controller) and the controller quorum's status and replication.
// Run: npm run build && node examples/cluster.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 3 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-cluster' });
const admin = kbroker.admin();
try {
  const description = await admin.describeCluster();
  console.log(`cluster ${description.clusterId}, active controller: node ${description.controller}`);
  for (const b of description.brokers) {
    console.log(`  broker ${b.nodeId} at ${b.host}:${b.port} fenced=${b.fenced} rack=${b.rack}`);
  }
  assert.equal(description.brokers.length, 3);

  // `kafka-metadata-quorum describe --status` and `--replication` in one call.
  const quorum = await admin.describeQuorum();
  console.log(
    `quorum: leader ${quorum.leaderId}, epoch ${quorum.leaderEpoch}, high watermark ${quorum.highWatermark}, ` +
      `max follower lag ${quorum.maxFollowerLag}`,
  );
  console.log('  voters:', quorum.currentVoters.map((v) => `${v.id} ${v.endpoints.join(' ')}`).join(', '));
  for (const r of quorum.replicas) {
    console.log(`  replica ${r.nodeId}: ${r.status}, log end ${r.logEndOffset}, lag ${r.lag}`);
  }
  assert.equal(quorum.leaderId, description.controller);
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
