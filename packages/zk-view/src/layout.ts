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
 * (and Kafka reads czxid as the broker epoch, which *is* the registration offset in KRaft).
 *
 * ## Every stat is a function of the image
 * The image is replayed from the replicated log by the same code on every node, and snapshots keep
 * everything replay remembers, so every node, started at any time or restarted, serves the same stat
 * for the same znode at the same image (what ZooKeeper clients moving between servers, and
 * conditional writes, rely on). What a snapshot of current values would lose, the image keeps as
 * stamps: removal counters and last removal offsets of each kind of child (cversion, pzxid after a
 * deletion), the set of unfenced brokers' last change, emptied topic configs' versions, the features'
 * change count, the cluster id's offset, and the Raft terms (each term's first offset: the
 * controller's takeover, and the term a partition state was written in). The one input from outside
 * the image is the active controller's id (Raft's leader), shown in `/controller`.
 *
 * ## Stats (each derivation is at the node kind below)
 * - czxid/ctime: the record that created what the znode shows; mzxid/mtime: its last data change.
 * - version: data changes since creation, = the image's own change counter for that thing
 *   (partitionEpoch, assignmentVersion, config version, commit count - 1).
 * - cversion: child creations + deletions. Creations are the current children (each created once);
 *   each removed child counts a creation and a deletion, from the image's removal counters.
 *   ZooKeeper's built-in children start it negative (observed on ZooKeeper 3.8: `/` has cversion -1
 *   with its one child `zookeeper`, `/zookeeper` -2 with `config` and `quota`).
 * - pzxid: the newest of the znode's own czxid, its children's czxids and its last child removal.
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
  continuedStamps,
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

export interface ZkViewOptions {
  /** Session id owning `/brokers/ids/<id>` (default {@link syntheticSessionId}). */
  readonly sessionIdOf?: (brokerId: number, brokerEpoch: number) => bigint;
  /**
   * The active controller's node id (Raft's leader, which the image does not record); negative or
   * absent: none known, and there is no `/controller` (as between two elections). It took office at
   * the image's latest term's first entry.
   */
  readonly controllerId?: number;
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

/**
 * Znodes of the hottest paths (a topic, its `partitions`, a partition and its state), each a function
 * of one image part (see PartNode): built once, frozen (a frozen Stat tells the jute writer it
 * may keep the encoding, see jute/records.ts), dropped with the part. One cache per kind of znode, as
 * a part (a topic, a partition) is resolved at two paths.
 */
const TOPIC_ZNODES = new WeakMap<object, Znode>();
const PARTITIONS_ZNODES = new WeakMap<object, Znode>();
const PARTITION_ZNODES = new WeakMap<object, Znode>();
const STATE_ZNODES = new WeakMap<object, Znode>();

function freezeZnode(z: Znode): Znode {
  Object.freeze(z.stat);
  return Object.freeze(z);
}

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
  /** ACL changes: 0, except ZooKeeper's `/zookeeper/config`, whose read-only ACL it sets at version -1. */
  readonly aversion?: number;
  /** Children removed so far (each counted a creation and a deletion) and the last removal's zxid. */
  readonly removed: number;
  readonly removedZxid: bigint;
}

/**
 * A znode that is a function of one image part (a topic, a partition): its Znode is built once per
 * part, frozen, and shared by every snapshot holding that part. Resolving one costs a cache lookup;
 * its descriptor is built only on a miss (or for its child names).
 */
class PartNode {
  constructor(
    readonly cache: WeakMap<object, Znode>,
    readonly part: object,
    readonly describe: () => NodeDesc,
    /** Its child names without building the descriptor (getChildren resolves a path twice). */
    readonly names: () => readonly string[] = () => describe().names(),
  ) {}
}

/**
 * `["0", ..., "n-1"]`, frozen, one array per n: every topic with n partitions shares its
 * `partitions` child list (and so its encoding).
 */
const PARTITION_NAME_LISTS: (readonly string[])[] = [];
function partitionNames(n: number): readonly string[] {
  let names = PARTITION_NAME_LISTS[n];
  if (names === undefined) {
    names = Object.freeze(Array.from({ length: n }, (_, i) => String(i)));
    if (n < 65_536) PARTITION_NAME_LISTS[n] = names;
  }
  return names;
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
    removed: 0,
    removedZxid: 0n,
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
  removed = 0,
  removedZxid = 0n,
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
    removed,
    removedZxid,
  };
}

/** A parent stamped 0 whose children come and go: `removed` of them so far, the last at `removedOffset`. */
function dynamic(
  names: () => readonly string[],
  newestChild: () => bigint,
  count: () => number,
  removed: number,
  removedOffset: number,
): NodeDesc {
  return parent(names, newestChild, 0n, 0, count, NULL, 0, removed, zxidOf(removedOffset));
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
 * (session ids, controller id) it was built with.
 */
export class ImageZnodeSnapshot implements ZnodeTreeSnapshot {
  readonly zxid: bigint;
  private readonly sessionIdOf: (brokerId: number, brokerEpoch: number) => bigint;

  constructor(
    readonly image: MetadataImageView,
    readonly options: ZkViewOptions = {},
  ) {
    this.zxid = zxidOf(image.provenance.offset);
    this.sessionIdOf = options.sessionIdOf ?? syntheticSessionId;
  }

  get(path: string): Znode | undefined {
    const d = this.resolve(path);
    if (d === undefined) return undefined;
    return d instanceof PartNode ? this.partZnode(d) : this.znode(d);
  }

  /** A part's znode, built once per part and shared by every snapshot holding it. */
  private partZnode(d: PartNode): Znode {
    const cached = d.cache.get(d.part);
    if (cached !== undefined) return cached;
    const z = freezeZnode(this.znode(d.describe()));
    d.cache.set(d.part, z);
    return z;
  }

  children(path: string): readonly string[] | undefined {
    const d = this.resolve(path);
    return d instanceof PartNode ? d.names() : d?.names();
  }

  /**
   * The stat alone: a cached part znode's, else built without encoding the data (dataLength is the
   * UTF-8 length of a string, counted in place).
   */
  stat(path: string): Stat | undefined {
    const d = this.resolve(path);
    if (d === undefined) return undefined;
    if (d instanceof PartNode) return this.partZnode(d).stat;
    const raw = d.data();
    return this.statOf(d, raw === null ? 0 : typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length);
  }

  private znode(d: NodeDesc): Znode {
    const raw = d.data();
    const data = raw === null ? null : typeof raw === 'string' ? utf8.encode(raw) : raw;
    return { data, stat: this.statOf(d, data === null ? 0 : data.length) };
  }

  private statOf(d: NodeDesc, dataLength: number): Stat {
    const count = d.count();
    let pzxid = d.czxid;
    const newest = count > 0 ? d.newestChild() : 0n;
    if (newest > pzxid) pzxid = newest;
    if (d.removedZxid > pzxid) pzxid = d.removedZxid;
    return {
      czxid: d.czxid,
      mzxid: d.mzxid,
      ctime: BigInt(d.ctimeMs),
      mtime: BigInt(d.mtimeMs),
      version: d.version,
      // Each current child was created once (one change), each removed one created and deleted.
      cversion: count - 2 * d.builtin + 2 * d.removed,
      aversion: d.aversion ?? 0,
      ephemeralOwner: d.ephemeralOwner,
      dataLength,
      numChildren: count,
      pzxid,
    };
  }

  /** The descriptor of `path`, or undefined when no such znode. */
  private resolve(path: string): NodeDesc | PartNode | undefined {
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
        if (depth === 2 && a === 'config') return { ...leaf(EMPTY_DATA, 0n, 0), aversion: -1 };
        return depth === 2 && a === 'quota' ? leaf(EMPTY_DATA, 0n, 0) : undefined;
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

  /**
   * `/`: ZooKeeper's root, empty (not null) data, stamped 0; `zookeeper` is its built-in child.
   * `/controller` is deleted and created again at each new term: every term after the first removed
   * one, and so did the current one while no controller is known. Its last removal is the current
   * term's start, which its re-creation dates anyway.
   */
  private root(): NodeDesc {
    const terms = this.image.terms;
    const removed = Math.max(0, terms.count - 1) + (terms.count > 0 && !this.hasController() ? 1 : 0);
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
      removed,
      removed > 0 ? zxidOf(terms.startOffset) : 0n,
    );
  }

  private hasController(): boolean {
    return (this.options.controllerId ?? -1) >= 0 && this.image.provenance.epoch > 0;
  }

  // --- /cluster, /controller, /controller_epoch, /feature ------------------------------------------

  private clusterNode(): NodeDesc {
    return parent(
      () => (this.image.cluster.clusterId === '' ? NO_NAMES : ['id']),
      () => 0n,
    );
  }

  /** `/cluster/id`: written once, by the first broker: stamped with the ClusterRecord. */
  private clusterIdNode(): NodeDesc | undefined {
    const c = this.image.cluster;
    const id = c.clusterId;
    return id === ''
      ? undefined
      : leaf(() => clusterIdJson(id), zxidOf(c.clusterIdOffset), c.clusterIdTimeMs);
  }

  /**
   * `/controller`: PERSISTENT with `kraftControllerEpoch`, as a KRaft controller writes it (KIP-866
   * takeover): created (after deleting the previous one) when the controller takes office, i.e. at
   * its term's first entry, never rewritten during its term, so czxid = mzxid = the takeover and
   * version 0.
   */
  private controllerNode(): NodeDesc | undefined {
    if (!this.hasController()) return undefined;
    const id = this.options.controllerId!;
    const { startOffset } = this.image.terms;
    // A term starts with a Raft no-op, which has no time: its start is the last batch's time. A new
    // cluster's first term has no earlier batch; its bootstrap batch (the cluster id) dates it.
    const startTimeMs = this.image.terms.startTimeMs || this.image.cluster.clusterIdTimeMs;
    const epoch = this.image.provenance.epoch + epochBase(this.image);
    return leaf(() => controllerJson(id, startTimeMs, epoch), zxidOf(startOffset), startTimeMs);
  }

  /**
   * `/controller_epoch`: the Raft epoch as a decimal string. Kafka creates it with `0` (version 0) and
   * each election sets epoch + 1 (version + 1), so the version equals the epoch. Its last data change
   * is the current term's start; created at the start (0).
   */
  private controllerEpochNode(): NodeDesc | undefined {
    const raftEpoch = this.image.provenance.epoch;
    if (raftEpoch <= 0) return undefined;
    const epoch = raftEpoch + epochBase(this.image);
    const { startOffset, startTimeMs } = this.image.terms;
    return leaf(() => controllerEpochData(epoch), 0n, 0, zxidOf(startOffset), startTimeMs, epoch);
  }

  /**
   * `/feature`: exists once the cluster is bootstrapped, created with the cluster id; its version is
   * the finalized-features epoch: one per batch that changed levels after its creation (levels set in
   * the bootstrap batch are its initial data).
   */
  private featureNode(): NodeDesc | undefined {
    const c = this.image.cluster;
    if (c.clusterId === '') return undefined;
    const f = this.image.features;
    const cz = zxidOf(c.clusterIdOffset);
    const changed = zxidOf(f.changedOffset);
    const version = f.createdOffset === 0 ? 0 : f.version + (f.createdOffset > c.clusterIdOffset ? 1 : 0);
    return leaf(
      () => featureJson(f.all()),
      cz,
      c.clusterIdTimeMs,
      changed > cz ? changed : cz,
      changed > cz ? f.changedTimeMs : c.clusterIdTimeMs,
      version,
    );
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

  /**
   * `/brokers/ids`: a broker fenced, unregistered or re-registered removed its znode; one unfenced
   * (again) created it, so its last child change is the image's last change to the unfenced set.
   */
  private brokerIds(): NodeDesc {
    const c = this.image.cluster;
    return dynamic(
      () => memo(c, 'liveNames', () => this.liveBrokers().map((b) => String(b.id))),
      () => {
        let newest = 0;
        for (const b of this.liveBrokers()) if (b.epoch > newest) newest = b.epoch;
        return zxidOf(newest);
      },
      () => this.liveBrokers().length,
      c.unfencedRemovals,
      c.unfencedChangedOffset,
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

  /** Shared by every image with the same topic names (see TopicsImage.names). */
  private topicNames(): readonly string[] {
    return this.image.topics.names();
  }

  private topicsNode(): NodeDesc {
    const topics = this.image.topics;
    return dynamic(
      () => this.topicNames(),
      () => this.newestTopic(),
      () => topics.topicCount,
      topics.removedCount,
      topics.lastRemovedOffset,
    );
  }

  private newestTopic(): bigint {
    return zxidOf(this.image.topics.newestCreatedOffset);
  }

  /**
   * `/brokers/topics/<t>`: czxid = TopicRecord; mzxid/version = the assignment's last change and
   * change count (partitions added, replicas changed). One child, `partitions`, created with it.
   */
  private topicNode(t: TopicImage): PartNode {
    return new PartNode(
      TOPIC_ZNODES,
      t,
      () => this.describeTopic(t),
      () => PARTITIONS_NAME,
    );
  }

  private describeTopic(t: TopicImage): NodeDesc {
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
  private partitionsNode(t: TopicImage): PartNode {
    const names = () => partitionNames(t.partitions.length);
    return new PartNode(
      PARTITIONS_ZNODES,
      t,
      () =>
        parent(
          names,
          () => {
            // Partitions are only added, so the last one is the newest.
            const last = t.partitions[t.partitions.length - 1];
            return last === undefined ? 0n : zxidOf(last.createdOffset);
          },
          zxidOf(t.createdOffset),
          t.createdTimeMs,
          () => t.partitions.length,
        ),
      names,
    );
  }

  /** `.../partitions/<p>`: null data, created with the partition; its one child `state` too. */
  private partitionNode(p: PartitionRegistration): PartNode {
    return new PartNode(
      PARTITION_ZNODES,
      p,
      (): NodeDesc => {
        const cz = zxidOf(p.createdOffset);
        return parent(
          () => STATE_NAME,
          () => cz,
          cz,
          p.createdTimeMs,
          () => 1,
        );
      },
      () => STATE_NAME,
    );
  }

  /**
   * `.../partitions/<p>/state`: PERSISTENT. version = partitionEpoch (Kafka's partition epoch *is*
   * this znode's version); mzxid/mtime = the partition's last change; controller_epoch = the epoch in
   * which that change was written.
   */
  private stateNode(p: PartitionRegistration): PartNode {
    // The term of the offset that wrote it never changes: a function of the partition alone.
    return new PartNode(STATE_ZNODES, p, () =>
      leaf(
        () => partitionStateJson(p, this.image.terms.epochAt(p.changedOffset) + epochBase(this.image)),
        zxidOf(p.createdOffset),
        p.createdTimeMs,
        zxidOf(p.changedOffset),
        p.changedTimeMs,
        p.partitionEpoch,
      ),
    );
  }

  // --- /config -------------------------------------------------------------------------------------

  /**
   * Topic-config resources whose topic does not exist (not produced by kbroker's controller, shown if
   * present), and the newest of their creations. Keyed by the name set and the configs: creating a
   * topic costs one pass over the topic configs, never one over the topics.
   */
  private orphanTopicConfigs(): { readonly names: readonly string[]; readonly newest: bigint } {
    const topics = this.image.topics;
    const configs = this.image.configs;
    return memo2(topics.namesKey, configs, 'orphanConfigs', () => {
      const names: string[] = [];
      let newest = 0n;
      for (const [name, r] of configs.resources(ConfigResourceType.Topic)) {
        if (topics.byName(name) !== undefined || !isZnodeName(name)) continue;
        names.push(name);
        const z = zxidOf(r.createdOffset);
        if (z > newest) newest = z;
      }
      return { names: Object.freeze(names), newest };
    });
  }

  /**
   * `/config/topics` children: every topic (Kafka's admin path writes `/config/topics/<t>`, `{}` when
   * there are no overrides, before creating the topic) plus the orphaned topic configs.
   */
  private topicConfigNames(): readonly string[] {
    const orphans = this.orphanTopicConfigs().names;
    // Without orphans it *is* the name list (and shares its encoding).
    if (orphans.length === 0) return this.topicNames();
    return memo2(this.image.topics.namesKey, orphans, 'configNames', () =>
      Object.freeze([...this.topicNames(), ...orphans]),
    );
  }

  /**
   * `/config/topics`: a topic's removal removed its config znode, and so did emptying the configs of a
   * topic that does not exist. Its stat needs no name list.
   */
  private topicConfigsNode(): NodeDesc {
    const topics = this.image.topics;
    const orphans = this.image.configs.removals(ConfigResourceType.Topic);
    return dynamic(
      () => this.topicConfigNames(),
      () => {
        const newest = this.newestTopic();
        const orphan = this.orphanTopicConfigs().newest;
        return orphan > newest ? orphan : newest;
      },
      () => topics.topicCount + this.orphanTopicConfigs().names.length,
      topics.removedCount + orphans.count,
      Math.max(topics.lastRemovedOffset, orphans.lastOffset),
    );
  }

  /**
   * `/config/topics/<t>`, stamped as one znode over all the lives of the topic's config resource
   * (emptied configs leave `{}`: the image keeps their stamps). Created with the topic: the
   * resource's stamps and version. Created later: the znode was created with the topic as `{}`
   * (version 0), then written once per resource version, so version = resource version + 1.
   */
  private topicConfigNode(name: string): NodeDesc | undefined {
    const t = this.image.topics.byName(name);
    const configs = this.image.configs;
    const r = configs.get(ConfigResourceType.Topic, name);
    if (t === undefined) return r === undefined || !isZnodeName(name) ? undefined : configLeaf(r);
    const s = continuedStamps(configs.emptied(ConfigResourceType.Topic, name), r);
    if (s === undefined) return leaf(() => configJson(undefined), zxidOf(t.createdOffset), t.createdTimeMs);
    const data = () => configJson(r?.values);
    // Created with the topic, or before it (set while no such topic existed): its own stamps.
    if (s.createdOffset <= t.createdOffset) {
      return leaf(
        data,
        zxidOf(s.createdOffset),
        s.createdTimeMs,
        zxidOf(s.changedOffset),
        s.changedTimeMs,
        s.version,
      );
    }
    return leaf(
      data,
      zxidOf(t.createdOffset),
      t.createdTimeMs,
      zxidOf(s.changedOffset),
      s.changedTimeMs,
      s.version + 1,
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

  /** `/config/brokers`: a broker resource emptied removed its znode. */
  private brokerConfigsNode(): NodeDesc {
    const configs = this.image.configs;
    const removals = configs.removals(ConfigResourceType.Broker);
    return dynamic(
      () => this.brokerConfigNames(),
      () =>
        memo(configs, 'brokerNewest', () => {
          let newest = 0;
          for (const [, r] of configs.resources(ConfigResourceType.Broker))
            if (r.createdOffset > newest) newest = r.createdOffset;
          return zxidOf(newest);
        }),
      () => this.brokerConfigNames().length,
      removals.count,
      removals.lastOffset,
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
      for (const g of offsets.groups()) if (this.groupTopicNames(g).length > 0) out.push(g.groupId);
      return out;
    });
  }

  /**
   * The group's topics whose names fit in znode names (none when the group id does not). Per group
   * image, O(topics): the partitions are looked at per topic, and only for topics that changed.
   */
  private groupTopicNames(g: GroupOffsets): readonly string[] {
    return memo(g, 'topicNames', () => {
      if (!isZnodeName(g.groupId)) return [];
      const out: string[] = [];
      for (const [topic] of g.topics()) if (isZnodeName(topic)) out.push(topic);
      return out;
    });
  }

  /** A group's topic's creation: its stamps once it lost offsets, else its oldest commit. */
  private groupTopicCreation(
    g: GroupOffsets,
    topic: string,
    parts: ReadonlyMap<number, CommittedOffset>,
  ): { createdOffset: number; createdTimeMs: number; newest: number } {
    // Memoized on the partition map, which images share while the topic's commits do not change.
    const t = memo(parts, 'span', () => span(parts.values()));
    const stamps = g.topicStamps(topic);
    return stamps === undefined
      ? { createdOffset: t.first.createdOffset, createdTimeMs: t.first.createdTimeMs, newest: t.newest }
      : { createdOffset: stamps.createdOffset, createdTimeMs: stamps.createdTimeMs, newest: t.newest };
  }

  /** The newest creation of a topic parent of the group. */
  private newestGroupTopic(g: GroupOffsets): number {
    return memo(g, 'newestTopic', () => {
      let newest = 0;
      for (const topic of this.groupTopicNames(g)) {
        const c = this.groupTopicCreation(g, topic, g.partitions(topic)!).createdOffset;
        if (c > newest) newest = c;
      }
      return newest;
    });
  }

  /**
   * `/consumers/<g>/offsets/<t>/<p>` (the old consumer's ZooKeeper offset storage), and its parents
   * (null data). A commit znode's czxid/ctime = the first commit, mzxid = the latest, version = commits
   * - 1, mtime = the latest commit's timestamp (the image keeps no record time for it). A parent is
   * created with its first descendant (the image stamps a group's creation, and a topic's once some
   * of its offsets were deleted); deleted offsets count as removed children of their parent.
   */
  private consumers(s: readonly string[]): NodeDesc | undefined {
    const offsets = this.image.offsets;
    if (s.length === 1) {
      return dynamic(
        () => this.groupNames(),
        () =>
          memo(offsets, 'newest', () => {
            let newest = 0;
            for (const name of this.groupNames()) {
              const c = offsets.group(name)!.createdOffset;
              if (c > newest) newest = c;
            }
            return zxidOf(newest);
          }),
        () => this.groupNames().length,
        offsets.removedGroups,
        offsets.lastRemovedOffset,
      );
    }
    const g = offsets.group(s[1]!);
    if (g === undefined) return undefined;
    if (s.length === 5) {
      // A commit znode straight from the group's map: building the group's whole topic map (every
      // partition of the group) for one leaf would make each offset commit cost O(group size).
      if (s[2] !== 'offsets' || !isZnodeName(g.groupId) || !isZnodeName(s[3]!)) return undefined;
      const p = s[4]!;
      if (!/^(0|[1-9]\d*)$/.test(p)) return undefined;
      const c = g.get(s[3]!, Number(p));
      return c === undefined ? undefined : this.commitLeaf(c);
    }
    const topicNames = this.groupTopicNames(g);
    if (topicNames.length === 0) return undefined;
    const gz = zxidOf(g.createdOffset);
    if (s.length === 2) {
      return parent(
        () => OFFSETS_NAME,
        () => gz,
        gz,
        g.createdTimeMs,
        () => 1,
      );
    }
    if (s[2] !== 'offsets') return undefined;
    if (s.length === 3) {
      return parent(
        () => topicNames,
        () => zxidOf(this.newestGroupTopic(g)),
        gz,
        g.createdTimeMs,
        () => topicNames.length,
        NULL,
        0,
        g.removedTopics,
        zxidOf(g.topicsRemovedOffset),
      );
    }
    const topic = s[3]!;
    const parts = isZnodeName(topic) ? g.partitions(topic) : undefined;
    if (parts === undefined) return undefined;
    if (s.length === 4) {
      const t = this.groupTopicCreation(g, topic, parts);
      const stamps = g.topicStamps(topic);
      return parent(
        () => memo(parts, 'names', () => [...parts.keys()].map(String)),
        () => zxidOf(t.newest),
        zxidOf(t.createdOffset),
        t.createdTimeMs,
        () => parts.size,
        NULL,
        0,
        stamps?.removedPartitions ?? 0,
        zxidOf(stamps?.lastRemovedOffset ?? 0),
      );
    }
    return undefined;
  }

  private commitLeaf(c: CommittedOffset): NodeDesc {
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
