/**
 * The `--config <file>` of `kbroker start` (and `format`): a JSON object or a Java-properties-like
 * `key=value` file with the same keys as the flags, camelCase or kebab-case (`node-id`, `nodeId`,
 * `node.id` and `node_id` are one key). Flags override the file; the file overrides the defaults.
 *
 * Every value is checked here, flag or file, so a bad one is reported once, by name, before anything
 * starts.
 */
import { readFile } from 'node:fs/promises';
import { parseQuorum } from '@kbroker/raft';
import {
  ConfigError,
  NODE_DEFAULTS,
  type NodeConfig,
  parseHostPort,
  type Role,
  resolveConfig,
} from '../node/config.js';
import {
  LISTENERS,
  type ListenerName,
  UNAUTHENTICATED_ACCESS,
  type UnauthenticatedAccess,
} from '../node/security.js';

/** What the flags and the config file may set. */
export interface StartSettings {
  nodeId?: number;
  controllerQuorum?: string;
  roles?: Role[];
  listener?: string;
  advertisedListener?: string;
  httpListener?: string;
  quorumListener?: string;
  zookeeperListener?: string;
  zookeeperChroot?: string;
  rack?: string;
  dataDir?: string;
  clusterId?: string;
  logLevel?: string;
  sessionTimeoutMs?: number;
  brokerHeartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  requestTimeoutMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsListeners?: ListenerName[];
  tlsClientAuth?: boolean;
  usersFile?: string;
  unauthenticatedAccess?: UnauthenticatedAccess;
  interNodeUser?: string;
  interNodePasswordFile?: string;
}
export type SettingKey = keyof StartSettings;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function positiveInt(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function text(value: unknown, what: string): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

function hostPort(value: unknown, what: string): string {
  const s = text(value, what);
  parseHostPort(s, what);
  return s;
}

/** `--roles broker,controller` (or a JSON array). */
export function parseRoles(value: unknown): Role[] {
  const parts = Array.isArray(value) ? value : String(text(value, 'roles')).split(',');
  const roles: Role[] = [];
  for (const p of parts) {
    const r = typeof p === 'string' ? p.trim() : p;
    if (r === '') continue;
    if (r !== 'broker' && r !== 'controller') {
      throw new ConfigError(
        `roles must be broker, controller or broker,controller; got ${JSON.stringify(r)}`,
      );
    }
    if (!roles.includes(r)) roles.push(r);
  }
  if (roles.length === 0) throw new ConfigError('roles must name at least one of broker, controller');
  return roles;
}

function quorum(value: unknown): string {
  const spec = Array.isArray(value) ? value.map((v) => text(v, 'the controller quorum')).join(',') : value;
  const s = text(spec, 'the controller quorum');
  try {
    parseQuorum(s);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return s;
}

/** Checks and converts one setting, from a flag (always a string) or the config file (any JSON). */
const PARSERS: { readonly [K in SettingKey]-?: (value: unknown) => NonNullable<StartSettings[K]> } = {
  nodeId: (v) => positiveInt(v, 'the node id'),
  controllerQuorum: quorum,
  roles: parseRoles,
  listener: (v) => hostPort(v, 'the listener'),
  advertisedListener: (v) => hostPort(v, 'the advertised listener'),
  httpListener: (v) => hostPort(v, 'the http listener'),
  quorumListener: (v) => hostPort(v, 'the quorum listener'),
  zookeeperListener: (v) => hostPort(v, 'the zookeeper listener'),
  zookeeperChroot: (v) => {
    const s = text(v, 'the zookeeper chroot');
    if (!/^\/[^\s]*$/.test(s) || s.endsWith('/')) {
      throw new ConfigError(
        `the zookeeper chroot must be an absolute path like /kafka, got ${JSON.stringify(s)}`,
      );
    }
    return s;
  },
  rack: (v) => text(v, 'the rack'),
  dataDir: (v) => text(v, 'the data dir'),
  clusterId: (v) => {
    const s = text(v, 'the cluster id');
    if (/\s/.test(s))
      throw new ConfigError(`the cluster id must not contain spaces, got ${JSON.stringify(s)}`);
    return s;
  },
  logLevel: (v) => {
    const s = text(v, 'the log level').toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(s)) {
      throw new ConfigError(
        `the log level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(v)}`,
      );
    }
    return s;
  },
  sessionTimeoutMs: (v) => positiveInt(v, 'the session timeout (ms)'),
  brokerHeartbeatIntervalMs: (v) => positiveInt(v, 'the heartbeat interval (ms)'),
  electionTimeoutMs: (v) => positiveInt(v, 'the election timeout (ms)'),
  requestTimeoutMs: (v) => positiveInt(v, 'the request timeout (ms)'),
  tlsCert: (v) => text(v, 'the TLS certificate file'),
  tlsKey: (v) => text(v, 'the TLS key file'),
  tlsCa: (v) => text(v, 'the TLS CA file'),
  tlsListeners: (v) => {
    const parts = Array.isArray(v) ? v : text(v, 'the TLS listeners').split(',');
    const out: ListenerName[] = [];
    for (const p of parts) {
      const name = typeof p === 'string' ? p.trim() : p;
      if (!(LISTENERS as readonly unknown[]).includes(name))
        throw new ConfigError(
          `the TLS listeners must be among ${LISTENERS.join(', ')}; got ${JSON.stringify(name)}`,
        );
      if (!out.includes(name as ListenerName)) out.push(name as ListenerName);
    }
    if (out.length === 0)
      throw new ConfigError(`the TLS listeners must name at least one of ${LISTENERS.join(', ')}`);
    return out;
  },
  tlsClientAuth: (v) => {
    if (v === true || v === 'required' || v === 'true') return true;
    if (v === false || v === 'none' || v === 'false') return false;
    throw new ConfigError(`TLS client auth must be required or none; got ${JSON.stringify(v)}`);
  },
  usersFile: (v) => text(v, 'the users file'),
  unauthenticatedAccess: (v) => {
    const s = text(v, 'the unauthenticated access');
    if (!(UNAUTHENTICATED_ACCESS as readonly string[]).includes(s))
      throw new ConfigError(
        `the unauthenticated access must be one of ${UNAUTHENTICATED_ACCESS.join(', ')}; got ${JSON.stringify(s)}`,
      );
    return s as UnauthenticatedAccess;
  },
  interNodeUser: (v) => text(v, 'the inter-node user'),
  interNodePasswordFile: (v) => text(v, 'the inter-node password file'),
};

export function parseSetting<K extends SettingKey>(key: K, value: unknown): NonNullable<StartSettings[K]> {
  return PARSERS[key](value) as NonNullable<StartSettings[K]>;
}

/** Other spellings a file may use: the flag name `heartbeatIntervalMs`, and Kafka's own property names. */
const ALIASES: Readonly<Record<string, SettingKey>> = {
  heartbeatIntervalMs: 'brokerHeartbeatIntervalMs',
  processRoles: 'roles',
  controllerQuorumVoters: 'controllerQuorum',
  brokerRack: 'rack',
  logDir: 'dataDir',
  metadataLogDir: 'dataDir',
};

/** `node-id`, `node_id`, `node.id`, `nodeId` -> `nodeId`; undefined for a key no flag has. */
export function normalizeKey(key: string): SettingKey | undefined {
  const camel = key
    .trim()
    .replace(/[-_.]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase())
    .replace(/^[A-Z]/, (c) => c.toLowerCase());
  if (Object.hasOwn(PARSERS, camel)) return camel as SettingKey;
  return Object.hasOwn(ALIASES, camel) ? ALIASES[camel] : undefined;
}

function setSetting(out: StartSettings, rawKey: string, value: unknown, where: string): void {
  const key = normalizeKey(rawKey);
  if (key === undefined) {
    throw new ConfigError(`${where}: unknown key ${JSON.stringify(rawKey)}`);
  }
  try {
    (out as Record<string, unknown>)[key] = parseSetting(key, value);
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message}`);
  }
}

/**
 * Parses a config file's text: JSON when it starts with `{`, else `key=value` lines (`key: value` and
 * `key value` too), `#` and `!` comments, a trailing `\` continuing a line.
 */
export function parseConfigText(source: string, name = 'config'): StartSettings {
  const out: StartSettings = {};
  const trimmed = source.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      throw new ConfigError(`${name}: invalid JSON: ${(err as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new ConfigError(`${name}: expected a JSON object`);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (v === null) continue;
      setSetting(out, k, v, name);
    }
    return out;
  }
  const lines = source.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.trim();
    }
    const m = /^([^=:\s]+)\s*(?:[=:]|\s)\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${name}:${lineNo}: expected key=value, got ${JSON.stringify(line)}`);
    setSetting(out, m[1]!, m[2]!, `${name}:${lineNo}`);
  }
  return out;
}

export async function loadConfigFile(path: string): Promise<StartSettings> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError(`cannot read config file ${path}: ${why}`);
  }
  return parseConfigText(source, path);
}

/** Flags win over the file; a flag left out keeps the file's value. */
export function mergeSettings(file: StartSettings, flags: StartSettings): StartSettings {
  const out: StartSettings = { ...file };
  for (const [k, v] of Object.entries(flags)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export interface ResolvedStart {
  readonly config: NodeConfig;
  /**
   * True when neither a node id nor a controller quorum was given (flag or file): the node runs as
   * the single-node default (id 1, quorum `1@127.0.0.1:9093`) and may format an empty data dir itself.
   */
  readonly singleNode: boolean;
}

/** Completes merged settings into a NodeConfig (see resolveConfig), applying the single-node defaults. */
export function resolveStartSettings(settings: StartSettings): ResolvedStart {
  const { nodeId, controllerQuorum } = settings;
  const singleNode = nodeId === undefined && controllerQuorum === undefined;
  if (!singleNode) {
    if (nodeId === undefined) throw new ConfigError('--node-id is required with --controller-quorum');
    if (controllerQuorum === undefined)
      throw new ConfigError('--controller-quorum is required with --node-id (e.g. 1@127.0.0.1:9093)');
  }
  const {
    tlsCert,
    tlsKey,
    tlsCa,
    tlsListeners,
    tlsClientAuth,
    usersFile,
    unauthenticatedAccess,
    interNodeUser,
    interNodePasswordFile,
    ...plain
  } = settings;
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new ConfigError('--tls-cert and --tls-key go together');
  if (
    tlsCert === undefined &&
    (tlsCa !== undefined || tlsListeners !== undefined || tlsClientAuth !== undefined)
  )
    throw new ConfigError('--tls-ca, --tls-listeners and --tls-client-auth need --tls-cert and --tls-key');
  if (usersFile === undefined && (unauthenticatedAccess !== undefined || interNodeUser !== undefined))
    throw new ConfigError('--unauthenticated-access and --inter-node-user need --users-file');
  const config = resolveConfig({
    ...plain,
    ...(tlsCert === undefined || tlsKey === undefined
      ? {}
      : {
          tls: {
            certFile: tlsCert,
            keyFile: tlsKey,
            ...(tlsCa === undefined ? {} : { caFile: tlsCa }),
            ...(tlsListeners === undefined ? {} : { listeners: tlsListeners }),
            ...(tlsClientAuth === undefined ? {} : { clientAuth: tlsClientAuth }),
          },
        }),
    ...(usersFile === undefined
      ? {}
      : {
          auth: {
            usersFile,
            ...(unauthenticatedAccess === undefined ? {} : { unauthenticatedAccess }),
            ...(interNodeUser === undefined ? {} : { interNodeUser }),
            ...(interNodePasswordFile === undefined ? {} : { interNodePasswordFile }),
          },
        }),
    nodeId: nodeId ?? NODE_DEFAULTS.singleNode.nodeId,
    controllerQuorum: controllerQuorum ?? NODE_DEFAULTS.singleNode.controllerQuorum,
    rack: settings.rack ?? null,
  });
  return { config, singleNode };
}
