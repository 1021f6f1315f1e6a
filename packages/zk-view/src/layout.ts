/**
 * Where each piece of the metadata image lives in the znode tree Kafka 3.x wrote into ZooKeeper, and
 * the ZooKeeper stat of each znode, derived from the image's log offsets and times.
 *
 * A snapshot ({@link ImageZnodeSnapshot}) is lazy: it holds the frozen image and resolves a path when
 * asked (a few map lookups and one small JSON encoding), so taking a snapshot per image is O(1) and a
 * tree of 10,000 topics x 10 partitions is never materialised. Child lists and aggregates of large
 * parents (every topic, every group) are memoised per image *part* (the topics image, a group's
 * offsets...), which the image shares by identity across versions, so they survive unrelated changes.
 *
 * ## zxids
 * `zxid = BigInt(log offset)` (the Raft index). Raft indices are strictly increasing across terms and
 * restarts, so zxids are monotonic, and every stamp in the image is an offset, so each stat field maps
 * to one image field. ZooKeeper's own zxids are `epoch << 32 | counter`, but clients only compare them
 * (and Kafka reads czxid as the broker epoch, which *is* the registration offset in KRaft); putting the
 * Raft term in the high bits would also work but needs the term of every offset, which the image does
 * not keep (it keeps only the latest term).
 *
 * ## Stats (each derivation is at the node kind below)
 * - czxid/ctime: the record that created what the znode shows; mzxid/mtime: its last data change.
 * - version: data changes since creation, = the image's own change counter for that thing
 *   (partitionEpoch, assignmentVersion, config version, commit count - 1).
 * - cversion: child creations + deletions. Creations are the current children (each created once);
 *   deletions are not in the image, so they come from a {@link ZnodeHistory} (kept by the live tree,
 *   see tree.ts). ZooKeeper's built-in children start it negative (observed on ZooKeeper 3.8: `/` has
 *   cversion -1 with its one child `zookeeper`, `/zookeeper` -2 with `config` and `quota`).
 * - pzxid: the newest of the znode's own czxid, its children's czxids and the history's last child change.
 * - dataLength: UTF-8 bytes of the data, 0 for null data.
 * - ephemeralOwner: a synthetic, stable session id per broker registration (see {@link syntheticSessionId}).
 * - Znodes that exist from the start (the paths a broker pre-creates, ZooKeeper's `/zookeeper`) are
 *   stamped zxid 0 / time 0, as ZooKeeper stamps `/`: the image does not record when the cluster was
 *   bootstrapped.
 */
import {
  type BrokerRegistration,
  type CommittedOffset,
  ConfigResourceType,
  type GroupOffsets,
  type MetadataImageView,
  type PartitionRegistration,
  type ResourceConfigs,
  type TopicImage,
} from '@kbroker/metadata-log';
import {
  brokerJson,
  clusterIdJson,
  configJson,
  consumerOffsetData,
  controllerEpochData,
  controllerJson,
  featureJson,
  partitionStateJson,
  topicJson,
} from './json.js';
import type { Stat, Znode, ZnodeTreeSnapshot } from './types.js';

/**
 * What the view adds to every Raft epoch it shows (`/controller_epoch`, `/controller`'s
 * `kraftControllerEpoch`, partition states' `controller_epoch`): the `/controller_epoch` of the
 * ZooKeeper cluster this metadata was migrated from (0 without a migration). The Raft term starts at 1,
 * so the epoch Kafka's tools see is always above the source's.
 */
export function epochBase(image: MetadataImageView): number {
  return image.migration?.zkControllerEpoch ?? 0;
}

/** The zxid of a log offset (see the module comment). */
export function zxidOf(offset: number): bigint {
  return BigInt(offset);
}

/**
 * A stable session id for broker `brokerId`'s registration at epoch `brokerEpoch` (the offset of its
 * RegisterBrokerRecord): `brokerEpoch << 20 | brokerId`. Non-zero (epochs start at 1), unique per
 * registration while broker ids are below 2^20, and below 2^63 while epochs are below 2^43. A real
 * ZooKeeper's session ids carry the server id in the top byte, so they are far above these.
 */
export function syntheticSessionId(brokerId: number, brokerEpoch: number): bigint {
  return (BigInt(brokerEpoch) << 20n) | BigInt(brokerId & 0xfffff);
}

/** The active controller, as `/controller` shows it. The image does not know it (Raft does). */
export interface ActiveController {
  /** The controller's node id (`brokerid`). */
  readonly id: number;
  /** Its Raft epoch (term): `kraftControllerEpoch`, and `/controller_epoch`. */
  readonly epoch: number;
  /** Where and when it took office: `/controller`'s czxid/ctime and timestamp, `/controller_epoch`'s mzxid/mtime. */
  readonly sinceOffset: number;
  readonly sinceTimeMs: number;
}

/** Child changes of one parent the image cannot show (deletions), and the newest observed child change. */
export interface ChildHistory {
  /** Children deleted so far (each counted a create and a delete in cversion). */
  readonly removed: number;
  /** zxid of the newest child create or delete observed. */
  readonly pzxid: bigint;
  /** The parent's czxid when this was recorded: a re-created parent starts afresh. */
  readonly parentCzxid: bigint;
}

/** Data changes of one znode the image's stamps missed (e.g. /feature has no change offset). */
export interface DataHistory {
  /** Versions to add to the derived version. */
  readonly extraVersions: number;
  readonly mzxid: bigint;
  readonly mtimeMs: number;
  /** The znode's czxid when this was recorded: a re-created znode starts afresh. */
  readonly czxid: bigint;
}

/** What an observer of every image (the live tree) knows beyond one image. Immutable per snapshot. */
export interface ZnodeHistory {
  children(path: string): ChildHistory | undefined;
  data(path: string): DataHistory | undefined;
}

export interface ZkViewOptions {
  /** Session id owning `/brokers/ids/<id>` (default {@link syntheticSessionId}). */
  readonly sessionIdOf?: (brokerId: number, brokerEpoch: number) => bigint;
  /** The active controller; without it there is no `/controller` (as between two elections). */
  readonly controller?: ActiveController;
  /**
   * The Raft term of the batch at a log offset: a partition state's `controller_epoch` is the epoch of
   * the controller that last wrote it. Default: the image's epoch for every offset.
   */
  readonly epochAt?: (offset: number) => number;
  readonly history?: ZnodeHistory;
}

/** Paths a Kafka broker creates at startup (`ZkData.PersistentZkPaths`, parents included), null data. */
export const PERSISTENT_PATHS: readonly string[] = [
  '/consumers',
  '/brokers',
  '/brokers/ids',
  '/brokers/topics',
  '/brokers/seqid',
  '/config',
  '/config/changes',
  '/config/topics',
  '/config/clients',
  '/config/users',
  '/config/brokers',
  '/config/ips',
  '/admin',
  '/admin/delete_topics',
  '/isr_change_notification',
  '/latest_producer_id_block',
  '/log_dir_event_notification',
  '/cluster',
];

/** ZooKeeper's own znodes: empty (not null) data, all stamps 0. */
export const ZOOKEEPER_PATHS: readonly string[] = ['/zookeeper', '/zookeeper/config', '/zookeeper/quota'];

/** `/config/brokers/<default>`: the cluster-wide broker default (resource name "" in the image). */
export const DEFAULT_ENTITY = '<default>';

/**
 * Whether `name` can be one znode name (ZooKeeper's `PathUtils.validatePath`): a group or topic id that
 * cannot (a `/` in a group id, say) is left out of the view rather than shown at the wrong path.
 */
export function isZnodeName(name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (
      c === 0x2f ||
      c <= 0x1f ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    )
      return false;
  }
  return true;
}

/** Splits an absolute path into names; undefined when it is not a valid ZooKeeper path. */
export function splitPath(path: string): string[] | undefined {
  if (path === '/') return [];
  if (path.length < 2 || path.charCodeAt(0) !== 0x2f || path.endsWith('/')) return undefined;
  const names = path.slice(1).split('/');
  for (const n of names) if (n === '' || n === '.' || n === '..') return undefined;
  return names;
}

export function parentOf(path: string): string | undefined {
  if (path === '/') return undefined;
  const i = path.lastIndexOf('/');
  return i === 0 ? '/' : path.slice(0, i);
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;
function parseIndex(name: string): number | undefined {
  if (!DECIMAL.test(name)) return undefined;
  const n = Number(name);
  return n <= 0x7fffffff ? n : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Memoisation per image part. Every value memoised depends only on the part(s) it is keyed on, never on
// options, so it is valid for every snapshot sharing that part.

const memos = new WeakMap<object, Map<string, unknown>>();
function memo<T>(owner: object, key: string, compute: () => T): T {
  let m = memos.get(owner);
  if (m === undefined) {
    m = new Map();
    memos.set(owner, m);
  }
  if (m.has(key)) return m.get(key) as T;
  const v = compute();
  m.set(key, v);
  return v;
}

const pairMemos = new WeakMap<object, WeakMap<object, Map<string, unknown>>>();
function memo2<T>(a: object, b: object, key: string, compute: () => T): T {
  let byB = pairMemos.get(a);
  if (byB === undefined) {
    byB = new WeakMap();
    pairMemos.set(a, byB);
  }
  let m = byB.get(b);
  if (m === undefined) {
    m = new Map();
    byB.set(b, m);
  }
  if (m.has(key)) return m.get(key) as T;
  const v = compute();
  m.set(key, v);
  return v;
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------------
// Node descriptors: what a path resolves to, before history and stat assembly.

interface NodeDesc {
  /** null: created without data (Kafka's parents and markers); EMPTY: ZooKeeper's own empty data. */
  data(): string | Uint8Array | null;
  readonly czxid: bigint;
  readonly ctimeMs: number;
  readonly mzxid: bigint;
  readonly mtimeMs: number;
  readonly version: number;
  readonly ephemeralOwner: bigint;
  names(): readonly string[];
  count(): number;
  /** The newest child czxid (0n without children). */
  newestChild(): bigint;
  /** Children ZooKeeper creates itself, which count -1 each in cversion instead of +1. */
  readonly builtin: number;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

function leaf(
  data: () => string | Uint8Array | null,
  czxid: bigint,
  ctimeMs: number,
  mzxid = czxid,
  mtimeMs = ctimeMs,
  version = 0,
  ephemeralOwner = 0n,
): NodeDesc {
  return {
    data,
    czxid,
    ctimeMs,
    mzxid,
    mtimeMs,
    version,
    ephemeralOwner,
    names: () => NO_NAMES,
    count: () => 0,
    newestChild: () => 0n,
    builtin: 0,
  };
}

function parent(
  names: () => readonly string[],
  newestChild: () => bigint,
  czxid = 0n,
  ctimeMs = 0,
  count: () => number = () => names().length,
  data: () => string | Uint8Array | null = () => null,
  builtin = 0,
): NodeDesc {
  return {
    data,
    czxid,
    ctimeMs,
    mzxid: czxid,
    mtimeMs: ctimeMs,
    version: 0,
    ephemeralOwner: 0n,
    names,
    count,
    newestChild,
    builtin,
  };
}

/** A parent whose children all exist from the start (stamped 0). */
function fixed(names: readonly string[]): NodeDesc {
  return parent(
    () => names,
    () => 0n,
  );
}

const NULL = () => null;
const EMPTY_DATA = () => EMPTY;

/**
 * The znode tree of one image. Immutable: every answer is a function of the image and the options
 * (controller, history) it was built with.
 */
export class ImageZnodeSnapshot implements ZnodeTreeSnapshot {
  readonly zxid: bigint;
  private readonly sessionIdOf: (brokerId: number, brokerEpoch: number) => bigint;
  private readonly epochAt: (offset: number) => number;

  constructor(
    readonly image: MetadataImageView,
    readonly options: ZkViewOptions = {},
  ) {
    this.zxid = zxidOf(image.provenance.offset);
    this.sessionIdOf = options.sessionIdOf ?? syntheticSessionId;
    const epoch = image.provenance.epoch;
    const at = options.epochAt ?? (() => epoch);
    const base = epochBase(image);
    this.epochAt = base === 0 ? at : (offset) => at(offset) + base;
  }

  get(path: string): Znode | undefined {
    const d = this.resolve(path);
    return d === undefined ? undefined : this.znode(path, d);
  }

  children(path: string): readonly string[] | undefined {
    return this.resolve(path)?.names();
  }

  /** The stat alone (the data is encoded anyway: dataLength is its length). */
  stat(path: string): Stat | undefined {
    return this.get(path)?.stat;
  }

  private znode(path: string, d: NodeDesc): Znode {
    const raw = d.data();
    const data = raw === null ? null : typeof raw === 'string' ? utf8.encode(raw) : raw;
    const history = this.options.history;
    let version = d.version;
    let mzxid = d.mzxid;
    let mtimeMs = d.mtimeMs;
    const dh = history?.data(path);
    if (dh !== undefined && dh.czxid === d.czxid) {
      version += dh.extraVersions;
      if (dh.mzxid > mzxid) {
        mzxid = dh.mzxid;
        mtimeMs = dh.mtimeMs;
      }
    }
    const count = d.count();
    let removed = 0;
    let pzxid = d.czxid;
    const newest = count > 0 ? d.newestChild() : 0n;
    if (newest > pzxid) pzxid = newest;
    const ch = history?.children(path);
    if (ch !== undefined && ch.parentCzxid === d.czxid) {
      removed = ch.removed;
      if (ch.pzxid > pzxid) pzxid = ch.pzxid;
    }
    const stat: Stat = {
      czxid: d.czxid,
      mzxid,
      ctime: BigInt(d.ctimeMs),
      mtime: BigInt(mtimeMs),
      version,
      // Each current child was created once (one change), each removed one created and deleted.
      cversion: count - 2 * d.builtin + 2 * removed,
      aversion: 0,
      ephemeralOwner: d.ephemeralOwner,
      dataLength: data === null ? 0 : data.length,
      numChildren: count,
      pzxid,
    };
    return { data, stat };
  }

  /** The descriptor of `path`, or undefined when no such znode. */
  private resolve(path: string): NodeDesc | undefined {
    const s = splitPath(path);
    if (s === undefined) return undefined;
    if (s.length === 0) return this.root();
    const [top, a, b, c, e] = s;
    const depth = s.length;
    switch (top) {
      case 'zookeeper':
        if (depth === 1)
          return parent(
            () => ['config', 'quota'],
            () => 0n,
            0n,
            0,
            () => 2,
            EMPTY_DATA,
            2,
          );
        return depth === 2 && (a === 'config' || a === 'quota') ? leaf(EMPTY_DATA, 0n, 0) : undefined;
      case 'brokers':
        if (depth === 1) return fixed(['ids', 'topics', 'seqid']);
        if (a === 'seqid') return depth === 2 ? leaf(NULL, 0n, 0) : undefined;
        if (a === 'ids') {
          if (depth === 2) return this.brokerIds();
          return depth === 3 ? this.brokerNode(b!) : undefined;
        }
        if (a === 'topics') {
          if (depth === 2) return this.topicsNode();
          const t = this.image.topics.byName(b!);
          if (t === undefined) return undefined;
          if (depth === 3) return this.topicNode(t);
          if (c !== 'partitions') return undefined;
          if (depth === 4) return this.partitionsNode(t);
          const pid = parseIndex(e!);
          const p = pid === undefined ? undefined : t.partitions[pid];
          if (p === undefined) return undefined;
          if (depth === 5) return this.partitionNode(p);
          return depth === 6 && s[5] === 'state' ? this.stateNode(p) : undefined;
        }
        return undefined;
      case 'config':
        if (depth === 1) return fixed(['changes', 'topics', 'clients', 'users', 'brokers', 'ips']);
        if (depth === 2) {
          if (a === 'topics') return this.topicConfigsNode();
          if (a === 'brokers') return this.brokerConfigsNode();
          return a === 'changes' || a === 'clients' || a === 'users' || a === 'ips'
            ? leaf(NULL, 0n, 0)
            : undefined;
        }
        if (depth !== 3) return undefined;
        if (a === 'topics') return this.topicConfigNode(b!);
        if (a === 'brokers') return this.brokerConfigNode(b!);
        return undefined;
      case 'consumers':
        return this.consumers(s);
      case 'admin':
        if (depth === 1) return fixed(['delete_topics']);
        return depth === 2 && a === 'delete_topics' ? leaf(NULL, 0n, 0) : undefined;
      case 'isr_change_notification':
      case 'latest_producer_id_block':
      case 'log_dir_event_notification':
        return depth === 1 ? leaf(NULL, 0n, 0) : undefined;
      case 'cluster':
        if (depth === 1) return this.clusterNode();
        return depth === 2 && a === 'id' ? this.clusterIdNode() : undefined;
      case 'controller':
        return depth === 1 ? this.controllerNode() : undefined;
      case 'controller_epoch':
        return depth === 1 ? this.controllerEpochNode() : undefined;
      case 'feature':
        return depth === 1 ? this.featureNode() : undefined;
      default:
        return undefined;
    }
  }

  // --- / -------------------------------------------------------------------------------------------

  private rootNames(): string[] {
    const names = [
      'zookeeper',
      'consumers',
      'brokers',
      'config',
      'admin',
      'isr_change_notification',
      'latest_producer_id_block',
      'log_dir_event_notification',
      'cluster',
    ];
    if (this.controllerNode() !== undefined) names.push('controller');
    if (this.controllerEpochNode() !== undefined) names.push('controller_epoch');
    if (this.featureNode() !== undefined) names.push('feature');
    return names;
  }

  /** `/`: ZooKeeper's root, empty (not null) data, stamped 0; `zookeeper` is its built-in child. */
  private root(): NodeDesc {
    return parent(
      () => this.rootNames(),
      () => {
        let newest = 0n;
        for (const n of [this.controllerNode(), this.controllerEpochNode(), this.featureNode()])
          if (n !== undefined && n.czxid > newest) newest = n.czxid;
        return newest;
      },
      0n,
      0,
      () => this.rootNames().length,
      EMPTY_DATA,
      1,
    );
  }

  // --- /cluster, /controller, /controller_epoch, /feature ------------------------------------------

  private clusterNode(): NodeDesc {
    return parent(
      () => (this.image.cluster.clusterId === '' ? NO_NAMES : ['id']),
      () => 0n,
    );
  }

  /**
   * `/cluster/id`: written once, by the first broker. The image does not record when the cluster id
   * was set, so it is stamped 0 like the paths created at startup (the live tree dates it when it sees
   * the id appear).
   */
  private clusterIdNode(): NodeDesc | undefined {
    const id = this.image.cluster.clusterId;
    return id === '' ? undefined : leaf(() => clusterIdJson(id), 0n, 0);
  }

  /**
   * `/controller`: PERSISTENT with `kraftControllerEpoch`, as a KRaft controller writes it (KIP-866
   * takeover): created (after deleting the previous one) when the controller takes office, never
   * rewritten during its term, so czxid = mzxid = the takeover and version 0.
   */
  private controllerNode(): NodeDesc | undefined {
    const c = this.options.controller;
    if (c === undefined || c.id < 0) return undefined;
    const epoch = c.epoch + epochBase(this.image);
    return leaf(() => controllerJson(c.id, c.sinceTimeMs, epoch), zxidOf(c.sinceOffset), c.sinceTimeMs);
  }

  /**
   * `/controller_epoch`: the Raft epoch as a decimal string. Kafka creates it with `0` (version 0) and
   * each election sets epoch + 1 (version + 1), so the version equals the epoch. Its last data change
   * is the current controller's takeover; created at the start (0).
   */
  private controllerEpochNode(): NodeDesc | undefined {
    const raftEpoch = Math.max(this.image.provenance.epoch, this.options.controller?.epoch ?? 0);
    if (raftEpoch <= 0) return undefined;
    const c = this.options.controller;
    const since = c !== undefined && c.epoch === raftEpoch ? c : undefined;
    const epoch = raftEpoch + epochBase(this.image);
    return leaf(
      () => controllerEpochData(epoch),
      0n,
      0,
      zxidOf(since?.sinceOffset ?? 0),
      since?.sinceTimeMs ?? 0,
      epoch,
    );
  }

  /**
   * `/feature`: exists once the cluster is bootstrapped (the controller writes it on taking office).
   * Its version should be the finalized-features epoch; the image keeps no features epoch or change
   * offset, so it derives as 0 / stamped 0 and the live tree's history counts observed changes.
   */
  private featureNode(): NodeDesc | undefined {
    if (this.image.cluster.clusterId === '') return undefined;
    const features = this.image.features;
    return leaf(() => featureJson(features.all()), 0n, 0);
  }

  // --- /brokers/ids --------------------------------------------------------------------------------

  /** Registered and unfenced brokers: a fenced broker is one whose ZooKeeper session is gone. */
  private liveBrokers(): BrokerRegistration[] {
    return memo(this.image.cluster, 'live', () => {
      const out: BrokerRegistration[] = [];
      for (const b of this.image.cluster.brokers()) if (!b.fenced) out.push(b);
      return out;
    });
  }

  private brokerIds(): NodeDesc {
    return parent(
      () => memo(this.image.cluster, 'liveNames', () => this.liveBrokers().map((b) => String(b.id))),
      () => {
        let newest = 0;
        for (const b of this.liveBrokers()) if (b.epoch > newest) newest = b.epoch;
        return zxidOf(newest);
      },
    );
  }

  /**
   * `/brokers/ids/<id>`, EPHEMERAL. czxid = the broker epoch (KIP-380: Kafka reads the broker epoch
   * from this czxid; in KRaft it is the registration offset). Kafka creates it with null data and sets
   * the data in the same multi (one zxid), so version 1 and mzxid = czxid. A fence/unfence within one
   * registration re-creates it with the same czxid: same epoch, as Kafka would see it.
   */
  private brokerNode(name: string): NodeDesc | undefined {
    const id = parseIndex(name);
    const b = id === undefined ? undefined : this.image.cluster.broker(id);
    if (b === undefined || b.fenced) return undefined;
    const z = zxidOf(b.epoch);
    return leaf(
      () => brokerJson(b),
      z,
      b.registeredTimeMs,
      z,
      b.registeredTimeMs,
      1,
      this.sessionIdOf(b.id, b.epoch),
    );
  }

  // --- /brokers/topics -----------------------------------------------------------------------------

  private topicNames(): readonly string[] {
    const topics = this.image.topics;
    return memo(topics, 'names', () => {
      const out: string[] = [];
      for (const t of topics.topics()) out.push(t.name);
      return out;
    });
  }

  private topicsNode(): NodeDesc {
    const topics = this.image.topics;
    return parent(
      () => this.topicNames(),
      () =>
        memo(topics, 'newest', () => {
          let newest = 0;
          for (const t of topics.topics()) if (t.createdOffset > newest) newest = t.createdOffset;
          return zxidOf(newest);
        }),
      0n,
      0,
      () => topics.topicCount,
    );
  }

  /**
   * `/brokers/topics/<t>`: czxid = TopicRecord; mzxid/version = the assignment's last change and
   * change count (partitions added, replicas changed). One child, `partitions`, created with it.
   */
  private topicNode(t: TopicImage): NodeDesc {
    const cz = zxidOf(t.createdOffset);
    return {
      ...leaf(
        () => topicJson(t),
        cz,
        t.createdTimeMs,
        zxidOf(t.assignmentChangedOffset),
        t.assignmentChangedTimeMs,
        t.assignmentVersion,
      ),
      names: () => PARTITIONS_NAME,
      count: () => 1,
      newestChild: () => cz,
    };
  }

  /** `.../partitions`: null data, created with the topic; one child per partition (never deleted). */
  private partitionsNode(t: TopicImage): NodeDesc {
    return parent(
      () => memo(t, 'pnames', () => t.partitions.map((_, i) => String(i))),
      () => {
        // Partitions are only added, so the last one is the newest.
        const last = t.partitions[t.partitions.length - 1];
        return last === undefined ? 0n : zxidOf(last.createdOffset);
      },
      zxidOf(t.createdOffset),
      t.createdTimeMs,
      () => t.partitions.length,
    );
  }

  /** `.../partitions/<p>`: null data, created with the partition; its one child `state` too. */
  private partitionNode(p: PartitionRegistration): NodeDesc {
    const cz = zxidOf(p.createdOffset);
    return parent(
      () => STATE_NAME,
      () => cz,
      cz,
      p.createdTimeMs,
      () => 1,
    );
  }

  /**
   * `.../partitions/<p>/state`: PERSISTENT. version = partitionEpoch (Kafka's partition epoch *is*
   * this znode's version); mzxid/mtime = the partition's last change; controller_epoch = the epoch in
   * which that change was written.
   */
  private stateNode(p: PartitionRegistration): NodeDesc {
    return leaf(
      () => partitionStateJson(p, this.epochAt(p.changedOffset)),
      zxidOf(p.createdOffset),
      p.createdTimeMs,
      zxidOf(p.changedOffset),
      p.changedTimeMs,
      p.partitionEpoch,
    );
  }

  // --- /config -------------------------------------------------------------------------------------

  /**
   * `/config/topics` children: every topic (Kafka's admin path writes `/config/topics/<t>`, `{}` when
   * there are no overrides, before creating the topic) plus any topic-config resource whose topic does
   * not exist (not produced by kbroker's controller, shown if present).
   */
  private topicConfigNames(): readonly string[] {
    const topics = this.image.topics;
    const configs = this.image.configs;
    return memo2(topics, configs, 'names', () => {
      const out = this.topicNames().slice();
      for (const [name] of configs.resources(ConfigResourceType.Topic))
        if (topics.byName(name) === undefined && isZnodeName(name)) out.push(name);
      return out;
    });
  }

  private topicConfigsNode(): NodeDesc {
    const topics = this.image.topics;
    const configs = this.image.configs;
    return parent(
      () => this.topicConfigNames(),
      () =>
        memo2(topics, configs, 'newest', () => {
          let newest = 0n;
          for (const name of this.topicConfigNames()) {
            const z = this.topicConfigNode(name)?.czxid ?? 0n;
            if (z > newest) newest = z;
          }
          return newest;
        }),
    );
  }

  /**
   * `/config/topics/<t>`. With overrides created with the topic: the resource's stamps and version.
   * With overrides added later: created with the topic as `{}` (version 0), then one write per config
   * version, so version = resource version + 1. Overrides all removed again: the image drops the
   * resource, so the node shows `{}` with the topic's stamps (the live tree's history keeps its
   * version and mzxid moving forward).
   */
  private topicConfigNode(name: string): NodeDesc | undefined {
    const t = this.image.topics.byName(name);
    const r = this.image.configs.get(ConfigResourceType.Topic, name);
    if (t === undefined) return r === undefined || !isZnodeName(name) ? undefined : configLeaf(r);
    if (r === undefined || r.createdOffset < t.createdOffset) {
      if (r !== undefined) return configLeaf(r);
      return leaf(() => configJson(undefined), zxidOf(t.createdOffset), t.createdTimeMs);
    }
    if (r.createdOffset === t.createdOffset) return configLeaf(r);
    return leaf(
      () => configJson(r.values),
      zxidOf(t.createdOffset),
      t.createdTimeMs,
      zxidOf(r.changedOffset),
      r.changedTimeMs,
      r.version + 1,
    );
  }

  private brokerConfigNames(): readonly string[] {
    const configs = this.image.configs;
    return memo(configs, 'brokerNames', () => {
      const out: string[] = [];
      for (const [name] of configs.resources(ConfigResourceType.Broker)) {
        const entity = name === '' ? DEFAULT_ENTITY : name;
        if (isZnodeName(entity)) out.push(entity);
      }
      return out;
    });
  }

  private brokerConfigsNode(): NodeDesc {
    const configs = this.image.configs;
    return parent(
      () => this.brokerConfigNames(),
      () =>
        memo(configs, 'brokerNewest', () => {
          let newest = 0;
          for (const [, r] of configs.resources(ConfigResourceType.Broker))
            if (r.createdOffset > newest) newest = r.createdOffset;
          return zxidOf(newest);
        }),
    );
  }

  /** `/config/brokers/<id>` and `/config/brokers/<default>`: exists while the resource has values. */
  private brokerConfigNode(entity: string): NodeDesc | undefined {
    if (entity === '') return undefined;
    const r = this.image.configs.get(ConfigResourceType.Broker, entity === DEFAULT_ENTITY ? '' : entity);
    return r === undefined ? undefined : configLeaf(r);
  }

  // --- /consumers ----------------------------------------------------------------------------------

  private groupNames(): readonly string[] {
    const offsets = this.image.offsets;
    return memo(offsets, 'groups', () => {
      const out: string[] = [];
      for (const g of offsets.groups()) if (this.groupTopics(g).size > 0) out.push(g.groupId);
      return out;
    });
  }

  /** topic -> partition name -> commit, for the group's commits that fit in znode names. */
  private groupTopics(g: GroupOffsets): ReadonlyMap<string, ReadonlyMap<string, CommittedOffset>> {
    return memo(g, 'topics', () => {
      const out = new Map<string, Map<string, CommittedOffset>>();
      if (!isZnodeName(g.groupId)) return out;
      for (const [topic, partition, c] of g.entries()) {
        if (!isZnodeName(topic)) continue;
        let parts = out.get(topic);
        if (parts === undefined) {
          parts = new Map();
          out.set(topic, parts);
        }
        parts.set(String(partition), c);
      }
      return out;
    });
  }

  /** A group's oldest commit (its parents' creation) and the newest creation of a topic parent. */
  private groupSpan(g: GroupOffsets): { first: CommittedOffset; newestTopic: number } {
    return memo(g, 'span', () => {
      let first: CommittedOffset | undefined;
      let newestTopic = 0;
      for (const parts of this.groupTopics(g).values()) {
        const t = span(parts.values());
        if (first === undefined || t.first.createdOffset < first.createdOffset) first = t.first;
        if (t.first.createdOffset > newestTopic) newestTopic = t.first.createdOffset;
      }
      return { first: first!, newestTopic };
    });
  }

  /**
   * `/consumers/<g>/offsets/<t>/<p>` (the old consumer's ZooKeeper offset storage), and its parents
   * (null data). A commit znode's czxid/ctime = the first commit, mzxid = the latest, version = commits
   * - 1, mtime = the latest commit's timestamp (the image keeps no record time for it). A parent is
   * created by its oldest current descendant; offsets deleted in part leave the image without the
   * parent's true creation, so it then moves to the oldest survivor.
   */
  private consumers(s: readonly string[]): NodeDesc | undefined {
    const offsets = this.image.offsets;
    if (s.length === 1) {
      return parent(
        () => this.groupNames(),
        () =>
          memo(offsets, 'newest', () => {
            let newest = 0n;
            for (const name of this.groupNames()) {
              const g = offsets.group(name)!;
              const z = zxidOf(this.groupSpan(g).first.createdOffset);
              if (z > newest) newest = z;
            }
            return newest;
          }),
        0n,
        0,
      );
    }
    const g = offsets.group(s[1]!);
    if (g === undefined) return undefined;
    const topics = this.groupTopics(g);
    if (topics.size === 0) return undefined;
    const gspan = this.groupSpan(g);
    const gz = zxidOf(gspan.first.createdOffset);
    if (s.length === 2) {
      return parent(
        () => OFFSETS_NAME,
        () => gz,
        gz,
        gspan.first.createdTimeMs,
        () => 1,
      );
    }
    if (s[2] !== 'offsets') return undefined;
    if (s.length === 3) {
      return parent(
        () => memo(g, 'topicNames', () => [...topics.keys()]),
        () => zxidOf(gspan.newestTopic),
        gz,
        gspan.first.createdTimeMs,
        () => topics.size,
      );
    }
    const parts = topics.get(s[3]!);
    if (parts === undefined) return undefined;
    if (s.length === 4) {
      const tspan = span(parts.values());
      return parent(
        () => [...parts.keys()],
        () => zxidOf(tspan.newest),
        zxidOf(tspan.first.createdOffset),
        tspan.first.createdTimeMs,
        () => parts.size,
      );
    }
    if (s.length !== 5) return undefined;
    const c = parts.get(s[4]!);
    if (c === undefined) return undefined;
    return leaf(
      () => consumerOffsetData(c.offset),
      zxidOf(c.createdOffset),
      c.createdTimeMs,
      zxidOf(c.changedOffset),
      c.commitTimestampMs,
      c.version,
    );
  }
}

/** The oldest commit and the newest creation among commits (a parent's creation and pzxid). */
function span(commits: Iterable<CommittedOffset>): { first: CommittedOffset; newest: number } {
  let first: CommittedOffset | undefined;
  let newest = 0;
  for (const c of commits) {
    if (first === undefined || c.createdOffset < first.createdOffset) first = c;
    if (c.createdOffset > newest) newest = c.createdOffset;
  }
  return { first: first!, newest };
}

const PARTITIONS_NAME: readonly string[] = Object.freeze(['partitions']);
const STATE_NAME: readonly string[] = Object.freeze(['state']);
const OFFSETS_NAME: readonly string[] = Object.freeze(['offsets']);

/** A config znode with the resource's own stamps and version. */
function configLeaf(r: ResourceConfigs): NodeDesc {
  return leaf(
    () => configJson(r.values),
    zxidOf(r.createdOffset),
    r.createdTimeMs,
    zxidOf(r.changedOffset),
    r.changedTimeMs,
    r.version,
  );
}

/**
 * The znode tree Kafka would have written for `image`: a lazy, immutable snapshot. Pure: equal images
 * and options give equal trees.
 */
export function buildTree(image: MetadataImageView, options: ZkViewOptions = {}): ImageZnodeSnapshot {
  return new ImageZnodeSnapshot(image, options);
}

/** Every path of a snapshot, parents before children (depth-first); for tests and fixture writers. */
export function* walk(snapshot: ZnodeTreeSnapshot, from = '/'): Generator<string> {
  yield from;
  const names = snapshot.children(from);
  if (names === undefined) return;
  for (const name of names) yield* walk(snapshot, joinPath(from, name));
}
