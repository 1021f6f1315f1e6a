/**
 * The live znode tree over a metadata state machine: one lazy snapshot per published image, and the
 * znode changes between consecutive images, as ZooKeeper would fire watches for them.
 *
 * Cost per image: O(1) for the snapshot (it is lazy, see layout.ts), plus O(paths touched) for the
 * changes: candidate paths come from the image's MetadataChange events (a topic's subtree for a topic
 * event, one state znode for a partition change, the changed commits of a group), and only those are
 * compared between the two snapshots. A small change in a 10,000-topic cluster compares a handful of
 * znodes.
 *
 * The tree keeps no state of its own beyond the latest snapshot: every stat is a function of the image
 * (see layout.ts), so a tree started at any image, on any node, answers the same as one that saw
 * every image. The changes are what differs between two consecutive snapshots.
 */
import type { MetadataChange, MetadataImageView } from '@kbroker/metadata-log';
import {
  DEFAULT_ENTITY,
  ImageZnodeSnapshot,
  isZnodeName,
  joinPath,
  parentOf,
  type ZkViewOptions,
  zxidOf,
} from './layout.js';
import type { Znode, ZnodeChange, ZnodeChangeKind, ZnodeTree, ZnodeTreeSnapshot } from './types.js';

/** What the tree needs of a MetadataStateMachine (which satisfies it). */
export interface MetadataSource {
  readonly image: MetadataImageView;
  onChange(listener: (changes: readonly MetadataChange[], image: MetadataImageView) => void): () => void;
}

export interface MetadataZnodeTreeOptions {
  readonly sessionIdOf?: ZkViewOptions['sessionIdOf'];
  /**
   * The active controller's node id now (the Raft leader), read at each published image; negative or
   * absent: unknown, and the tree shows no `/controller`.
   */
  readonly controllerId?: () => number;
  /**
   * The Raft term of that controller. A new controller takes office with the first entry of its term:
   * until the image reaches that term, the tree keeps showing the previous one, so `/controller` never
   * pairs the new controller with the old epoch (and changes once per election).
   */
  readonly controllerEpoch?: () => number;
  /** A throwing listener must not stop the others or the tree; default: rethrown from a microtask. */
  readonly onListenerError?: (err: unknown) => void;
}

type TreeListener = (snapshot: ZnodeTreeSnapshot, changes: readonly ZnodeChange[]) => void;

/**
 * Order within one zxid: deletions (depth first, children before their parent, as Kafka's
 * deleteRecursive goes; each parent's child-list change right after its last child's deletion), then
 * creations (by depth: parents first, one level before the next, as Kafka's controller created a
 * topic's partitions and then their states) and their parents' child-list changes, then data changes.
 * Deletions go first so a znode deleted and created again in one image is deleted before it is created.
 */
const Phase = { Delete: 0, Create: 1, Data: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

interface Pending extends ZnodeChange {
  readonly zxid: bigint;
  readonly phase: Phase;
  readonly key: number;
}

export class MetadataZnodeTree implements ZnodeTree {
  private snapshot: ImageZnodeSnapshot;
  /** Each listener, with whether it wants the znode changes now (see ZnodeTree.onChange). */
  private readonly listeners = new Map<TreeListener, (() => boolean) | undefined>();
  private readonly unsubscribe: () => void;
  private readonly onListenerError: (err: unknown) => void;

  constructor(
    source: MetadataSource,
    private readonly options: MetadataZnodeTreeOptions = {},
  ) {
    const image = source.image;
    this.onListenerError =
      options.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
    this.snapshot = this.build(image);
    this.unsubscribe = source.onChange((changes, next) => this.advance(changes, next));
  }

  current(): ImageZnodeSnapshot {
    return this.snapshot;
  }

  onChange(listener: TreeListener, wantsChanges?: () => boolean): () => void {
    this.listeners.set(listener, wantsChanges);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Stops following the state machine. */
  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /**
   * The snapshot of `image`, with the controller Raft knows now; while Raft's term is ahead of the
   * image's (a new leader whose first entry is not applied here yet), the previous controller.
   */
  private build(image: MetadataImageView): ImageZnodeSnapshot {
    let controllerId = this.options.controllerId?.() ?? -1;
    const term = this.options.controllerEpoch?.();
    const shown = this.snapshot as ImageZnodeSnapshot | undefined;
    if (term !== undefined && term > image.provenance.epoch && shown !== undefined) {
      controllerId = shown.options.controllerId ?? -1;
    }
    return new ImageZnodeSnapshot(image, { sessionIdOf: this.options.sessionIdOf, controllerId });
  }

  /**
   * One published image: new snapshot, znode changes (only when a listener wants them: each snapshot
   * is a function of its image alone, so skipping the comparison loses nothing), listeners.
   */
  private advance(events: readonly MetadataChange[], image: MetadataImageView): void {
    const prev = this.snapshot;
    const next = this.build(image);
    this.snapshot = next;
    let changes: readonly ZnodeChange[] = NO_CHANGES;
    for (const wants of this.listeners.values()) {
      if (wants !== undefined && !wants()) continue;
      const diff = new Differ(prev, next);
      diff.run(candidates(events, prev, next, diff));
      changes = diff.sorted();
      break;
    }
    for (const listener of [...this.listeners.keys()]) {
      try {
        listener(this.snapshot, changes);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}

const NO_CHANGES: readonly ZnodeChange[] = Object.freeze([]);

/**
 * Paths that may have changed, from the image's events (their ancestors and subtrees are added by the
 * Differ). A new commit of a partition that had one (the same creation) changes its znode's data and
 * nothing else: not its parents' stats, which move with creations and deletions only. It goes to the
 * Differ as a known data change, without comparing it or its ancestors (the hot path: a consumer
 * group committing costs O(1) a partition, whatever the size of the group).
 */
function candidates(
  events: readonly MetadataChange[],
  prev: ImageZnodeSnapshot,
  next: ImageZnodeSnapshot,
  diff: Differ,
): string[] {
  // The controller and its epoch move with Raft, not with records: always compared (two lookups).
  const out = ['/controller', '/controller_epoch'];
  const topic = (name: string) => `/brokers/topics/${name}`;
  for (const e of events) {
    switch (e.kind) {
      case 'cluster-id':
        out.push('/cluster/id', '/feature');
        break;
      case 'feature-changed':
        out.push('/feature');
        break;
      case 'broker-registered':
      case 'broker-fenced':
      case 'broker-unfenced':
      case 'broker-controlled-shutdown':
      case 'broker-unregistered':
        out.push(`/brokers/ids/${e.brokerId}`);
        break;
      case 'topic-created':
        // Kafka's admin path wrote the config znode first, then the assignment (the controller the
        // rest); a created topic znode brings its whole subtree (the Differ walks it).
        out.push(`/config/topics/${e.name}`, topic(e.name));
        break;
      case 'topic-deleted':
        // The controller deleted the topic znode (recursively), then its configs.
        out.push(topic(e.name), `/config/topics/${e.name}`);
        break;
      case 'partitions-added':
        out.push(topic(e.name));
        for (let p = e.from; p < e.to; p++) out.push(`${topic(e.name)}/partitions/${p}`);
        break;
      case 'partition-changed':
        // The topic znode changes too when the replicas did (its assignment).
        out.push(topic(e.name), `${topic(e.name)}/partitions/${e.partition}/state`);
        break;
      case 'config-changed':
        out.push(
          e.resourceType === 2
            ? `/config/topics/${e.resourceName}`
            : `/config/brokers/${e.resourceName === '' ? DEFAULT_ENTITY : e.resourceName}`,
        );
        break;
      case 'offsets-committed':
      case 'offsets-deleted': {
        const before = prev.image.offsets.group(e.groupId);
        const after = next.image.offsets.group(e.groupId);
        // The group's znodes exist only under a valid znode name.
        if (!isZnodeName(e.groupId)) break;
        const base = `/consumers/${e.groupId}`;
        let structural = before === undefined || after === undefined;
        for (const [t, partitions] of e.topics) {
          if (!isZnodeName(t)) continue;
          const was = before?.partitions(t);
          const now = after?.partitions(t);
          for (const p of partitions) {
            const path = `${base}/offsets/${t}/${p}`;
            const old = was?.get(p);
            const c = now?.get(p);
            if (
              e.kind === 'offsets-committed' &&
              old !== undefined &&
              c !== undefined &&
              old.createdOffset === c.createdOffset
            ) {
              diff.dataChangedAt(path, zxidOf(c.changedOffset));
            } else {
              structural = true;
              out.push(path);
            }
          }
        }
        if (structural) out.push(base);
        break;
      }
    }
  }
  return out;
}

/** Compares two snapshots over candidate paths and records the changes. */
class Differ {
  private readonly seen = new Set<string>();
  private readonly out: Pending[] = [];
  /**
   * Parents whose children changed: the newest child change, and the order key of the last deletion
   * among them (undefined: creations only).
   */
  private readonly parents = new Map<string, { zxid: bigint; deletion: number | undefined }>();
  /** Deletions so far: their order key. */
  private deletions = 0;

  constructor(
    private readonly prev: ImageZnodeSnapshot,
    private readonly next: ImageZnodeSnapshot,
  ) {}

  /**
   * Visits each path after its ancestors (so a znode is never visited after a descendant), which is
   * what lets a created or deleted znode take its whole subtree along.
   */
  run(paths: Iterable<string>): void {
    for (const path of paths) {
      const chain: string[] = [];
      for (let p: string | undefined = path; p !== undefined && !this.seen.has(p); p = parentOf(p))
        chain.push(p);
      for (let i = chain.length - 1; i >= 0; i--) this.visit(chain[i]!);
    }
    for (const [parent, c] of this.parents) this.childrenChanged(parent, c.zxid, c.deletion);
  }

  private visit(path: string): void {
    if (this.seen.has(path)) return;
    this.seen.add(path);
    const before = this.prev.get(path);
    const after = this.next.get(path);
    if (before === undefined) {
      if (after !== undefined) this.createdTree(path, after);
      return;
    }
    if (after === undefined) {
      this.deletedTree(path, this.next.zxid);
      return;
    }
    if (before.stat.czxid !== after.stat.czxid) {
      // Deleted and created again (a topic re-created under the same name, a broker re-registered):
      // the deletion happened by the re-creation.
      this.deletedTree(path, after.stat.czxid);
      this.createdTree(path, after);
      return;
    }
    if (
      before.stat.mzxid === after.stat.mzxid &&
      before.stat.version === after.stat.version &&
      sameBytes(before.data, after.data)
    )
      return;
    this.dataChanged(path, after);
  }

  private createdTree(path: string, after: Znode): void {
    this.seen.add(path);
    this.push(path, 'created', after.stat.czxid, Phase.Create, depthOf(path));
    // A znode claiming a creation before the previous image (a broker unfenced after registering)
    // appeared now: its parent's pzxid is this image's zxid.
    const appeared = after.stat.czxid <= this.prev.zxid ? this.next.zxid : after.stat.czxid;
    this.noteChild(path, appeared, undefined);
    for (const name of this.next.children(path) ?? []) {
      const child = joinPath(path, name);
      const z = this.next.get(child);
      if (z !== undefined) this.createdTree(child, z);
    }
  }

  /** Deletes `path` and its subtree at `zxid` (the image's, unless re-created earlier in it). */
  private deletedTree(path: string, zxid: bigint): void {
    this.seen.add(path);
    for (const name of this.prev.children(path) ?? []) this.deletedTree(joinPath(path, name), zxid);
    // Depth first, children before their parent, as Kafka's deleteRecursive goes.
    const key = this.deletions++;
    this.push(path, 'deleted', zxid, Phase.Delete, key);
    this.noteChild(path, zxid, key);
  }

  /** A data change, dated by its mzxid (the image stamps every data change it shows). */
  private dataChanged(path: string, after: Znode): void {
    this.push(path, 'data', after.stat.mzxid, Phase.Data, 0);
  }

  /**
   * A znode known to exist in both snapshots with the same creation, whose data changed at `mzxid`
   * (and nothing else in the tree because of it): recorded without comparing the znodes.
   */
  dataChangedAt(path: string, mzxid: bigint): void {
    if (this.seen.has(path)) return;
    this.seen.add(path);
    this.push(path, 'data', mzxid, Phase.Data, 0);
  }

  /** A child of `path`'s parent was created or deleted at `zxid` (`deletion`: the deletion's order key). */
  private noteChild(path: string, zxid: bigint, deletion: number | undefined): void {
    const parent = parentOf(path);
    if (parent === undefined) return;
    const known = this.parents.get(parent);
    this.parents.set(parent, {
      zxid: known === undefined || zxid > known.zxid ? zxid : known.zxid,
      deletion: deletion === undefined ? known?.deletion : Math.max(deletion, known?.deletion ?? -1),
    });
  }

  /**
   * One child-list event per parent. `deletion`: the order key of the parent's last child deletion,
   * right after which its child list changed (a parent deleted too saw that first).
   */
  private childrenChanged(parent: string, zxid: bigint, deletion: number | undefined): void {
    if (deletion !== undefined) this.push(parent, 'children', zxid, Phase.Delete, deletion + 0.5);
    else this.push(parent, 'children', zxid, Phase.Create, 1e6 + depthOf(parent));
  }

  private push(path: string, kind: ZnodeChangeKind, zxid: bigint, phase: Phase, key: number): void {
    this.out.push({ path, kind, zxid, phase, key });
  }

  /**
   * In zxid order (see {@link Phase} within one zxid). A deletion's exact offset is not in the image
   * (the record went with what it deleted), so deletions are dated at the image's zxid.
   */
  sorted(): ZnodeChange[] {
    const idx = this.out.map((c, i) => [c, i] as const);
    idx.sort(([a, i], [b, j]) =>
      a.zxid !== b.zxid ? (a.zxid < b.zxid ? -1 : 1) : a.phase - b.phase || a.key - b.key || i - j,
    );
    return idx.map(([c]) => ({ path: c.path, kind: c.kind }));
  }
}

function depthOf(path: string): number {
  if (path === '/') return 0;
  let d = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) d++;
  return d;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
