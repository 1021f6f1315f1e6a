// Read-your-writes: a client never reads metadata older than a write it has seen acknowledged, on any
// broker. Writes go to the active controller, reads to one sticky broker that may lag behind it; every
// read carries the highest metadata offset the client has seen, and the broker answers once its image
// has applied it. Another client (or process) gets the same guarantee by passing the write's offset.
// Run: npm run build && node examples/read-your-writes.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 3 });
const controllerId = (await cluster.controller()).nodeId;
const follower = cluster.nodes.find((n) => n.nodeId !== controllerId).address;
// Bootstrapped with a follower only: reads are served there while writes go to the controller.
const writer = new Kbroker({ brokers: [follower], clientId: 'example-ryw-writer' });
const reader = new Kbroker({ brokers: [follower], clientId: 'example-ryw-reader' });
try {
  const admin = writer.admin();
  const offsets = writer.offsets();
  for (let round = 1; round <= 20; round++) {
    // One client: the read right after the write sees it, with no polling.
    await admin.createTopics({ topics: [{ topic: `t${round}`, numPartitions: 1 }], waitForLeaders: false });
    assert.ok((await admin.listTopics()).includes(`t${round}`), `t${round} visible to its writer`);
    await offsets.commit('ryw', [{ topic: `t${round}`, partition: 0, offset: round }]);
    const [committed] = await offsets.fetch('ryw', [`t${round}`]);
    assert.equal(committed?.offset, round);
  }
  console.log('20 rounds: every write was visible to the next read of the same client');

  // Across clients: the raw response of a write carries the metadata offset it was applied at;
  // hand it to the reader (a message, an HTTP header...), which reads with it as `minOffset`.
  const res = await writer.rpc().request('commitOffsets', {
    groupId: 'handoff',
    offsets: [{ topic: 't1', partition: 0, offset: 99 }],
  });
  console.log('commitOffsets applied at metadata offset', res.offset);
  const seen = await reader.rpc().request('fetchOffsets', { groupId: 'handoff', minOffset: res.offset });
  console.log(
    'the other client read:',
    seen.offsets.map((o) => `${o.topic}-${o.partition}@${o.offset}`),
  );
  assert.equal(seen.offsets[0]?.offset, 99);
} finally {
  await Promise.all([writer.disconnect(), reader.disconnect()]);
  await cluster.stop();
}
