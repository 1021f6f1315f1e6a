// Admin: preferred leader election. A partition's leader is stopped, leadership moves to another
// replica; once the preferred replica is back in sync, electLeaders moves leadership back to it.
// Run: npm run build && node examples/leader-election.mjs
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 3 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-elect' });
const admin = kbroker.admin();

async function partition0() {
  const { topics } = await admin.describeTopics({ topics: ['orders'] });
  return topics[0].partitions[0];
}
async function until(what, condition) {
  for (let i = 0; i < 400; i++) {
    const value = await condition();
    if (value) return value;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

try {
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3 }] });
  const initial = await partition0();
  const preferred = initial.replicas[0];
  console.log(`orders-0: leader ${initial.leader} (preferred ${preferred}), isr [${initial.isr}]`);

  await cluster.stopNode(preferred);
  const moved = await until('a new leader', async () => {
    const p = await partition0();
    return p.leader > 0 && p.leader !== preferred ? p : undefined;
  });
  console.log(`stopped node ${preferred}: leader is now ${moved.leader}, isr [${moved.isr}]`);

  await cluster.restartNode(preferred);
  await until('the preferred replica back in sync', async () => (await partition0()).isr.includes(preferred));
  console.log(`node ${preferred} restarted and back in the ISR`);

  const results = await admin.electLeaders({
    preferred: true,
    topicPartitions: [{ topic: 'orders', partitions: [0, 1] }],
  });
  for (const r of results) console.log(`  elect ${r.topic}-${r.partition}: ${r.error ?? 'elected'}`);
  const after = await partition0();
  console.log(`orders-0: leader ${after.leader}, epoch ${after.leaderEpoch}`);
  assert.equal(after.leader, preferred);
  assert.equal(results.find((r) => r.partition === 1).error, 'ELECTION_NOT_NEEDED');
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
