/**
 * Parses the znodes of a ZooKeeper-era Kafka layout into what the migration copies, and reports every
 * znode it cannot use: malformed (path + reason; the thing is left out), blocking (the migration must
 * not run: data kbroker cannot hold yet would be lost) or only warned about.
 *
 * Every JSON version Kafka wrote is read (see ../shared/reference/kafka-zk-layout.md): topic znodes v1-v3
 * (v2's KIP-455 reassignment maps, v3's topic id), partition state v1 (with KIP-704's
 * `leader_recovery_state`), config entities v1, `/feature` v1/v2, broker znodes v1-v5, `/cluster/id`
 * with its version as a string (or, leniently, a number), and the old consumer's decimal offsets.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SourceTree } from './source.js';

export type Severity = 'blocker' | 'malformed' | 'warning';

export interface Issue {
  readonly severity: Severity;
  readonly path: string;
  readonly reason: string;
}

export interface SourcePartition {
  readonly id: number;
  readonly replicas: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  /** 0 RECOVERED, 1 RECOVERING (KIP-704). */
  readonly leaderRecoveryState: 0 | 1;
  /** The state znode's version: Kafka's partition epoch (KIP-866 keeps it). */
  readonly partitionEpoch: number;
  readonly controllerEpoch: number;
  readonly mtime: number;
}

export interface SourceTopic {
  readonly name: string;
  /** Its Kafka topic id, or null for a topic created before Kafka had ids (a new one is derived). */
  readonly id: string | null;
  /** The topic znode's JSON version (1-3). */
  readonly version: number;
  readonly czxid: string;
  readonly ctime: number;
  readonly partitions: readonly SourcePartition[];
}

export interface SourceOffset {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly mtime: number;
}

export interface SourceBroker {
  readonly id: number;
  readonly version: number;
  readonly endpoints: readonly string[];
}

export interface KafkaLayout {
  readonly source: string;
  readonly clusterId: string | null;
  /** `/controller_epoch` (0 when absent). */
  readonly controllerEpoch: number;
  readonly brokers: readonly SourceBroker[];
  /** Sorted by name. */
  readonly topics: readonly SourceTopic[];
  /** Topic name -> configs, for migrated topics only. */
  readonly topicConfigs: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Broker id (or '<default>') -> configs. */
  readonly brokerConfigs: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly offsets: readonly SourceOffset[];
  /** Finalized feature levels from `/feature` (absent or disabled: none). */
  readonly features: ReadonlyMap<string, number>;
  readonly issues: readonly Issue[];
}

/** The ids Kafka reserves: Uuid.ZERO_UUID and the metadata topic's id. */
const RESERVED_IDS = new Set(['AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAQ']);
const UUID = /^[A-Za-z0-9_-]{22}$/;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const CLUSTER_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;
const LONG = /^-?(0|[1-9][0-9]{0,18})$/;

const isInt = (v: unknown, min = 0): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= 0x7fffffff;

function intList(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || !v.every((x) => isInt(x))) return undefined;
  return v as number[];
}

class Problem extends Error {}

function json(tree: SourceTree, path: string): Record<string, unknown> {
  const text = tree.text(path);
  if (text === null || text === undefined || text === '') throw new Problem('no data (expected JSON)');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Problem(`not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Problem('JSON is not an object');
  return v as Record<string, unknown>;
}

function version(obj: Record<string, unknown>, accepted: readonly number[]): number {
  const v = typeof obj.version === 'string' && DECIMAL.test(obj.version) ? Number(obj.version) : obj.version;
  if (!isInt(v) || !accepted.includes(v)) {
    throw new Problem(`unsupported version ${JSON.stringify(obj.version)} (expected ${accepted.join(', ')})`);
  }
  return v;
}

/** A JSON map from decimal partition ids to replica lists (topic znode `partitions` and v2's maps). */
function partitionMap(v: unknown, what: string): Map<number, number[]> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Problem(`${what} is not an object`);
  const out = new Map<number, number[]>();
  for (const [k, replicas] of Object.entries(v)) {
    if (!DECIMAL.test(k)) throw new Problem(`${what}: partition key ${JSON.stringify(k)} is not a number`);
    const list = intList(replicas);
    if (list === undefined) throw new Problem(`${what}: partition ${k} replicas are not broker ids`);
    if (new Set(list).size !== list.length) throw new Problem(`${what}: partition ${k} lists a broker twice`);
    out.set(Number(k), list);
  }
  return out;
}

function configMap(tree: SourceTree, path: string): Record<string, string> {
  const obj = json(tree, path);
  version(obj, [1]);
  const config = obj.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new Problem('config is not an object');
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') throw new Problem(`config ${k} is not a string (${JSON.stringify(v)})`);
    if (k === '') throw new Problem('a config has an empty name');
  }
  return config as Record<string, string>;
}

/** Parses `tree`; never throws for bad data (everything bad becomes an issue). */
export function parseLayout(tree: SourceTree): KafkaLayout {
  const issues: Issue[] = [];
  const issue = (severity: Severity, path: string, reason: string) => issues.push({ severity, path, reason });
  /** Runs `f`, turning a Problem into a `severity` issue at `path`; undefined then. */
  const attempt = <T>(path: string, severity: Severity, f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      issue(severity, path, err.message);
      return undefined;
    }
  };

  // --- /cluster/id, /controller_epoch, /controller, /migration ------------------------------------
  let clusterId: string | null = null;
  if (tree.get('/cluster/id') === undefined) {
    issue(
      'blocker',
      '/cluster/id',
      'missing: no Kafka broker ever started against this ZooKeeper path (wrong chroot?)',
    );
  } else {
    clusterId =
      attempt('/cluster/id', 'blocker', () => {
        const obj = json(tree, '/cluster/id');
        version(obj, [1]);
        if (typeof obj.id !== 'string' || !CLUSTER_ID.test(obj.id))
          throw new Problem(`invalid cluster id ${JSON.stringify(obj.id)}`);
        return obj.id;
      }) ?? null;
  }
  let controllerEpoch = 0;
  const epochText = tree.text('/controller_epoch');
  if (epochText !== undefined) {
    controllerEpoch =
      attempt('/controller_epoch', 'blocker', () => {
        const t = (epochText ?? '').trim();
        if (!DECIMAL.test(t)) throw new Problem(`not a decimal epoch: ${JSON.stringify(epochText)}`);
        return Number(t);
      }) ?? 0;
  }
  if (tree.get('/controller') !== undefined) {
    attempt('/controller', 'warning', () => {
      const obj = json(tree, '/controller');
      version(obj, [1, 2]);
      const k = obj.kraftControllerEpoch;
      if (isInt(k, 1)) {
        throw new Problem(
          `held by a KRaft controller (epoch ${k}): a KIP-866 migration already took this cluster over`,
        );
      }
      throw new Problem(
        `broker ${String(obj.brokerid)} is the ZooKeeper-mode controller: stop writes (admin tools, controller) before running the migration, or re-run it after`,
      );
    });
  }
  if (tree.get('/migration') !== undefined) {
    issue(
      'warning',
      '/migration',
      'a KIP-866 migration znode exists: this cluster was (partly) migrated by Kafka before',
    );
  }

  // --- /brokers/ids --------------------------------------------------------------------------------
  const brokers: SourceBroker[] = [];
  for (const name of tree.children('/brokers/ids')) {
    const path = `/brokers/ids/${name}`;
    const b = attempt(path, 'warning', () => {
      if (!DECIMAL.test(name)) throw new Problem('broker id is not a number');
      const obj = json(tree, path);
      const v = version(obj, [1, 2, 3, 4, 5]);
      let endpoints: string[] = [];
      if (v >= 2) {
        if (!Array.isArray(obj.endpoints) || !obj.endpoints.every((e) => typeof e === 'string'))
          throw new Problem('endpoints is not a list of strings');
        endpoints = obj.endpoints as string[];
      } else {
        if (typeof obj.host !== 'string' || !isInt(obj.port)) throw new Problem('v1 without host and port');
        endpoints = [`PLAINTEXT://${obj.host}:${obj.port}`];
      }
      return { id: Number(name), version: v, endpoints };
    });
    if (b !== undefined) brokers.push(b);
  }

  // --- /brokers/topics -----------------------------------------------------------------------------
  const topics: SourceTopic[] = [];
  const seenIds = new Map<string, string>();
  for (const name of tree.children('/brokers/topics')) {
    const path = `/brokers/topics/${name}`;
    const node = tree.get(path);
    if (node === undefined) continue;
    const topic = attempt(path, 'malformed', (): SourceTopic => {
      if (!TOPIC_NAME.test(name) || name === '.' || name === '..')
        throw new Problem('invalid topic name (Kafka allows [a-zA-Z0-9._-], at most 249)');
      const obj = json(tree, path);
      const v = version(obj, [1, 2, 3]);
      const assignment = partitionMap(obj.partitions, 'partitions');
      if (assignment.size === 0) throw new Problem('no partitions');
      for (let p = 0; p < assignment.size; p++) {
        if (!assignment.has(p))
          throw new Problem(`partition ids are not 0..${assignment.size - 1} (no ${p})`);
      }
      for (const key of ['adding_replicas', 'removing_replicas'] as const) {
        if (obj[key] === undefined) continue;
        const m = partitionMap(obj[key], key);
        for (const [p, list] of m) {
          if (list.length > 0) {
            issue(
              'blocker',
              path,
              `partition ${p} is being reassigned (${key} ${JSON.stringify(list)}); wait for the reassignment to finish`,
            );
          }
        }
      }
      let id: string | null = null;
      if (obj.topic_id !== undefined && obj.topic_id !== null) {
        if (typeof obj.topic_id !== 'string' || !UUID.test(obj.topic_id))
          throw new Problem(`invalid topic_id ${JSON.stringify(obj.topic_id)}`);
        if (RESERVED_IDS.has(obj.topic_id))
          throw new Problem(`topic_id ${obj.topic_id} is reserved by Kafka`);
        id = obj.topic_id;
      }
      const partitions: SourcePartition[] = [];
      const partsPath = `${path}/partitions`;
      for (let p = 0; p < assignment.size; p++) {
        const statePath = `${partsPath}/${p}/state`;
        const state = tree.get(statePath);
        if (state === undefined) throw new Problem(`partition ${p} has no state znode (${statePath})`);
        const s = attempt(statePath, 'malformed', () => {
          const obj = json(tree, statePath);
          version(obj, [1]);
          const isr = intList(obj.isr);
          if (
            !isInt(obj.leader, -1) ||
            !isInt(obj.leader_epoch) ||
            isr === undefined ||
            !isInt(obj.controller_epoch)
          )
            throw new Problem('leader, leader_epoch, isr and controller_epoch must be numbers (isr a list)');
          const lrs = obj.leader_recovery_state ?? 0;
          if (lrs !== 0 && lrs !== 1)
            throw new Problem(`leader_recovery_state ${JSON.stringify(lrs)} is not 0 or 1`);
          return {
            id: p,
            replicas: assignment.get(p)!,
            leader: obj.leader as number,
            leaderEpoch: obj.leader_epoch as number,
            isr,
            leaderRecoveryState: lrs as 0 | 1,
            partitionEpoch: state.stat.version,
            controllerEpoch: obj.controller_epoch as number,
            mtime: state.stat.mtime,
          } satisfies SourcePartition;
        });
        if (s === undefined) throw new Problem(`partition ${p} has a malformed state; the topic is left out`);
        partitions.push(s);
      }
      if (id !== null) {
        const other = seenIds.get(id);
        if (other !== undefined) throw new Problem(`topic_id ${id} is also topic ${other}'s`);
        seenIds.set(id, name);
      }
      return { name, id, version: v, czxid: node.stat.czxid, ctime: node.stat.ctime, partitions };
    });
    if (topic !== undefined) topics.push(topic);
  }
  topics.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const topicNames = new Set(topics.map((t) => t.name));
  const allTopicZnodes = new Set(tree.children('/brokers/topics'));

  // --- /config -------------------------------------------------------------------------------------
  const topicConfigs = new Map<string, Record<string, string>>();
  for (const name of tree.children('/config/topics')) {
    const path = `/config/topics/${name}`;
    const config = attempt(path, 'malformed', () => configMap(tree, path));
    if (config === undefined) continue;
    if (!topicNames.has(name)) {
      if (!allTopicZnodes.has(name) && Object.keys(config).length > 0)
        issue('warning', path, 'configs of a topic that does not exist: not migrated');
      continue;
    }
    if (Object.keys(config).length > 0) topicConfigs.set(name, config);
  }
  const brokerConfigs = new Map<string, Record<string, string>>();
  for (const entity of tree.children('/config/brokers')) {
    const path = `/config/brokers/${entity}`;
    const config = attempt(path, 'malformed', () => {
      if (entity !== '<default>' && !DECIMAL.test(entity))
        throw new Problem('entity is neither a broker id nor <default>');
      return configMap(tree, path);
    });
    if (config !== undefined && Object.keys(config).length > 0) brokerConfigs.set(entity, config);
  }
  for (const type of ['users', 'clients', 'ips']) {
    for (const entity of tree.children(`/config/${type}`)) {
      const path = `/config/${type}/${entity}`;
      const config = attempt(path, 'warning', () => configMap(tree, path));
      if (config === undefined) continue;
      const scram = Object.keys(config).filter((k) => k.startsWith('SCRAM-'));
      if (scram.length > 0)
        issue('blocker', path, `SCRAM credentials (${scram.join(', ')}) cannot be migrated yet`);
      const quotas = Object.keys(config).filter((k) => !k.startsWith('SCRAM-'));
      if (quotas.length > 0 || tree.children(path).length > 0)
        issue(
          'warning',
          path,
          `${type} quotas are not migrated (${quotas.join(', ') || 'nested client quotas'})`,
        );
    }
  }

  // --- /consumers (the old consumer's offsets) -----------------------------------------------------
  const offsets: SourceOffset[] = [];
  for (const group of tree.children('/consumers')) {
    const g = `/consumers/${group}`;
    for (const child of tree.children(g)) {
      if (child === 'offsets') continue;
      if ((child === 'ids' || child === 'owners') && tree.children(`${g}/${child}`).length > 0) {
        issue('warning', `${g}/${child}`, 'a ZooKeeper-based consumer is still running in this group');
      }
    }
    for (const topic of tree.children(`${g}/offsets`)) {
      for (const part of tree.children(`${g}/offsets/${topic}`)) {
        const path = `${g}/offsets/${topic}/${part}`;
        const node = tree.get(path);
        if (node === undefined) continue;
        const offset = attempt(path, 'malformed', () => {
          if (!DECIMAL.test(part)) throw new Problem('partition is not a number');
          const text = (tree.text(path) ?? '').trim();
          if (!LONG.test(text))
            throw new Problem(`offset ${JSON.stringify(tree.text(path))} is not a decimal number`);
          const n = Number(text);
          if (!Number.isSafeInteger(n) || n < -1) throw new Problem(`offset ${text} is out of range`);
          return n;
        });
        if (offset !== undefined)
          offsets.push({ group, topic, partition: Number(part), offset, mtime: node.stat.mtime });
      }
    }
  }
  offsets.sort((a, b) =>
    a.group !== b.group
      ? a.group < b.group
        ? -1
        : 1
      : a.topic !== b.topic
        ? a.topic < b.topic
          ? -1
          : 1
        : a.partition - b.partition,
  );

  // --- /feature ------------------------------------------------------------------------------------
  const features = new Map<string, number>();
  if (tree.get('/feature') !== undefined) {
    attempt('/feature', 'malformed', () => {
      const obj = json(tree, '/feature');
      version(obj, [1, 2]);
      if (obj.status === 0) return;
      if (obj.status !== 1) throw new Problem(`status ${JSON.stringify(obj.status)} is not 0 or 1`);
      const f = obj.features;
      if (typeof f !== 'object' || f === null || Array.isArray(f))
        throw new Problem('features is not an object');
      for (const [name, level] of Object.entries(f)) {
        const max = (level as { max_version_level?: unknown } | null)?.max_version_level;
        if (!isInt(max)) throw new Problem(`feature ${name} has no max_version_level`);
        if (name === 'metadata.version') {
          issue('warning', '/feature', 'metadata.version is not migrated (kbroker keeps its own)');
          continue;
        }
        if (max > 0) features.set(name, max);
      }
    });
  }

  // --- What blocks -----------------------------------------------------------------------------------
  const aclPaths = [...tree.nodes.keys()].filter(
    (p) =>
      /^\/kafka-acl(-extended)?\//.test(p) && tree.get(p)!.stat.numChildren === 0 && !/-changes\//.test(p),
  );
  for (const p of aclPaths) {
    const n = tree.get(p)!;
    const depth = p.split('/').length - 1;
    if (n.data !== null && depth >= (p.startsWith('/kafka-acl-extended/') ? 4 : 3)) {
      issue('blocker', p, 'ACLs cannot be migrated yet');
    }
  }
  for (const id of tree.children('/delegation_token/tokens')) {
    issue('blocker', `/delegation_token/tokens/${id}`, 'delegation tokens cannot be migrated yet');
  }
  if (tree.get('/admin/reassign_partitions') !== undefined) {
    issue(
      'blocker',
      '/admin/reassign_partitions',
      'a partition reassignment is pending; wait for it to finish',
    );
  }
  for (const t of tree.children('/admin/delete_topics')) {
    issue(
      'blocker',
      `/admin/delete_topics/${t}`,
      `topic ${t} is pending deletion; wait for the controller to delete it`,
    );
  }
  if (tree.get('/admin/preferred_replica_election') !== undefined) {
    issue(
      'warning',
      '/admin/preferred_replica_election',
      'a preferred replica election is pending; it is not migrated',
    );
  }

  return {
    source: tree.source,
    clusterId,
    controllerEpoch,
    brokers,
    topics,
    topicConfigs,
    brokerConfigs,
    offsets,
    features,
    issues,
  };
}

/** Counts for preflight and plan. */
export function layoutCounts(layout: KafkaLayout): Record<string, number> {
  let configs = 0;
  for (const c of layout.topicConfigs.values()) configs += Object.keys(c).length;
  for (const c of layout.brokerConfigs.values()) configs += Object.keys(c).length;
  return {
    brokers: layout.brokers.length,
    topics: layout.topics.length,
    topicsWithoutIds: layout.topics.filter((t) => t.id === null).length,
    partitions: layout.topics.reduce((n, t) => n + t.partitions.length, 0),
    configs,
    groups: new Set(layout.offsets.map((o) => o.group)).size,
    offsets: layout.offsets.length,
    features: layout.features.size,
  };
}

export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}
