/**
 * `kbroker migrate` against a real ZooKeeper 3.8 (Debian's package, started here on a free port) filled
 * as Kafka would have left it (every topic znode version, topics without ids, unusual configs, old
 * consumer offsets, a chroot, malformed znodes, blockers): preflight, plan, run into an in-process
 * cluster, status, verify (and a failing verify), zk-dump and --from-dump, digest auth, an interrupted
 * `migrate run` process resumed without duplicates or loss, and an offline data dir started as a node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { freePorts, waitFor } from '@kbroker/raft/testing';
import { ZkWireClient } from '@kbroker/zk-view';
import { startZooKeeper, type ZooKeeperDeployment, zookeeperUnavailable } from '@kbroker/zk-view/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKafkaFixture } from '../../packages/broker/src/bench/zk-fixture.js';
import { resolveConfig } from '../../packages/broker/src/node/config.js';
import { startNode } from '../../packages/broker/src/node/node.js';
import { runCli } from '../../packages/broker/test/helpers/cli.js';

const KBROKER_BIN = fileURLToPath(new URL('../../packages/broker/bin/kbroker.js', import.meta.url));
const CLUSTER_ID = 'MigrateTestCluster0001';
const EPOCH = 17;
const why = zookeeperUnavailable();

describe.skipIf(why !== undefined)('kbroker migrate from a real ZooKeeper', () => {
  let zk: ZooKeeperDeployment;
  let server: string;
  let kafka: string;
  let cluster: InProcessCluster;
  let tmp: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    zk = await startZooKeeper(1);
    server = zk.servers[0]!;
    kafka = `${server}/kafka`;
    tmp = await mkdtemp(join(tmpdir(), 'kbroker-migrate-'));
    await writeKafkaFixture(kafka, {
      clusterId: CLUSTER_ID,
      controllerEpoch: EPOCH,
      topics: 60,
      groups: 3,
      malformed: true,
    });
    cluster = await startCluster({ nodes: 3, clusterId: CLUSTER_ID });
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await cluster?.stop();
    await zk?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const bootstrap = () => cluster.brokers.join(',');

  it('preflight reports counts, every malformed znode, and blocks until they are skipped', async () => {
    const r = await runCli([
      'migrate',
      'preflight',
      '--zookeeper',
      kafka,
      '--json',
      '--bootstrap',
      bootstrap(),
    ]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.clusterId).toBe(CLUSTER_ID);
    expect(out.counts).toMatchObject({ brokers: 3, topics: 60, groups: 3, features: 1 });
    expect(out.counts.topicsWithoutIds).toBe(40);
    expect(out.target).toMatchObject({ clusterId: CLUSTER_ID, clusterIdMatches: true, migration: null });
    const malformed = out.issues.filter((i: { severity: string }) => i.severity === 'malformed');
    const paths = malformed.map((i: { path: string }) => i.path);
    for (const p of [
      '/brokers/topics/bad-json',
      '/brokers/topics/bad-state/partitions/0/state',
      '/brokers/topics/gap',
      '/brokers/topics/v9',
      '/config/brokers/not-an-id',
      '/consumers/bad-group/offsets/t/0',
    ])
      expect(paths).toContain(p);
    const ok = await runCli(['migrate', 'preflight', '--zookeeper', kafka, '--skip-malformed']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Ready to migrate');
    expect(ok.stdout).toMatch(/partitions\s+150/);
  });

  it('preflight lists what blocks (ACLs, SCRAM users, tokens, pending reassignment and deletes) and run refuses', async () => {
    const blocked = `${server}/blocked`;
    await writeKafkaFixture(blocked, {
      clusterId: CLUSTER_ID,
      controllerEpoch: 3,
      topics: 2,
      blockers: true,
    });
    const r = await runCli(['migrate', 'preflight', '--zookeeper', blocked, '--json']);
    expect(r.code).toBe(1);
    const blockers = JSON.parse(r.stdout)
      .issues.filter((i: { severity: string }) => i.severity === 'blocker')
      .map((i: { path: string }) => i.path);
    expect(blockers).toEqual(
      expect.arrayContaining([
        '/kafka-acl/Topic/secret',
        '/config/users/alice',
        '/delegation_token/tokens/tok1',
        '/admin/reassign_partitions',
        '/admin/delete_topics/topic-1',
      ]),
    );
    const run = await runCli(['migrate', 'run', '--zookeeper', blocked, '--bootstrap', bootstrap()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^kbroker: 5 problem\(s\) block the migration/);
    const status = await runCli(['migrate', 'status', '--bootstrap', bootstrap(), '--json']);
    expect(JSON.parse(status.stdout).state).toBeNull();
  });

  it('plan shows the records by type; zk-dump and --from-dump plan the same migration', async () => {
    const plan = await runCli([
      'migrate',
      'plan',
      '--dry-run',
      '--zookeeper',
      kafka,
      '--skip-malformed',
      '--json',
    ]);
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.stdout);
    expect(p.byType).toMatchObject({ Topic: 60, Partition: 150, FeatureLevel: 1 });
    expect(Object.keys(p.newTopicIds)).toHaveLength(40);
    const dump = join(tmp, 'tree.json');
    const d = await runCli(['zk-dump', '--zookeeper', kafka, '--out', dump]);
    expect(d.code).toBe(0);
    const fromDump = await runCli(['migrate', 'plan', '--from-dump', dump, '--skip-malformed', '--json']);
    expect(JSON.parse(fromDump.stdout).migrationId).toBe(p.migrationId);
    // The source may be named before the step, as `kbroker migrate --from-dump tree.json plan`.
    const before = await runCli(['migrate', '--from-dump', dump, 'plan', '--skip-malformed', '--json']);
    expect(JSON.parse(before.stdout).migrationId).toBe(p.migrationId);
    const bad = await runCli(['migrate', 'plan', '--from-dump', join(tmp, 'nope.json')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^kbroker: cannot read dump .*nope\.json/);
    const both = await runCli(['migrate', 'plan']);
    expect(both.code).toBe(2);
  });

  it('run migrates into the cluster; status says migrated; verify passes; the view equals the source', async () => {
    const run = await runCli([
      'migrate',
      'run',
      '--zookeeper',
      kafka,
      '--skip-malformed',
      '--bootstrap',
      bootstrap(),
      '--batch-records',
      '100',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.state.phase).toBe('migrated');
    expect(out.recordsWritten).toBe(out.recordsTotal);

    const status = JSON.parse(
      (await runCli(['migrate', 'status', '--bootstrap', bootstrap(), '--json'])).stdout,
    );
    expect(status.state).toMatchObject({
      phase: 'migrated',
      batchesDone: out.batches,
      zkControllerEpoch: EPOCH,
      counts: { topics: 60, partitions: 150, offsets: 20 },
    });
    const human = await runCli(['migrate', 'status', '--bootstrap', bootstrap()]);
    expect(human.stdout).toMatch(/State:\s+migrated/);

    const verify = await runCli([
      'migrate',
      'verify',
      '--zookeeper',
      kafka,
      '--bootstrap',
      bootstrap(),
      '--json',
    ]);
    const report = JSON.parse(verify.stdout);
    expect(report.differences).toEqual([]);
    expect(verify.code).toBe(0);
    expect(report.kbrokerControllerEpoch).toBeGreaterThan(EPOCH);
    expect(report.brokersNotRegistered).toEqual([]);

    // A second run writes nothing.
    const again = await runCli([
      'migrate',
      'run',
      '--zookeeper',
      kafka,
      '--skip-malformed',
      '--bootstrap',
      bootstrap(),
      '--json',
    ]);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyMigrated: true, recordsWritten: 0 });
  });

  it('verify fails, naming the path, when the source and kbroker differ', async () => {
    const c = await ZkWireClient.connect(kafka);
    try {
      await c.setData(
        '/config/topics/topic-1',
        Buffer.from(JSON.stringify({ version: 1, config: { 'retention.ms': '1' } })),
      );
      const verify = await runCli(['migrate', 'verify', '--zookeeper', kafka, '--bootstrap', bootstrap()]);
      expect(verify.code).toBe(1);
      expect(verify.stdout).toMatch(/\/config\/topics\/topic-1\s+config/);
      expect(verify.stdout).toContain('NOT verified.');
    } finally {
      await c.setData(
        '/config/topics/topic-1',
        Buffer.from(JSON.stringify({ version: 1, config: { 'retention.ms': '7200000' } })),
      );
      await c.close();
    }
  });

  it('reads a chroot behind digest auth, and says so without the credentials', async () => {
    const admin = await ZkWireClient.connect(server);
    const digest = createHash('sha1').update('kafka:secret').digest('base64');
    try {
      await admin.create('/secure', null, {
        acl: [{ perms: 31, id: { scheme: 'digest', id: `kafka:${digest}` } }],
      });
    } finally {
      await admin.close();
    }
    const writer = await ZkWireClient.connect(server, { digest: 'kafka:secret' });
    await writer.create('/secure/cluster', null, {
      acl: [{ perms: 31, id: { scheme: 'digest', id: `kafka:${digest}` } }],
    });
    await writer.create('/secure/cluster/id', Buffer.from(JSON.stringify({ version: '1', id: CLUSTER_ID })), {
      acl: [{ perms: 31, id: { scheme: 'digest', id: `kafka:${digest}` } }],
    });
    await writer.close();
    const denied = await runCli(['migrate', 'preflight', '--zookeeper', `${server}/secure`]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/NOAUTH/);
    const ok = await runCli([
      'migrate',
      'preflight',
      '--zookeeper',
      `${server}/secure`,
      '--zookeeper-auth',
      'kafka:secret',
      '--json',
    ]);
    expect(JSON.parse(ok.stdout).clusterId).toBe(CLUSTER_ID);
  });

  it('an interrupted run process resumes: no duplicate, no loss', async () => {
    const target = await startCluster({ nodes: 1, clusterId: CLUSTER_ID });
    try {
      const args = [
        'migrate',
        'run',
        '--zookeeper',
        kafka,
        '--skip-malformed',
        '--bootstrap',
        target.brokers.join(','),
        '--batch-records',
        '10',
      ];
      const child = spawn(process.execPath, [KBROKER_BIN, ...args], { stdio: 'ignore' });
      children.push(child);
      const client = new Kbroker({ brokers: target.brokers });
      try {
        let state: { batchesDone: number; batchesTotal: number } | null = null;
        await waitFor(
          async () => {
            state = (await client.rpc().request('migrationStatus', {})).state;
            return state !== null && state.batchesDone >= 3;
          },
          'the run to write a few batches',
          30_000,
        );
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        const mid = (await client.rpc().request('migrationStatus', {})).state!;
        expect(mid.phase).toBe('in-progress');
        expect(mid.batchesDone).toBeLessThan(mid.batchesTotal);

        const resumed = await runCli([...args, '--json']);
        expect(resumed.code).toBe(0);
        const out = JSON.parse(resumed.stdout);
        // Batches the killed process had in flight may still have committed after `mid` was read.
        expect(out.resumedAtBatch).toBeGreaterThan(mid.batchesDone);
        expect(out.resumedAtBatch).toBeLessThanOrEqual(out.batches);
        expect(out.batchesWritten).toBe(out.batches - out.resumedAtBatch + 1);
        const final = (await client.rpc().request('migrationStatus', {})).state!;
        expect(final).toMatchObject({
          phase: 'migrated',
          recordsDone: out.recordsTotal,
          batchesDone: out.batches,
        });

        // No duplicates: every topic was created once and never rewritten, every partition once.
        const image = target.nodes[0]!.node!.metadata.image;
        expect(image.topics.topicCount).toBe(60);
        expect(image.topics.partitionCount).toBe(150);
        for (const t of image.topics.topics()) {
          expect(t.assignmentVersion).toBe(0);
          for (const p of t.partitions) expect(p.createdOffset).toBe(t.createdOffset);
        }
        const verify = await runCli([
          'migrate',
          'verify',
          '--zookeeper',
          kafka,
          '--bootstrap',
          target.brokers.join(','),
        ]);
        expect(verify.stdout).toContain('Verified');
        expect(verify.code).toBe(0);
      } finally {
        await client.disconnect();
      }
    } finally {
      await target.stop();
    }
  }, 60_000);

  it('bootstraps an offline data dir from a dump; the node starts with the migrated metadata', async () => {
    const dump = join(tmp, 'offline.json');
    expect((await runCli(['zk-dump', '--zookeeper', kafka, '--out', dump])).code).toBe(0);
    const [client, quorum] = await freePorts(2);
    const dataDir = join(tmp, 'offline-node');
    const quorumSpec = `1@127.0.0.1:${quorum}`;
    const run = await runCli([
      'migrate',
      'run',
      '--from-dump',
      dump,
      '--skip-malformed',
      '--data-dir',
      dataDir,
      '--node-id',
      '1',
      '--controller-quorum',
      quorumSpec,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({
      mode: 'offline',
      counts: { topics: 60, partitions: 150 },
    });
    // Not fresh any more: a second bootstrap is refused.
    const again = await runCli([
      'migrate',
      'run',
      '--from-dump',
      dump,
      '--skip-malformed',
      '--data-dir',
      dataDir,
      '--node-id',
      '1',
      '--controller-quorum',
      quorumSpec,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not fresh/);

    const node = await startNode(
      resolveConfig({
        nodeId: 1,
        controllerQuorum: quorumSpec,
        roles: ['broker', 'controller'],
        listener: `127.0.0.1:${client}`,
        dataDir,
        clusterId: CLUSTER_ID,
        electionTimeoutMs: 1000,
        logLevel: 'silent',
      }),
    );
    try {
      await waitFor(() => node.isReady(), 'the bootstrapped node to serve', 30_000);
      const b = `127.0.0.1:${client}`;
      const status = JSON.parse((await runCli(['migrate', 'status', '--bootstrap', b, '--json'])).stdout);
      expect(status.state).toMatchObject({ phase: 'migrated', counts: { topics: 60 } });
      const verify = await runCli(['migrate', 'verify', '--from-dump', dump, '--bootstrap', b, '--json']);
      const report = JSON.parse(verify.stdout);
      expect(report.differences).toEqual([]);
      // Broker 1 registered with kbroker; 2 and 3 of the source have not.
      expect(report.brokersNotRegistered).toEqual([2, 3]);
      expect(verify.code).toBe(0);
    } finally {
      await node.kill();
    }
  }, 60_000);
});
