import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  ConfigResourceType,
  LeaderRecoveryState,
  MetadataDelta,
  MetadataImage,
  type MetadataRecord,
  RecordType,
  writeSnapshot,
} from '@kbroker/metadata-log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPaths,
  type LiveMetadata,
  lookup,
  MetadataShell,
  nameMatches,
  renderTree,
  resolvePath,
  tokenize,
  treeFromImage,
  treeFromLive,
  treeToJson,
} from '../src/cli/metadata-tree.js';
import { runCli } from './helpers/cli.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';
const T2 = 'AAAAAAAAAAAAAAAAAAAAAg';

function broker(id: number, rack: string | null): MetadataRecord {
  return {
    type: RecordType.RegisterBroker,
    version: 0,
    brokerId: id,
    incarnationId: `inc-${id}`,
    endpoints: [{ name: 'CLIENT', host: '127.0.0.1', port: 9091 + id, securityProtocol: 'PLAINTEXT' }],
    rack,
    fenced: true,
    inControlledShutdown: false,
  };
}

function partition(topicId: string, id: number, replicas: number[]): MetadataRecord {
  return {
    type: RecordType.Partition,
    version: 0,
    topicId,
    partitionId: id,
    replicas,
    isr: replicas,
    leader: replicas[0]!,
    leaderEpoch: 0,
    partitionEpoch: 0,
    leaderRecoveryState: LeaderRecoveryState.Recovered,
  };
}

/** A small cluster: 2 brokers, topics `orders` (3 partitions) and `a/b` (1), configs, one group. */
function image(): MetadataImage {
  const d = new MetadataDelta(MetadataImage.EMPTY);
  const records: MetadataRecord[][] = [
    [
      { type: RecordType.Cluster, version: 0, clusterId: 'cluster-x' },
      { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 3 },
    ],
    [broker(1, 'r1'), broker(2, null)],
    [
      {
        type: RecordType.BrokerRegistrationChange,
        version: 0,
        brokerId: 1,
        brokerEpoch: 2,
        fenced: -1,
        inControlledShutdown: 0,
      },
    ],
    [
      { type: RecordType.Topic, version: 0, name: 'orders', topicId: T1 },
      partition(T1, 0, [1, 2]),
      partition(T1, 1, [2, 1]),
      partition(T1, 2, [1, 2]),
      // Kafka topic names cannot hold '/', but the tree must still cope with a name that does.
      { type: RecordType.Topic, version: 0, name: 'a/b', topicId: T2 },
      partition(T2, 0, [1]),
    ],
    [
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Topic,
        resourceName: 'orders',
        name: 'retention.ms',
        value: '1000',
      },
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Broker,
        resourceName: '',
        name: 'log.retention.ms',
        value: '5',
      },
      {
        type: RecordType.Config,
        version: 0,
        resourceType: ConfigResourceType.Broker,
        resourceName: '1',
        name: 'x.y',
        value: 'z',
      },
    ],
    [
      {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'g1',
        topic: 'orders',
        partition: 2,
        offset: 42,
        metadata: 'm',
        commitTimestampMs: 1_700_000_000_000,
      },
      {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'g1',
        topic: 'orders',
        partition: 10,
        offset: 7,
        metadata: '',
        commitTimestampMs: 1_700_000_000_001,
      },
    ],
  ];
  records.forEach((batch, i) => {
    d.replayBatch({ timestampMs: 1_700_000_000_000 + i, records: batch }, i + 1, 1);
  });
  return d.apply();
}

describe('treeFromImage', () => {
  const root = treeFromImage(image());

  it('lays the metadata out under the documented paths', () => {
    expect([...root.children.keys()]).toEqual([
      'brokers',
      'cluster',
      'configs',
      'features',
      'offsets',
      'topics',
    ]);
    expect(lookup(root, ['cluster'])?.value).toMatchObject({
      clusterId: 'cluster-x',
      metadataOffset: 6,
      brokers: 2,
      topics: 2,
      partitions: 4,
      groups: 1,
    });
    expect(lookup(root, ['features', 'metadata.version'])?.value).toBe(3);
    expect(lookup(root, ['brokers', '1'])?.value).toMatchObject({
      id: 1,
      epoch: 2,
      rack: 'r1',
      fenced: false,
      endpoints: [{ name: 'CLIENT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }],
    });
    expect(lookup(root, ['brokers', '2'])?.value).toMatchObject({ fenced: true, rack: null });
    expect(lookup(root, ['topics', 'orders'])?.value).toMatchObject({
      name: 'orders',
      topicId: T1,
      partitions: 3,
    });
    expect(lookup(root, ['topics', 'orders', '1'])?.value).toMatchObject({
      partition: 1,
      leader: 2,
      replicas: [2, 1],
      isr: [2, 1],
      leaderEpoch: 0,
      partitionEpoch: 0,
    });
    expect(lookup(root, ['configs', 'topics', 'orders'])?.value).toEqual({ 'retention.ms': '1000' });
    expect(lookup(root, ['configs', 'topics', 'orders', 'retention.ms'])?.value).toBe('1000');
    expect(lookup(root, ['configs', 'brokers', '<default>'])?.value).toEqual({ 'log.retention.ms': '5' });
    expect(lookup(root, ['configs', 'brokers', '1', 'x.y'])?.value).toBe('z');
    expect(lookup(root, ['offsets', 'g1'])?.value).toEqual({ groupId: 'g1', partitions: 2 });
    expect(lookup(root, ['offsets', 'g1', 'orders', '2'])?.value).toMatchObject({
      offset: 42,
      metadata: 'm',
    });
  });

  it('orders numeric names numerically', () => {
    expect([...lookup(root, ['offsets', 'g1', 'orders'])!.children.keys()]).toEqual(['2', '10']);
  });

  it('finds paths by glob or substring, escaping / in names', () => {
    expect(findPaths(root, ['topics'])).toEqual([
      '/topics',
      '/topics/a%2Fb',
      '/topics/a%2Fb/0',
      '/topics/orders',
      '/topics/orders/0',
      '/topics/orders/1',
      '/topics/orders/2',
    ]);
    expect(findPaths(root, [], '*retention*')).toEqual([
      '/configs/brokers/<default>/log.retention.ms',
      '/configs/topics/orders/retention.ms',
    ]);
    expect(findPaths(root, [], 'metadata')).toEqual(['/features/metadata.version']);
    expect(findPaths(root, ['nope'])).toEqual([]);
  });

  it('draws a subtree', () => {
    expect(renderTree(root, ['configs'])).toEqual([
      'configs/',
      '├── brokers/',
      '│   ├── 1/',
      '│   │   └── x.y = z',
      '│   └── <default>/',
      '│       └── log.retention.ms = 5',
      '└── topics/',
      '    └── orders/',
      '        └── retention.ms = 1000',
    ]);
  });

  it('turns a subtree into JSON, keeping a directory value under "."', () => {
    expect(treeToJson(lookup(root, ['configs', 'topics'])!)).toEqual({
      orders: { '.': { 'retention.ms': '1000' }, 'retention.ms': '1000' },
    });
  });
});

describe('paths and words', () => {
  it('resolves absolute and relative paths with . and ..', () => {
    expect(resolvePath('/topics/orders')).toEqual(['topics', 'orders']);
    expect(resolvePath('orders/../a%2Fb/./0', ['topics'])).toEqual(['topics', 'a/b', '0']);
    expect(resolvePath('../../..', ['topics'])).toEqual([]);
    expect(resolvePath('/')).toEqual([]);
  });

  it('matches globs and substrings', () => {
    expect(nameMatches('retention.ms', 'ret*')).toBe(true);
    expect(nameMatches('log.retention.ms', 'ret*')).toBe(false);
    expect(nameMatches('log.retention.ms', 'retention')).toBe(true);
    expect(nameMatches('a.b', 'a?b')).toBe(true);
    expect(nameMatches('axb', 'a.b')).toBe(false);
  });

  it('tokenizes with quotes', () => {
    expect(tokenize(`  find / "my topic"  'x y' z `)).toEqual(['find', '/', 'my topic', 'x y', 'z']);
  });
});

describe('MetadataShell', () => {
  it('runs ls, cat, cd, pwd, tree and find', () => {
    const sh = new MetadataShell(treeFromImage(image()));
    expect(sh.run('ls').out).toEqual(['brokers/', 'cluster', 'configs/', 'features/', 'offsets/', 'topics/']);
    expect(sh.run('ls /topics').out).toEqual(['a%2Fb/', 'orders/']);
    expect(sh.run('cd /topics/orders').out).toEqual([]);
    expect(sh.run('pwd').out).toEqual(['/topics/orders']);
    expect(sh.run('ls').out).toEqual(['0', '1', '2']);
    expect(sh.run('ls 1').out).toEqual(['1']);
    expect(JSON.parse(sh.run('cat 0').out[0]!)).toMatchObject({ leader: 1, replicas: [1, 2] });
    expect(sh.run('cat ../../configs/topics/orders/retention.ms').out).toEqual(['1000']);
    expect(sh.run('tree ../a%2Fb').out).toEqual(['a%2Fb/', '└── 0']);
    expect(sh.run('find /offsets').out).toEqual([
      '/offsets',
      '/offsets/g1',
      '/offsets/g1/orders',
      '/offsets/g1/orders/2',
      '/offsets/g1/orders/10',
    ]);
    expect(sh.run('cd').out).toEqual([]);
    expect(sh.cwd).toBe('/');
  });

  it('reports errors without throwing', () => {
    const sh = new MetadataShell(treeFromImage(image()));
    expect(sh.run('cat /topics').error).toBe('cat: /topics: has no data (try ls)');
    expect(sh.run('ls /nope').error).toBe('ls: /nope: no such node');
    expect(sh.run('cd /nope').error).toBe('cd: /nope: no such node');
    expect(sh.run('cat').error).toMatch(/which node/);
    expect(sh.run('frobnicate').error).toBe('frobnicate: unknown command (help lists them)');
    expect(sh.run('exit').exit).toBe(true);
    expect(sh.run('refresh').refresh).toBe(true);
    expect(sh.run('').out).toEqual([]);
  });

  it('prints JSON in json mode', () => {
    const sh = new MetadataShell(treeFromImage(image()), { json: true });
    expect(JSON.parse(sh.run('ls /offsets/g1').out[0]!)).toEqual(['orders/']);
    expect(JSON.parse(sh.run('cat /configs/topics/orders/retention.ms').out[0]!)).toBe('1000');
    expect(JSON.parse(sh.run('find /brokers').out[0]!)).toEqual(['/brokers', '/brokers/1', '/brokers/2']);
  });

  it('completes names below the current node', () => {
    const sh = new MetadataShell(treeFromImage(image()));
    expect(sh.complete('to')).toEqual(['topics/']);
    expect(sh.complete('/topics/or')).toEqual(['/topics/orders/']);
    sh.run('cd /topics/orders');
    expect(sh.complete('')).toEqual(['0', '1', '2']);
  });

  it('keeps the current node across a reload when it still exists', () => {
    const sh = new MetadataShell(treeFromImage(image()));
    sh.run('cd /topics/orders/1');
    sh.setRoot(treeFromImage(MetadataImage.EMPTY));
    expect(sh.cwd).toBe('/topics');
  });
});

describe('treeFromLive', () => {
  const live: LiveMetadata = {
    cluster: {
      clusterId: 'live-1',
      controller: 2,
      brokers: [
        { nodeId: 2, host: 'h2', port: 9092, rack: null, fenced: false, inControlledShutdown: false },
      ],
    },
    topics: [
      {
        name: 't',
        topicId: 'tid',
        partitions: [
          { partitionId: 0, leader: 2, leaderEpoch: 1, partitionEpoch: 3, replicas: [2], isr: [2] },
        ],
      },
    ],
    configs: [
      {
        resourceType: 'topic',
        resourceName: 't',
        configEntries: [{ configName: 'segment.ms', configValue: '9' }],
      },
      { resourceType: 'broker', resourceName: '', configEntries: [] },
      { resourceType: 'broker', resourceName: '2', configEntries: [{ configName: 'k', configValue: 'v' }] },
    ],
    groups: [{ groupId: 'g', offsets: [{ topic: 't', partition: 0, offset: 5, metadata: '' }] }],
  };

  it('builds the same layout from the admin API', () => {
    const root = treeFromLive(live);
    expect([...root.children.keys()]).toEqual([
      'brokers',
      'cluster',
      'configs',
      'features',
      'offsets',
      'topics',
    ]);
    expect(lookup(root, ['cluster'])?.value).toEqual({
      clusterId: 'live-1',
      controller: 2,
      brokers: 1,
      topics: 1,
      partitions: 1,
      groups: 1,
    });
    expect(lookup(root, ['brokers', '2'])?.value).toMatchObject({ host: 'h2', port: 9092 });
    expect(lookup(root, ['topics', 't', '0'])?.value).toMatchObject({ leader: 2, partitionEpoch: 3 });
    expect(lookup(root, ['configs', 'topics', 't', 'segment.ms'])?.value).toBe('9');
    expect(lookup(root, ['configs', 'brokers', '<default>'])).toBeUndefined();
    expect(lookup(root, ['configs', 'brokers', '2'])?.value).toEqual({ k: 'v' });
    expect(lookup(root, ['offsets', 'g', 't', '0'])?.value).toEqual({ offset: 5, metadata: '' });
  });
});

// ---- kbroker metadata-shell, end to end over a snapshot file ------------------------------------

const run = runCli;

describe('kbroker metadata-shell --snapshot', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kbroker-cli-shell-'));
    file = join(dir, 'snapshot.bin');
    await writeFile(file, Buffer.concat([...writeSnapshot(image())]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs one command per invocation', async () => {
    expect(await run(['metadata-shell', '--snapshot', file, 'ls', '/topics'])).toEqual({
      code: 0,
      stdout: 'a%2Fb/\norders/\n',
      stderr: '',
    });
    const cat = await run(['metadata-shell', '--snapshot', file, 'cat', '/cluster']);
    expect(JSON.parse(cat.stdout)).toMatchObject({ clusterId: 'cluster-x', metadataOffset: 6 });
    const json = await run(['metadata-shell', '--snapshot', file, '--json', 'find', '/brokers']);
    expect(JSON.parse(json.stdout)).toEqual(['/brokers', '/brokers/1', '/brokers/2']);
  });

  it('fails a bad path, a missing file and a corrupt file in one line', async () => {
    const bad = await run(['metadata-shell', '--snapshot', file, 'cat', '/nope']);
    expect(bad).toEqual({ code: 1, stdout: '', stderr: 'kbroker: cat: /nope: no such node\n' });
    const missing = await run(['metadata-shell', '--snapshot', join(dir, 'none.bin'), 'ls']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`kbroker: cannot read snapshot ${join(dir, 'none.bin')}: no such file\n`);
    const junk = join(dir, 'junk.bin');
    await writeFile(junk, 'not a snapshot');
    const corrupt = await run(['metadata-shell', '--snapshot', junk, 'ls']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/^kbroker: cannot read snapshot .*junk\.bin: .+\n$/);
  });

  it('refuses --snapshot together with --bootstrap', async () => {
    const r = await run(['metadata-shell', '--snapshot', file, '--bootstrap', 'h:1', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('kbroker: give either --snapshot or --bootstrap, not both\n');
  });

  it('reads commands from a piped stdin', async () => {
    const stdin = new PassThrough();
    stdin.end('cd /topics\nls\npwd\ncat orders/0\nnope\nexit\nls\n');
    const r = await run(['metadata-shell', '--snapshot', file], { stdin });
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['a%2Fb/', 'orders/', '/topics']);
    expect(JSON.parse(lines.slice(3).join('\n'))).toMatchObject({ partition: 0, leader: 1 });
    expect(r.stderr).toBe('nope: unknown command (help lists them)\n');
  });
});
