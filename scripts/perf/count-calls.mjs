// Preloaded into kbroker nodes by commit-load.mjs --count (node --import): counts, between two SIGUSR2,
// the Raft persists and their entries, the state machine's applies, and the ZooKeeper view's controller
// calls, by wrapping the prototypes of the compiled classes; writes /tmp/kbroker-count-<pid>.json.
import { writeFileSync } from 'node:fs';

const dist = new URL('../../packages/', import.meta.url).pathname;
const { LevelStorage } = await import(`${dist}raft/dist/storage/level-storage.js`);
const { MetadataStateMachine } = await import(`${dist}metadata-log/dist/state-machine.js`);
const { ZkAdminWrites } = await import(`${dist}broker/dist/node/zk-writes.js`);

const counts = {};
let on = false;
const inc = (key, n = 1) => {
  if (on) counts[key] = (counts[key] ?? 0) + n;
};
process.on('SIGUSR2', () => {
  on = !on;
  if (!on) writeFileSync(`/tmp/kbroker-count-${process.pid}.json`, JSON.stringify(counts));
});
const before = (proto, name, f) => {
  const original = proto[name];
  proto[name] = function (...args) {
    f(...args);
    return original.apply(this, args);
  };
};
before(LevelStorage.prototype, 'persist', (b) => {
  inc('persists');
  inc('persistedEntries', b.entries.length);
});
before(MetadataStateMachine.prototype, 'apply', (entries) => {
  inc('applies');
  inc('appliedEntries', entries.length);
});
before(ZkAdminWrites.prototype, 'call', (api, body) => {
  inc(`calls:${api}`);
  if (api === 'commitOffsets') inc('committedPartitions', body.offsets.length);
});
