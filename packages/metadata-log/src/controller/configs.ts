/**
 * Validation of topic and broker configs, as Kafka's ConfigDef parsing of `LogConfig` (topic) and the
 * dynamic part of `KafkaConfig` (broker), and the effective value of each topic config.
 *
 * Values stay strings (a ConfigRecord carries the string the user gave); validation parses them the way
 * Kafka does: trimmed, booleans case-insensitive, integers in their 32/64-bit range (longs checked with
 * BigInt, since a JS number cannot hold Long.MAX_VALUE exactly), lists comma-separated.
 *
 * A topic config falls back to a broker config (its "synonym"): the cluster-wide dynamic default (the
 * BROKER resource named ""), then the node's static config, then Kafka's default. Some synonyms are in
 * other units (`log.retention.hours`), converted on the way.
 */
import type { MetadataImageView } from '../image/types.js';
import { ConfigResourceType } from '../records.js';
import { ControllerError } from './errors.js';
import { isValidTopicName } from './topic-names.js';

export type ConfigType = 'BOOLEAN' | 'STRING' | 'INT' | 'LONG' | 'DOUBLE' | 'LIST';

export interface ConfigDef {
  readonly name: string;
  readonly type: ConfigType;
  /** Kafka's default, as a string; null when there is none. */
  readonly defaultValue: string | null;
  /** Inclusive bounds for INT/LONG/DOUBLE. */
  readonly min?: bigint | number;
  readonly max?: bigint | number;
  /** For STRING: the allowed values; for LIST: the allowed members. Compared case-sensitively, as Kafka. */
  readonly validValues?: readonly string[];
  /** A further check on the trimmed value; returns Kafka's message on failure. */
  readonly check?: (value: string) => string | undefined;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const LONG_MAX_STR = LONG_MAX.toString();

const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;
const TIMESTAMP_TYPES = ['CreateTime', 'LogAppendTime'] as const;
const CLEANUP_POLICIES = ['compact', 'delete'] as const;

/** `*`, or `partition:broker` pairs (Kafka's ThrottledReplicaListValidator). */
function throttledReplicas(value: string): string | undefined {
  const items = splitList(value);
  if (items.length === 0) return undefined;
  if (items.length === 1 && items[0] === '*') return undefined;
  if (items.every((i) => /^[0-9]+:[0-9]+$/.test(i))) return undefined;
  return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...";
}

/** -1 (the codec's default level) or 1..9, as Kafka's GzipCompression level validator. */
function gzipLevel(value: string): string | undefined {
  const n = Number(value);
  return n === -1 || (n >= 1 && n <= 9) ? undefined : 'Value must be -1 or between 1 and 9';
}

/** A `major.minor[-IVn]` version, the shape of Kafka's (deprecated) message.format.version. */
function versionString(value: string): string | undefined {
  return /^\d+\.\d+(\.\d+)?(-IV\d+)?$/.test(value) ? undefined : 'Value must be a version such as 3.0-IV1';
}

function defs(list: readonly ConfigDef[]): ReadonlyMap<string, ConfigDef> {
  return new Map(list.map((d) => [d.name, d]));
}

/** Kafka's topic configs (LogConfig, 3.9). */
export const TOPIC_CONFIGS: ReadonlyMap<string, ConfigDef> = defs([
  { name: 'cleanup.policy', type: 'LIST', defaultValue: 'delete', validValues: CLEANUP_POLICIES },
  { name: 'compression.type', type: 'STRING', defaultValue: 'producer', validValues: COMPRESSION_TYPES },
  { name: 'compression.gzip.level', type: 'INT', defaultValue: '-1', check: gzipLevel },
  { name: 'compression.lz4.level', type: 'INT', defaultValue: '9', min: 1, max: 17 },
  { name: 'compression.zstd.level', type: 'INT', defaultValue: '3', min: -131072, max: 22 },
  { name: 'delete.retention.ms', type: 'LONG', defaultValue: '86400000', min: 0n },
  { name: 'file.delete.delay.ms', type: 'LONG', defaultValue: '60000', min: 0n },
  { name: 'flush.messages', type: 'LONG', defaultValue: LONG_MAX_STR, min: 1n },
  { name: 'flush.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  {
    name: 'follower.replication.throttled.replicas',
    type: 'LIST',
    defaultValue: '',
    check: throttledReplicas,
  },
  { name: 'index.interval.bytes', type: 'INT', defaultValue: '4096', min: 0 },
  { name: 'leader.replication.throttled.replicas', type: 'LIST', defaultValue: '', check: throttledReplicas },
  { name: 'local.retention.bytes', type: 'LONG', defaultValue: '-2', min: -2n },
  { name: 'local.retention.ms', type: 'LONG', defaultValue: '-2', min: -2n },
  { name: 'max.compaction.lag.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 1n },
  { name: 'max.message.bytes', type: 'INT', defaultValue: '1048588', min: 0 },
  { name: 'message.downconversion.enable', type: 'BOOLEAN', defaultValue: 'true' },
  { name: 'message.format.version', type: 'STRING', defaultValue: '3.0-IV1', check: versionString },
  { name: 'message.timestamp.after.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'message.timestamp.before.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'message.timestamp.difference.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  {
    name: 'message.timestamp.type',
    type: 'STRING',
    defaultValue: 'CreateTime',
    validValues: TIMESTAMP_TYPES,
  },
  { name: 'min.cleanable.dirty.ratio', type: 'DOUBLE', defaultValue: '0.5', min: 0, max: 1 },
  { name: 'min.compaction.lag.ms', type: 'LONG', defaultValue: '0', min: 0n },
  { name: 'min.insync.replicas', type: 'INT', defaultValue: '1', min: 1 },
  { name: 'preallocate', type: 'BOOLEAN', defaultValue: 'false' },
  { name: 'remote.log.copy.disable', type: 'BOOLEAN', defaultValue: 'false' },
  { name: 'remote.log.delete.on.disable', type: 'BOOLEAN', defaultValue: 'false' },
  { name: 'remote.storage.enable', type: 'BOOLEAN', defaultValue: 'false' },
  { name: 'retention.bytes', type: 'LONG', defaultValue: '-1' },
  { name: 'retention.ms', type: 'LONG', defaultValue: '604800000', min: -1n },
  { name: 'segment.bytes', type: 'INT', defaultValue: '1073741824', min: 14 },
  { name: 'segment.index.bytes', type: 'INT', defaultValue: '10485760', min: 4 },
  { name: 'segment.jitter.ms', type: 'LONG', defaultValue: '0', min: 0n },
  { name: 'segment.ms', type: 'LONG', defaultValue: '604800000', min: 1n },
  { name: 'unclean.leader.election.enable', type: 'BOOLEAN', defaultValue: 'false' },
]);

/**
 * The broker configs that may be set dynamically (per broker, or cluster-wide on the resource ""): a
 * subset of Kafka's DynamicBrokerConfig, plus `auto.create.topics.enable`, `num.partitions`,
 * `default.replication.factor` and `auto.leader.rebalance.enable`, which kbroker also reads dynamically.
 */
export const BROKER_CONFIGS: ReadonlyMap<string, ConfigDef> = defs([
  { name: 'auto.create.topics.enable', type: 'BOOLEAN', defaultValue: 'true' },
  { name: 'auto.leader.rebalance.enable', type: 'BOOLEAN', defaultValue: 'true' },
  { name: 'background.threads', type: 'INT', defaultValue: '10', min: 1 },
  { name: 'compression.type', type: 'STRING', defaultValue: 'producer', validValues: COMPRESSION_TYPES },
  { name: 'compression.gzip.level', type: 'INT', defaultValue: '-1', check: gzipLevel },
  { name: 'compression.lz4.level', type: 'INT', defaultValue: '9', min: 1, max: 17 },
  { name: 'compression.zstd.level', type: 'INT', defaultValue: '3', min: -131072, max: 22 },
  { name: 'default.replication.factor', type: 'INT', defaultValue: '1', min: 1 },
  { name: 'follower.replication.throttled.rate', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'leader.replication.throttled.rate', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'log.cleaner.backoff.ms', type: 'LONG', defaultValue: '15000', min: 0n },
  { name: 'log.cleaner.dedupe.buffer.size', type: 'LONG', defaultValue: '134217728' },
  { name: 'log.cleaner.delete.retention.ms', type: 'LONG', defaultValue: '86400000', min: 0n },
  { name: 'log.cleaner.io.buffer.size', type: 'INT', defaultValue: '524288', min: 0 },
  { name: 'log.cleaner.io.max.bytes.per.second', type: 'DOUBLE', defaultValue: '1.7976931348623157E308' },
  { name: 'log.cleaner.max.compaction.lag.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 1n },
  { name: 'log.cleaner.min.cleanable.ratio', type: 'DOUBLE', defaultValue: '0.5', min: 0, max: 1 },
  { name: 'log.cleaner.min.compaction.lag.ms', type: 'LONG', defaultValue: '0', min: 0n },
  { name: 'log.cleaner.threads', type: 'INT', defaultValue: '1', min: 0 },
  { name: 'log.cleanup.policy', type: 'LIST', defaultValue: 'delete', validValues: CLEANUP_POLICIES },
  { name: 'log.flush.interval.messages', type: 'LONG', defaultValue: LONG_MAX_STR, min: 1n },
  { name: 'log.flush.interval.ms', type: 'LONG', defaultValue: null, min: 0n },
  { name: 'log.index.interval.bytes', type: 'INT', defaultValue: '4096', min: 0 },
  { name: 'log.index.size.max.bytes', type: 'INT', defaultValue: '10485760', min: 4 },
  { name: 'log.local.retention.bytes', type: 'LONG', defaultValue: '-2', min: -2n },
  { name: 'log.local.retention.ms', type: 'LONG', defaultValue: '-2', min: -2n },
  { name: 'log.message.downconversion.enable', type: 'BOOLEAN', defaultValue: 'true' },
  { name: 'log.message.timestamp.after.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'log.message.timestamp.before.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  { name: 'log.message.timestamp.difference.max.ms', type: 'LONG', defaultValue: LONG_MAX_STR, min: 0n },
  {
    name: 'log.message.timestamp.type',
    type: 'STRING',
    defaultValue: 'CreateTime',
    validValues: TIMESTAMP_TYPES,
  },
  { name: 'log.preallocate', type: 'BOOLEAN', defaultValue: 'false' },
  { name: 'log.retention.bytes', type: 'LONG', defaultValue: '-1' },
  { name: 'log.retention.ms', type: 'LONG', defaultValue: null, min: -1n },
  { name: 'log.roll.jitter.ms', type: 'LONG', defaultValue: null, min: 0n },
  { name: 'log.roll.ms', type: 'LONG', defaultValue: null, min: 1n },
  { name: 'log.segment.bytes', type: 'INT', defaultValue: '1073741824', min: 14 },
  { name: 'log.segment.delete.delay.ms', type: 'LONG', defaultValue: '60000', min: 0n },
  { name: 'max.connection.creation.rate', type: 'INT', defaultValue: String(INT_MAX), min: 0 },
  { name: 'max.connections', type: 'INT', defaultValue: String(INT_MAX), min: 0 },
  { name: 'max.connections.per.ip', type: 'INT', defaultValue: String(INT_MAX), min: 0 },
  { name: 'message.max.bytes', type: 'INT', defaultValue: '1048588', min: 0 },
  { name: 'min.insync.replicas', type: 'INT', defaultValue: '1', min: 1 },
  { name: 'num.io.threads', type: 'INT', defaultValue: '8', min: 1 },
  { name: 'num.network.threads', type: 'INT', defaultValue: '3', min: 1 },
  { name: 'num.partitions', type: 'INT', defaultValue: '1', min: 1 },
  { name: 'num.recovery.threads.per.data.dir', type: 'INT', defaultValue: '1', min: 1 },
  { name: 'num.replica.fetchers', type: 'INT', defaultValue: '1', min: 1 },
  {
    name: 'replica.alter.log.dirs.io.max.bytes.per.second',
    type: 'LONG',
    defaultValue: LONG_MAX_STR,
    min: 0n,
  },
  { name: 'unclean.leader.election.enable', type: 'BOOLEAN', defaultValue: 'false' },
]);

/** A broker config a topic config falls back to; `factor` converts its unit to the topic config's. */
interface Synonym {
  readonly name: string;
  readonly factor?: bigint;
}

const HOUR_MS = 3_600_000n;
const MINUTE_MS = 60_000n;

/** Kafka's LogConfig synonyms, highest priority first. */
export const TOPIC_CONFIG_SYNONYMS: ReadonlyMap<string, readonly Synonym[]> = new Map<
  string,
  readonly Synonym[]
>([
  ['cleanup.policy', [{ name: 'log.cleanup.policy' }]],
  ['compression.type', [{ name: 'compression.type' }]],
  ['compression.gzip.level', [{ name: 'compression.gzip.level' }]],
  ['compression.lz4.level', [{ name: 'compression.lz4.level' }]],
  ['compression.zstd.level', [{ name: 'compression.zstd.level' }]],
  ['delete.retention.ms', [{ name: 'log.cleaner.delete.retention.ms' }]],
  ['file.delete.delay.ms', [{ name: 'log.segment.delete.delay.ms' }]],
  ['flush.messages', [{ name: 'log.flush.interval.messages' }]],
  ['flush.ms', [{ name: 'log.flush.interval.ms' }]],
  ['index.interval.bytes', [{ name: 'log.index.interval.bytes' }]],
  ['local.retention.bytes', [{ name: 'log.local.retention.bytes' }]],
  ['local.retention.ms', [{ name: 'log.local.retention.ms' }]],
  ['max.compaction.lag.ms', [{ name: 'log.cleaner.max.compaction.lag.ms' }]],
  ['max.message.bytes', [{ name: 'message.max.bytes' }]],
  ['message.downconversion.enable', [{ name: 'log.message.downconversion.enable' }]],
  ['message.format.version', [{ name: 'log.message.format.version' }]],
  ['message.timestamp.after.max.ms', [{ name: 'log.message.timestamp.after.max.ms' }]],
  ['message.timestamp.before.max.ms', [{ name: 'log.message.timestamp.before.max.ms' }]],
  ['message.timestamp.difference.max.ms', [{ name: 'log.message.timestamp.difference.max.ms' }]],
  ['message.timestamp.type', [{ name: 'log.message.timestamp.type' }]],
  ['min.cleanable.dirty.ratio', [{ name: 'log.cleaner.min.cleanable.ratio' }]],
  ['min.compaction.lag.ms', [{ name: 'log.cleaner.min.compaction.lag.ms' }]],
  ['min.insync.replicas', [{ name: 'min.insync.replicas' }]],
  ['preallocate', [{ name: 'log.preallocate' }]],
  ['retention.bytes', [{ name: 'log.retention.bytes' }]],
  [
    'retention.ms',
    [
      { name: 'log.retention.ms' },
      { name: 'log.retention.minutes', factor: MINUTE_MS },
      { name: 'log.retention.hours', factor: HOUR_MS },
    ],
  ],
  ['segment.bytes', [{ name: 'log.segment.bytes' }]],
  ['segment.index.bytes', [{ name: 'log.index.size.max.bytes' }]],
  ['segment.jitter.ms', [{ name: 'log.roll.jitter.ms' }, { name: 'log.roll.jitter.hours', factor: HOUR_MS }]],
  ['segment.ms', [{ name: 'log.roll.ms' }, { name: 'log.roll.hours', factor: HOUR_MS }]],
  ['unclean.leader.election.enable', [{ name: 'unclean.leader.election.enable' }]],
]);

// ---------------------------------------------------------------------------------------------------
// Parsing

export type ConfigValue = boolean | number | bigint | string | readonly string[];

function splitList(value: string): string[] {
  const trimmed = value.trim();
  return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
}

const INTEGER = /^[+-]?\d+$/;
const DOUBLE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?$/;

function typeDescription(type: ConfigType): string {
  switch (type) {
    case 'BOOLEAN':
      return 'Expected value to be either true or false';
    case 'INT':
      return 'Expected value to be a 32-bit integer';
    case 'LONG':
      return 'Expected value to be a 64-bit integer';
    case 'DOUBLE':
      return 'Expected value to be a double';
    case 'LIST':
      return 'Expected a comma separated list';
    case 'STRING':
      return 'Expected a string';
  }
}

function invalid(def: ConfigDef, value: string, problem: string): ControllerError {
  return new ControllerError(
    'INVALID_CONFIG',
    `Invalid value ${value} for configuration ${def.name} (type ${def.type}): ${problem}`,
  );
}

/**
 * Parses and validates one value against its definition: a boolean, a number (INT, DOUBLE), a bigint
 * (LONG), a trimmed string or a list of trimmed strings. Refuses with INVALID_CONFIG naming the key, the
 * value and the expected type.
 */
export function parseConfigValue(def: ConfigDef, raw: string): ConfigValue {
  const value = raw.trim();
  let parsed: ConfigValue;
  switch (def.type) {
    case 'BOOLEAN': {
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw invalid(def, raw, typeDescription(def.type));
      parsed = lower === 'true';
      break;
    }
    case 'INT': {
      const n = INTEGER.test(value) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < INT_MIN || n > INT_MAX)
        throw invalid(def, raw, typeDescription(def.type));
      parsed = n;
      break;
    }
    case 'LONG': {
      const n = INTEGER.test(value) ? BigInt(value) : undefined;
      if (n === undefined || n < LONG_MIN || n > LONG_MAX) throw invalid(def, raw, typeDescription(def.type));
      parsed = n;
      break;
    }
    case 'DOUBLE': {
      if (!DOUBLE.test(value)) throw invalid(def, raw, typeDescription(def.type));
      parsed = Number.parseFloat(value);
      break;
    }
    case 'LIST': {
      const items = splitList(value);
      if (def.validValues !== undefined) {
        for (const item of items) {
          if (!def.validValues.includes(item)) {
            throw invalid(def, raw, `String must be one of: ${def.validValues.join(', ')}`);
          }
        }
      }
      parsed = items;
      break;
    }
    case 'STRING': {
      if (def.validValues !== undefined && !def.validValues.includes(value)) {
        throw invalid(def, raw, `String must be one of: ${def.validValues.join(', ')}`);
      }
      parsed = value;
      break;
    }
  }
  if (typeof parsed === 'number' || typeof parsed === 'bigint') {
    if (def.min !== undefined && parsed < def.min)
      throw invalid(def, raw, `Value must be at least ${def.min}`);
    if (def.max !== undefined && parsed > def.max)
      throw invalid(def, raw, `Value must be no more than ${def.max}`);
  }
  const problem = def.check?.(value);
  if (problem !== undefined) throw invalid(def, raw, problem);
  return parsed;
}

function definitions(resourceType: ConfigResourceType): ReadonlyMap<string, ConfigDef> {
  return resourceType === ConfigResourceType.Topic ? TOPIC_CONFIGS : BROKER_CONFIGS;
}

/** The definition of a config, or INVALID_CONFIG for an unknown name (Kafka's "Unknown topic config name"). */
export function configDef(resourceType: ConfigResourceType, name: string): ConfigDef {
  const def = definitions(resourceType).get(name);
  if (def === undefined) {
    const kind = resourceType === ConfigResourceType.Topic ? 'topic' : 'broker';
    throw new ControllerError('INVALID_CONFIG', `Unknown ${kind} config name: ${name}`);
  }
  return def;
}

/**
 * Validates one config change: the name must be known; a value (null deletes, reverting to the
 * default) must parse as the config's type and satisfy its range.
 */
export function validateConfig(resourceType: ConfigResourceType, name: string, value: string | null): void {
  const def = configDef(resourceType, name);
  if (value !== null) parseConfigValue(def, value);
}

type ConfigInput = ReadonlyMap<string, string | null> | Readonly<Record<string, string | null>>;

function entries(configs: ConfigInput): Iterable<[string, string | null]> {
  return configs instanceof Map
    ? configs.entries()
    : Object.entries(configs as Record<string, string | null>);
}

/**
 * Validates a topic's resulting configs (after the change): every entry, then Kafka's cross-config
 * rule min.compaction.lag.ms <= max.compaction.lag.ms (taking defaults for the absent one).
 */
export function validateTopicConfigs(configs: ConfigInput): void {
  const parsed = new Map<string, ConfigValue>();
  for (const [name, value] of entries(configs)) {
    const def = configDef(ConfigResourceType.Topic, name);
    if (value !== null) parsed.set(name, parseConfigValue(def, value));
  }
  const minLag = (parsed.get('min.compaction.lag.ms') as bigint | undefined) ?? 0n;
  const maxLag = (parsed.get('max.compaction.lag.ms') as bigint | undefined) ?? LONG_MAX;
  if (minLag > maxLag) {
    throw new ControllerError(
      'INVALID_CONFIG',
      `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`,
    );
  }
}

/** Validates a broker resource's configs, every entry. */
export function validateBrokerConfigs(configs: ConfigInput): void {
  for (const [name, value] of entries(configs)) validateConfig(ConfigResourceType.Broker, name, value);
}

/**
 * Validates a config resource's name (Kafka's checkConfigResource): a BROKER resource is "" (the
 * cluster default) or a non-negative integer id; a TOPIC resource is a legal topic name. Both refusals
 * are INVALID_REQUEST. Whether the topic or broker exists is the caller's check.
 */
export function validateConfigResource(resourceType: number, resourceName: string): void {
  if (resourceType === ConfigResourceType.Broker) {
    if (resourceName === '') return;
    if (!/^[+-]?\d+$/.test(resourceName.trim())) {
      throw new ControllerError('INVALID_REQUEST', 'Illegal non-integral BROKER resource type name.');
    }
    if (Number(resourceName) < 0)
      throw new ControllerError('INVALID_REQUEST', 'Illegal negative broker ID in BROKER resource.');
    return;
  }
  if (resourceType === ConfigResourceType.Topic) {
    if (resourceName === '')
      throw new ControllerError('INVALID_REQUEST', 'Default topic resources are not allowed.');
    if (!isValidTopicName(resourceName)) throw new ControllerError('INVALID_REQUEST', 'Illegal topic name.');
    return;
  }
  throw new ControllerError('INVALID_REQUEST', `Unsupported configuration resource type ${resourceType}.`);
}

// ---------------------------------------------------------------------------------------------------
// Effective values

/** Kafka's DescribeConfigs ConfigSource codes. */
export const ConfigSource = {
  DynamicTopicConfig: 1,
  DynamicBrokerConfig: 2,
  DynamicDefaultBrokerConfig: 3,
  StaticBrokerConfig: 4,
  DefaultConfig: 5,
} as const;
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource];

export interface EffectiveConfig {
  readonly name: string;
  /** null when neither set nor defaulted (Kafka reports such values as null too). */
  readonly value: string | null;
  readonly source: ConfigSource;
  /** The broker config the value came from, when it came from one. */
  readonly synonym?: string;
}

type Lookup = ReadonlyMap<string, string> | undefined;

function fromSynonym(syn: Synonym, raw: string): string {
  if (syn.factor === undefined) return raw;
  const t = raw.trim();
  return INTEGER.test(t) ? (BigInt(t) * syn.factor).toString() : raw;
}

function resolve(
  name: string,
  topicConfigs: Lookup,
  clusterDefaults: Lookup,
  staticConfigs: Lookup,
): EffectiveConfig {
  const own = topicConfigs?.get(name);
  if (own !== undefined) return { name, value: own, source: ConfigSource.DynamicTopicConfig };
  const synonyms = TOPIC_CONFIG_SYNONYMS.get(name) ?? [];
  for (const [lookup, source] of [
    [clusterDefaults, ConfigSource.DynamicDefaultBrokerConfig],
    [staticConfigs, ConfigSource.StaticBrokerConfig],
  ] as const) {
    for (const syn of synonyms) {
      const v = lookup?.get(syn.name);
      if (v !== undefined) return { name, value: fromSynonym(syn, v), source, synonym: syn.name };
    }
  }
  return { name, value: TOPIC_CONFIGS.get(name)?.defaultValue ?? null, source: ConfigSource.DefaultConfig };
}

/**
 * Every topic config's effective value and where it came from: the topic's own setting, else its broker
 * synonym in the cluster-wide default, else in the node's static config, else Kafka's default.
 */
export function effectiveTopicConfig(
  topicConfigs: Lookup,
  clusterDefaults: Lookup,
  staticConfigs?: Lookup,
): Map<string, EffectiveConfig> {
  const out = new Map<string, EffectiveConfig>();
  for (const name of TOPIC_CONFIGS.keys())
    out.set(name, resolve(name, topicConfigs, clusterDefaults, staticConfigs));
  return out;
}

/** One topic config's effective value (see {@link effectiveTopicConfig}). */
export function effectiveTopicConfigValue(
  name: string,
  topicConfigs: Lookup,
  clusterDefaults: Lookup,
  staticConfigs?: Lookup,
): string | null {
  return resolve(name, topicConfigs, clusterDefaults, staticConfigs).value;
}

/**
 * Whether a topic allows unclean leader election: its `unclean.leader.election.enable`, else the
 * cluster default's, else `staticDefault` (the node's static config; Kafka's default is false). A stored
 * value that does not parse counts as false: never lose data on a malformed config.
 */
export function isUncleanElectionAllowed(
  topicConfigs: Lookup,
  clusterDefaults: Lookup,
  staticDefault = false,
): boolean {
  const name = 'unclean.leader.election.enable';
  const v = topicConfigs?.get(name) ?? clusterDefaults?.get(name);
  if (v === undefined) return staticDefault;
  return v.trim().toLowerCase() === 'true';
}

/** {@link isUncleanElectionAllowed} for a topic of an image. */
export function uncleanElectionAllowedInImage(
  image: MetadataImageView,
  topicName: string,
  staticDefault = false,
): boolean {
  return isUncleanElectionAllowed(
    image.configs.get(ConfigResourceType.Topic, topicName)?.values,
    image.configs.get(ConfigResourceType.Broker, '')?.values,
    staticDefault,
  );
}

/** The topic's effective min.insync.replicas (Kafka's getTopicEffectiveMinIsr), as a number. */
export function effectiveMinIsr(image: MetadataImageView, topicName: string, staticConfigs?: Lookup): number {
  const v = effectiveTopicConfigValue(
    'min.insync.replicas',
    image.configs.get(ConfigResourceType.Topic, topicName)?.values,
    image.configs.get(ConfigResourceType.Broker, '')?.values,
    staticConfigs,
  );
  const n = Number(v?.trim());
  return Number.isInteger(n) && n >= 1 ? n : 1;
}
