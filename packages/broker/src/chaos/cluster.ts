/**
 * The chaos cluster: `kbroker` processes on loopback whose quorum and client traffic pass through the
 * fault proxy, and the process faults (kill -9, SIGSTOP/SIGCONT, restart).
 *
 * Wiring, for nodes 1..n: node j listens for the quorum on Q_j and for clients on C_j. For every
 * ordered pair (i, j) a proxy listens on P_ij and forwards to Q_j; node i's `--controller-quorum`
 * names itself at Q_i and every peer j at P_ij, so each node dials its peers through its own proxies and
 * the proxy knows the sender. Clients reach node j through a proxy on CP_j (pair (0, j)), which is j's
 * advertised listener, so the clients, which learn brokers from the cluster, stay behind the proxy.
 * Brokers forward controller requests to the controller's advertised listener, through the same (0, j)
 * proxy: a quorum fault between i and j does not cut i's forwarded requests to controller j.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@kbroker/client/connection';
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { randomClusterId } from '@kbroker/raft';
import { freePorts } from '@kbroker/raft/testing';
import { LinkProxy, Network } from './proxy.js';

export const KBROKER_BIN = fileURLToPath(new URL('../../bin/kbroker.js', import.meta.url));

export interface ChaosClusterOptions {
  readonly nodes: number;
  /** Where data dirs, config files and node logs go. */
  readonly dir: string;
  /** Raft election timeout of the nodes. Default 1000 ms. */
  readonly electionTimeoutMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly logLevel?: string;
}

export type NodeState = 'running' | 'paused' | 'killed';

/** Every node process started here and still alive. */
const live = new Set<ChildProcess>();

/** SIGKILLs every node process started by this module (for an interrupted run). */
export function killAllNodes(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export class ChaosNode {
  child: ChildProcess | undefined;
  state: NodeState = 'killed';
  private log: WriteStream | undefined;
  exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    readonly id: number,
    readonly args: readonly string[],
    readonly clientPort: number,
    readonly logFile: string,
  ) {}

  start(): void {
    if (this.child !== undefined) throw new Error(`node ${this.id} is running`);
    this.starts++;
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`--- start ${this.starts} of node ${this.id} at ${new Date().toISOString()} ---\n`);
    const child = spawn(process.execPath, [KBROKER_BIN, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    this.state = 'running';
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.log?.write(`--- node ${this.id} exited (code ${code}, signal ${signal}) ---\n`);
        if (this.child === child) {
          this.child = undefined;
          this.state = 'killed';
        }
        resolve();
      });
    });
  }

  /** kill -9 (a paused process dies too). */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  pause(): void {
    if (this.child === undefined || this.state !== 'running') return;
    this.child.kill('SIGSTOP');
    this.state = 'paused';
  }

  resume(): void {
    if (this.child === undefined || this.state !== 'paused') return;
    this.child.kill('SIGCONT');
    this.state = 'running';
  }

  async closeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (log !== undefined) await new Promise<void>((r) => log.end(r));
  }

  /** One request straight to this node's real client listener (no proxy, no routing, no retries). */
  async query<A extends ApiName>(api: A, body: ApiRequest<A>, timeoutMs = 5_000): Promise<ApiResponse<A>> {
    const endpoint = { host: '127.0.0.1', port: this.clientPort };
    const conn = await Connection.connect(endpoint, {
      ...endpoint,
      clientId: 'chaos-probe',
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: timeoutMs,
    });
    try {
      return await conn.request(api, body);
    } finally {
      await conn.close().catch(() => {});
    }
  }
}

export class ChaosCluster {
  readonly network = new Network();
  readonly nodes: ChaosNode[] = [];
  readonly proxies: LinkProxy[] = [];
  /** Client addresses (the client proxies), for the workload's clients. */
  brokers: string[] = [];
  clusterId = '';

  constructor(readonly opts: ChaosClusterOptions) {}

  node(id: number): ChaosNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Sets up proxies, writes configs and starts every node (does not wait for readiness). */
  async start(): Promise<void> {
    const n = this.opts.nodes;
    const dir = this.opts.dir;
    await mkdir(dir, { recursive: true });
    this.clusterId = randomClusterId();
    const [quorumPorts, clientPorts, httpPorts] = [
      await freePorts(n),
      await freePorts(n),
      await freePorts(n),
    ];
    const quorumProxy = new Map<string, number>();
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        if (i === j) continue;
        const p = new LinkProxy({
          from: i,
          to: j,
          target: { host: '127.0.0.1', port: quorumPorts[j - 1]! },
          network: this.network,
        });
        quorumProxy.set(`${i}>${j}`, await p.listen());
        this.proxies.push(p);
      }
    }
    const clientProxyPorts: number[] = [];
    for (let j = 1; j <= n; j++) {
      const p = new LinkProxy({
        from: 0,
        to: j,
        target: { host: '127.0.0.1', port: clientPorts[j - 1]! },
        network: this.network,
      });
      clientProxyPorts.push(await p.listen());
      this.proxies.push(p);
    }
    this.brokers = clientProxyPorts.map((p) => `127.0.0.1:${p}`);
    for (let i = 1; i <= n; i++) {
      const quorum = Array.from({ length: n }, (_, k) => {
        const j = k + 1;
        const port = i === j ? quorumPorts[j - 1] : quorumProxy.get(`${i}>${j}`);
        return `${j}@127.0.0.1:${port}`;
      }).join(',');
      const config = join(dir, `node-${i}.json`);
      await writeFile(
        config,
        JSON.stringify({
          electionTimeoutMs: this.opts.electionTimeoutMs ?? 1000,
          requestTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
        }),
      );
      const args = [
        'start',
        '--config',
        config,
        '--node-id',
        String(i),
        '--controller-quorum',
        quorum,
        '--cluster-id',
        this.clusterId,
        '--listener',
        `127.0.0.1:${clientPorts[i - 1]}`,
        '--advertised-listener',
        `127.0.0.1:${clientProxyPorts[i - 1]}`,
        '--http-listener',
        `127.0.0.1:${httpPorts[i - 1]}`,
        '--data-dir',
        join(dir, `data-${i}`),
        '--log-level',
        this.opts.logLevel ?? 'info',
        '--session-timeout-ms',
        String(this.opts.sessionTimeoutMs ?? 6_000),
        '--heartbeat-interval-ms',
        String(this.opts.heartbeatIntervalMs ?? 500),
      ];
      this.nodes.push(new ChaosNode(i, args, clientPorts[i - 1]!, join(dir, `node-${i}.log`)));
    }
    for (const node of this.nodes) node.start();
  }

  /** Heals the network, resumes paused nodes and starts killed ones. */
  heal(): void {
    this.network.heal();
    for (const node of this.nodes) {
      if (node.state === 'paused') node.resume();
      else if (node.state === 'killed') node.start();
    }
  }

  /** The Raft leader as the running nodes see it (a majority of answers agreeing), or -1. */
  async leader(): Promise<number> {
    const votes = new Map<number, number>();
    await Promise.all(
      this.nodes
        .filter((n) => n.state === 'running')
        .map(async (n) => {
          try {
            const d = await n.query('describeCluster', {}, 2_000);
            if (d.controllerId > 0) votes.set(d.controllerId, (votes.get(d.controllerId) ?? 0) + 1);
          } catch {
            // no answer
          }
        }),
    );
    let best = -1;
    let count = 0;
    for (const [id, c] of votes)
      if (c > count) {
        best = id;
        count = c;
      }
    return best;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) n.resume();
    await Promise.all(this.nodes.map((n) => n.kill9()));
    await Promise.all(this.nodes.map((n) => n.closeLog()));
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}
