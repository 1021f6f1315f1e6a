import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataDir } from '@kbroker/raft';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeHandle, StartNodeFn } from '../src/cli/context.js';
import { type MainOptions, main } from '../src/cli/main.js';
import type { NodeConfig } from '../src/node/config.js';
import { sink } from './helpers/cli.js';

function start(args: string[], options: Omit<MainOptions, 'stdout' | 'stderr'> = {}) {
  const stdout = sink();
  const stderr = sink();
  const done = main(['node', 'kbroker', ...args], { ...options, stdout, stderr });
  return { done, stdout, stderr };
}

async function run(args: string[], options: Omit<MainOptions, 'stdout' | 'stderr'> = {}) {
  const r = start(args, options);
  const code = await r.done;
  return { code, stdout: r.stdout.text, stderr: r.stderr.text };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kbroker-cli-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('random-cluster-id', () => {
  it('prints a new 22-character base64url id each time', async () => {
    const a = await run(['random-cluster-id']);
    const b = await run(['random-cluster-id']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9_-]{22}\n$/);
    expect(a.stdout).not.toBe(b.stdout);
  });
});

describe('format', () => {
  it('formats, is idempotent for the same identity and refuses another', async () => {
    const data = join(dir, 'n1');
    const first = await run(['format', '--cluster-id', 'abc', '--node-id', '1', '--data-dir', data]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`Formatted ${data} for cluster abc, node 1.\n`);
    expect(await readDataDir(data)).toMatchObject({ clusterId: 'abc', nodeId: 1 });

    const again = await run(['format', '--cluster-id', 'abc', '--node-id', '1', '--data-dir', data]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${data} is already formatted for cluster abc, node 1 (unchanged).\n`);

    const other = await run(['format', '--cluster-id', 'xyz', '--node-id', '2', '--data-dir', data]);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      `kbroker: data dir ${data} belongs to cluster abc node 1, not cluster xyz node 2\n`,
    );
    expect(await readDataDir(data)).toMatchObject({ clusterId: 'abc', nodeId: 1 });
  });

  it('takes the identity from --config, flags winning, and prints JSON', async () => {
    const data = join(dir, 'n3');
    const cfg = join(dir, 'node.properties');
    await writeFile(cfg, `node-id=3\ncluster-id=from-file\ndata-dir=${data}\n`);
    const r = await run(['format', '--config', cfg, '--cluster-id', 'from-flag', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dataDir: data,
      clusterId: 'from-flag',
      nodeId: 3,
      alreadyFormatted: false,
    });
  });

  it('needs a cluster id and a node id', async () => {
    const r = await run(['format', '--node-id', '1', '--data-dir', join(dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kbroker: required option '--cluster-id <id>' not specified/);
    const s = await run(['format', '--cluster-id', 'c', '--data-dir', join(dir, 'x')]);
    expect(s.code).toBe(2);
    expect(s.stderr).toBe("kbroker: required option '--node-id <id>' not specified\n");
  });

  it('reports a data dir that is a file', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    const r = await run(['format', '--cluster-id', 'c', '--node-id', '1', '--data-dir', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`kbroker: data dir ${file} is not a directory\n`);
  });
});

// ---- start, over a fake node runtime -------------------------------------------------------------

function fakeRuntime(opts: { stopHangs?: boolean; failStart?: string } = {}) {
  const started: NodeConfig[] = [];
  const calls: string[] = [];
  const startNode: StartNodeFn = async (config) => {
    if (opts.failStart) throw new Error(opts.failStart);
    started.push(config);
    const node: NodeHandle = {
      nodeId: config.nodeId,
      clientAddress: () => config.listener,
      quorumAddress: () => '127.0.0.1:9093',
      httpAddress: () => undefined,
      stop: () => {
        calls.push('stop');
        return opts.stopHangs ? new Promise<void>(() => {}) : Promise.resolve();
      },
      kill: async () => {
        calls.push('kill');
      },
    };
    return node;
  };
  const signals = new EventEmitter();
  return {
    started,
    calls,
    signals,
    options: { startNode, createLogger: () => pino({ level: 'silent' }), signals, cwd: dir },
  };
}

async function running(out: { text: string }) {
  await vi.waitFor(() => expect(out.text).toContain('Press Ctrl-C'), { timeout: 5_000 });
}

describe('start', () => {
  it('with no flags formats an empty data dir with a random cluster id, then stops on SIGTERM', async () => {
    const rt = fakeRuntime();
    const data = join(dir, 'data');
    // Only --data-dir and --log-level: still the single-node default.
    const r = start(['--data-dir', data, '--log-level', 'warn'], rt.options);
    await running(r.stdout);
    const identity = await readDataDir(data);
    expect(identity).toMatchObject({ nodeId: 1 });
    expect(identity?.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(rt.started[0]).toMatchObject({
      nodeId: 1,
      controllerQuorum: '1@127.0.0.1:9093',
      roles: ['broker', 'controller'],
      listener: '127.0.0.1:9092',
      clusterId: identity?.clusterId,
      logLevel: 'warn',
    });
    expect(r.stdout.text).toContain(`Formatted ${data} for cluster ${identity?.clusterId}, node 1.`);
    for (const field of ['cluster id:', 'node id:', 'roles:', 'client:', 'quorum:', 'http:', 'data dir:']) {
      expect(r.stdout.text).toContain(field);
    }
    rt.signals.emit('SIGTERM', 'SIGTERM');
    expect(await r.done).toBe(0);
    expect(rt.calls).toEqual(['stop']);
    expect(rt.signals.listenerCount('SIGTERM')).toBe(0);
    expect(rt.signals.listenerCount('SIGINT')).toBe(0);
  });

  it('kills the node and exits 1 on a second signal', async () => {
    const rt = fakeRuntime({ stopHangs: true });
    const r = start(['--data-dir', join(dir, 'data')], rt.options);
    await running(r.stdout);
    rt.signals.emit('SIGINT', 'SIGINT');
    await vi.waitFor(() => expect(rt.calls).toEqual(['stop']));
    rt.signals.emit('SIGINT', 'SIGINT');
    expect(await r.done).toBe(1);
    expect(rt.calls).toEqual(['stop', 'kill']);
  });

  it('with flags, an unformatted data dir needs --cluster-id', async () => {
    const rt = fakeRuntime();
    const data = join(dir, 'n2');
    const args = ['--node-id', '2', '--controller-quorum', '1@h:9093,2@h:9094', '--data-dir', data];
    const refused = await run(args, rt.options);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`^kbroker: data dir ${data} is not formatted: pass --cluster-id <id>`),
    );
    expect(refused.stderr.split('\n')).toHaveLength(2);
    expect(await readDataDir(data)).toBeUndefined();
    expect(rt.started).toHaveLength(0);

    const r = start([...args, '--cluster-id', 'cid'], rt.options);
    await running(r.stdout);
    expect(await readDataDir(data)).toMatchObject({ clusterId: 'cid', nodeId: 2 });
    expect(rt.started[0]).toMatchObject({ nodeId: 2, clusterId: 'cid' });
    rt.signals.emit('SIGTERM', 'SIGTERM');
    expect(await r.done).toBe(0);
  });

  it("refuses another cluster's or node's data dir, naming both", async () => {
    const rt = fakeRuntime();
    const data = join(dir, 'd');
    await run(['format', '--cluster-id', 'abc', '--node-id', '1', '--data-dir', data]);
    const otherNode = await run(
      ['--node-id', '2', '--controller-quorum', '2@h:1', '--data-dir', data],
      rt.options,
    );
    expect(otherNode.code).toBe(1);
    expect(otherNode.stderr).toBe(`kbroker: data dir ${data} belongs to cluster abc node 1, not node 2\n`);
    const otherCluster = await run(['--cluster-id', 'zzz', '--data-dir', data], rt.options);
    expect(otherCluster.stderr).toBe(
      `kbroker: data dir ${data} belongs to cluster abc node 1, not cluster zzz node 1\n`,
    );
    expect(rt.started).toHaveLength(0);
  });

  it('reads --config and lets flags override it', async () => {
    const rt = fakeRuntime();
    const data = join(dir, 'cfg-data');
    const cfg = join(dir, 'kbroker.json');
    await writeFile(
      cfg,
      JSON.stringify({
        'node-id': 3,
        controllerQuorum: '3@127.0.0.1:9093',
        listener: '127.0.0.1:7000',
        rack: 'r1',
        dataDir: data,
        clusterId: 'file-cluster',
        'heartbeat-interval-ms': 100,
      }),
    );
    const r = start(
      ['--config', cfg, '--listener', '127.0.0.1:7001', '--session-timeout-ms', '3000'],
      rt.options,
    );
    await running(r.stdout);
    expect(rt.started[0]).toMatchObject({
      nodeId: 3,
      listener: '127.0.0.1:7001',
      rack: 'r1',
      dataDir: data,
      clusterId: 'file-cluster',
      brokerHeartbeatIntervalMs: 100,
      sessionTimeoutMs: 3000,
    });
    expect(JSON.parse(await readFile(join(data, 'meta.json'), 'utf8'))).toMatchObject({
      clusterId: 'file-cluster',
    });
    rt.signals.emit('SIGTERM', 'SIGTERM');
    expect(await r.done).toBe(0);
  });

  it('reports a bad config file with exit 2 and a failed start with exit 1', async () => {
    const rt = fakeRuntime();
    const cfg = join(dir, 'bad.properties');
    await writeFile(cfg, 'node-id=1\nlistener=nope\n');
    const bad = await run(['--config', cfg], rt.options);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`kbroker: ${cfg}:2: the listener must be host:port, got "nope"\n`);
    const missing = await run(['--config', join(dir, 'none.json')], rt.options);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config file .*none\.json: no such file/);

    const failing = fakeRuntime({ failStart: 'listen EADDRINUSE 127.0.0.1:9092' });
    const r = await run(['--data-dir', join(dir, 'x')], failing.options);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('kbroker: node 1 failed to start: listen EADDRINUSE 127.0.0.1:9092\n');
    expect(failing.signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('says an unknown word is an unknown command rather than a start argument', async () => {
    const r = await run(['topic', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "kbroker: unknown command 'topic' (Did you mean topics?); kbroker --help lists them\n",
    );
  });
});
