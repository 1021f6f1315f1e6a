/**
 * Writes a ZooKeeper layout as ZooKeeper-era Kafka would have left it, into a real ZooKeeper, for the
 * migration's tests and benchmark: broker znodes v1/v4/v5, topics in every JSON version (v1 and v2 have
 * no topic id), partition states whose versions (partition epochs) moved with setData like a controller's
 * updates, configs with unusual values and `<default>`, the old consumer's offsets, `/feature` v1,
 * notification leftovers, and, on request, malformed znodes and things that block a migration.
 *
 * Fast: every create of a level is sent at once over pipelined sessions.
 */
import { ZkWireClient } from '@kbroker/zk-view';
import { Limiter } from '../migrate/limiter.js';

export interface KafkaFixtureSpec {
  readonly clusterId: string;
  readonly controllerEpoch: number;
  /** Topics; each gets `partitionsOf(i)` partitions. */
  readonly topics: number;
  readonly partitionsOf?: (i: number) => number;
  /** Topic name prefix. Default `topic-`. */
  readonly prefix?: string;
  /** Consumer groups with ZooKeeper offsets, each over the first topics. Default 0. */
  readonly groups?: number;
  /** Add malformed znodes (bad JSON, a bad state, a partition gap, a bad offset, a bad entity). */
  readonly malformed?: boolean;
  /** Add znodes that block a migration (ACLs, a SCRAM user, a token, pending reassignment and delete). */
  readonly blockers?: boolean;
  /** Move partition epochs with setData as a controller would (default true; the benchmark skips it). */
  readonly epochBumps?: boolean;
  /** Requests in flight. Default 4,000. */
  readonly inFlight?: number;
}

export interface KafkaFixture {
  readonly topics: readonly string[];
  readonly partitions: number;
  /** Topics written without a topic id (znode v1 and v2). */
  readonly topicsWithoutIds: readonly string[];
  readonly malformedPaths: readonly string[];
}

const enc = (s: string) => Buffer.from(s, 'utf8');

/** A deterministic 22-character base64url topic id. */
export function fixtureTopicId(i: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x6b62726b, 0);
  b.writeUInt32BE(i + 1, 12);
  return b.toString('base64url');
}

/** Config values Kafka accepts as strings that stress a copy: unicode, quotes, newlines, empty, long. */
export const UNUSUAL_CONFIG: Readonly<Record<string, string>> = {
  'retention.ms': '-1',
  'cleanup.policy': 'compact,delete',
  'message.timestamp.type': 'LogAppendTime',
  'x.unicode': 'naïve ✓ 数据',
  'x.quotes': 'say "hi"\nand \\ bye',
  'x.empty': '',
  'x.long': 'v'.repeat(2000),
};

export async function writeKafkaFixture(connect: string, spec: KafkaFixtureSpec): Promise<KafkaFixture> {
  const sessions = await Promise.all([0, 1, 2, 3].map(() => ZkWireClient.connect(connect)));
  let n = 0;
  const client = () => sessions[n++ % sessions.length]!;
  const limiter = new Limiter(spec.inFlight ?? 4_000);
  const run = <T>(f: (c: ZkWireClient) => Promise<T>): Promise<T> => limiter.run(() => f(client()));
  const create = (path: string, data: string | null) =>
    run((c) => c.create(path, data === null ? null : enc(data)));
  const set = (path: string, data: string) => run((c) => c.setData(path, enc(data)));
  const all = (ps: Promise<unknown>[]) => Promise.all(ps);
  try {
    // The chroot itself (and its parents), if any.
    const root = sessions[0]!.chroot;
    if (root !== '') {
      const raw = await ZkWireClient.connect(sessions[0]!.server);
      try {
        let at = '';
        for (const part of root.slice(1).split('/')) {
          at += `/${part}`;
          await raw.create(at, null).catch((err: { code?: string }) => {
            if (err.code !== 'NODEEXISTS') throw err;
          });
        }
      } finally {
        await raw.close();
      }
    }
    // What a broker pre-creates at startup.
    for (const p of [
      '/consumers',
      '/brokers',
      '/config',
      '/admin',
      '/cluster',
      '/isr_change_notification',
      '/latest_producer_id_block',
      '/log_dir_event_notification',
    ])
      await create(p, null);
    await all(
      ['/brokers/ids', '/brokers/topics', '/brokers/seqid', '/admin/delete_topics'].map((p) =>
        create(p, null),
      ),
    );
    await all(
      ['changes', 'topics', 'clients', 'users', 'brokers', 'ips'].map((t) => create(`/config/${t}`, null)),
    );
    await create('/cluster/id', JSON.stringify({ version: '1', id: spec.clusterId }));
    await create('/controller_epoch', String(spec.controllerEpoch));
    await create('/controller', JSON.stringify({ version: 1, brokerid: 1, timestamp: '1700000000000' }));
    await create(
      '/feature',
      JSON.stringify({
        version: 1,
        status: 1,
        features: { 'group.version': { min_version_level: 1, max_version_level: 1 } },
      }),
    );
    await create('/latest_producer_id_block/x', null).catch(() => undefined);
    await create(
      '/config/changes/config_change_0000000001',
      JSON.stringify({ version: 2, entity_path: 'topics/topic-0' }),
    );
    // Brokers: v1 (0.8), v4, v5; persistent here (a real one is ephemeral: the migration only reads them).
    await all([
      create(
        '/brokers/ids/1',
        JSON.stringify({ version: 1, host: 'h1', port: 9092, jmx_port: -1, timestamp: '1' }),
      ),
      create(
        '/brokers/ids/2',
        JSON.stringify({
          version: 4,
          host: 'h2',
          port: 9092,
          jmx_port: -1,
          timestamp: '2',
          endpoints: ['PLAINTEXT://h2:9092'],
          listener_security_protocol_map: { PLAINTEXT: 'PLAINTEXT' },
          rack: 'r2',
        }),
      ),
      create(
        '/brokers/ids/3',
        JSON.stringify({
          features: {},
          version: 5,
          host: null,
          port: -1,
          jmx_port: -1,
          timestamp: '3',
          endpoints: ['SSL://h3:9093'],
          listener_security_protocol_map: { SSL: 'SSL' },
        }),
      ),
    ]);
    await all([
      create(
        '/config/brokers/<default>',
        JSON.stringify({ version: 1, config: { 'log.retention.ms': '604800000', 'x.empty': '' } }),
      ),
      create(
        '/config/brokers/1',
        JSON.stringify({ version: 1, config: { 'log.cleaner.threads': '2', 'x.unicode': 'ünï' } }),
      ),
    ]);

    // Topics.
    const prefix = spec.prefix ?? 'topic-';
    const topics: string[] = [];
    const withoutIds: string[] = [];
    let partitions = 0;
    const topicJobs: Promise<unknown>[] = [];
    for (let i = 0; i < spec.topics; i++) {
      const name = `${prefix}${i}`;
      topics.push(name);
      const count = spec.partitionsOf?.(i) ?? 1 + (i % 4);
      partitions += count;
      const assignment: Record<string, number[]> = {};
      for (let p = 0; p < count; p++) assignment[p] = [1, 2, 3].map((_, k) => ((i + p + k) % 3) + 1);
      const version = (i % 3) + 1;
      const json: Record<string, unknown> = { version, partitions: assignment };
      if (version >= 2) Object.assign(json, { adding_replicas: {}, removing_replicas: {} });
      if (version === 3) json.topic_id = fixtureTopicId(i);
      else withoutIds.push(name);
      const t = `/brokers/topics/${name}`;
      const config =
        i % 5 === 0 ? UNUSUAL_CONFIG : i % 5 === 1 ? { 'retention.ms': String(3600000 * (i + 1)) } : {};
      // The admin path writes the config first, then the topic; the controller the partitions.
      const nodes: { path: string; data: Uint8Array | null }[] = [
        { path: `/config/topics/${name}`, data: enc(JSON.stringify({ version: 1, config })) },
        { path: t, data: enc(JSON.stringify(json)) },
        { path: `${t}/partitions`, data: null },
      ];
      const states: [string, string, number][] = [];
      for (const ps of Object.keys(assignment)) {
        const p = Number(ps);
        const replicas = assignment[ps]!;
        const leader = (i + p) % 17 === 0 ? -1 : replicas[0]!;
        const state: Record<string, unknown> = {
          controller_epoch: spec.controllerEpoch - (p % 3),
          leader,
          version: 1,
          leader_epoch: (i + p) % 7,
          isr: leader === -1 ? [] : replicas.slice(0, 1 + ((i + p) % replicas.length)),
        };
        if ((i + p) % 29 === 3) state.leader_recovery_state = 1;
        const text = JSON.stringify(state);
        nodes.push(
          { path: `${t}/partitions/${p}`, data: null },
          { path: `${t}/partitions/${p}/state`, data: enc(text) },
        );
        states.push([`${t}/partitions/${p}/state`, text, spec.epochBumps === false ? 0 : (i + p) % 3]);
      }
      topicJobs.push(
        (async () => {
          await run((c) => c.createMany(nodes));
          // Controller updates moved the partition epoch (the state znode's version).
          await all(
            states.map(async ([path, text, bumps]) => {
              for (let v = 0; v < bumps; v++) await set(path, text);
            }),
          );
        })(),
      );
    }
    await all(topicJobs);

    // The old consumer's offsets (one on a topic that no longer exists).
    for (let g = 0; g < (spec.groups ?? 0); g++) {
      const base = `/consumers/group-${g}`;
      await create(base, null);
      await create(`${base}/offsets`, null);
      const used = topics.slice(0, Math.min(3, topics.length)).concat(g === 0 ? ['gone-topic'] : []);
      await all(
        used.map(async (topic, k) => {
          await create(`${base}/offsets/${topic}`, null);
          await all(
            [0, 1].map((p) => create(`${base}/offsets/${topic}/${p}`, String(1000 * g + 10 * k + p))),
          );
        }),
      );
    }

    const malformedPaths: string[] = [];
    if (spec.malformed) {
      await create('/brokers/topics/bad-json', '{not json');
      malformedPaths.push('/brokers/topics/bad-json');
      await create('/brokers/topics/bad-state', JSON.stringify({ version: 1, partitions: { '0': [1] } }));
      await create('/brokers/topics/bad-state/partitions', null);
      await create('/brokers/topics/bad-state/partitions/0', null);
      await create(
        '/brokers/topics/bad-state/partitions/0/state',
        JSON.stringify({ version: 1, leader: 'one' }),
      );
      malformedPaths.push('/brokers/topics/bad-state/partitions/0/state');
      await create('/brokers/topics/gap', JSON.stringify({ version: 1, partitions: { '0': [1], '2': [1] } }));
      malformedPaths.push('/brokers/topics/gap');
      await create('/brokers/topics/v9', JSON.stringify({ version: 9, partitions: { '0': [1] } }));
      malformedPaths.push('/brokers/topics/v9');
      await create('/config/brokers/not-an-id', JSON.stringify({ version: 1, config: {} }));
      malformedPaths.push('/config/brokers/not-an-id');
      await create('/consumers/bad-group', null);
      await create('/consumers/bad-group/offsets', null);
      await create('/consumers/bad-group/offsets/t', null);
      await create('/consumers/bad-group/offsets/t/0', 'forty-two');
      malformedPaths.push('/consumers/bad-group/offsets/t/0');
    }
    if (spec.blockers) {
      await create('/kafka-acl', null);
      await create('/kafka-acl/Topic', null);
      await create(
        '/kafka-acl/Topic/secret',
        JSON.stringify({
          version: 1,
          acls: [{ principal: 'User:alice', permissionType: 'Allow', operation: 'Read', host: '*' }],
        }),
      );
      await create(
        '/config/users/alice',
        JSON.stringify({
          version: 1,
          config: { 'SCRAM-SHA-256': 'salt=c2FsdA==,stored_key=a2V5,server_key=a2V5,iterations=4096' },
        }),
      );
      await create('/delegation_token', null);
      await create('/delegation_token/tokens', null);
      await create('/delegation_token/tokens/tok1', JSON.stringify({ version: 3, owner: 'User:alice' }));
      await create(
        '/admin/reassign_partitions',
        JSON.stringify({ version: 1, partitions: [{ topic: `${prefix}0`, partition: 0, replicas: [1] }] }),
      );
      await create(`/admin/delete_topics/${prefix}1`, null);
    }
    return { topics, partitions, topicsWithoutIds: withoutIds, malformedPaths };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}
