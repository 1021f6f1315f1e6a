/**
 * The data of every znode Kafka wrote, encoded exactly as Kafka 3.x (ZooKeeper mode, or a KRaft
 * controller during a KIP-866 migration) wrote it. Pure functions from image values to strings.
 *
 * Key order: Kafka encodes these from Scala maps, so its parsers never depend on key order; we still
 * emit a fixed order so the bytes are deterministic. Partition state, /feature and the broker znode
 * follow the HashMap order seen in dumps of real clusters (the broker's `features` key placed before
 * `version`, unverified); the others follow the encoder's field order in `ZkData.scala` as the
 * reference writes it (../shared/reference/kafka-zk-layout.md). `JSON.stringify` emits UTF-8 and
 * escapes control characters, which Jackson (Kafka's parser) accepts.
 */
import type { BrokerRegistration, Endpoint, PartitionRegistration, TopicImage } from '@kbroker/metadata-log';

/** `/cluster/id` (ClusterIdZNode): the version is the *string* "1". */
export function clusterIdJson(clusterId: string): string {
  return JSON.stringify({ version: '1', id: clusterId });
}

/**
 * `/controller` v2 (ControllerZNode, 3.4+): written by a KRaft controller taking over, so
 * `kraftControllerEpoch` is its Raft epoch (a ZooKeeper-mode controller writes -1). `timestamp` is a
 * string of epoch ms.
 */
export function controllerJson(brokerId: number, timestampMs: number, kraftControllerEpoch: number): string {
  return JSON.stringify({
    version: 2,
    brokerid: brokerId,
    timestamp: String(timestampMs),
    kraftControllerEpoch,
  });
}

/** `/controller_epoch`: a plain decimal string, not JSON. */
export function controllerEpochData(epoch: number): string {
  return String(epoch);
}

/** Kafka's `Utils.formatAddress`: IPv6 literals are bracketed. */
function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `EndPoint.connectionString`: `<listener name>://<host>:<port>`. */
export function endpointString(e: Endpoint): string {
  return `${e.name}://${formatAddress(e.host, e.port)}`;
}

/**
 * `/brokers/ids/<id>` v5 (BrokerIdZNode, IBP >= 2.7-IV0). The top-level `host`/`port` are the first
 * PLAINTEXT endpoint's (null / -1 without one); `rack` only when set; `jmx_port` -1 (unset);
 * `features` is the broker's *supported* features, which kbroker does not advertise per broker ({}).
 */
export function brokerJson(broker: BrokerRegistration): string {
  const plaintext = broker.endpoints.find((e) => e.securityProtocol === 'PLAINTEXT');
  const protocols: Record<string, string> = {};
  for (const e of broker.endpoints) protocols[e.name] = e.securityProtocol;
  const json: Record<string, unknown> = {
    listener_security_protocol_map: protocols,
    endpoints: broker.endpoints.map(endpointString),
  };
  if (broker.rack !== null) json.rack = broker.rack;
  json.jmx_port = -1;
  json.port = plaintext?.port ?? -1;
  json.host = plaintext?.host ?? null;
  json.timestamp = String(broker.registeredTimeMs);
  json.features = {};
  json.version = 5;
  return JSON.stringify(json);
}

/**
 * `/brokers/topics/<t>` v3 (TopicZNode, 2.8+): partition -> replicas in preferred order, the topic id
 * as 22-character base64url, and the KIP-455 reassignment maps (kbroker's image has no reassignment
 * state, so they are always empty, as Kafka writes them when nothing is being reassigned).
 */
export function topicJson(topic: TopicImage): string {
  // Integer-like keys: JSON.stringify emits them in ascending numeric order, as Kafka's partition order.
  const partitions: Record<string, readonly number[]> = {};
  for (let i = 0; i < topic.partitions.length; i++) partitions[i] = topic.partitions[i]!.replicas;
  return JSON.stringify({
    version: 3,
    topic_id: topic.id,
    partitions,
    adding_replicas: {},
    removing_replicas: {},
  });
}

/**
 * `.../partitions/<p>/state` (TopicPartitionStateZNode), version 1 in every release. The key order is
 * the one Kafka's Scala HashMap produces (as seen in real clusters); `leader_recovery_state` only
 * while RECOVERING (KIP-704).
 */
export function partitionStateJson(p: PartitionRegistration, controllerEpoch: number): string {
  const json: Record<string, unknown> = {
    controller_epoch: controllerEpoch,
    leader: p.leader,
    version: 1,
    leader_epoch: p.leaderEpoch,
    isr: p.isr,
  };
  if (p.leaderRecoveryState === 1) json.leader_recovery_state = 1;
  return JSON.stringify(json);
}

/** `/config/<type>/<entity>` (ConfigEntityZNode): every value a string. */
export function configJson(values: ReadonlyMap<string, string> | undefined): string {
  const config: Record<string, string> = {};
  if (values !== undefined) {
    // Sorted so equal configs are equal bytes whatever order they were set in.
    for (const name of [...values.keys()].sort()) config[name] = values.get(name)!;
  }
  return JSON.stringify({ version: 1, config });
}

/** `/consumers/<g>/offsets/<t>/<p>`: the next offset to consume, as a plain decimal string. */
export function consumerOffsetData(offset: number): string {
  return String(offset);
}

/**
 * `/feature` v2 (FeatureZNode, IBP >= 3.3-IV0): finalized features as `max_version_level` only;
 * status 1 = Enabled.
 */
export function featureJson(levels: ReadonlyMap<string, number>): string {
  const features: Record<string, { max_version_level: number }> = {};
  for (const name of [...levels.keys()].sort()) features[name] = { max_version_level: levels.get(name)! };
  return JSON.stringify({ features, version: 2, status: 1 });
}
