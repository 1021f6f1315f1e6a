// Admin: controller quorum membership. Removes a voter (it keeps following the log as an observer),
// then adds it back.
// Run: npm run build && node examples/voters.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 3 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-voters' });
const admin = kbroker.admin();
const voterIds = (quorum) => quorum.currentVoters.map((v) => v.id).sort();
try {
  const before = await admin.describeQuorum();
  console.log('voters:', voterIds(before), 'leader:', before.leaderId);
  const nodeId = voterIds(before).find((id) => id !== before.leaderId);
  // Endpoints read `CONTROLLER://host:port`; addVoter takes the `host:port`.
  const address = before.currentVoters.find((v) => v.id === nodeId).endpoints[0].replace(/^[A-Z_]+:\/\//, '');

  await admin.removeVoter({ nodeId });
  const removed = await admin.describeQuorum();
  console.log(`removed voter ${nodeId}: voters`, voterIds(removed), 'observers', removed.currentObservers);
  assert.deepEqual(
    voterIds(removed),
    voterIds(before).filter((id) => id !== nodeId),
  );

  await admin.addVoter({ nodeId, address });
  const added = await admin.describeQuorum();
  console.log(`added voter ${nodeId} at ${address}: voters`, voterIds(added));
  assert.deepEqual(voterIds(added), voterIds(before));
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
