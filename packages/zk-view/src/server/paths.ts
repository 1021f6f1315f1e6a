import type { Stat, Znode, ZnodeTreeSnapshot } from '../types.js';

/**
 * ZooKeeper's path rules (`PathUtils.validatePath`): absolute, no trailing slash except the root, no
 * empty, '.' or '..' segments, and none of the characters ZooKeeper refuses. Returns why not, or
 * undefined when valid.
 */
export function invalidPathReason(path: string): string | undefined {
  if (path.length === 0) return 'path is empty';
  if (path.charCodeAt(0) !== 47) return 'path must start with /';
  if (path.length === 1) return undefined;
  if (path.charCodeAt(path.length - 1) === 47) return 'path must not end with /';
  // One pass (every write checks its path): segments end at each '/' and at the end of the path. The
  // segment checks come before the character checks, as in PathUtils.
  let segmentReason: string | undefined;
  let charReason: string | undefined;
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : 47;
    if (c === 47) {
      const n = i - start;
      if (segmentReason === undefined) {
        if (n === 0) segmentReason = 'empty node name';
        else if (n <= 2 && path.charCodeAt(start) === 46 && (n === 1 || path.charCodeAt(start + 1) === 46))
          segmentReason = `relative path segment ${path.slice(start, i)}`;
      }
      start = i + 1;
    } else if (
      charReason === undefined &&
      (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0)
    ) {
      charReason = `invalid character @${i}`;
    }
  }
  return segmentReason ?? charReason;
}

/** Normalizes a chroot ('' or '/' = none) and checks it. */
export function normalizeChroot(chroot: string | undefined): string {
  if (chroot === undefined || chroot === '' || chroot === '/') return '';
  const reason = invalidPathReason(chroot);
  if (reason !== undefined) throw new Error(`invalid chroot ${JSON.stringify(chroot)}: ${reason}`);
  return chroot;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

const ZERO_STAT: Stat = {
  czxid: 0n,
  mzxid: 0n,
  ctime: 0n,
  mtime: 0n,
  version: 0,
  cversion: 1,
  aversion: 0,
  ephemeralOwner: 0n,
  dataLength: 0,
  numChildren: 1,
  pzxid: 0n,
};

/** ZooKeeper's root under a chroot: empty data, two children (the chroot's first name, `zookeeper`). */
const ROOT: Znode = {
  data: new Uint8Array(0),
  stat: { ...ZERO_STAT, cversion: 0, numChildren: 2 },
};

/** A chroot's ancestors: created by Kafka (createRecursive) with null data and one child each. */
const ANCESTOR: Znode = { data: null, stat: ZERO_STAT };

const isZookeeperPath = (path: string) => path === '/zookeeper' || path.startsWith('/zookeeper/');

/**
 * A snapshot as the client sees it: the tree mounted at `chroot` (ZooKeeper's chroot, applied on the
 * server: '/kafka/brokers/ids' reads the tree's '/brokers/ids'), as a real ZooKeeper holds a Kafka
 * whose `zookeeper.connect` ends in the chroot: ZooKeeper's own `/zookeeper` stays at the root (beside
 * the chroot's first name), the chroot and its ancestors have null data (Kafka created them so), one
 * child each, and the chroot the tree root's children but `zookeeper`.
 */
export class ClientView {
  constructor(
    readonly snapshot: ZnodeTreeSnapshot,
    private readonly chroot: string,
  ) {}

  get zxid(): bigint {
    return this.snapshot.zxid;
  }

  /** The tree path for a client path, or undefined when the path is outside the chroot. */
  toTree(clientPath: string): string | undefined {
    return toTreePath(this.chroot, clientPath);
  }

  get(clientPath: string): Znode | undefined {
    if (this.chroot === '' || isZookeeperPath(clientPath)) return this.snapshot.get(clientPath);
    const t = toTreePath(this.chroot, clientPath);
    if (t !== undefined) {
      if (isZookeeperPath(t)) return undefined;
      const node = this.snapshot.get(t);
      if (t !== '/' || node === undefined) return node;
      // The tree's root counts ZooKeeper's `zookeeper` child (-1 in cversion, as ZooKeeper starts it).
      const { stat } = node;
      return {
        data: null,
        stat: { ...stat, numChildren: stat.numChildren - 1, cversion: stat.cversion + 1 },
      };
    }
    if (clientPath === '/') return ROOT;
    return isStrictAncestor(clientPath, this.chroot) ? ANCESTOR : undefined;
  }

  children(clientPath: string): readonly string[] | undefined {
    if (this.chroot === '' || isZookeeperPath(clientPath)) return this.snapshot.children(clientPath);
    const t = toTreePath(this.chroot, clientPath);
    if (t !== undefined) {
      if (isZookeeperPath(t)) return undefined;
      const names = this.snapshot.children(t);
      return t === '/' ? names?.filter((n) => n !== 'zookeeper') : names;
    }
    if (isStrictAncestor(clientPath, this.chroot)) {
      const rest = this.chroot.slice(clientPath === '/' ? 1 : clientPath.length + 1);
      const slash = rest.indexOf('/');
      const next = slash < 0 ? rest : rest.slice(0, slash);
      return clientPath === '/' ? [next, 'zookeeper'] : [next];
    }
    return undefined;
  }
}

export function toTreePath(chroot: string, clientPath: string): string | undefined {
  if (chroot === '') return clientPath;
  if (clientPath === chroot) return '/';
  if (clientPath.startsWith(chroot) && clientPath.charCodeAt(chroot.length) === 47) {
    return clientPath.slice(chroot.length);
  }
  return undefined;
}

export function toClientPath(chroot: string, treePath: string): string {
  if (chroot === '') return treePath;
  return treePath === '/' ? chroot : chroot + treePath;
}

function isStrictAncestor(path: string, of: string): boolean {
  if (of === '' || path === of) return false;
  if (path === '/') return true;
  return of.startsWith(path) && of.charCodeAt(path.length) === 47;
}

export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}
