import type { Admin, Offsets } from '@kbroker/client';
import type { QuorumInfo } from '@kbroker/client/protocol';
import { describe, expect, it } from 'vitest';
import type { ConnectFn } from '../src/cli/context.js';
import { runCli } from './helpers/cli.js';

const run = runCli;

/** stderr must be exactly one `kbroker: ...` line. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^kbroker: /);
  return lines[0]!;
}

describe('command-line errors', () => {
  it('reports an unknown option in one line with exit 2, suggesting the near miss', async () => {
    const r = await run(['--nodes-id', '1']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe("kbroker: unknown option '--nodes-id' (Did you mean --node-id?)");
    expect(r.stdout).toBe('');
  });

  it('reports a missing option value', async () => {
    const r = await run(['topics', 'create', '--topic']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe("kbroker: option '--topic <name>' argument missing");
  });

  it('reports a missing required option', async () => {
    const r = await run(['topics', 'create', '--topic', 't', '--partitions', '3']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/required option '--replication-factor <n>' not specified/);
  });

  it('checks numbers, host:port values, roles and levels before doing anything', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['topics', 'create', '--topic', 't', '--partitions', '0', '--replication-factor', '1'],
        /--partitions must be a positive integer/,
      ],
      [['--node-id', 'one'], /the node id must be a positive integer/],
      [['--listener', 'localhost'], /the listener must be host:port/],
      [['--roles', 'leader'], /roles must be broker, controller or broker,controller/],
      [['--log-level', 'loud'], /the log level must be one of/],
      [['--controller-quorum', '1@a:99999'], /port must be 1-65535/],
      [['cluster', 'describe', '--bootstrap', 'nohost'], /each bootstrap server must be host:port/],
      [
        ['offsets', 'commit', '--group', 'g', '--topic', 't', '--partition', '-1', '--offset', '1'],
        /--partition must be a non-negative integer/,
      ],
      [['configs', 'describe', '--entity-type', 'users'], /must be topics or brokers/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr), args.join(' ')).toMatch(message);
    }
  });

  it('refuses a stray argument', async () => {
    const r = await run(['random-cluster-id', 'extra']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/too many arguments/);
  });

  it('reports an unknown command', async () => {
    const r = await run(['topic', 'list']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/unknown command 'topic'.*topics/);
  });

  it('refuses conflicting flags of one command with exit 2', async () => {
    const r = await run([
      'configs',
      'set',
      '--entity-type',
      'topics',
      '--entity-default',
      '--add-config',
      'a=1',
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('kbroker: --entity-default applies to --entity-type brokers only');
    const e = await run(['leaders', 'elect', '--partition', '1']);
    expect(oneLine(e.stderr)).toBe('kbroker: --partition needs --topic');
  });
});

describe('help and version', () => {
  it('prints help on stdout with exit 0, at every level', async () => {
    for (const args of [
      ['--help'],
      ['topics', '--help'],
      ['topics', 'create', '--help'],
      ['start', '--help'],
      ['help', 'quorum'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: kbroker/);
      expect(r.stderr).toBe('');
    }
    const top = await run(['--help']);
    for (const cmd of [
      'start',
      'format',
      'random-cluster-id',
      'quorum',
      'topics',
      'configs',
      'cluster',
      'offsets',
      'leaders',
      'metadata-shell',
      'dev',
    ]) {
      expect(top.stdout).toContain(cmd);
    }
    expect((await run(['topics', 'create', '--help'])).stdout).toContain('--bootstrap <host:port,...>');
  });

  it('shows a group help on stderr with exit 2 when the subcommand is missing', async () => {
    const r = await run(['quorum']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: kbroker quorum/);
  });

  it('prints the version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

// ---- Admin commands over a fake client ------------------------------------------------------------

const QUORUM: QuorumInfo = {
  clusterId: 'c-1',
  leaderId: 1,
  leaderEpoch: 4,
  highWatermark: 120,
  maxFollowerLag: 3,
  maxFollowerLagTimeMs: 15,
  currentVoters: [
    { id: 1, endpoints: ['CONTROLLER://127.0.0.1:9093'] },
    { id: 2, endpoints: ['CONTROLLER://127.0.0.1:9094'] },
  ],
  currentObservers: [{ id: 4 }],
  replicas: [
    {
      nodeId: 4,
      logEndOffset: 120,
      lag: 0,
      lastFetchTimestamp: 1000,
      lastCaughtUpTimestamp: 1000,
      status: 'Observer',
    },
    {
      nodeId: 2,
      logEndOffset: 117,
      lag: 3,
      lastFetchTimestamp: 990,
      lastCaughtUpTimestamp: 985,
      status: 'Follower',
    },
    {
      nodeId: 1,
      logEndOffset: 120,
      lag: 0,
      lastFetchTimestamp: -1,
      lastCaughtUpTimestamp: 1000,
      status: 'Leader',
    },
  ],
};

/** A client whose admin/offsets methods are the given fakes; records the config it was made with. */
function fakeClient(admin: Partial<Admin>, offsets: Partial<Offsets> = {}) {
  const made: Parameters<ConnectFn>[0][] = [];
  let closed = 0;
  const connect: ConnectFn = async (config) => {
    made.push(config);
    return {
      admin: admin as Admin,
      offsets: offsets as Offsets,
      close: async () => {
        closed++;
      },
    };
  };
  return { connect, made, closed: () => closed };
}

describe('quorum describe', () => {
  it('prints the kafka-metadata-quorum --status fields in order', async () => {
    const c = fakeClient({ describeQuorum: async () => QUORUM });
    const r = await run(['quorum', 'describe', '--status', '--bootstrap', 'h1:1,h2:2'], {
      connect: c.connect,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'ClusterId:            c-1',
        'LeaderId:             1',
        'LeaderEpoch:          4',
        'HighWatermark:        120',
        'MaxFollowerLag:       3',
        'MaxFollowerLagTimeMs: 15',
        'CurrentVoters:        [{"id": 1, "endpoints": ["CONTROLLER://127.0.0.1:9093"]}, {"id": 2, "endpoints": ["CONTROLLER://127.0.0.1:9094"]}]',
        'CurrentObservers:     [{"id": 4}]',
        '',
      ].join('\n'),
    );
    expect(c.made[0]?.brokers).toEqual(['h1:1', 'h2:2']);
    expect(c.closed()).toBe(1);
  });

  it('prints the --replication table, leader first', async () => {
    const c = fakeClient({ describeQuorum: async () => QUORUM });
    const r = await run(['quorum', 'describe', '--replication'], { connect: c.connect });
    expect(r.stdout.split('\n').slice(0, 4)).toEqual([
      'NodeId  LogEndOffset  Lag  LastFetchTimestamp  LastCaughtUpTimestamp  Status',
      '     1           120    0                  -1                   1000  Leader',
      '     2           117    3                 990                    985  Follower',
      '     4           120    0                1000                   1000  Observer',
    ]);
    expect(c.made[0]?.brokers).toEqual(['127.0.0.1:9092']);
  });

  it('prints JSON with --json', async () => {
    const c = fakeClient({ describeQuorum: async () => QUORUM });
    const status = JSON.parse((await run(['quorum', 'describe', '--json'], { connect: c.connect })).stdout);
    expect(Object.keys(status)).toEqual([
      'clusterId',
      'leaderId',
      'leaderEpoch',
      'highWatermark',
      'maxFollowerLag',
      'maxFollowerLagTimeMs',
      'currentVoters',
      'currentObservers',
    ]);
    const replication = JSON.parse(
      (await run(['quorum', 'describe', '--replication', '--json'], { connect: c.connect })).stdout,
    );
    expect(replication).toHaveLength(3);
  });

  it('passes voter changes through', async () => {
    const calls: unknown[] = [];
    const c = fakeClient({
      addVoter: async (o) => {
        calls.push(['add', o]);
      },
      removeVoter: async (o) => {
        calls.push(['remove', o]);
      },
    });
    expect(
      (
        await run(['quorum', 'add-voter', '--node-id', '4', '--address', '127.0.0.1:9096'], {
          connect: c.connect,
        })
      ).stdout,
    ).toBe('Added voter 4 at 127.0.0.1:9096.\n');
    await run(['quorum', 'remove-voter', '--node-id', '2'], { connect: c.connect });
    expect(calls).toEqual([
      ['add', { nodeId: 4, address: '127.0.0.1:9096' }],
      ['remove', { nodeId: 2 }],
    ]);
  });
});

describe('client failures', () => {
  it('turns an unreachable cluster into one line with exit 1', async () => {
    const connect: ConnectFn = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9092'), { code: 'ECONNREFUSED' });
    };
    const r = await run(['topics', 'list', '--bootstrap', '10.0.0.1:9092'], { connect });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('kbroker: connect ECONNREFUSED 10.0.0.1:9092');
    const quiet: ConnectFn = async () => {
      throw Object.assign(new Error('no broker answered'), { code: 'CONNECTION_ERROR' });
    };
    const q = await run(['topics', 'list', '--bootstrap', '10.0.0.1:9092'], { connect: quiet });
    expect(oneLine(q.stderr)).toBe('kbroker: cannot reach the cluster at 10.0.0.1:9092: no broker answered');
  });

  it("prefixes a server error's stable code", async () => {
    const c = fakeClient({
      createTopics: async () => {
        throw Object.assign(new Error("topic 't': replication factor 3 > 1 broker"), {
          code: 'INVALID_REPLICATION_FACTOR',
        });
      },
    });
    const r = await run(
      ['topics', 'create', '--topic', 't', '--partitions', '1', '--replication-factor', '3'],
      {
        connect: c.connect,
      },
    );
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      "kbroker: INVALID_REPLICATION_FACTOR: topic 't': replication factor 3 > 1 broker",
    );
    expect(c.closed()).toBe(1);
  });

  it('fails topics create on an existing topic unless --if-not-exists', async () => {
    const c = fakeClient({ createTopics: async () => false });
    const args = ['topics', 'create', '--topic', 't', '--partitions', '1', '--replication-factor', '1'];
    const r = await run(args, { connect: c.connect });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe('kbroker: TOPIC_ALREADY_EXISTS: topic t already exists');
    const ok = await run([...args, '--if-not-exists'], { connect: c.connect });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('Topic t already exists.\n');
  });
});

describe('admin commands', () => {
  it('topics create sends partitions, replication factor and configs', async () => {
    const seen: unknown[] = [];
    const c = fakeClient({
      createTopics: async (o) => {
        seen.push(o);
        return true;
      },
    });
    const r = await run(
      [
        'topics',
        'create',
        '--topic',
        'orders',
        '--partitions',
        '6',
        '--replication-factor',
        '3',
        '--config',
        'retention.ms=1000',
        '--config',
        'cleanup.policy=[compact,delete],min.insync.replicas=2',
      ],
      { connect: c.connect },
    );
    expect(r.stdout).toBe('Created topic orders.\n');
    expect(seen).toEqual([
      {
        topics: [
          {
            topic: 'orders',
            numPartitions: 6,
            replicationFactor: 3,
            configEntries: [
              { name: 'retention.ms', value: '1000' },
              { name: 'cleanup.policy', value: 'compact,delete' },
              { name: 'min.insync.replicas', value: '2' },
            ],
          },
        ],
      },
    ]);
  });

  it('topics describe shows leader, replicas, ISR and epochs', async () => {
    const c = fakeClient({
      describeTopics: async () => ({
        topics: [
          {
            name: 'b',
            topicId: 'id-b',
            partitions: [
              { partitionId: 1, leader: -1, leaderEpoch: 2, partitionEpoch: 5, replicas: [2, 3], isr: [] },
              { partitionId: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1, 2] },
            ],
          },
        ],
      }),
    });
    const r = await run(['topics', 'describe'], { connect: c.connect });
    expect(r.stdout.split('\n')).toEqual([
      'Topic: b  TopicId: id-b  PartitionCount: 2  ReplicationFactor: 2',
      '',
      'Topic  Partition  Leader  LeaderEpoch  PartitionEpoch  Replicas  Isr  Note',
      'b              0       1            0               0  1,2       1,2',
      'b              1    none            2               5  2,3       -    under-replicated',
      '',
    ]);
  });

  it('configs set/delete/describe address the right resource', async () => {
    const altered: unknown[] = [];
    const c = fakeClient({
      alterConfigs: async (o) => {
        altered.push(o.resources);
      },
      describeCluster: async () => ({ clusterId: 'c', controller: 1, brokers: [] }),
      describeConfigs: async (o) => ({
        resources: o.resources.map((r) => ({
          resourceType: r.type,
          resourceName: r.name,
          configEntries: r.name === '' ? [{ configName: 'log.retention.ms', configValue: '100' }] : [],
        })),
      }),
    });
    await run(
      [
        'configs',
        'set',
        '--entity-type',
        'brokers',
        '--entity-default',
        '--add-config',
        'log.retention.ms=100',
      ],
      {
        connect: c.connect,
      },
    );
    await run(
      ['configs', 'delete', '--entity-type', 'topic', '--entity-name', 'orders', '--delete-config', 'a,b'],
      {
        connect: c.connect,
      },
    );
    expect(altered).toEqual([
      [{ type: 'broker', name: '', configEntries: [{ name: 'log.retention.ms', value: '100' }] }],
      [
        {
          type: 'topic',
          name: 'orders',
          configEntries: [
            { name: 'a', value: null },
            { name: 'b', value: null },
          ],
        },
      ],
    ]);
    const d = await run(['configs', 'describe', '--entity-type', 'brokers'], { connect: c.connect });
    expect(d.stdout).toBe(
      'Entity            Config            Value\nbroker <default>  log.retention.ms  100\n',
    );
    const bad = await run(['configs', 'describe', '--entity-type', 'brokers', '--entity-name', 'x'], {
      connect: c.connect,
    });
    expect(bad.code).toBe(2);
  });

  it('cluster describe lists brokers with endpoint, rack and state', async () => {
    const c = fakeClient({
      describeCluster: async () => ({
        clusterId: 'c-9',
        controller: 2,
        brokers: [
          { nodeId: 2, host: '10.0.0.2', port: 9092, rack: 'r2', fenced: true, inControlledShutdown: false },
          { nodeId: 1, host: '::1', port: 9092, rack: null, fenced: false, inControlledShutdown: false },
        ],
      }),
    });
    const r = await run(['cluster', 'describe'], { connect: c.connect });
    expect(r.stdout.split('\n')).toEqual([
      'ClusterId:   c-9',
      'Controller:  2',
      'Brokers:     2',
      '',
      'NodeId  Endpoint       Rack  State',
      '     1  [::1]:9092     -     active',
      '     2  10.0.0.2:9092  r2    fenced',
      '',
    ]);
  });

  it('offsets commit, fetch, list-groups and delete-group', async () => {
    const committed: unknown[] = [];
    const deleted: string[] = [];
    const c = fakeClient(
      {},
      {
        commit: async (g, o) => {
          committed.push([g, o]);
        },
        fetch: async () => [
          { topic: 't', partition: 1, offset: 7, metadata: '' },
          { topic: 't', partition: 0, offset: 42, metadata: 'm' },
        ],
        listGroups: async () => [{ groupId: 'g', partitions: 2 }],
        deleteGroup: async (g) => {
          deleted.push(g);
        },
      },
    );
    await run(['offsets', 'commit', '--group', 'g', '--topic', 't', '--partition', '0', '--offset', '42'], {
      connect: c.connect,
    });
    expect(committed).toEqual([['g', [{ topic: 't', partition: 0, offset: 42 }]]]);
    const f = await run(['offsets', 'fetch', '--group', 'g'], { connect: c.connect });
    expect(f.stdout).toBe(
      'Topic  Partition  Offset  Metadata\nt              0      42  m\nt              1       7\n',
    );
    expect((await run(['offsets', 'list-groups', '--json'], { connect: c.connect })).stdout).toBe(
      '[\n  {\n    "groupId": "g",\n    "partitions": 2\n  }\n]\n',
    );
    expect((await run(['offsets', 'delete-group', '--group', 'g'], { connect: c.connect })).code).toBe(0);
    const missing = await run(['offsets', 'delete-group', '--group', 'nope'], { connect: c.connect });
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/GROUP_ID_NOT_FOUND/);
    expect(deleted).toEqual(['g']);
  });

  it('leaders elect expands a topic to its partitions and fails on a real error', async () => {
    const asked: unknown[] = [];
    const c = fakeClient({
      describeTopics: async () => ({
        topics: [
          {
            name: 't',
            topicId: 'x',
            partitions: [0, 1].map((p) => ({
              partitionId: p,
              leader: 1,
              leaderEpoch: 0,
              partitionEpoch: 0,
              replicas: [1],
              isr: [1],
            })),
          },
        ],
      }),
      electLeaders: async (o) => {
        asked.push(o);
        return [
          { topic: 't', partition: 1, error: 'PREFERRED_LEADER_NOT_AVAILABLE' },
          { topic: 't', partition: 0, error: 'ELECTION_NOT_NEEDED' },
        ];
      },
    });
    const r = await run(['leaders', 'elect', '--preferred', '--topic', 't'], { connect: c.connect });
    expect(asked).toEqual([{ preferred: true, topicPartitions: [{ topic: 't', partitions: [0, 1] }] }]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 elected, 1 not needed, 1 failed.');
    expect(r.stdout).toContain('PREFERRED_LEADER_NOT_AVAILABLE');
  });
});
