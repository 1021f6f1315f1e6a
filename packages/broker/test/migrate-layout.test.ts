/**
 * Parsing a ZooKeeper-era Kafka layout: every JSON version Kafka wrote for the migrated znodes, and
 * every malformed or blocking case reported with its path and never thrown; planning is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { layoutCounts, parseLayout } from '../src/migrate/layout.js';
import { derivedTopicId, planMigration } from '../src/migrate/plan.js';
import { type SourceStat, SourceTree } from '../src/migrate/source.js';

const stat = (version = 0, mtime = 1000): SourceStat => ({
  version,
  cversion: 0,
  numChildren: 0,
  czxid: '5',
  mzxid: '6',
  ephemeralOwner: '0',
  ctime: 900,
  mtime,
});

/** A tree from path -> data (string JSON, object JSON, or null); children derived from the paths. */
function tree(nodes: Record<string, unknown>, versions: Record<string, number> = {}): SourceTree {
  const t = new SourceTree('test');
  const all = new Map<string, unknown>(Object.entries(nodes));
  for (const path of [...all.keys()]) {
    for (let p = path; p.lastIndexOf('/') > 0; ) {
      p = p.slice(0, p.lastIndexOf('/'));
      if (!all.has(p)) all.set(p, null);
    }
  }
  for (const [path, v] of all) {
    const data = v === null ? null : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    t.nodes.set(path, { data, stat: stat(versions[path] ?? 0) });
  }
  for (const path of all.keys()) {
    const prefix = `${path}/`;
    const kids = [...all.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .map((p) => p.slice(prefix.length))
      .sort();
    t.nodes.get(path)!.children = kids;
  }
  return t;
}

const ID = 'fMCL8kv1SWm87L_Md-I2hg';
const base = {
  '/cluster/id': { version: '1', id: ID },
  '/controller_epoch': '7',
};
const state = (leader: number, extra: Record<string, unknown> = {}) => ({
  controller_epoch: 7,
  leader,
  version: 1,
  leader_epoch: 4,
  isr: [leader],
  ...extra,
});

function issues(layout: ReturnType<typeof parseLayout>, severity: string) {
  return layout.issues.filter((i) => i.severity === severity).map((i) => `${i.path}: ${i.reason}`);
}

describe('parseLayout', () => {
  it('reads topic znodes v1, v2 and v3, partition states with their epochs and KIP-704 recovery', () => {
    const layout = parseLayout(
      tree(
        {
          ...base,
          '/brokers/topics/a/partitions/0/state': state(1),
          '/brokers/topics/a': { version: 1, partitions: { '0': [1, 2] } },
          '/brokers/topics/b': {
            version: 2,
            partitions: { '0': [2], '1': [3] },
            adding_replicas: {},
            removing_replicas: {},
          },
          '/brokers/topics/b/partitions/0/state': state(2, { leader_recovery_state: 1 }),
          '/brokers/topics/b/partitions/1/state': state(-1, { isr: [] }),
          '/brokers/topics/c': {
            version: 3,
            topic_id: 'dB5Xb1BTQ0uQ7t3yEM5k5Q',
            partitions: { '0': [1] },
            adding_replicas: {},
            removing_replicas: {},
          },
          '/brokers/topics/c/partitions/0/state': state(1),
        },
        { '/brokers/topics/b/partitions/1/state': 9 },
      ),
    );
    expect(layout.issues).toEqual([]);
    expect(layout.clusterId).toBe(ID);
    expect(layout.controllerEpoch).toBe(7);
    expect(layout.topics.map((t) => [t.name, t.id, t.version])).toEqual([
      ['a', null, 1],
      ['b', null, 2],
      ['c', 'dB5Xb1BTQ0uQ7t3yEM5k5Q', 3],
    ]);
    const b = layout.topics[1]!;
    expect(b.partitions[0]).toMatchObject({ leader: 2, leaderRecoveryState: 1, leaderEpoch: 4 });
    expect(b.partitions[1]).toMatchObject({ leader: -1, isr: [], partitionEpoch: 9, replicas: [3] });
  });

  it('reads configs (topics, brokers, <default>), offsets, features v1/v2 and broker znodes v1-v5', () => {
    const layout = parseLayout(
      tree({
        ...base,
        '/brokers/ids/1': { version: 1, host: 'h', port: 9092, jmx_port: -1, timestamp: '1' },
        '/brokers/ids/2': { version: 5, host: null, port: -1, endpoints: ['SSL://h:1'], features: {} },
        '/brokers/topics/t': { version: 1, partitions: { '0': [1] } },
        '/brokers/topics/t/partitions/0/state': state(1),
        '/config/topics/t': { version: 1, config: { 'x.unicode': 'ü ✓', 'x.empty': '' } },
        '/config/topics/gone': { version: 1, config: { a: 'b' } },
        '/config/brokers/<default>': { version: 1, config: { 'log.retention.ms': '1' } },
        '/config/brokers/1': { version: 1, config: {} },
        '/consumers/g/offsets/t/0': '42',
        '/consumers/g/offsets/t/1': '-1',
        '/feature': {
          version: 1,
          status: 1,
          features: { 'x.feature': { min_version_level: 1, max_version_level: 3 } },
        },
      }),
    );
    expect(issues(layout, 'malformed')).toEqual([]);
    expect(issues(layout, 'warning')).toEqual([
      '/config/topics/gone: configs of a topic that does not exist: not migrated',
    ]);
    expect(layout.brokers.map((b) => [b.id, b.version, b.endpoints])).toEqual([
      [1, 1, ['PLAINTEXT://h:9092']],
      [2, 5, ['SSL://h:1']],
    ]);
    expect(layout.topicConfigs.get('t')).toEqual({ 'x.unicode': 'ü ✓', 'x.empty': '' });
    expect([...layout.brokerConfigs.keys()]).toEqual(['<default>']);
    expect(layout.offsets.map((o) => o.offset)).toEqual([42, -1]);
    expect([...layout.features]).toEqual([['x.feature', 3]]);
    const v2 = parseLayout(
      tree({ ...base, '/feature': { version: 2, status: 1, features: { f: { max_version_level: 2 } } } }),
    );
    expect([...v2.features]).toEqual([['f', 2]]);
    expect(layoutCounts(layout)).toMatchObject({ topics: 1, configs: 3, offsets: 2, groups: 1, brokers: 2 });
  });

  it('reports malformed znodes with path and reason, leaving the thing out, never throwing', () => {
    const layout = parseLayout(
      tree({
        ...base,
        '/brokers/topics/json': '{nope',
        '/brokers/topics/arr': '[1]',
        '/brokers/topics/ver': { version: 4, partitions: { '0': [1] } },
        '/brokers/topics/gap': { version: 1, partitions: { '0': [1], '2': [1] } },
        '/brokers/topics/dup': { version: 1, partitions: { '0': [1, 1] } },
        '/brokers/topics/key': { version: 1, partitions: { x: [1] } },
        '/brokers/topics/nostate': { version: 1, partitions: { '0': [1] } },
        '/brokers/topics/badstate': { version: 1, partitions: { '0': [1] } },
        '/brokers/topics/badstate/partitions/0/state': { version: 1, leader: 1 },
        '/brokers/topics/lrs': { version: 1, partitions: { '0': [1] } },
        '/brokers/topics/lrs/partitions/0/state': state(1, { leader_recovery_state: 5 }),
        '/brokers/topics/zero': { version: 3, topic_id: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: { '0': [1] } },
        '/brokers/topics/zero/partitions/0/state': state(1),
        '/brokers/topics/bad name!': { version: 1, partitions: { '0': [1] } },
        '/config/topics/nostate': { version: 1, config: { a: 1 } },
        '/config/brokers/x': { version: 1, config: {} },
        '/consumers/g/offsets/t/0': '4.2',
        '/consumers/g/offsets/t/p': '1',
        '/feature': { version: 3, status: 1, features: {} },
      }),
    );
    const bad = issues(layout, 'malformed');
    const expected = [
      '/brokers/topics/json: not JSON',
      '/brokers/topics/arr: JSON is not an object',
      '/brokers/topics/ver: unsupported version 4',
      '/brokers/topics/gap: partition ids are not 0..1',
      '/brokers/topics/dup: partitions: partition 0 lists a broker twice',
      '/brokers/topics/key: partitions: partition key "x" is not a number',
      '/brokers/topics/nostate: partition 0 has no state znode',
      '/brokers/topics/badstate/partitions/0/state: leader, leader_epoch',
      '/brokers/topics/lrs/partitions/0/state: leader_recovery_state 5',
      '/brokers/topics/zero: topic_id AAAAAAAAAAAAAAAAAAAAAA is reserved',
      '/brokers/topics/bad name!: invalid topic name',
      '/config/topics/nostate: config a is not a string',
      '/config/brokers/x: entity is neither a broker id nor <default>',
      '/consumers/g/offsets/t/0: offset "4.2" is not a decimal number',
      '/consumers/g/offsets/t/p: partition is not a number',
      '/feature: unsupported version 3',
    ];
    for (const e of expected) expect(bad.some((b) => b.startsWith(e))).toBe(true);
    expect(layout.topics).toEqual([]);
    expect(layout.offsets).toEqual([]);
  });

  it('reports what blocks: no cluster id, ACLs, SCRAM, tokens, reassignments, pending deletes', () => {
    const layout = parseLayout(
      tree({
        '/kafka-acl/Topic/t': { version: 1, acls: [] },
        '/kafka-acl-extended/prefixed/Group/g-': { version: 1, acls: [] },
        '/kafka-acl-changes/acl_changes_0000000001': 'Topic:t',
        '/config/users/alice': { version: 1, config: { 'SCRAM-SHA-512': 'salt=...' } },
        '/config/clients/<default>': { version: 1, config: { producer_byte_rate: '1024' } },
        '/delegation_token/tokens/tok': { version: 3 },
        '/admin/reassign_partitions': { version: 1, partitions: [] },
        '/admin/delete_topics/t': null,
        '/brokers/topics/r': {
          version: 2,
          partitions: { '0': [1, 2] },
          adding_replicas: { '0': [2] },
          removing_replicas: {},
        },
        '/brokers/topics/r/partitions/0/state': state(1),
        '/controller_epoch': 'seven',
      }),
    );
    const blockers = layout.issues.filter((i) => i.severity === 'blocker').map((i) => i.path);
    expect(blockers.sort()).toEqual(
      [
        '/cluster/id',
        '/controller_epoch',
        '/kafka-acl/Topic/t',
        '/kafka-acl-extended/prefixed/Group/g-',
        '/config/users/alice',
        '/delegation_token/tokens/tok',
        '/admin/reassign_partitions',
        '/admin/delete_topics/t',
        '/brokers/topics/r',
      ].sort(),
    );
    expect(issues(layout, 'warning')).toEqual([
      '/config/clients/<default>: clients quotas are not migrated (producer_byte_rate)',
    ]);
  });
});

describe('planMigration', () => {
  const layout = parseLayout(
    tree({
      ...base,
      '/brokers/topics/a': { version: 1, partitions: { '0': [1], '1': [1] } },
      '/brokers/topics/a/partitions/0/state': state(1),
      '/brokers/topics/a/partitions/1/state': state(1),
      '/brokers/topics/b': { version: 3, topic_id: 'dB5Xb1BTQ0uQ7t3yEM5k5Q', partitions: { '0': [1] } },
      '/brokers/topics/b/partitions/0/state': state(1),
      '/config/brokers/<default>': { version: 1, config: { k: 'v' } },
      '/consumers/g/offsets/a/0': '5',
    }),
  );

  it('is deterministic, derives stable ids for topics without one, and never splits a topic', () => {
    const p1 = planMigration(layout, 3);
    const p2 = planMigration(layout, 3);
    expect(p1.migrationId).toBe(p2.migrationId);
    expect(p1.batches).toEqual(p2.batches);
    expect(p1.newTopicIds.get('a')).toBe(derivedTopicId(ID, 'a', '5'));
    expect(p1.topicIds.get('b')).toBe('dB5Xb1BTQ0uQ7t3yEM5k5Q');
    // Config | Topic a + 2 partitions (never split) | Topic b + partition, offset.
    expect(p1.batches.map((b) => b.records.length)).toEqual([1, 3, 3]);
    expect(p1.batches.at(-1)!.counts).toEqual({
      topics: 2,
      partitions: 3,
      configs: 1,
      offsets: 1,
      features: 0,
    });
    expect(p1.byType).toEqual({ Config: 1, Topic: 2, Partition: 3, OffsetCommit: 1 });
    // The same records batched otherwise: same content, another id.
    const p3 = planMigration(layout, 100);
    expect(p3.batches).toHaveLength(1);
    expect(p3.migrationId.split('-')[0]).toBe(p1.migrationId.split('-')[0]);
    expect(p3.migrationId).not.toBe(p1.migrationId);
  });
});
