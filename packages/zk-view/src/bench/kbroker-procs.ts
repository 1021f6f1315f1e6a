/**
 * Three kbroker processes (packages/broker/bin/kbroker.js, broker + controller each) on loopback, each
 * serving the ZooKeeper view with `--zookeeper-listener`, fresh data dirs removed by `stop`; and the
 * admin client of @kbroker/client, loaded at run time (zk-view is built before broker and client, so
 * it cannot reference them at compile time; only the few calls used here are typed).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectWithRetry } from './zk-client.js';
import { freePorts, liveChildren, type RestartableDeployment } from './zookeeper-server.js';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(repoRoot, 'packages', 'broker', 'bin', 'kbroker.js');

export interface BenchAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  createTopics(options: {
    topics: readonly { topic: string; numPartitions?: number; replicationFactor?: number }[];
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean>;
  alterConfigs(options: {
    resources: readonly {
      type: 'topic';
      name: string;
      configEntries: readonly { name: string; value: string | null }[];
    }[];
  }): Promise<void>;
  describeCluster(): Promise<{ controller: number; brokers: readonly { nodeId: number; fenced: boolean }[] }>;
}

export async function kbrokerAdmin(brokers: readonly string[]): Promise<BenchAdmin> {
  const spec = '@kbroker/client';
  const mod = (await import(spec)) as {
    Kbroker: new (config: { brokers: readonly string[]; clientId?: string }) => { admin(): BenchAdmin };
  };
  const admin = new mod.Kbroker({ brokers, clientId: 'zk-bench' }).admin();
  await admin.connect();
  return admin;
}

export interface KbrokerDeployment extends RestartableDeployment {
  /** Client listeners. */
  readonly brokers: readonly string[];
  /** The node processes' pids (undefined for one not running). */
  pids(): (number | undefined)[];
}

export interface KbrokerOptions {
  /** Raft election timeout of every node (default 2000 ms, see below; null: the node's own default). */
  readonly electionTimeoutMs?: number | null;
  /** Extra node flags (after those of KBROKER_NODE_ARGS), e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

export async function startKbroker(
  nodes = 3,
  timeoutMs = 60_000,
  clusterId = `zkbench${Math.random().toString(36).slice(2, 12)}`,
  options: KbrokerOptions = {},
): Promise<KbrokerDeployment> {
  const root = await mkdtemp(join(tmpdir(), 'zk-bench-kbroker-'));
  const ports = await freePorts(nodes * 3);
  const quorum = Array.from({ length: nodes }, (_, i) => `${i + 1}@127.0.0.1:${ports[nodes + i]}`).join(',');
  const brokers = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${ports[i]}`);
  const servers = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${ports[2 * nodes + i]}`);
  let output = '';
  // 2 s, not a production node's 250 ms: this machine also runs the client and four JVMs, and a
  // leader busy applying a batch of thousands of partitions must not trigger elections during setup
  // (the reads measured do not involve Raft).
  const config = join(root, 'bench.json');
  const electionTimeoutMs = options.electionTimeoutMs === undefined ? 2000 : options.electionTimeoutMs;
  await writeFile(config, JSON.stringify(electionTimeoutMs === null ? {} : { electionTimeoutMs }));
  // Extra node flags for the kbroker processes, e.g. KBROKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p'
  // to profile them (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = [
    ...(process.env.KBROKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    ...(options.nodeArgs ?? []),
  ];
  // KBROKER_BENCH_LOG_DIR=DIR keeps each node's info-level log in DIR/node-<id>.log (appended across
  // restarts), stderr (pino's JSON) included; without it the nodes log warnings only, and only the last
  // 4 kB of stderr is kept for error messages.
  const logDir = process.env.KBROKER_BENCH_LOG_DIR;
  if (logDir !== undefined) await mkdir(logDir, { recursive: true });
  const launch = (i: number) => {
    const logFd = logDir === undefined ? 'ignore' : openSync(join(logDir, `node-${i + 1}.log`), 'a');
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        BIN,
        'start',
        '--node-id',
        String(i + 1),
        '--controller-quorum',
        quorum,
        '--cluster-id',
        clusterId,
        '--listener',
        brokers[i]!,
        '--zookeeper-listener',
        servers[i]!,
        '--data-dir',
        join(root, `node-${i + 1}`),
        '--log-level',
        logDir === undefined ? 'warn' : 'info',
        '--config',
        config,
      ],
      { stdio: ['ignore', logFd, logDir === undefined ? 'pipe' : logFd] },
    );
    if (typeof logFd === 'number') closeSync(logFd);
    liveChildren.add(child);
    child.stderr?.on('data', (d) => {
      output = (output + String(d)).slice(-4000);
    });
    const exit = new Promise<void>((resolve) =>
      child.once('exit', () => {
        liveChildren.delete(child);
        resolve();
      }),
    );
    return { child, exit };
  };
  const procs = Array.from({ length: nodes }, (_, i) => launch(i));
  const kill = async (i: number) => {
    const p = procs[i]!;
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGKILL');
    await p.exit;
  };
  const restart = async (i: number) => {
    await kill(i);
    procs[i] = launch(i);
  };
  const stop = async () => {
    await Promise.all(
      procs.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        // A node run with --cpu-prof writes its profile on the way out: give it time.
        const killer = setTimeout(
          () => p.child.kill('SIGKILL'),
          nodeArgs.includes('--cpu-prof') ? 30_000 : 5000,
        );
        await p.exit;
        clearTimeout(killer);
      }),
    );
    await rm(root, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + timeoutMs;
    // The processes may not listen yet: connect until the deadline.
    let admin: BenchAdmin | undefined;
    while (admin === undefined) {
      admin = await kbrokerAdmin(brokers).catch((err: Error) => {
        if (Date.now() > deadline)
          throw new Error(`kbroker not reachable within ${timeoutMs} ms: ${err.message}\n${output}`);
        return undefined;
      });
      if (admin === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    try {
      for (;;) {
        const d = await admin.describeCluster().catch(() => undefined);
        if (
          d !== undefined &&
          d.controller >= 0 &&
          d.brokers.length === nodes &&
          d.brokers.every((b) => !b.fenced)
        )
          break;
        if (Date.now() > deadline) throw new Error(`kbroker not ready within ${timeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await admin.disconnect();
    }
    for (const s of servers) (await connectWithRetry(s, deadline - Date.now())).close();
  } catch (err) {
    await stop();
    throw err;
  }
  const pids = () =>
    procs.map((p) => (p.child.exitCode === null && p.child.signalCode === null ? p.child.pid : undefined));
  return { name: `kbroker-${nodes}`, servers, brokers, stop, kill, restart, pids };
}
