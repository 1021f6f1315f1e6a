/**
 * Differential testing of kbroker's ZooKeeper-compatible view against a real ZooKeeper 3.8 (issue 6).
 *
 * - kbroker: an in-process cluster (`startCluster`) serving the view on every node; its metadata changes
 *   through the Kafka API, the ZooKeeper admin writes, and brokers killed and restarted.
 * - ZooKeeper: a real standalone server (Debian's package) into which {@link KafkaOnZooKeeper} writes
 *   what ZooKeeper-mode Kafka wrote for the same metadata: the brokers' startup paths, each broker's
 *   ephemeral registration in a session of its own (closed when the broker is fenced, as when a broker's
 *   ZooKeeper session ends), the admin path's and the controller's znodes for topics, partition states,
 *   configs, offsets, and the controller's reactions to admin writes (partition znodes after a topic
 *   znode appears, the recursive deletion and the marker's removal after `/admin/delete_topics/<t>`).
 *   It is its own encoder of Kafka's layout (from ../../shared/reference/kafka-zk-layout.md), fed with
 *   the metadata image, never with kbroker's znodes.
 *
 * The same scripted operations then go through the same client ({@link ZkSession}) to both, as
 * {@link Pair}s of sessions, and every reply and watch event is compared after {@link normalise}.
 */
import { writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import type { BrokerRegistration, MetadataImageView } from '@kbroker/metadata-log';
import { waitFor } from '@kbroker/raft/testing';
import { ErrorCode, EventType, type Stat } from '@kbroker/zk-view';
import { expect } from 'vitest';
import {
  type RealZooKeeper,
  startZooKeeper,
  zookeeperUnavailable,
} from '../../../packages/zk-view/test/fixtures/real-zookeeper.js';
import { type LogEntry, type Reply, ZkSession } from './zk-session.js';

export { zookeeperUnavailable };

const TOPIC_CONFIG = 2;
const BROKER_CONFIG = 4;

// ------------------------------------------------------------------------------------------ Kafka's JSON
// Written from the layout reference, independently of packages/zk-view/src/json.ts.

const brokerJson = (b: BrokerRegistration) => {
  const plaintext = b.endpoints.find((e) => e.securityProtocol === 'PLAINTEXT');
  return JSON.stringify({
    version: 5,
    host: plaintext?.host ?? null,
    port: plaintext?.port ?? -1,
    jmx_port: -1,
    timestamp: String(b.registeredTimeMs),
    endpoints: b.endpoints.map((e) => `${e.name}://${e.host}:${e.port}`),
    listener_security_protocol_map: Object.fromEntries(b.endpoints.map((e) => [e.name, e.securityProtocol])),
    ...(b.rack === null ? {} : { rack: b.rack }),
    // A broker's *supported* features; kbroker advertises none per broker (docs/zookeeper.md).
    features: {},
  });
};

interface PartitionState {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
  readonly controllerEpoch: number;
}

const stateJson = (s: PartitionState) =>
  JSON.stringify({
    version: 1,
    leader: s.leader,
    leader_epoch: s.leaderEpoch,
    controller_epoch: s.controllerEpoch,
    isr: s.isr,
  });

const configJson = (values: ReadonlyMap<string, string> | undefined) =>
  JSON.stringify({ version: 1, config: Object.fromEntries(values ?? []) });

// ---------------------------------------------------------------------------------- Kafka on ZooKeeper

export interface Controller {
  readonly id: number;
  readonly epoch: number;
}

interface TopicState {
  readonly id: string;
  readonly partitions: PartitionState[];
}

/**
 * Keeps a real ZooKeeper where ZooKeeper-mode Kafka would have it for a metadata image, making the
 * writes Kafka made, in Kafka's order, for each difference from the image it last saw.
 */
export class KafkaOnZooKeeper {
  private main!: ZkSession;
  private readonly brokers = new Map<number, { session: ZkSession; epoch: number }>();
  private readonly topics = new Map<string, TopicState>();
  private controller: Controller | undefined;

  constructor(
    private readonly address: string,
    /** Kafka's `zookeeper.connect` chroot ('' for none). */
    private readonly chroot: string,
  ) {}

  private async must(p: Promise<Reply>, ...allowed: number[]): Promise<Reply> {
    const r = await p;
    if (r.err !== 0 && !allowed.includes(r.err))
      throw new Error(`the Kafka mirror's ${r.op} ${r.path} failed with ${r.err}`);
    return r;
  }

  /** `KafkaZkClient.createRecursive`: create, creating missing parents (null data) on NONODE. */
  private async createRecursive(path: string, data: string | null): Promise<void> {
    const r = await this.must(this.main.create(path, data), ErrorCode.NONODE, ErrorCode.NODEEXISTS);
    if (r.err === ErrorCode.NONODE) {
      await this.createRecursive(path.slice(0, path.lastIndexOf('/')), null);
      await this.must(this.main.create(path, data), ErrorCode.NODEEXISTS);
    }
  }

  /** What a first broker startup wrote: the chroot, the persistent paths, the cluster id, /feature. */
  async bootstrap(image: MetadataImageView, controller: Controller): Promise<void> {
    if (this.chroot !== '') {
      const root = await ZkSession.open(this.address, 'mirror-root');
      await this.must(root.create(this.chroot, null));
      await root.close();
    }
    this.main = await ZkSession.open(this.address, 'mirror', this.chroot);
    // ZkData.PersistentZkPaths, in order, then ConfigType.ALL; parents on demand.
    for (const p of [
      '/consumers',
      '/brokers/ids',
      '/brokers/topics',
      '/config/changes',
      '/admin/delete_topics',
      '/brokers/seqid',
      '/isr_change_notification',
      '/latest_producer_id_block',
      '/log_dir_event_notification',
      '/config/topics',
      '/config/clients',
      '/config/users',
      '/config/brokers',
      '/config/ips',
    ])
      await this.createRecursive(p, null);
    await this.createRecursive('/cluster/id', JSON.stringify({ version: '1', id: image.cluster.clusterId }));
    // The controller's epoch znode starts at "0" (version 0); each election sets epoch + 1.
    await this.must(this.main.create('/controller_epoch', '0'));
    await this.must(
      this.main.create(
        '/feature',
        JSON.stringify({
          version: 2,
          status: 1,
          features: Object.fromEntries(
            [...image.features.all()].map(([name, level]) => [name, { max_version_level: level }]),
          ),
        }),
      ),
    );
    await this.sync(image, controller);
  }

  /** Brings ZooKeeper to `image` with Kafka's writes (see the class comment). */
  async sync(image: MetadataImageView, controller: Controller): Promise<void> {
    await this.syncController(controller);
    await this.syncBrokers(image);
    await this.syncTopics(image);
    await this.syncConfigs(image);
    await this.syncOffsets(image);
  }

  /**
   * A KRaft controller taking over (KIP-866): one multi setting /controller_epoch, deleting the old
   * /controller and creating a persistent one. Elections Kafka would have made in between each set
   * the epoch once, so /controller_epoch's version is the epoch.
   */
  private async syncController(c: Controller): Promise<void> {
    const old = this.controller;
    if (old !== undefined && old.id === c.id && old.epoch === c.epoch) return;
    for (let e = (old?.epoch ?? 0) + 1; e < c.epoch; e++)
      await this.must(this.main.setData('/controller_epoch', String(e), -1));
    const json = JSON.stringify({
      version: 2,
      brokerid: c.id,
      timestamp: String(Date.now()),
      kraftControllerEpoch: c.epoch,
    });
    await this.must(
      this.main.multi([
        { op: 'setData', path: '/controller_epoch', data: String(c.epoch), version: -1 },
        ...(old === undefined ? [] : [{ op: 'delete' as const, path: '/controller', version: -1 }]),
        { op: 'create', path: '/controller', data: json },
      ]),
    );
    this.controller = c;
  }

  /** A fenced broker's session ends (its ephemeral goes); an unfenced one registers (create + setData multi). */
  private async syncBrokers(image: MetadataImageView): Promise<void> {
    for (const [id, b] of [...this.brokers]) {
      const now = image.cluster.broker(id);
      if (now === undefined || now.fenced || now.epoch !== b.epoch) {
        await b.session.close();
        this.brokers.delete(id);
        await waitFor(
          async () => (await this.main.exists(`/brokers/ids/${id}`, false, { record: false })).err !== 0,
          `broker ${id}'s ephemeral to go with its session`,
        );
      }
    }
    for (const b of image.cluster.brokers()) {
      if (b.fenced || this.brokers.has(b.id)) continue;
      const session = await ZkSession.open(this.address, `broker-${b.id}`, this.chroot);
      const path = `/brokers/ids/${b.id}`;
      const r = await session.multi([
        { op: 'create', path, data: null, ephemeral: true },
        { op: 'setData', path, data: brokerJson(b), version: 0 },
      ]);
      if (r.err !== 0 || r.results?.some((x) => x.err !== 0))
        throw new Error(`broker ${b.id}'s registration failed: ${JSON.stringify(r)}`);
      this.brokers.set(b.id, { session, epoch: b.epoch });
    }
  }

  private async syncTopics(image: MetadataImageView): Promise<void> {
    const epoch = this.controller?.epoch ?? 0;
    // TopicDeletionManager.completeDeleteTopic: the topic znode recursively, its configs, the marker.
    for (const [name, known] of [...this.topics]) {
      if (image.topics.byName(name)?.id === known.id) continue;
      for (let p = 0; p < known.partitions.length; p++) {
        await this.must(this.main.delete(`/brokers/topics/${name}/partitions/${p}/state`, -1));
        await this.must(this.main.delete(`/brokers/topics/${name}/partitions/${p}`, -1));
      }
      await this.must(this.main.delete(`/brokers/topics/${name}/partitions`, -1));
      await this.must(this.main.delete(`/brokers/topics/${name}`, -1));
      await this.must(this.main.delete(`/config/topics/${name}`, -1), ErrorCode.NONODE);
      await this.must(this.main.delete(`/admin/delete_topics/${name}`, -1), ErrorCode.NONODE);
      this.topics.delete(name);
    }
    for (const t of image.topics.topics()) {
      const known = this.topics.get(t.name);
      const states = t.partitions.map((p, i) => ({
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        isr: p.isr,
        partitionEpoch: p.partitionEpoch,
        // The epoch of the controller writing the state (kept until the partition changes again).
        controllerEpoch:
          known?.partitions[i]?.partitionEpoch === p.partitionEpoch
            ? known.partitions[i]!.controllerEpoch
            : epoch,
      }));
      if (known === undefined) {
        // AdminZkClient.createTopicWithAssignment: the config znode, then the assignment (a client's
        // admin write may have made the latter already).
        const config = image.configs.get(TOPIC_CONFIG, t.name);
        const configPath = `/config/topics/${t.name}`;
        await this.must(this.main.create(configPath, configJson(config?.values)), ErrorCode.NODEEXISTS);
        const assignment = JSON.stringify({
          version: 3,
          topic_id: t.id,
          partitions: Object.fromEntries(t.partitions.map((p, i) => [String(i), p.replicas])),
          adding_replicas: {},
          removing_replicas: {},
        });
        const made = await this.must(
          this.main.create(`/brokers/topics/${t.name}`, assignment),
          ErrorCode.NODEEXISTS,
        );
        if (made.err === ErrorCode.NODEEXISTS) {
          // A client's admin write made it: the controller (2.8+, setTopicIds) writes the topic id into
          // an assignment without one.
          const written = await this.main.getData(`/brokers/topics/${t.name}`, false, { record: false });
          if (!written.data?.includes('topic_id'))
            await this.must(this.main.setData(`/brokers/topics/${t.name}`, assignment, -1));
        }
        // The controller (KafkaZkClient.createTopicPartitionStatesRaw): partitions, each partition, each state.
        const base = `/brokers/topics/${t.name}/partitions`;
        await this.must(this.main.create(base, null));
        for (let p = 0; p < states.length; p++) await this.must(this.main.create(`${base}/${p}`, null));
        for (let p = 0; p < states.length; p++) {
          await this.must(this.main.create(`${base}/${p}/state`, stateJson(states[p]!)));
          for (let v = 0; v < states[p]!.partitionEpoch; v++)
            await this.must(this.main.setData(`${base}/${p}/state`, stateJson(states[p]!), -1));
        }
        this.topics.set(t.name, { id: t.id, partitions: states });
        continue;
      }
      // Leader and ISR changes: one conditional setData per partition epoch.
      for (let p = 0; p < states.length; p++) {
        const was = known.partitions[p]!;
        const now = states[p]!;
        for (let v = was.partitionEpoch; v < now.partitionEpoch; v++)
          await this.must(
            this.main.setData(`/brokers/topics/${t.name}/partitions/${p}/state`, stateJson(now), v),
          );
        known.partitions[p] = now;
      }
    }
    // The controller drops every deletion marker it has processed (or found no topic for).
    const markers = await this.main.getChildren('/admin/delete_topics', false, { record: false });
    for (const m of markers.children ?? [])
      await this.must(this.main.delete(`/admin/delete_topics/${m}`, -1));
    // The controller deletes a processed preferred replica election.
    await this.must(this.main.delete('/admin/preferred_replica_election', -1), ErrorCode.NONODE);
  }

  /** AdminZkClient.changeConfigs: a setData per alteration, or a create for a new entity. */
  private async syncConfigs(image: MetadataImageView): Promise<void> {
    for (const type of [TOPIC_CONFIG, BROKER_CONFIG] as const) {
      for (const [name, configs] of image.configs.resources(type)) {
        if (type === TOPIC_CONFIG && image.topics.byName(name) === undefined) continue;
        const path =
          type === TOPIC_CONFIG
            ? `/config/topics/${name}`
            : `/config/brokers/${name === '' ? '<default>' : name}`;
        await this.writeVersions(path, configJson(configs.values), configs.version);
      }
    }
  }

  /** KafkaZkClient.setOrCreateConsumerOffset: a setData per commit, or createRecursive for the first. */
  private async syncOffsets(image: MetadataImageView): Promise<void> {
    for (const g of image.offsets.groups()) {
      for (const [topic, partition, c] of g.entries()) {
        const path = `/consumers/${g.groupId}/offsets/${topic}/${partition}`;
        await this.writeVersions(path, String(c.offset), c.version);
      }
    }
  }

  /**
   * Writes `data` at `path` until the znode is at `version`, creating it first if it is missing. The
   * version is read back from ZooKeeper, since the scripts' own admin writes change these znodes too.
   */
  private async writeVersions(path: string, data: string, version: number): Promise<void> {
    const r = await this.must(this.main.exists(path, false, { record: false }), ErrorCode.NONODE);
    if (r.err === ErrorCode.NONODE) await this.createRecursive(path, data);
    for (let at = r.stat?.version ?? 0; at < version; at++)
      await this.must(this.main.setData(path, data, at));
  }

  async close(): Promise<void> {
    for (const b of this.brokers.values()) await b.session.close();
    await this.main?.close();
  }
}

// ------------------------------------------------------------------------------------ sessions in pairs

/** One client session on each side, driven by the same script. */
export class Pair {
  constructor(
    readonly label: string,
    readonly zk: ZkSession,
    readonly kb: ZkSession,
  ) {}

  /** Runs `f` on both sessions (each with its own replies): [ZooKeeper's, kbroker's]. */
  do<T>(f: (s: ZkSession) => Promise<T>): Promise<[T, T]> {
    return Promise.all([f(this.zk), f(this.kb)]);
  }

  /**
   * A read left out of the log: its reply comes after every event of the changes the server had applied
   * when it read, on both sides, so events are logged up to there.
   */
  async barrier(): Promise<void> {
    await this.do((s) => s.exists('/', false, { record: false }));
  }

  async close(): Promise<void> {
    await this.do((s) => s.close());
  }
}

// ------------------------------------------------------------------------------------------- comparing

const EVENT_NAMES = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k]));

/**
 * Data as compared: JSON by value (Kafka wrote it from maps, key order means nothing), anything else
 * as text, null (a znode created without data) apart from empty.
 */
function normaliseData(path: string, data: string | null | undefined): unknown {
  if (data === undefined || data === null) return data;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { text: data };
  }
  if (typeof json !== 'object' || json === null) return { text: data };
  const j = { ...(json as Record<string, unknown>) };
  // /controller's timestamp is the wall clock of the takeover: kbroker's is the time of the first
  // metadata batch of the new term, the mirror's the moment it wrote the znode.
  if (/(^|\/)controller$/.test(path) && 'timestamp' in j) j.timestamp = '<takeover time>';
  return { json: j };
}

/**
 * A stat as compared: every counter, and whether the znode is ephemeral. zxids are compared by their
 * order ({@link checkZxidOrder}); ctime/mtime are wall clocks (kbroker's are metadata record times);
 * ephemeralOwner is a session id, which each server assigns its own way.
 */
/**
 * The parents of Kafka's admin markers (`/admin/delete_topics/<t>`, `/admin/preferred_replica_election`):
 * ZooKeeper counts each marker's creation and the controller's deletion in their cversion and pzxid;
 * kbroker acts on the write at once and never shows a marker (docs/zookeeper.md).
 */
const markerParent = (path: string) => /(^|\/)admin(\/delete_topics)?$/.test(path);

function normaliseStat(path: string, s: Stat | undefined) {
  if (s === undefined) return undefined;
  return {
    version: s.version,
    cversion: markerParent(path) ? '<markers>' : s.cversion,
    aversion: s.aversion,
    numChildren: s.numChildren,
    dataLength: s.dataLength,
    ephemeral: s.ephemeralOwner !== 0n,
  };
}

function normaliseReply(r: Reply): Record<string, unknown> {
  const out: Record<string, unknown> = { op: r.op, path: r.path, err: r.err };
  if (r.data !== undefined) out.data = normaliseData(r.path, r.data);
  // ZooKeeper does not order children.
  if (r.children !== undefined) out.children = [...r.children].sort();
  if (r.stat !== undefined) out.stat = normaliseStat(r.path, r.stat);
  if (r.count !== undefined) out.count = r.count;
  if (r.created !== undefined) out.created = r.created;
  if (r.results !== undefined) out.results = r.results.map(normaliseReply);
  return out;
}

export function normalise(log: readonly LogEntry[]): unknown[] {
  return log.map((e) =>
    e.kind === 'event' ? { event: EVENT_NAMES[e.type] ?? e.type, path: e.path } : normaliseReply(e),
  );
}

interface ZxidSeen {
  readonly what: string;
  readonly zxid: bigint;
}

function zxidsOf(log: readonly LogEntry[]): ZxidSeen[] {
  const out: ZxidSeen[] = [];
  const visit = (r: Reply, at: string) => {
    // A broker's registration znode keeps the registration's offset as czxid (Kafka reads it as the
    // broker epoch) while it appears when the broker is unfenced, later: left out (docs/zookeeper.md).
    if (r.stat !== undefined && !/\/brokers\/ids\/\d+$/.test(r.path)) {
      out.push({ what: `${at} ${r.op} ${r.path} czxid`, zxid: r.stat.czxid });
      out.push({ what: `${at} ${r.op} ${r.path} mzxid`, zxid: r.stat.mzxid });
      if (!markerParent(r.path)) out.push({ what: `${at} ${r.op} ${r.path} pzxid`, zxid: r.stat.pzxid });
    }
    r.results?.forEach((x, i) => {
      visit(x, `${at}.${i}`);
    });
  };
  for (const [i, e] of log.entries()) if (e.kind === 'reply') visit(e, `#${i}`);
  return out;
}

/**
 * zxids by their relative order, since the two servers number transactions differently: a zxid is at
 * or before the baseline (the layout written before the script) on both sides or on neither; after it,
 * equal zxids on ZooKeeper are equal on kbroker, and increasing ones do not decrease. kbroker may show
 * equal zxids where ZooKeeper's differ: one metadata batch (a topic with its partitions) is one zxid
 * there, and several transactions of Kafka's controller here.
 */
export function checkZxidOrder(
  zk: readonly ZxidSeen[],
  kb: readonly ZxidSeen[],
  baseline: { readonly zk: bigint; readonly kb: bigint },
): string[] {
  const problems: string[] = [];
  for (let i = 0; i < zk.length; i++) {
    const a = zk[i]!;
    const ka = kb[i]!;
    if (a.zxid <= baseline.zk !== ka.zxid <= baseline.kb)
      problems.push(
        `${a.what}: ${a.zxid <= baseline.zk ? 'before' : 'after'} the baseline on ZooKeeper only`,
      );
    if (a.zxid <= baseline.zk) continue;
    for (let j = i + 1; j < zk.length; j++) {
      const b = zk[j]!;
      const kb2 = kb[j]!;
      if (b.zxid <= baseline.zk) continue;
      const zo = a.zxid === b.zxid ? 0 : a.zxid < b.zxid ? -1 : 1;
      const ko = ka.zxid === kb2.zxid ? 0 : ka.zxid < kb2.zxid ? -1 : 1;
      if (zo === 0 ? ko !== 0 : ko === -zo)
        problems.push(
          `${a.what} vs ${b.what}: ZooKeeper ${zo} (${a.zxid}, ${b.zxid}), kbroker ${ko} (${ka.zxid}, ${kb2.zxid})`,
        );
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------------------ the harness

export interface DifferentialOptions {
  /** kbroker nodes (3 where fencing matters). */
  readonly nodes?: number;
  /** Kafka's chroot: kbroker's `--zookeeper-chroot`, the mirror's `zookeeper.connect` suffix. */
  readonly chroot?: string;
  /** Metadata made through kbroker before the layout is mirrored (the baseline). */
  readonly setup?: (d: Differential) => Promise<void>;
}

/** A real ZooKeeper and a kbroker cluster holding the same Kafka metadata (see the module comment). */
export class Differential {
  baseline = { zk: 0n, kb: 0n };
  private readonly pairs = new Set<Pair>();

  private constructor(
    readonly zk: RealZooKeeper,
    readonly cluster: InProcessCluster,
    readonly client: Kbroker,
    readonly mirror: KafkaOnZooKeeper,
    /** The node whose view the kbroker sessions use (the active controller, never killed). */
    readonly served: number,
    /** A broker that tests may kill and restart (neither the controller nor the served node). */
    readonly victim: number,
    readonly chroot: string,
  ) {}

  static async start(options: DifferentialOptions = {}): Promise<Differential> {
    const chroot = options.chroot ?? '';
    const zk = await startZooKeeper();
    let cluster: InProcessCluster | undefined;
    try {
      cluster = await startCluster({
        nodes: options.nodes ?? 3,
        zookeeper: true,
        ...(chroot === '' ? {} : { zookeeperChroot: chroot }),
        sessionTimeoutMs: 1500,
        brokerHeartbeatIntervalMs: 300,
      });
      const client = new Kbroker({ brokers: cluster.brokers });
      const served = (await cluster.controller()).nodeId;
      const victim = Math.max(...cluster.nodes.map((n) => n.nodeId).filter((id) => id !== served));
      const d = new Differential(
        zk,
        cluster,
        client,
        new KafkaOnZooKeeper(zk.connectString, chroot),
        served,
        victim,
        chroot,
      );
      await options.setup?.(d);
      await d.mirror.bootstrap(d.image(), d.controller());
      const probe = await d.pair('baseline');
      await probe.barrier();
      d.baseline = { zk: probe.zk.lastZxid, kb: probe.kb.lastZxid };
      await d.closePair(probe);
      return d;
    } catch (err) {
      await cluster?.stop();
      await zk.stop();
      throw err;
    }
  }

  /** The served node's metadata image. */
  image(): MetadataImageView {
    const node = this.cluster.node(this.served).node;
    if (node === undefined) throw new Error(`node ${this.served} is not running`);
    return node.metadata.image;
  }

  /** The controller as the served node knows it: /controller's broker id, and the epoch. */
  controller(): Controller {
    const node = this.cluster.node(this.served).node!;
    return { id: node.raft.status().leaderId, epoch: this.image().provenance.epoch };
  }

  zookeeperAddress(nodeId = this.served): string {
    const a = this.cluster.node(nodeId).node?.zookeeperAddress();
    if (a === undefined) throw new Error(`node ${nodeId} serves no zookeeper view`);
    return a;
  }

  /** A session on each side; `chroot` is the client's own (a connect string's `/kafka`). */
  async pair(label: string, chroot = this.chroot): Promise<Pair> {
    const [zk, kb] = await Promise.all([
      ZkSession.open(this.zk.connectString, `${label}@zookeeper`, chroot),
      ZkSession.open(this.zookeeperAddress(), `${label}@kbroker`, chroot),
    ]);
    const p = new Pair(label, zk, kb);
    this.pairs.add(p);
    return p;
  }

  async closePair(p: Pair): Promise<void> {
    this.pairs.delete(p);
    await p.close();
  }

  /**
   * After kbroker's metadata changed: waits until the served node's image satisfies `until`, makes
   * Kafka's writes for it in ZooKeeper, then puts a barrier on every open pair so both logs hold the
   * events of the change.
   */
  async settle(
    until: (image: MetadataImageView) => boolean = () => true,
    what = 'the change',
  ): Promise<void> {
    await waitFor(() => until(this.image()), `${what} in node ${this.served}'s image`, 30_000);
    await this.mirror.sync(this.image(), this.controller());
    for (const p of this.pairs) await p.barrier();
  }

  /** Both logs of `p`, normalised, are equal, and their zxids in the same order. */
  expectSame(p: Pair): void {
    // DIFF_DUMP=<dir>: both normalised logs side by side, for reading a disagreement.
    const dump = process.env.DIFF_DUMP;
    if (dump !== undefined) {
      const zk = normalise(p.zk.log);
      const kb = normalise(p.kb.log);
      const rows = zk.map((z, i) => ({ same: isDeepStrictEqual(z, kb[i]), zookeeper: z, kbroker: kb[i] }));
      writeFileSync(`${dump}/${p.label.replace(/\W+/g, '-')}.json`, JSON.stringify(rows, null, 1));
    }
    expect(normalise(p.kb.log), `${p.label}: kbroker's log (expected: ZooKeeper's)`).toEqual(
      normalise(p.zk.log),
    );
    expect(
      checkZxidOrder(zxidsOf(p.zk.log), zxidsOf(p.kb.log), this.baseline),
      `${p.label}: zxid order`,
    ).toEqual([]);
  }

  async stop(): Promise<void> {
    for (const p of [...this.pairs]) await this.closePair(p).catch(() => {});
    await this.mirror.close().catch(() => {});
    await this.client.disconnect().catch(() => {});
    await this.cluster.stop();
    await this.zk.stop();
  }
}
