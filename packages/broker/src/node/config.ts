import { parseQuorum } from '@kbroker/raft';
import type { AuthSettings, TlsSettings } from './security.js';

export type Role = 'broker' | 'controller';

/** Everything a kbroker node is started with (CLI flags and the `--config` file have the same keys). */
export interface NodeConfig {
  readonly nodeId: number;
  /** `1@host:port,2@host:port,...` (port defaults to 9093). */
  readonly controllerQuorum: string;
  readonly roles: readonly Role[];
  /** Client listener `host:port` (port 0 picks a free one). */
  readonly listener: string;
  /** What clients are told to connect to; default the bound listener address. */
  readonly advertisedListener?: string;
  /** `/metrics` and `/health`; none when absent. */
  readonly httpListener?: string;
  /** Where the quorum listens; default this node's address in the quorum (voters), `127.0.0.1:0` otherwise. */
  readonly quorumListener?: string;
  /** Serve the ZooKeeper-compatible znode view here (ZooKeeper wire protocol); none when absent. */
  readonly zookeeperListener?: string;
  /** Mount the znode view under this prefix (`/kafka`). */
  readonly zookeeperChroot?: string;
  readonly rack: string | null;
  readonly dataDir: string;
  /** Required unless the data dir is already formatted (then it must match). */
  readonly clusterId?: string;
  readonly logLevel: string;
  readonly sessionTimeoutMs: number;
  readonly brokerHeartbeatIntervalMs: number;
  readonly electionTimeoutMs?: number;
  readonly requestTimeoutMs: number;
  /** TLS for the listeners; none when absent (see docs/security.md). */
  readonly tls?: TlsSettings;
  /** Users and what unauthenticated clients may do; everyone may do anything when absent. */
  readonly auth?: AuthSettings;
}

export const NODE_DEFAULTS = {
  listener: '127.0.0.1:9092',
  dataDir: './data',
  logLevel: 'info',
  sessionTimeoutMs: 9_000,
  brokerHeartbeatIntervalMs: 2_000,
  requestTimeoutMs: 30_000,
  /** The single-node defaults of `kbroker` with no flags. */
  singleNode: { nodeId: 1, controllerQuorum: '1@127.0.0.1:9093' },
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:@,[\]]+):(\d{1,5})$/;

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = HOST_PORT.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`${what} must be host:port, got ${JSON.stringify(value)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Completes and checks a configuration: roles default to broker+controller when the node id is a
 * voter and broker otherwise; every address must parse; a controller must be listed in the quorum.
 */
export function resolveConfig(
  input: Partial<NodeConfig> & { nodeId: number; controllerQuorum: string },
): NodeConfig {
  if (!Number.isSafeInteger(input.nodeId) || input.nodeId < 1) {
    throw new ConfigError(`node id must be a positive integer, got ${String(input.nodeId)}`);
  }
  let voters: ReturnType<typeof parseQuorum>;
  try {
    voters = parseQuorum(input.controllerQuorum);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const isVoter = voters.some((v) => v.id === input.nodeId);
  const roles = input.roles ?? (isVoter ? (['broker', 'controller'] as const) : (['broker'] as const));
  if (roles.length === 0) throw new ConfigError('a node needs at least one role: broker, controller');
  for (const r of roles)
    if (r !== 'broker' && r !== 'controller') throw new ConfigError(`unknown role ${JSON.stringify(r)}`);
  // A controller outside the starting quorum follows as an observer until it is added as a voter
  // (`kbroker quorum add-voter`); only then can it become the active controller.
  const listener = input.listener ?? NODE_DEFAULTS.listener;
  parseHostPort(listener, 'the listener');
  if (input.advertisedListener !== undefined)
    parseHostPort(input.advertisedListener, 'the advertised listener');
  if (input.httpListener !== undefined) parseHostPort(input.httpListener, 'the http listener');
  if (input.quorumListener !== undefined) parseHostPort(input.quorumListener, 'the quorum listener');
  if (input.zookeeperListener !== undefined) parseHostPort(input.zookeeperListener, 'the zookeeper listener');
  const positive = (v: number | undefined, name: string, dflt: number) => {
    const n = v ?? dflt;
    if (!Number.isFinite(n) || n <= 0)
      throw new ConfigError(`${name} must be a positive number of milliseconds`);
    return n;
  };
  return {
    nodeId: input.nodeId,
    controllerQuorum: input.controllerQuorum,
    roles: [...new Set(roles)],
    listener,
    advertisedListener: input.advertisedListener,
    httpListener: input.httpListener,
    quorumListener: input.quorumListener,
    zookeeperListener: input.zookeeperListener,
    zookeeperChroot: input.zookeeperChroot,
    rack: input.rack ?? null,
    dataDir: input.dataDir ?? NODE_DEFAULTS.dataDir,
    clusterId: input.clusterId,
    logLevel: input.logLevel ?? NODE_DEFAULTS.logLevel,
    sessionTimeoutMs: positive(input.sessionTimeoutMs, 'the session timeout', NODE_DEFAULTS.sessionTimeoutMs),
    brokerHeartbeatIntervalMs: positive(
      input.brokerHeartbeatIntervalMs,
      'the heartbeat interval',
      NODE_DEFAULTS.brokerHeartbeatIntervalMs,
    ),
    electionTimeoutMs:
      input.electionTimeoutMs === undefined
        ? undefined
        : positive(input.electionTimeoutMs, 'the election timeout', 1),
    requestTimeoutMs: positive(input.requestTimeoutMs, 'the request timeout', NODE_DEFAULTS.requestTimeoutMs),
    ...(input.tls === undefined ? {} : { tls: input.tls }),
    ...(input.auth === undefined ? {} : { auth: input.auth }),
  };
}
