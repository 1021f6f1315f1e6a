import type { Stat, Znode, ZnodeChange, ZnodeTree, ZnodeTreeSnapshot } from '../../src/types.js';

interface Node {
  readonly data: Uint8Array | null;
  readonly stat: Stat;
  readonly children: readonly string[];
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

class Snapshot implements ZnodeTreeSnapshot {
  constructor(
    readonly zxid: bigint,
    private readonly nodes: ReadonlyMap<string, Node>,
  ) {}

  get(path: string): Znode | undefined {
    const n = this.nodes.get(path);
    return n === undefined ? undefined : { data: n.data, stat: n.stat };
  }

  children(path: string): readonly string[] | undefined {
    return this.nodes.get(path)?.children;
  }
}

const enc = new TextEncoder();

/**
 * A test double of ZnodeTree: znodes kept like ZooKeeper keeps them (zxids, versions, cversion,
 * pzxid), every change a new immutable snapshot, listeners told of the changes as ZooKeeper fires them.
 */
export class MemoryZnodeTree implements ZnodeTree {
  private nodes = new Map<string, Node>();
  private zxid = 0n;
  private snapshot: Snapshot;
  private readonly listeners = new Set<(s: ZnodeTreeSnapshot, c: readonly ZnodeChange[]) => void>();
  private batch: { nodes: Map<string, Node>; changes: ZnodeChange[] } | undefined;
  /** Also report the parent's 'children' change next to created/deleted (both behaviours are legal). */
  reportParentChildren = true;

  constructor() {
    const stat = this.stat(null, 0n, 0n);
    this.nodes.set('/', { data: null, stat, children: [] });
    this.snapshot = new Snapshot(0n, this.nodes);
  }

  current(): ZnodeTreeSnapshot {
    return this.snapshot;
  }

  onChange(listener: (s: ZnodeTreeSnapshot, c: readonly ZnodeChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Runs several changes as one zxid step. */
  transaction(fn: () => void): void {
    this.batch = { nodes: new Map(this.nodes), changes: [] };
    this.zxid++;
    try {
      fn();
    } finally {
      const b = this.batch;
      this.batch = undefined;
      this.publish(b.nodes, b.changes);
    }
  }

  /** Bumps the zxid without changing any znode (another part of the metadata changed). */
  tick(): void {
    this.transaction(() => {});
  }

  create(
    path: string,
    data: string | Uint8Array | null = null,
    opts: { ephemeralOwner?: bigint } = {},
  ): void {
    this.step(() => {
      const b = this.batch!;
      if (b.nodes.has(path)) throw new Error(`exists: ${path}`);
      const parentPath = parentOf(path);
      const parent = b.nodes.get(parentPath);
      if (parent === undefined) throw new Error(`no parent: ${path}`);
      const bytes = typeof data === 'string' ? enc.encode(data) : data;
      b.nodes.set(path, {
        data: bytes,
        stat: this.stat(bytes, this.zxid, opts.ephemeralOwner ?? 0n),
        children: [],
      });
      b.nodes.set(parentPath, {
        ...parent,
        children: [...parent.children, nameOf(path)],
        stat: {
          ...parent.stat,
          cversion: parent.stat.cversion + 1,
          numChildren: parent.children.length + 1,
          pzxid: this.zxid,
        },
      });
      b.changes.push({ path, kind: 'created' });
      if (this.reportParentChildren) b.changes.push({ path: parentPath, kind: 'children' });
    });
  }

  /** Creates `path` and any missing ancestors (null data). */
  mkdirp(path: string, data: string | Uint8Array | null = null): void {
    const parts = path.split('/').filter((p) => p !== '');
    let p = '';
    this.step(() => {
      for (let i = 0; i < parts.length; i++) {
        p += `/${parts[i]}`;
        if (!this.batch!.nodes.has(p)) this.create(p, i === parts.length - 1 ? data : null);
      }
    });
  }

  setData(path: string, data: string | Uint8Array | null): void {
    this.step(() => {
      const b = this.batch!;
      const n = b.nodes.get(path);
      if (n === undefined) throw new Error(`no node: ${path}`);
      const bytes = typeof data === 'string' ? enc.encode(data) : data;
      b.nodes.set(path, {
        ...n,
        data: bytes,
        stat: {
          ...n.stat,
          mzxid: this.zxid,
          mtime: BigInt(Date.now()),
          version: n.stat.version + 1,
          dataLength: bytes?.byteLength ?? 0,
        },
      });
      b.changes.push({ path, kind: 'data' });
    });
  }

  delete(path: string): void {
    this.step(() => {
      const b = this.batch!;
      const n = b.nodes.get(path);
      if (n === undefined) throw new Error(`no node: ${path}`);
      for (const c of n.children) this.delete(path === '/' ? `/${c}` : `${path}/${c}`);
      b.nodes.delete(path);
      const parentPath = parentOf(path);
      const parent = b.nodes.get(parentPath)!;
      const children = parent.children.filter((c) => c !== nameOf(path));
      b.nodes.set(parentPath, {
        ...parent,
        children,
        stat: {
          ...parent.stat,
          cversion: parent.stat.cversion + 1,
          numChildren: children.length,
          pzxid: this.zxid,
        },
      });
      b.changes.push({ path, kind: 'deleted' });
      if (this.reportParentChildren) b.changes.push({ path: parentPath, kind: 'children' });
    });
  }

  private step(fn: () => void): void {
    if (this.batch !== undefined) fn();
    else this.transaction(fn);
  }

  private stat(data: Uint8Array | null, zxid: bigint, ephemeralOwner: bigint): Stat {
    const now = BigInt(Date.now());
    return {
      czxid: zxid,
      mzxid: zxid,
      ctime: now,
      mtime: now,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner,
      dataLength: data?.byteLength ?? 0,
      numChildren: 0,
      pzxid: zxid,
    };
  }

  private publish(nodes: Map<string, Node>, changes: ZnodeChange[]): void {
    this.nodes = nodes;
    this.snapshot = new Snapshot(this.zxid, nodes);
    for (const l of this.listeners) l(this.snapshot, changes);
  }
}

/** A small Kafka-shaped tree (what ZooKeeper-era tools expect to find). */
export function kafkaTree(): MemoryZnodeTree {
  const t = new MemoryZnodeTree();
  t.transaction(() => {
    for (const p of [
      '/consumers',
      '/brokers/ids',
      '/brokers/topics',
      '/brokers/seqid',
      '/config/changes',
      '/config/topics',
      '/admin/delete_topics',
      '/isr_change_notification',
    ]) {
      t.mkdirp(p);
    }
    t.create('/cluster');
    t.create('/cluster/id', '{"version":"1","id":"fMCL8kv1SWm87L_Md-I2hg"}');
    t.create(
      '/controller',
      '{"version":2,"brokerid":1,"timestamp":"1700000000000","kraftControllerEpoch":-1}',
    );
    t.create('/controller_epoch', '3');
    for (const id of [1, 2, 3]) {
      t.create(
        `/brokers/ids/${id}`,
        JSON.stringify({
          version: 5,
          host: `h${id}`,
          port: 9092,
          jmx_port: -1,
          endpoints: [`PLAINTEXT://h${id}:9092`],
        }),
        { ephemeralOwner: BigInt(0x100 + id) },
      );
    }
    t.create('/brokers/topics/orders', '{"version":3,"partitions":{"0":[1,2],"1":[2,3]}}');
    t.mkdirp(
      '/brokers/topics/orders/partitions/0/state',
      '{"version":1,"leader":1,"leader_epoch":0,"isr":[1,2]}',
    );
  });
  return t;
}
