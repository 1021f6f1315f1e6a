/**
 * The admin commands and the live metadata shell against a real in-process cluster, through `main`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type MainOptions, main } from '../src/cli/main.js';
import { type InProcessCluster, startCluster } from '../src/cluster.js';
import { sink } from './helpers/cli.js';

let cluster: InProcessCluster;
let bootstrap: string;

async function run(args: string[], options: Omit<MainOptions, 'stdout' | 'stderr'> = {}) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['node', 'kbroker', ...args, '--bootstrap', bootstrap], {
    ...options,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * Reads after a write may be served by a broker whose metadata image has not applied it yet (the
 * bootstrap list holds every broker): retry the read until `check` passes.
 */
async function eventually(args: string[], check: (r: Awaited<ReturnType<typeof run>>) => void) {
  await vi.waitFor(
    async () => {
      check(await run(args));
    },
    { timeout: 10_000, interval: 50 },
  );
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, logLevel: 'silent' });
  bootstrap = cluster.brokers.join(',');
});
afterAll(async () => {
  await cluster?.stop();
});

describe('admin commands against a live cluster', () => {
  it('describes the cluster and the quorum', async () => {
    const c = await run(['cluster', 'describe', '--json']);
    expect(c.code).toBe(0);
    const desc = JSON.parse(c.stdout);
    expect(desc.clusterId).toBe(cluster.clusterId);
    expect(desc.brokers.map((b: { nodeId: number }) => b.nodeId).sort()).toEqual([1, 2, 3]);

    const q = await run(['quorum', 'describe', '--status']);
    expect(q.code).toBe(0);
    expect(q.stdout.split('\n').map((l) => l.split(':')[0])).toEqual([
      'ClusterId',
      'LeaderId',
      'LeaderEpoch',
      'HighWatermark',
      'MaxFollowerLag',
      'MaxFollowerLagTimeMs',
      'CurrentVoters',
      'CurrentObservers',
      '',
    ]);
    const r = await run(['quorum', 'describe', '--replication', '--json']);
    expect(
      JSON.parse(r.stdout)
        .map((x: { status: string }) => x.status)
        .sort(),
    ).toEqual(['Follower', 'Follower', 'Leader']);
  });

  it('creates, describes, configures and deletes a topic', async () => {
    const created = await run([
      'topics',
      'create',
      '--topic',
      'cli-t',
      '--partitions',
      '2',
      '--replication-factor',
      '3',
      '--config',
      'retention.ms=1000',
    ]);
    expect(created).toMatchObject({ code: 0, stdout: 'Created topic cli-t.\n' });
    const again = await run([
      'topics',
      'create',
      '--topic',
      'cli-t',
      '--partitions',
      '2',
      '--replication-factor',
      '3',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^kbroker: TOPIC_ALREADY_EXISTS/);
    await eventually(['topics', 'list'], (r) => expect(r.stdout).toContain('cli-t\n'));
    await eventually(['topics', 'describe', '--topic', 'cli-t', '--json'], (r) => {
      const d = JSON.parse(r.stdout);
      expect(d[0].partitions).toHaveLength(2);
      expect(d[0].partitions[0].replicas).toHaveLength(3);
    });

    await run([
      'configs',
      'set',
      '--entity-type',
      'topics',
      '--entity-name',
      'cli-t',
      '--add-config',
      'retention.ms=2000',
    ]);
    await eventually(['configs', 'describe', '--entity-type', 'topics', '--entity-name', 'cli-t'], (cfg) =>
      expect(cfg.stdout).toMatch(/topic cli-t\s+retention\.ms\s+2000/),
    );
    await eventually(['metadata-shell', 'cat', '/configs/topics/cli-t/retention.ms'], (shell) =>
      expect(shell).toMatchObject({ code: 0, stdout: '2000\n' }),
    );

    expect((await run(['topics', 'delete', '--topic', 'cli-t'])).code).toBe(0);
    await eventually(['topics', 'describe', '--topic', 'cli-t'], (gone) => {
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/^kbroker: UNKNOWN_TOPIC_OR_PARTITION/);
    });
  });

  it('commits, fetches and deletes offsets', async () => {
    await run(['topics', 'create', '--topic', 'cli-o', '--partitions', '1', '--replication-factor', '1']);
    expect(
      (
        await run([
          'offsets',
          'commit',
          '--group',
          'cli-g',
          '--topic',
          'cli-o',
          '--partition',
          '0',
          '--offset',
          '42',
        ])
      ).code,
    ).toBe(0);
    await eventually(['offsets', 'fetch', '--group', 'cli-g', '--json'], (r) =>
      expect(JSON.parse(r.stdout)).toMatchObject([{ topic: 'cli-o', partition: 0, offset: 42 }]),
    );
    await eventually(['metadata-shell', 'find', '/offsets'], (tree) =>
      expect(tree.stdout).toContain('/offsets/cli-g/cli-o/0'),
    );
    await eventually(['offsets', 'list-groups', '--json'], (r) =>
      expect(JSON.parse(r.stdout)).toEqual([{ groupId: 'cli-g', partitions: 1 }]),
    );
    expect((await run(['offsets', 'delete-group', '--group', 'cli-g'])).code).toBe(0);
    await eventually(['offsets', 'list-groups', '--json'], (r) => expect(JSON.parse(r.stdout)).toEqual([]));
  });

  it('runs a preferred leader election', async () => {
    const r = await run(['leaders', 'elect', '--preferred']);
    expect(r.code).toBe(0);
  });
});

describe('an unreachable cluster', () => {
  it('fails in one line', async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await main(
      ['node', 'kbroker', 'topics', 'list', '--bootstrap', '127.0.0.1:1', '--timeout-ms', '2000'],
      {
        stdout,
        stderr,
      },
    );
    expect(code).toBe(1);
    expect(stderr.text.split('\n')).toHaveLength(2);
    expect(stderr.text).toMatch(/^kbroker: .*127\.0\.0\.1:1/);
  });
});
