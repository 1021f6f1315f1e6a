/**
 * Real `kbroker` processes for end-to-end tests: each node is `node packages/broker/bin/kbroker.js`
 * on free loopback ports with its own temporary data dir. stdout and stderr (pino JSON lines) are
 * captured line by line; the last lines of every node go into failure messages.
 *
 *   const cluster = await ProcessCluster.start({ voters: 3 });
 *   await cluster.cli(['topics', 'create', '--topic', 't', '--partitions', '3', '--replication-factor', '3']);
 *   cluster.node(2).kill9();
 *   ...
 *   await cleanupProcesses(); // afterAll: every child killed, every dir removed
 *
 * The package must be built (`tsc -b`): the processes run the compiled CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ApiName, type ApiRequest, type ApiResponse, Kbroker } from '@kbroker/client';
import { Connection } from '@kbroker/client/connection';
import { freePorts, waitFor } from '@kbroker/raft/testing';

export const KBROKER_BIN = fileURLToPath(new URL('../../../packages/broker/bin/kbroker.js', import.meta.url));

/** Lines kept per node (the oldest are dropped); enough for log waits and failure messages. */
const MAX_LINES = 5_000;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LogLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** Monotonic per node across restarts: `waitForLog({ after })` looks only at later lines. */
  readonly seq: number;
}

export interface ProcessSpec {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly controllerQuorum: string;
  readonly dataDir: string;
  /** Client listener `127.0.0.1:port` (fixed: restarts keep it). */
  readonly client: string;
  readonly http: string;
  /** A fixed quorum listener (`--quorum-listener`); voters listen on their quorum address anyway. */
  readonly quorumListener?: string;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly logLevel?: string;
  readonly roles?: string;
  readonly extraArgs?: readonly string[];
}

const live = new Set<KbrokerProcess>();
const dirs = new Set<string>();
const clients = new Set<Kbroker>();

// Last resort when the test process exits without afterAll (a crash): no orphaned nodes.
process.once('exit', () => {
  for (const p of live) p.child?.kill('SIGKILL');
});

/** Kills every process started by these helpers, disconnects their clients and removes every dir. */
export async function cleanupProcesses(): Promise<void> {
  await Promise.all([...clients].map((c) => c.disconnect().catch(() => {})));
  clients.clear();
  await Promise.all([...live].map((p) => p.kill9()));
  await Promise.all([...dirs].map((d) => rm(d, { recursive: true, force: true })));
  dirs.clear();
}

/** A temporary dir removed by `cleanupProcesses`. */
export async function tempDir(prefix = 'kbroker-e2e-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** A client tracked for cleanup (short connection timeouts: nodes die in these tests). */
export function trackedClient(brokers: readonly string[], clientId = 'e2e-processes'): Kbroker {
  const k = new Kbroker({
    brokers,
    clientId,
    requestTimeoutMs: 10_000,
    connectionTimeoutMs: 1_000,
    retry: { retries: 8, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 },
  });
  clients.add(k);
  return k;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** One kbroker node process; stopped processes can be started again on the same ports and dir. */
export class KbrokerProcess {
  child: ChildProcess | undefined;
  /** Resolves when the current child exits. */
  exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  lastExit: ExitStatus | undefined;
  private readonly lines: LogLine[] = [];
  private seq = 0;
  private readonly waiters = new Set<(line: LogLine) => void>();
  /** Wall-clock ms (performance.now) of the latest spawn. */
  startedAt = 0;

  constructor(readonly spec: ProcessSpec) {}

  get nodeId(): number {
    return this.spec.nodeId;
  }

  get client(): string {
    return this.spec.client;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The command line (without `node`). */
  args(): string[] {
    const s = this.spec;
    const args = [
      KBROKER_BIN,
      'start',
      '--node-id',
      String(s.nodeId),
      '--controller-quorum',
      s.controllerQuorum,
      '--cluster-id',
      s.clusterId,
      '--listener',
      s.client,
      '--http-listener',
      s.http,
      '--data-dir',
      s.dataDir,
      '--log-level',
      s.logLevel ?? 'info',
    ];
    if (s.quorumListener !== undefined) args.push('--quorum-listener', s.quorumListener);
    if (s.roles !== undefined) args.push('--roles', s.roles);
    if (s.sessionTimeoutMs !== undefined) args.push('--session-timeout-ms', String(s.sessionTimeoutMs));
    if (s.heartbeatIntervalMs !== undefined)
      args.push('--heartbeat-interval-ms', String(s.heartbeatIntervalMs));
    args.push(...(s.extraArgs ?? []));
    return args;
  }

  /** Spawns the process (it must not be running). Does not wait for readiness. */
  start(): this {
    if (this.child !== undefined) throw new Error(`node ${this.nodeId} is already running`);
    this.startedAt = performance.now();
    this.record('stderr', `--- spawn node ${this.nodeId} ---`);
    const child = spawn(process.execPath, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream]! }).on('line', (text) => this.record(stream, text));
    }
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        const status = { code, signal };
        this.lastExit = status;
        this.record('stderr', `--- node ${this.nodeId} exited (code ${code}, signal ${signal}) ---`);
        if (this.child === child) this.child = undefined;
        live.delete(this);
        resolve(status);
      });
    });
    child.once('error', (err) => this.record('stderr', `--- spawn error: ${err.message} ---`));
    return this;
  }

  /** kill -9; resolves once the process is gone. */
  async kill9(): Promise<ExitStatus | undefined> {
    const child = this.child;
    if (child === undefined) return undefined;
    child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (controlled shutdown); resolves with the exit status. SIGKILLs after `timeoutMs`. */
  async terminate(timeoutMs = 30_000): Promise<ExitStatus> {
    const child = this.child;
    if (child === undefined) throw new Error(`node ${this.nodeId} is not running`);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await this.kill9();
      throw new Error(`node ${this.nodeId} did not exit within ${timeoutMs} ms of SIGTERM\n${this.tail()}`);
    }
    return outcome;
  }

  /** Current position in the log, for `waitForLog({ after })`. */
  mark(): number {
    return this.seq;
  }

  /** Every captured line (both streams, oldest first, at most MAX_LINES). */
  allLines(): readonly LogLine[] {
    return this.lines;
  }

  /** The pino JSON records of stderr (after `after`, when given). */
  records(after = 0): Record<string, unknown>[] {
    return this.lines
      .filter((l) => l.seq > after && l.stream === 'stderr')
      .map((l) => parseJson(l.text))
      .filter((r): r is Record<string, unknown> => r !== undefined);
  }

  /** The last `n` lines, for failure messages. */
  tail(n = 25): string {
    return this.lines
      .slice(-n)
      .map((l) => `  node ${this.nodeId} ${l.stream === 'stdout' ? 'out' : 'err'} | ${l.text}`)
      .join('\n');
  }

  /** Resolves with the first line (after `after`, default: any captured line) that matches. */
  waitForLog(
    match: RegExp | ((line: string) => boolean),
    options: { after?: number; timeoutMs?: number } = {},
  ): Promise<LogLine> {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const after = options.after ?? 0;
    const found = this.lines.find((l) => l.seq > after && test(l.text));
    if (found !== undefined) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 20_000;
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = (l: LogLine) => {
        if (l.seq <= after || !test(l.text)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(l);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`node ${this.nodeId}: no log line matching ${String(match)}\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** GET on the http listener: status and body (status 0 when nothing answers). */
  async http(path: string): Promise<{ status: number; body: string }> {
    const [host, port] = this.spec.http.split(':');
    return new Promise((resolve) => {
      const req = httpRequest({ host, port: Number(port), path, timeout: 2_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, body: '' }));
      req.end();
    });
  }

  /** True when `/health` answers 200 (a broker registered and unfenced). */
  async healthy(): Promise<boolean> {
    return (await this.http('/health')).status === 200;
  }

  /** One request to this very node (no routing, no retries): reads answer from its own image. */
  async query<A extends ApiName>(api: A, body: ApiRequest<A>, timeoutMs = 5_000): Promise<ApiResponse<A>> {
    const [host, port] = this.spec.client.split(':');
    const endpoint = { host: host!, port: Number(port) };
    const conn = await Connection.connect(endpoint, {
      ...endpoint,
      clientId: 'e2e-probe',
      connectionTimeoutMs: 2_000,
      requestTimeoutMs: timeoutMs,
    });
    try {
      return await conn.request(api, body);
    } finally {
      await conn.close().catch(() => {});
    }
  }

  private record(stream: 'stdout' | 'stderr', text: string): void {
    const line: LogLine = { stream, text, seq: ++this.seq };
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    for (const w of [...this.waiters]) w(line);
  }
}

export interface ProcessClusterOptions {
  /** Broker+controller nodes (the quorum), ids 1..voters. Default 3. */
  readonly voters?: number;
  /** Broker-only nodes started with the cluster, ids voters+1... Default 0. */
  readonly brokerOnly?: number;
  /** Default 1500 (short: fencing tests wait for it). */
  readonly sessionTimeoutMs?: number;
  /** Default 300. */
  readonly heartbeatIntervalMs?: number;
  readonly logLevel?: string;
  /** How long `start` waits for every node to serve. Default 30000. */
  readonly readyTimeoutMs?: number;
}

/** A cluster of kbroker processes sharing one cluster id and quorum. */
export class ProcessCluster {
  readonly nodes: KbrokerProcess[] = [];
  private readonly client0: Kbroker;

  private constructor(
    readonly root: string,
    readonly clusterId: string,
    readonly controllerQuorum: string,
    private readonly opts: ProcessClusterOptions,
    bootstrap: readonly string[],
  ) {
    this.client0 = trackedClient(bootstrap);
  }

  /** Starts the voters (and broker-only nodes) and waits until every one is unfenced. */
  static async start(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const voters = opts.voters ?? 3;
    const root = await tempDir('kbroker-procs-');
    const clusterId = await randomClusterIdFromCli();
    const quorumPorts = await freePorts(voters);
    const quorum = quorumPorts.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const clientPorts = await freePorts(voters);
    const cluster = new ProcessCluster(
      root,
      clusterId,
      quorum,
      opts,
      clientPorts.map((p) => `127.0.0.1:${p}`),
    );
    const httpPorts = await freePorts(voters);
    for (let i = 0; i < voters; i++) {
      cluster.nodes.push(
        new KbrokerProcess({
          ...cluster.defaults(i + 1),
          client: `127.0.0.1:${clientPorts[i]}`,
          http: `127.0.0.1:${httpPorts[i]}`,
        }),
      );
    }
    for (const n of cluster.nodes) n.start();
    for (let i = 0; i < (opts.brokerOnly ?? 0); i++) await cluster.addNode({ start: true });
    await cluster.waitUntilReady(opts.readyTimeoutMs ?? 30_000);
    return cluster;
  }

  private defaults(nodeId: number) {
    return {
      nodeId,
      clusterId: this.clusterId,
      controllerQuorum: this.controllerQuorum,
      dataDir: join(this.root, `node-${nodeId}`),
      sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 1_500,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs ?? 300,
      logLevel: this.opts.logLevel ?? 'info',
    };
  }

  /**
   * Adds a broker-only node (next id unless given) pointed at this quorum; `quorumListener: true` gives
   * it a fixed quorum port (so it can be added as a voter). Started unless `start` is false.
   */
  async addNode(
    options: {
      nodeId?: number;
      clusterId?: string;
      quorumListener?: boolean;
      start?: boolean;
      extraArgs?: string[];
    } = {},
  ): Promise<KbrokerProcess> {
    const nodeId = options.nodeId ?? Math.max(0, ...this.nodes.map((n) => n.nodeId)) + 1;
    const [client, http, quorum] = await freePorts(3);
    const node = new KbrokerProcess({
      ...this.defaults(nodeId),
      ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
      client: `127.0.0.1:${client}`,
      http: `127.0.0.1:${http}`,
      ...(options.quorumListener ? { quorumListener: `127.0.0.1:${quorum}` } : {}),
      ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
    });
    this.nodes.push(node);
    if (options.start !== false) node.start();
    return node;
  }

  node(nodeId: number): KbrokerProcess {
    const n = this.nodes.find((x) => x.nodeId === nodeId);
    if (n === undefined) throw new Error(`no node ${nodeId}`);
    return n;
  }

  running(): KbrokerProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  /** Client addresses of the running nodes of this cluster id. */
  bootstrap(): string[] {
    return this.running()
      .filter((n) => n.spec.clusterId === this.clusterId)
      .map((n) => n.client);
  }

  /** A client of the whole cluster (routing and retries as any application's). */
  client(): Kbroker {
    return this.client0;
  }

  /** A fresh tracked client bootstrapped from the running nodes. */
  newClient(clientId?: string): Kbroker {
    return trackedClient(this.bootstrap(), clientId);
  }

  /** `waitFor`, with every node's last log lines in the failure message. */
  async waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    try {
      await waitFor(
        async () => {
          try {
            return await cond();
          } catch {
            return false;
          }
        },
        what,
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.diagnostics()}`);
    }
  }

  /** Every running node of this cluster id answers `/health` 200, and a controller is active. */
  async waitUntilReady(timeoutMs = 30_000): Promise<void> {
    const mine = () => this.running().filter((n) => n.spec.clusterId === this.clusterId);
    await this.waitFor(
      async () => {
        for (const n of mine()) if (!(await n.healthy())) return false;
        return (await this.controllerId()) > 0;
      },
      'every node unfenced and an active controller',
      timeoutMs,
    );
  }

  /** The active controller as the running nodes' quorum status says (-1 when unknown). */
  async controllerId(): Promise<number> {
    for (const n of this.running()) {
      if (n.spec.clusterId !== this.clusterId) continue;
      try {
        const d = await n.query('describeCluster', {});
        if (d.controllerId > 0 && this.node(d.controllerId).running) return d.controllerId;
      } catch {
        // try the next node
      }
    }
    return -1;
  }

  /** Runs the CLI with `--bootstrap` set to the running nodes. */
  cli(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli([...args, '--bootstrap', this.bootstrap().join(',')], options);
  }

  /** The last lines of every node. */
  diagnostics(lines = 20): string {
    return this.nodes.map((n) => n.tail(lines)).join('\n');
  }

  /** Kills every node (the dirs go with `cleanupProcesses`). */
  async stop(): Promise<void> {
    await this.client0.disconnect().catch(() => {});
    await Promise.all(this.nodes.map((n) => n.kill9()));
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kbroker <args>` to completion, capturing its output and exit code (SIGKILL after `timeoutMs`). */
export function runCli(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KBROKER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `kbroker random-cluster-id`, the way an operator makes one. */
export async function randomClusterIdFromCli(): Promise<string> {
  const r = await runCli(['random-cluster-id']);
  if (r.code !== 0) throw new Error(`kbroker random-cluster-id failed: ${r.stderr}`);
  return r.stdout.trim();
}
