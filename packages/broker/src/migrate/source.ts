/**
 * The migration's source: the znodes of a ZooKeeper-era Kafka layout, read from a live ensemble (only
 * read, never written) or from a dump file `kbroker zk-dump` wrote.
 *
 * Reading is layout-aware and pipelined: the paths Kafka wrote are requested directly, hundreds at a
 * time over a few sessions, instead of walking every znode (a partition costs one read of its `state`,
 * not three), and small subtrees holding things that block a migration (ACLs, tokens, quotas) are
 * walked whole so they can be reported.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { type ZkConnectOptions, ZkWireClient } from '@kbroker/zk-view';
import { Limiter } from './limiter.js';

export interface SourceStat {
  readonly version: number;
  readonly cversion: number;
  readonly numChildren: number;
  /** 64-bit ids as decimal strings. */
  readonly czxid: string;
  readonly mzxid: string;
  readonly ephemeralOwner: string;
  readonly ctime: number;
  readonly mtime: number;
}

export interface SourceNode {
  readonly data: Uint8Array | null;
  readonly stat: SourceStat;
  /** Set when the children were read (sorted). */
  children?: readonly string[];
}

/** The znodes read, by path (relative to the chroot). */
export class SourceTree {
  readonly nodes = new Map<string, SourceNode>();
  constructor(
    /** What was read, for people: `zookeeper host:port/chroot` or `dump tree.json`. */
    readonly source: string,
  ) {}

  get(path: string): SourceNode | undefined {
    return this.nodes.get(path);
  }

  /** The children read for `path` ([] when the node was read without its children or is absent). */
  children(path: string): readonly string[] {
    return this.nodes.get(path)?.children ?? [];
  }

  text(path: string): string | null | undefined {
    const n = this.nodes.get(path);
    if (n === undefined) return undefined;
    return n.data === null ? null : Buffer.from(n.data).toString('utf8');
  }
}

const join = (parent: string, name: string) => (parent === '/' ? `/${name}` : `${parent}/${name}`);

function toStat(s: {
  version: number;
  cversion: number;
  numChildren: number;
  czxid: bigint;
  mzxid: bigint;
  ephemeralOwner: bigint;
  ctime: bigint;
  mtime: bigint;
}): SourceStat {
  return {
    version: s.version,
    cversion: s.cversion,
    numChildren: s.numChildren,
    czxid: s.czxid.toString(),
    mzxid: s.mzxid.toString(),
    ephemeralOwner: s.ephemeralOwner.toString(),
    ctime: Number(s.ctime),
    mtime: Number(s.mtime),
  };
}

export interface ReadProgress {
  /** Znodes read so far. */
  readonly nodes: number;
}

export interface ReadOptions extends ZkConnectOptions {
  /** Sessions to read over. Default 4. */
  readonly sessions?: number;
  /** Requests in flight over all sessions. Default 2,000. */
  readonly inFlight?: number;
  readonly onProgress?: (p: ReadProgress) => void;
}

/** Subtrees walked whole when present: small, and everything in them matters to preflight. */
const WALKED = ['/kafka-acl', '/kafka-acl-extended', '/delegation_token', '/consumers', '/admin'];
/** Single znodes read when present. */
const SINGLES = ['/cluster/id', '/controller', '/controller_epoch', '/feature', '/migration'];

/** Reads the Kafka layout from a live ZooKeeper (`host:port[,host:port][/chroot]`). Never writes. */
export async function readZooKeeper(connect: string, options: ReadOptions = {}): Promise<SourceTree> {
  const count = Math.max(1, options.sessions ?? 4);
  const clients: ZkWireClient[] = [];
  try {
    for (let i = 0; i < count; i++) clients.push(await ZkWireClient.connect(connect, options));
    const tree = new SourceTree(`zookeeper ${connect}`);
    const limiter = new Limiter(options.inFlight ?? 2_000);
    let next = 0;
    let read = 0;
    const client = () => clients[next++ % clients.length]!;
    const tick = () => {
      read++;
      if (options.onProgress !== undefined && read % 1000 === 0) options.onProgress({ nodes: read });
    };
    const getData = async (path: string): Promise<SourceNode | undefined> => {
      const r = await limiter.run(() => client().getData(path));
      if (r === undefined) return undefined;
      const node: SourceNode = { data: r.data, stat: toStat(r.stat) };
      tree.nodes.set(path, node);
      tick();
      return node;
    };
    /** Data and children of `path`; the children are not read. */
    const getNode = async (path: string): Promise<SourceNode | undefined> => {
      const [d, c] = await Promise.all([getData(path), limiter.run(() => client().getChildren(path))]);
      if (d === undefined || c === undefined) return undefined;
      d.children = c.children.sort();
      return d;
    };
    const walk = async (path: string): Promise<void> => {
      const n = await getNode(path);
      if (n === undefined) return;
      await Promise.all(n.children!.map((c) => walk(join(path, c))));
    };
    /** A parent Kafka creates without data: its children and stat in one read (getChildren2). */
    const getParent = async (path: string): Promise<SourceNode | undefined> => {
      const c = await limiter.run(() => client().getChildren(path));
      if (c === undefined) return undefined;
      const node: SourceNode = { data: null, stat: toStat(c.stat), children: c.children.sort() };
      tree.nodes.set(path, node);
      tick();
      return node;
    };
    const topic = async (name: string): Promise<void> => {
      const t = join('/brokers/topics', name);
      const [node, parts] = await Promise.all([getData(t), getParent(`${t}/partitions`)]);
      if (node === undefined) return;
      // The topic's children as Kafka made them (`partitions`), for malformed-node reports.
      node.children = parts === undefined ? [] : ['partitions'];
      if (parts === undefined) return;
      await Promise.all(parts.children!.map((p) => getData(`${t}/partitions/${p}/state`)));
    };
    const config = async (): Promise<void> => {
      const c = await getNode('/config');
      if (c === undefined) return;
      await Promise.all(
        c
          .children!.filter((t) => t !== 'changes')
          .map(async (type) => {
            const typeNode = await getNode(join('/config', type));
            if (typeNode === undefined) return;
            // Entities are leaves except users' nested client quotas: walk those that have children.
            await Promise.all(
              typeNode.children!.map(async (entity) => {
                const path = join(join('/config', type), entity);
                const n = await getData(path);
                if (n !== undefined && n.stat.numChildren > 0) await walk(path);
              }),
            );
          }),
      );
    };
    await Promise.all([
      ...SINGLES.map((p) => getData(p)),
      ...WALKED.map((p) => walk(p)),
      (async () => {
        const ids = await getNode('/brokers/ids');
        if (ids !== undefined) await Promise.all(ids.children!.map((id) => getData(`/brokers/ids/${id}`)));
      })(),
      (async () => {
        const topics = await getNode('/brokers/topics');
        if (topics !== undefined) await Promise.all(topics.children!.map(topic));
      })(),
      config(),
    ]);
    options.onProgress?.({ nodes: read });
    return tree;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

// ---------------------------------------------------------------------------------------------------
// Dump files

export const DUMP_FORMAT = 'kbroker-zk-dump';
export const DUMP_VERSION = 1;

interface DumpNode {
  readonly path: string;
  /** UTF-8 text, or null for a znode without data; `dataBase64` instead when the bytes are not UTF-8. */
  readonly data?: string | null;
  readonly dataBase64?: string;
  readonly stat: SourceStat;
  readonly children?: readonly string[];
}

interface DumpFile {
  readonly format: string;
  readonly version: number;
  readonly source: string;
  readonly takenAtMs: number;
  readonly nodes: readonly DumpNode[];
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Writes `tree` as JSON (paths, data, stats, children), atomically (temp file, then rename). */
export async function writeDump(tree: SourceTree, file: string, nowMs = Date.now()): Promise<number> {
  const paths = [...tree.nodes.keys()].sort();
  const parts: string[] = [];
  for (const path of paths) {
    const n = tree.nodes.get(path)!;
    let data: Pick<DumpNode, 'data' | 'dataBase64'>;
    if (n.data === null) data = { data: null };
    else {
      try {
        data = { data: strictUtf8.decode(n.data) };
      } catch {
        data = { dataBase64: Buffer.from(n.data).toString('base64') };
      }
    }
    const node: DumpNode = {
      path,
      ...data,
      stat: n.stat,
      ...(n.children === undefined ? {} : { children: n.children }),
    };
    parts.push(JSON.stringify(node));
  }
  const header = JSON.stringify({
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    source: tree.source,
    takenAtMs: nowMs,
  });
  const text = `${header.slice(0, -1)},"nodes":[\n${parts.join(',\n')}\n]}\n`;
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, 'utf8');
  await rename(temp, file);
  return paths.length;
}

export class DumpError extends Error {
  override readonly name = 'DumpError';
}

const isStat = (s: unknown): s is SourceStat => {
  const v = s as Record<string, unknown> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isInteger(v.version) &&
    Number.isInteger(v.numChildren) &&
    typeof v.czxid === 'string' &&
    typeof v.mzxid === 'string' &&
    typeof v.ctime === 'number' &&
    typeof v.mtime === 'number'
  );
};

/** Reads a dump file; every problem is one DumpError naming the file and what is wrong. */
export async function readDump(file: string): Promise<SourceTree> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DumpError(`cannot read dump ${file}: ${(err as Error).message}`);
  }
  let dump: DumpFile;
  try {
    dump = JSON.parse(text) as DumpFile;
  } catch (err) {
    throw new DumpError(`${file} is not a dump (not JSON: ${(err as Error).message})`);
  }
  if (typeof dump !== 'object' || dump === null || dump.format !== DUMP_FORMAT) {
    throw new DumpError(`${file} is not a kbroker zk-dump file`);
  }
  if (dump.version !== DUMP_VERSION) {
    throw new DumpError(`${file} is dump version ${String(dump.version)}; this build reads ${DUMP_VERSION}`);
  }
  if (!Array.isArray(dump.nodes)) throw new DumpError(`${file} has no nodes`);
  const tree = new SourceTree(`dump ${file} (${String(dump.source)})`);
  for (const [i, n] of dump.nodes.entries()) {
    if (typeof n?.path !== 'string' || !n.path.startsWith('/') || !isStat(n.stat)) {
      throw new DumpError(`${file}: node ${i} is malformed (needs path and stat)`);
    }
    let data: Uint8Array | null;
    if (typeof n.dataBase64 === 'string') data = Buffer.from(n.dataBase64, 'base64');
    else if (n.data === null || n.data === undefined) data = null;
    else if (typeof n.data === 'string') data = Buffer.from(n.data, 'utf8');
    else throw new DumpError(`${file}: node ${n.path} has non-string data`);
    const node: SourceNode = { data, stat: n.stat };
    if (Array.isArray(n.children)) node.children = n.children.map(String);
    tree.nodes.set(n.path, node);
  }
  return tree;
}
