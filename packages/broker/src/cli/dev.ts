/**
 * `kbroker dev --nodes 3`: a local cluster of separate `kbroker` processes for development. Each node
 * gets its own client, quorum and http port and data dir (formatted with one cluster id, reused on the
 * next run); their logs are streamed prefixed by node id; Ctrl-C stops them all cleanly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DataDirError, formatDataDir, randomClusterId, readDataDir } from '@kbroker/raft';
import type { Command } from 'commander';
import { LOG_LEVELS } from './config-file.js';
import { type CliContext, CliError, EXIT_FAILURE, EXIT_OK, UsageError } from './context.js';
import { renderTable } from './format.js';
import { arg, intArg } from './options.js';

export const DEV_DEFAULTS = { nodes: 3, basePort: 19092, dataDir: './dev-data', maxNodes: 99 } as const;
/** Port offsets from `--base-port`: node i listens on base+i-1 (client), +100 (quorum), +200 (http). */
const QUORUM_OFFSET = 100;
const HTTP_OFFSET = 200;

export interface DevNodePlan {
  readonly nodeId: number;
  readonly roles: readonly ('broker' | 'controller')[];
  readonly client: string;
  /** Only voters listen for the quorum on a fixed port. */
  readonly quorum: string | undefined;
  readonly http: string;
  readonly dataDir: string;
}

export interface DevPlan {
  readonly controllerQuorum: string;
  readonly nodes: readonly DevNodePlan[];
}

/** Ports, roles and data dirs of a dev cluster: the first `voters` nodes are broker+controller. */
export function planDevCluster(opts: {
  nodes: number;
  basePort: number;
  dataDir: string;
  voters?: number;
}): DevPlan {
  const { nodes, basePort } = opts;
  if (nodes < 1 || nodes > DEV_DEFAULTS.maxNodes)
    throw new UsageError(`--nodes must be 1-${DEV_DEFAULTS.maxNodes}`);
  const voters = opts.voters ?? Math.min(nodes, 3);
  if (voters < 1 || voters > nodes) throw new UsageError(`--voters must be 1-${nodes}`);
  if (basePort < 1 || basePort + HTTP_OFFSET + nodes - 1 > 65535) {
    throw new UsageError(
      `--base-port must leave room for ports up to base+${HTTP_OFFSET + nodes - 1} (<= 65535)`,
    );
  }
  const host = '127.0.0.1';
  const plans: DevNodePlan[] = [];
  for (let id = 1; id <= nodes; id++) {
    const voter = id <= voters;
    plans.push({
      nodeId: id,
      roles: voter ? ['broker', 'controller'] : ['broker'],
      client: `${host}:${basePort + id - 1}`,
      quorum: voter ? `${host}:${basePort + QUORUM_OFFSET + id - 1}` : undefined,
      http: `${host}:${basePort + HTTP_OFFSET + id - 1}`,
      dataDir: join(opts.dataDir, `node-${id}`),
    });
  }
  const controllerQuorum = plans
    .filter((p) => p.quorum !== undefined)
    .map((p) => `${p.nodeId}@${p.quorum}`)
    .join(',');
  return { controllerQuorum, nodes: plans };
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'nodeId', 'roles', 'v', 'name', 'err']);
const COLORS = [36, 35, 33, 32, 34, 31];
const paint = (on: boolean, code: number, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);

/**
 * One log line of a node for people: `node 2 | 12:00:01.123 INFO  msg key=value`. Pino JSON lines are
 * prettified; anything else (the node's own startup lines) is passed through after the prefix.
 */
export function prettyLogLine(nodeId: number, line: string, color = false): string {
  const prefix = paint(color, COLORS[(nodeId - 1) % COLORS.length]!, `node ${nodeId} |`);
  let rec: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) rec = v as Record<string, unknown>;
    } catch {
      rec = undefined;
    }
  }
  if (rec === undefined || (rec.msg === undefined && rec.level === undefined)) return `${prefix} ${line}`;
  const level =
    typeof rec.level === 'number'
      ? (LEVEL_NAMES[rec.level] ?? String(rec.level))
      : String(rec.level ?? 'INFO').toUpperCase();
  const levelText = paint(
    color && level !== 'INFO',
    level === 'WARN' ? 33 : level === 'DEBUG' || level === 'TRACE' ? 90 : 31,
    level.padEnd(5),
  );
  const time = typeof rec.time === 'number' ? `${new Date(rec.time).toISOString().slice(11, 23)} ` : '';
  const extras = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const err = rec.err as { message?: unknown } | undefined;
  if (err && typeof err.message === 'string') extras.push(`err=${JSON.stringify(err.message)}`);
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  return `${prefix} ${time}${levelText} ${msg}${extras.length > 0 ? `  ${extras.join(' ')}` : ''}`.trimEnd();
}

/** Formats every node's data dir with one cluster id: the one already there, else a new random one. */
async function formatDevDirs(plan: DevPlan): Promise<string> {
  const found = new Map<string, number[]>();
  for (const n of plan.nodes) {
    const id = await readDataDir(n.dataDir).catch((err: unknown) => {
      throw new CliError(err instanceof Error ? err.message : String(err));
    });
    if (id !== undefined) found.set(id.clusterId, [...(found.get(id.clusterId) ?? []), n.nodeId]);
  }
  if (found.size > 1) {
    throw new CliError(
      `the dev data dirs belong to ${found.size} different clusters (${[...found.keys()].join(', ')}); pass --clean to start over`,
    );
  }
  const clusterId = [...found.keys()][0] ?? randomClusterId();
  for (const n of plan.nodes) {
    try {
      await formatDataDir(n.dataDir, { clusterId, nodeId: n.nodeId });
    } catch (err) {
      if (err instanceof DataDirError) throw new CliError(`${err.message}; pass --clean to start over`);
      throw err;
    }
  }
  return clusterId;
}

function binPath(): string {
  return fileURLToPath(new URL('../../bin/kbroker.js', import.meta.url));
}

interface DevFlags {
  nodes: number;
  voters?: number;
  basePort: number;
  dataDir: string;
  clean?: boolean;
  logLevel: string;
}

export function registerDev(program: Command, ctx: CliContext): void {
  program
    .command('dev')
    .description(
      `run a local cluster of separate kbroker processes (node i: client port base+i-1, quorum +${QUORUM_OFFSET}, http +${HTTP_OFFSET}); Ctrl-C stops it`,
    )
    .option('--nodes <n>', 'how many nodes', intArg('--nodes', 1), DEV_DEFAULTS.nodes)
    .option('--voters <n>', 'how many of them are controllers (default: up to 3)', intArg('--voters', 1))
    .option('--base-port <port>', 'first client port', intArg('--base-port', 1), DEV_DEFAULTS.basePort)
    .option('--data-dir <dir>', 'parent of the node data dirs (node-1, node-2, ...)', DEV_DEFAULTS.dataDir)
    .option('--clean', 'delete the data dirs first (a new cluster)')
    .option(
      '--log-level <level>',
      'log level of the nodes',
      arg((v: string) => {
        if (!(LOG_LEVELS as readonly string[]).includes(v))
          throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`);
        return v;
      }),
      'info',
    )
    .action(async (flags: DevFlags) => {
      ctx.exitCode = await runDev(ctx, flags);
    });
}

async function runDev(ctx: CliContext, flags: DevFlags): Promise<number> {
  const plan = planDevCluster({
    nodes: flags.nodes,
    basePort: flags.basePort,
    dataDir: flags.dataDir,
    voters: flags.voters,
  });
  const cwd = ctx.options.cwd ?? process.cwd();
  if (flags.clean) await rm(flags.dataDir, { recursive: true, force: true });
  const clusterId = await formatDevDirs(plan);

  ctx.out(
    renderTable(
      ['Node', 'Roles', 'Client', 'Quorum', 'HTTP', 'DataDir'],
      plan.nodes.map((n) => [
        n.nodeId,
        n.roles.join(','),
        n.client,
        n.quorum,
        n.http,
        resolve(cwd, n.dataDir),
      ]),
    ),
  );
  ctx.out('');
  ctx.out(`Cluster ${clusterId}; bootstrap ${plan.nodes.map((n) => n.client).join(',')}`);
  ctx.out('Ctrl-C stops every node (twice kills them).');
  ctx.out('');

  const color = ctx.stdout.isTTY === true;
  const children = new Map<number, ChildProcess>();
  const exited = new Map<number, number | NodeJS.Signals>();
  let stopping = false;
  let allExited!: () => void;
  const done = new Promise<void>((r) => {
    allExited = r;
  });

  for (const n of plan.nodes) {
    const args = [
      binPath(),
      'start',
      '--node-id',
      String(n.nodeId),
      '--controller-quorum',
      plan.controllerQuorum,
      '--roles',
      n.roles.join(','),
      '--listener',
      n.client,
      '--http-listener',
      n.http,
      '--data-dir',
      n.dataDir,
      '--cluster-id',
      clusterId,
      '--log-level',
      flags.logLevel,
    ];
    // Own process group: the terminal's Ctrl-C reaches only us, and we stop the nodes one signal each.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.set(n.nodeId, child);
    const pipe = (stream: NodeJS.ReadableStream | null, to: (s: string) => void) => {
      if (stream === null) return;
      createInterface({ input: stream }).on('line', (line) => to(prettyLogLine(n.nodeId, line, color)));
    };
    pipe(child.stdout, (s) => ctx.out(s));
    pipe(child.stderr, (s) => ctx.err(s));
    child.on('error', (err) => {
      ctx.err(prettyLogLine(n.nodeId, `failed to start: ${err.message}`, color));
      if (child.pid === undefined) {
        exited.set(n.nodeId, -1);
        if (exited.size === children.size) allExited();
      }
    });
    child.on('exit', (code, signal) => {
      exited.set(n.nodeId, code ?? signal ?? -1);
      if (!stopping) {
        ctx.err(
          prettyLogLine(n.nodeId, `exited unexpectedly (${code !== null ? `code ${code}` : signal})`, color),
        );
      }
      if (exited.size === children.size) allExited();
    });
  }

  // If we die without a signal (an exception), take the nodes with us.
  const killAll = () => {
    for (const [id, c] of children) if (!exited.has(id)) c.kill('SIGKILL');
  };
  process.on('exit', killAll);

  let signals = 0;
  let forced = false;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      stopping = true;
      ctx.out(`${signal}: stopping ${children.size - exited.size} node(s)...`);
      for (const [id, c] of children) if (!exited.has(id)) c.kill('SIGTERM');
    } else if (signals === 2) {
      forced = true;
      ctx.out(`${signal}: killing the nodes.`);
      killAll();
    }
  };
  ctx.signals.on('SIGINT', onSignal);
  ctx.signals.on('SIGTERM', onSignal);
  try {
    await done;
  } finally {
    ctx.signals.off('SIGINT', onSignal);
    ctx.signals.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
  if (!stopping) {
    ctx.err('kbroker: every node exited');
    return EXIT_FAILURE;
  }
  const unclean = [...exited].filter(([, how]) => how !== 0);
  if (forced || unclean.length > 0) {
    if (unclean.length > 0)
      ctx.err(
        `kbroker: nodes ${unclean.map(([id, how]) => `${id} (${how})`).join(', ')} did not stop cleanly`,
      );
    return EXIT_FAILURE;
  }
  ctx.out('All nodes stopped.');
  return EXIT_OK;
}
