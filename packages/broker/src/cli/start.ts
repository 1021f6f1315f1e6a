/**
 * `kbroker start` (the default command): formats the data dir when that is safe, starts the node,
 * says where it listens, and stops it cleanly on SIGTERM/SIGINT (a second signal kills it).
 */
import { resolve } from 'node:path';
import {
  checkDataDir,
  type DataDirIdentity,
  formatDataDir,
  randomClusterId,
  readDataDir,
} from '@kbroker/raft';
import type { Command } from 'commander';
import { ConfigError, NODE_DEFAULTS, type NodeConfig } from '../node/config.js';
import { isMultiNode, loadSecurity } from '../node/security.js';
import {
  loadConfigFile,
  mergeSettings,
  type ResolvedStart,
  resolveStartSettings,
  type StartSettings,
} from './config-file.js';
import {
  type CliContext,
  CliError,
  type CreateLoggerFn,
  EXIT_FAILURE,
  EXIT_OK,
  type NodeHandle,
  type SignalSource,
  type StartNodeFn,
  UsageError,
} from './context.js';
import { renderKeyValues } from './format.js';
import { settingArg } from './options.js';

interface StartFlags {
  nodeId?: number;
  controllerQuorum?: string;
  roles?: StartSettings['roles'];
  listener?: string;
  advertisedListener?: string;
  httpListener?: string;
  quorumListener?: string;
  zookeeperListener?: string;
  zookeeperChroot?: string;
  rack?: string;
  dataDir?: string;
  clusterId?: string;
  config?: string;
  logLevel?: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsListeners?: StartSettings['tlsListeners'];
  tlsClientAuth?: boolean;
  usersFile?: string;
  unauthenticatedAccess?: StartSettings['unauthenticatedAccess'];
  interNodeUser?: string;
  interNodePasswordFile?: string;
}

export function registerStart(program: Command, ctx: CliContext): void {
  program
    .command('start', { isDefault: true })
    .description(
      'start a node (the default command). Without --node-id/--controller-quorum it runs as a single node ' +
        `(id 1, quorum ${NODE_DEFAULTS.singleNode.controllerQuorum}) and formats an empty data dir itself`,
    )
    .option('--node-id <id>', 'this node id (a positive integer)', settingArg('nodeId'))
    .option(
      '--controller-quorum <voters>',
      'the controller voters, id@host:port,...',
      settingArg('controllerQuorum'),
    )
    .option(
      '--roles <roles>',
      'broker, controller or broker,controller (default: both for a voter, broker otherwise)',
      settingArg('roles'),
    )
    .option(
      '--listener <host:port>',
      `client listener (default ${NODE_DEFAULTS.listener})`,
      settingArg('listener'),
    )
    .option(
      '--advertised-listener <host:port>',
      'the address clients are told to use (default: the bound listener)',
      settingArg('advertisedListener'),
    )
    .option('--http-listener <host:port>', '/metrics and /health (default: none)', settingArg('httpListener'))
    .option(
      '--quorum-listener <host:port>',
      "where the quorum listens (default: this node's quorum address for a voter, 127.0.0.1:0 otherwise)",
      settingArg('quorumListener'),
    )
    .option(
      '--zookeeper-listener <host:port>',
      "serve the metadata as Kafka's ZooKeeper znode tree on this address (ZooKeeper wire protocol; default: none)",
      settingArg('zookeeperListener'),
    )
    .option(
      '--zookeeper-chroot <path>',
      'mount the znode tree under this prefix, e.g. /kafka',
      settingArg('zookeeperChroot'),
    )
    .option('--rack <rack>', 'this broker rack', settingArg('rack'))
    .option('--data-dir <dir>', `data directory (default ${NODE_DEFAULTS.dataDir})`, settingArg('dataDir'))
    .option(
      '--cluster-id <id>',
      'formats an unformatted data dir with this cluster id',
      settingArg('clusterId'),
    )
    .option('--config <file>', 'JSON or key=value file with the same keys as these flags (flags win)')
    .option(
      '--log-level <level>',
      `fatal|error|warn|info|debug|trace|silent (default ${NODE_DEFAULTS.logLevel})`,
      settingArg('logLevel'),
    )
    .option(
      '--session-timeout-ms <ms>',
      `broker session timeout (default ${NODE_DEFAULTS.sessionTimeoutMs})`,
      settingArg('sessionTimeoutMs'),
    )
    .option(
      '--heartbeat-interval-ms <ms>',
      `broker heartbeat interval (default ${NODE_DEFAULTS.brokerHeartbeatIntervalMs})`,
      settingArg('brokerHeartbeatIntervalMs'),
    )
    .option(
      '--tls-cert <file>',
      'PEM certificate of this node: TLS on the listeners (see --tls-listeners)',
      settingArg('tlsCert'),
    )
    .option('--tls-key <file>', 'PEM private key of --tls-cert', settingArg('tlsKey'))
    .option(
      '--tls-ca <file>',
      'PEM CA whose certificates are trusted (required for the quorum, which is always mutual TLS)',
      settingArg('tlsCa'),
    )
    .option(
      '--tls-listeners <names>',
      'the listeners served over TLS: client,quorum,zookeeper,http (default all)',
      settingArg('tlsListeners'),
    )
    .option(
      '--tls-client-auth <mode>',
      'required: the client and ZooKeeper listeners also demand a certificate from --tls-ca (default none)',
      settingArg('tlsClientAuth'),
    )
    .option(
      '--users-file <file>',
      'JSON users (kbroker credential prints entries): switches authentication on',
      settingArg('usersFile'),
    )
    .option(
      '--unauthenticated-access <level>',
      'with --users-file, what clients without credentials may read: none, metadata or read (default metadata); they never write',
      settingArg('unauthenticatedAccess'),
    )
    .option(
      '--inter-node-user <name>',
      'with --users-file, the admin user nodes authenticate as to each other',
      settingArg('interNodeUser'),
    )
    .option(
      '--inter-node-password-file <file>',
      "file holding the inter-node user's password",
      settingArg('interNodePasswordFile'),
    )
    // `kbroker topic list` lands here (start is the default): say it is an unknown command.
    .allowExcessArguments(true)
    .action(async (flags: StartFlags, cmd: Command) => {
      const [stray] = cmd.args;
      if (stray !== undefined) {
        const names = program.commands.map((c) => c.name());
        const near = names.filter(
          (n) => editDistance(n, stray) <= 2 || n.startsWith(stray) || stray.startsWith(n),
        );
        throw new UsageError(
          `unknown command '${stray}'${near.length > 0 ? ` (Did you mean ${near.join(', ')}?)` : ''}; kbroker --help lists them`,
        );
      }
      ctx.exitCode = await runStart(ctx, flags);
    });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Reads `--config`, lays the flags over it and completes the configuration. */
export async function resolveStart(flags: StartFlags): Promise<ResolvedStart> {
  try {
    const file = flags.config === undefined ? {} : await loadConfigFile(flags.config);
    const { config: _file, heartbeatIntervalMs, ...rest } = flags;
    const merged = mergeSettings(file, { ...rest, brokerHeartbeatIntervalMs: heartbeatIntervalMs });
    return resolveStartSettings(merged);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export interface PreparedDataDir {
  readonly identity: DataDirIdentity;
  /** True when this start formatted it. */
  readonly formatted: boolean;
}

/**
 * Makes sure the data dir belongs to this node. An unformatted one is formatted with `--cluster-id`,
 * or with a random id for the single-node default; otherwise refused, as is a directory of another
 * cluster or node.
 */
export async function prepareDataDir(config: NodeConfig, singleNode: boolean): Promise<PreparedDataDir> {
  const dir = config.dataDir;
  try {
    const found = await readDataDir(dir);
    if (found !== undefined) {
      return {
        identity: await checkDataDir(dir, { clusterId: config.clusterId, nodeId: config.nodeId }),
        formatted: false,
      };
    }
    if (config.clusterId === undefined && !singleNode) {
      throw new CliError(
        `data dir ${dir} is not formatted: pass --cluster-id <id> to format it ` +
          '(kbroker random-cluster-id prints a new one; every node of a cluster uses the same)',
      );
    }
    const clusterId = config.clusterId ?? randomClusterId();
    return { identity: await formatDataDir(dir, { clusterId, nodeId: config.nodeId }), formatted: true };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(dataDirMessage(err, dir));
  }
}

function dataDirMessage(err: unknown, dir: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOTDIR' || e.code === 'EEXIST') return `data dir ${dir} is not a directory`;
  if (e.code === 'EACCES' || e.code === 'EPERM') return `data dir ${dir}: permission denied`;
  return e.message;
}

async function loadRuntime(
  ctx: CliContext,
): Promise<{ startNode: StartNodeFn; createLogger: CreateLoggerFn }> {
  let startNode = ctx.options.startNode;
  let createLogger = ctx.options.createLogger;
  // Loaded on demand: the admin commands never pay for the node runtime.
  if (startNode === undefined) startNode = (await import('../node/node.js')).startNode;
  if (createLogger === undefined) createLogger = (await import('../node/logger.js')).createLogger;
  return { startNode, createLogger };
}

/** Resolves with the first signal; a second one resolves `second`. */
function watchSignals(source: SignalSource) {
  let count = 0;
  let onFirst!: (s: NodeJS.Signals) => void;
  let onSecond!: (s: NodeJS.Signals) => void;
  const first = new Promise<NodeJS.Signals>((r) => {
    onFirst = r;
  });
  const second = new Promise<NodeJS.Signals>((r) => {
    onSecond = r;
  });
  const listener = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) onFirst(signal);
    else if (count === 2) onSecond(signal);
  };
  source.on('SIGTERM', listener);
  source.on('SIGINT', listener);
  return {
    first,
    second,
    dispose() {
      source.off('SIGTERM', listener);
      source.off('SIGINT', listener);
    },
  };
}

export async function runStart(ctx: CliContext, flags: StartFlags): Promise<number> {
  const { config, singleNode } = await resolveStart(flags);
  // Every certificate and users file is read and checked before the data dir is touched.
  try {
    await loadSecurity(config.tls, config.auth, isMultiNode(config));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const { identity, formatted } = await prepareDataDir(config, singleNode);
  const dataDir = resolve(ctx.options.cwd ?? process.cwd(), config.dataDir);
  if (formatted) ctx.out(`Formatted ${dataDir} for cluster ${identity.clusterId}, node ${identity.nodeId}.`);
  const { startNode, createLogger } = await loadRuntime(ctx);
  const logger = createLogger(config.logLevel, config.nodeId, config.roles);
  const signals = watchSignals(ctx.signals);
  try {
    let node: NodeHandle;
    try {
      node = await startNode({ ...config, clusterId: identity.clusterId }, { logger });
    } catch (err) {
      throw new CliError(`node ${config.nodeId} failed to start: ${(err as Error).message}`);
    }
    ctx.out(`kbroker node ${node.nodeId} is running (${config.roles.join(', ')})`);
    ctx.out(
      renderKeyValues(
        [
          ['cluster id', identity.clusterId],
          ['node id', node.nodeId],
          ['roles', config.roles.join(',')],
          ['client', node.clientAddress()],
          ['quorum', node.quorumAddress() ?? '-'],
          ['http', node.httpAddress() ?? '-'],
          ['data dir', dataDir],
        ],
        { indent: '  ' },
      ),
    );
    ctx.out('Press Ctrl-C to stop (twice to kill).');
    const signal = await signals.first;
    ctx.out(`${signal}: stopping node ${node.nodeId} (controlled shutdown)...`);
    const outcome = await Promise.race([
      node.stop().then(
        () => ({ kind: 'stopped' as const }),
        (err: unknown) => ({ kind: 'failed' as const, err }),
      ),
      signals.second.then((s) => ({ kind: 'forced' as const, signal: s })),
    ]);
    if (outcome.kind === 'stopped') {
      ctx.out(`node ${node.nodeId} stopped.`);
      return EXIT_OK;
    }
    if (outcome.kind === 'forced') ctx.out(`${outcome.signal}: killing node ${node.nodeId}.`);
    else
      ctx.err(
        `kbroker: controlled shutdown failed: ${(outcome.err as Error).message}; killing node ${node.nodeId}`,
      );
    await node.kill().catch(() => {});
    return EXIT_FAILURE;
  } finally {
    signals.dispose();
  }
}
