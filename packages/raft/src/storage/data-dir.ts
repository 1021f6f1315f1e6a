/**
 * Data directory identity, as Kafka's meta.properties: `meta.json` records which cluster and node
 * a directory belongs to, so a node started with the wrong directory (or a directory copied from
 * another node) refuses to run instead of joining with someone else's log and votes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeId } from '../core/types.js';

export const DATA_DIR_META_FILE = 'meta.json';
const META_VERSION = 1;

export interface DataDirIdentity {
  readonly version: 1;
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** When the directory was formatted, ISO 8601. */
  readonly formattedAt: string;
}

export type DataDirErrorCode = 'DATA_DIR_MISMATCH' | 'DATA_DIR_NOT_FORMATTED' | 'DATA_DIR_CORRUPT';

export class DataDirError extends Error {
  readonly code: DataDirErrorCode;
  readonly dir: string;
  constructor(code: DataDirErrorCode, dir: string, message: string) {
    super(message);
    this.name = 'DataDirError';
    this.code = code;
    this.dir = dir;
  }
}

export class DataDirMismatchError extends DataDirError {
  readonly expected: { readonly clusterId?: string; readonly nodeId: NodeId };
  readonly found: { readonly clusterId: string; readonly nodeId: NodeId };
  constructor(
    dir: string,
    expected: { readonly clusterId?: string; readonly nodeId: NodeId },
    found: { readonly clusterId: string; readonly nodeId: NodeId },
  ) {
    const wanted =
      expected.clusterId === undefined
        ? `node ${expected.nodeId}`
        : `cluster ${expected.clusterId} node ${expected.nodeId}`;
    super(
      'DATA_DIR_MISMATCH',
      dir,
      `data dir ${dir} belongs to cluster ${found.clusterId} node ${found.nodeId}, not ${wanted}`,
    );
    this.name = 'DataDirMismatchError';
    this.expected = { ...expected };
    this.found = { clusterId: found.clusterId, nodeId: found.nodeId };
  }
}

export class DataDirNotFormattedError extends DataDirError {
  constructor(dir: string) {
    super('DATA_DIR_NOT_FORMATTED', dir, `data dir ${dir} is not formatted (no ${DATA_DIR_META_FILE})`);
    this.name = 'DataDirNotFormattedError';
  }
}

export class DataDirCorruptError extends DataDirError {
  constructor(dir: string, detail: string) {
    super('DATA_DIR_CORRUPT', dir, `data dir ${dir} has an unreadable ${DATA_DIR_META_FILE}: ${detail}`);
    this.name = 'DataDirCorruptError';
  }
}

/** A new cluster id: 16 random bytes as unpadded base64url (22 characters), like Kafka's. */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

function validateIdentity(clusterId: string, nodeId: NodeId): void {
  if (typeof clusterId !== 'string' || clusterId.length === 0 || /\s/.test(clusterId)) {
    throw new TypeError(`invalid cluster id ${JSON.stringify(clusterId)}`);
  }
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new TypeError(`invalid node id ${nodeId}: must be a positive integer`);
  }
}

/** The identity recorded in `dir`, or undefined if the directory is not formatted. */
export async function readDataDir(dir: string): Promise<DataDirIdentity | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, DATA_DIR_META_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let v: Partial<DataDirIdentity>;
  try {
    v = JSON.parse(text) as Partial<DataDirIdentity>;
  } catch (err) {
    throw new DataDirCorruptError(dir, (err as Error).message);
  }
  if (typeof v !== 'object' || v === null) throw new DataDirCorruptError(dir, 'not a JSON object');
  if (v.version !== META_VERSION) throw new DataDirCorruptError(dir, `unsupported version ${v.version}`);
  if (typeof v.clusterId !== 'string' || v.clusterId.length === 0) {
    throw new DataDirCorruptError(dir, 'missing clusterId');
  }
  if (!Number.isSafeInteger(v.nodeId) || (v.nodeId as number) <= 0) {
    throw new DataDirCorruptError(dir, 'missing or invalid nodeId');
  }
  return {
    version: META_VERSION,
    clusterId: v.clusterId,
    nodeId: v.nodeId as NodeId,
    formattedAt: typeof v.formattedAt === 'string' ? v.formattedAt : '',
  };
}

/**
 * Formats `dir` for this node, creating it if needed. Idempotent: an existing identity equal to
 * the requested one is returned unchanged (with its original `formattedAt`); a different one is
 * refused with DataDirMismatchError.
 */
export async function formatDataDir(
  dir: string,
  identity: { readonly clusterId: string; readonly nodeId: NodeId },
): Promise<DataDirIdentity> {
  const { clusterId, nodeId } = identity;
  validateIdentity(clusterId, nodeId);
  await mkdir(dir, { recursive: true });
  const existing = await readDataDir(dir);
  if (existing !== undefined) {
    if (existing.clusterId === clusterId && existing.nodeId === nodeId) return existing;
    throw new DataDirMismatchError(dir, { clusterId, nodeId }, existing);
  }
  const meta: DataDirIdentity = {
    version: META_VERSION,
    clusterId,
    nodeId,
    formattedAt: new Date().toISOString(),
  };
  await writeFileAtomic(dir, DATA_DIR_META_FILE, `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

/**
 * The identity of `dir`, checked against what this node expects. `clusterId` is optional so a
 * node may learn its cluster from the directory; the node id must always match.
 */
export async function checkDataDir(
  dir: string,
  expected: { readonly clusterId?: string; readonly nodeId: NodeId },
): Promise<DataDirIdentity> {
  const found = await readDataDir(dir);
  if (found === undefined) throw new DataDirNotFormattedError(dir);
  const clusterMatches = expected.clusterId === undefined || expected.clusterId === found.clusterId;
  if (!clusterMatches || found.nodeId !== expected.nodeId) {
    throw new DataDirMismatchError(dir, expected, found);
  }
  return found;
}

/**
 * Replaces `dir/name` so that a crash leaves either the old file or the complete new one: the
 * temp file is fsynced before the rename, and the directory after it so the rename itself is durable.
 */
async function writeFileAtomic(dir: string, name: string, contents: string): Promise<void> {
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(contents, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
