/**
 * A node's security settings made concrete: TLS material per listener and the users it knows, read
 * and checked once, before anything starts (so a bad file is one clear error and nothing is written).
 *
 * Zero configuration keeps a single local node open: no TLS, no users, every client may do anything.
 * Configuring users switches authentication on for the client and ZooKeeper listeners; what an
 * unauthenticated client may then do is `unauthenticatedAccess` (default `metadata`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { parseScramCredential, type ScramCredential } from '@kbroker/client/scram';
import { parseQuorum } from '@kbroker/raft';
import { ConfigError } from './config.js';

export const LISTENERS = ['client', 'quorum', 'zookeeper', 'http'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/** What a principal may do: each level includes the ones before it. */
export const PERMISSIONS = ['read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What unauthenticated clients may read when users are configured (they never write). */
export const UNAUTHENTICATED_ACCESS = ['none', 'metadata', 'read'] as const;
export type UnauthenticatedAccess = (typeof UNAUTHENTICATED_ACCESS)[number];

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  /** Trusted CA for client certificates; required for mutual TLS (the quorum, `clientAuth`). */
  readonly caFile?: string;
  /** The listeners served over TLS (default all). The quorum is always mutual TLS. */
  readonly listeners?: readonly ListenerName[];
  /** Require a client certificate from the CA on the client and ZooKeeper listeners too. */
  readonly clientAuth?: boolean;
}

export interface AuthSettings {
  /** JSON file of users (`kbroker credential` prints entries). Authentication is on when set. */
  readonly usersFile?: string;
  readonly unauthenticatedAccess?: UnauthenticatedAccess;
  /** The user this node authenticates as when it forwards requests to the controller. */
  readonly interNodeUser?: string;
  /** File holding that user's password (first line). */
  readonly interNodePasswordFile?: string;
}

export interface User {
  readonly name: string;
  readonly permission: Permission;
  readonly scram: ScramCredential | undefined;
  /** ZooKeeper's digest id, `name:base64(sha1(name:password))`. */
  readonly zkDigest: string | undefined;
}

export interface SecurityMaterial {
  readonly tls:
    | {
        readonly cert: Buffer;
        readonly key: Buffer;
        readonly ca: Buffer | undefined;
        readonly listeners: ReadonlySet<ListenerName>;
        readonly clientAuth: boolean;
      }
    | undefined;
  readonly auth:
    | {
        readonly users: ReadonlyMap<string, User>;
        readonly unauthenticatedAccess: UnauthenticatedAccess;
        readonly interNode: { readonly user: string; readonly password: string } | undefined;
      }
    | undefined;
}

/** Whether the node has peers (then, with users configured, it needs inter-node credentials). */
export function isMultiNode(config: { readonly nodeId: number; readonly controllerQuorum: string }): boolean {
  const voters = parseQuorum(config.controllerQuorum);
  return voters.length > 1 || !voters.some((v) => v.id === config.nodeId);
}

/** ZooKeeper's digest of a user and password (the id `addauth digest user:password` yields). */
export function zkDigest(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

async function readSecret(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError(`cannot read the ${what} ${path}: ${why}`);
  }
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Parses a users file: `[{ name, permission, scram?, zkDigest? }]` or `{ "users": [...] }`. */
export function parseUsers(text: string, file: string): Map<string, User> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`users file ${file}: invalid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new ConfigError(`users file ${file}: expected an array of users`);
  const users = new Map<string, User>();
  list.forEach((u: unknown, i) => {
    const at = `users file ${file}, user ${i + 1}`;
    if (typeof u !== 'object' || u === null) throw new ConfigError(`${at}: expected an object`);
    const { name, permission, scram, zkDigest: digest } = u as Record<string, unknown>;
    if (typeof name !== 'string' || !/^[A-Za-z0-9._@-]{1,64}$/.test(name))
      throw new ConfigError(`${at}: name must be 1-64 of A-Z a-z 0-9 . _ @ -`);
    if (users.has(name)) throw new ConfigError(`${at}: user ${name} is listed twice`);
    let credential: ScramCredential | undefined;
    if (scram !== undefined) {
      try {
        credential = parseScramCredential(String(scram));
      } catch (err) {
        throw new ConfigError(`${at}: ${(err as Error).message}`);
      }
    }
    if (digest !== undefined && (typeof digest !== 'string' || !digest.startsWith(`${name}:`)))
      throw new ConfigError(`${at}: zkDigest must be ${name}:<base64 sha1>`);
    if (credential === undefined && digest === undefined)
      throw new ConfigError(`${at}: needs a scram credential or a zkDigest (kbroker credential prints both)`);
    users.set(name, {
      name,
      permission: oneOf(permission ?? 'read', PERMISSIONS, `${at}: permission`),
      scram: credential,
      zkDigest: digest as string | undefined,
    });
  });
  return users;
}

/**
 * Reads and checks every file the settings name. Throws ConfigError (one line) on a missing or
 * unreadable file, a certificate that does not parse or does not match its key, mutual TLS without a
 * CA, or a users file that does not parse.
 */
export async function loadSecurity(
  tlsSettings: TlsSettings | undefined,
  auth: AuthSettings | undefined,
  multiNode: boolean,
): Promise<SecurityMaterial> {
  let tlsMaterial: SecurityMaterial['tls'];
  if (tlsSettings !== undefined) {
    const [cert, key, ca] = await Promise.all([
      readSecret(tlsSettings.certFile, 'TLS certificate'),
      readSecret(tlsSettings.keyFile, 'TLS key'),
      tlsSettings.caFile === undefined ? undefined : readSecret(tlsSettings.caFile, 'TLS CA file'),
    ]);
    try {
      tls.createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
    } catch (err) {
      throw new ConfigError(`the TLS certificate, key or CA is unusable: ${(err as Error).message}`);
    }
    const listeners = new Set(tlsSettings.listeners ?? LISTENERS);
    const clientAuth = tlsSettings.clientAuth ?? false;
    if (ca === undefined && (listeners.has('quorum') || clientAuth)) {
      throw new ConfigError(
        'TLS on the quorum listener (or --tls-client-auth) is mutual and needs --tls-ca, the CA whose certificates are trusted',
      );
    }
    tlsMaterial = { cert, key, ca, listeners, clientAuth };
  }
  let authMaterial: SecurityMaterial['auth'];
  if (auth?.usersFile !== undefined) {
    const users = parseUsers(
      (await readSecret(auth.usersFile, 'users file')).toString('utf8'),
      auth.usersFile,
    );
    let interNode: { user: string; password: string } | undefined;
    if (auth.interNodeUser !== undefined) {
      if (auth.interNodePasswordFile === undefined)
        throw new ConfigError('--inter-node-user needs --inter-node-password-file');
      const password = (await readSecret(auth.interNodePasswordFile, 'inter-node password file'))
        .toString('utf8')
        .split(/\r?\n/)[0]!;
      if (users.get(auth.interNodeUser)?.permission !== 'admin')
        throw new ConfigError(
          `the inter-node user ${auth.interNodeUser} must be a user with admin permission`,
        );
      interNode = { user: auth.interNodeUser, password };
    } else if (multiNode) {
      throw new ConfigError(
        'with users configured, the nodes of a cluster authenticate to each other: set --inter-node-user and --inter-node-password-file',
      );
    }
    authMaterial = {
      users,
      unauthenticatedAccess: auth.unauthenticatedAccess ?? 'metadata',
      interNode,
    };
  }
  return { tls: tlsMaterial, auth: authMaterial };
}

/** What each client API needs. APIs not listed (added later, internal) need admin. */
const API_LEVEL: Readonly<Record<string, 'open' | 'metadata' | Permission>> = {
  hello: 'open',
  saslStart: 'open',
  saslFinish: 'open',
  describeCluster: 'metadata',
  listTopics: 'metadata',
  describeTopics: 'metadata',
  metadataStatus: 'metadata',
  // Watch events carry config values and group offsets: read-level.
  watch: 'read',
  unwatch: 'read',
  describeConfigs: 'read',
  fetchOffsets: 'read',
  listGroups: 'read',
  describeQuorum: 'read',
  znodeSession: 'read',
  getZnodeData: 'read',
  getZnodeChildren: 'read',
  znodeExists: 'read',
  addZnodeWatch: 'read',
  removeZnodeWatch: 'read',
  createTopics: 'write',
  deleteTopics: 'write',
  createPartitions: 'write',
  alterConfigs: 'write',
  commitOffsets: 'write',
  deleteOffsets: 'write',
  electLeaders: 'write',
};

const RANK = { open: 0, metadata: 1, read: 2, write: 3, admin: 4 } as const;

/** Whether a client with `permission` (undefined: not authenticated) may call `api`. */
export function mayCall(
  api: string,
  permission: Permission | undefined,
  unauthenticated: UnauthenticatedAccess,
): boolean {
  const need = RANK[API_LEVEL[api] ?? 'admin'];
  if (permission !== undefined) return need <= RANK[permission];
  const have =
    unauthenticated === 'none' ? RANK.open : unauthenticated === 'metadata' ? RANK.metadata : RANK.read;
  return need <= have;
}
