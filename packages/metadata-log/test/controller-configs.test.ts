import { describe, expect, it } from 'vitest';
import {
  BROKER_CONFIGS,
  ConfigSource,
  configDef,
  effectiveMinIsr,
  effectiveTopicConfig,
  effectiveTopicConfigValue,
  isUncleanElectionAllowed,
  parseConfigValue,
  TOPIC_CONFIG_SYNONYMS,
  TOPIC_CONFIGS,
  uncleanElectionAllowedInImage,
  validateBrokerConfigs,
  validateConfig,
  validateConfigResource,
  validateTopicConfigs,
} from '../src/controller/configs.js';
import type { MetadataImageView, ResourceConfigs } from '../src/image/types.js';
import { ConfigResourceType } from '../src/records.js';
import { refusal } from './helpers/refusal.js';

const TOPIC = ConfigResourceType.Topic;
const BROKER = ConfigResourceType.Broker;

describe('config definitions', () => {
  it('every default parses under its own definition', () => {
    for (const defs of [TOPIC_CONFIGS, BROKER_CONFIGS]) {
      for (const def of defs.values())
        if (def.defaultValue !== null)
          expect(() => parseConfigValue(def, def.defaultValue!), def.name).not.toThrow();
    }
  });

  it('every synonym names a topic config', () => {
    for (const name of TOPIC_CONFIG_SYNONYMS.keys()) expect(TOPIC_CONFIGS.has(name), name).toBe(true);
  });
});

describe('validateConfig', () => {
  it('accepts valid values', () => {
    const ok: [number, string, string][] = [
      [TOPIC, 'cleanup.policy', 'compact,delete'],
      [TOPIC, 'cleanup.policy', ' compact '],
      [TOPIC, 'cleanup.policy', 'delete'],
      [TOPIC, 'retention.ms', '-1'],
      [TOPIC, 'retention.ms', '9223372036854775807'],
      [TOPIC, 'retention.bytes', '-9223372036854775808'],
      [TOPIC, 'segment.bytes', '14'],
      [TOPIC, 'segment.bytes', '2147483647'],
      [TOPIC, 'min.insync.replicas', '+2'],
      [TOPIC, 'max.message.bytes', '0'],
      [TOPIC, 'compression.type', 'zstd'],
      [TOPIC, 'unclean.leader.election.enable', 'TRUE'],
      [TOPIC, 'preallocate', ' false '],
      [TOPIC, 'message.timestamp.type', 'LogAppendTime'],
      [TOPIC, 'min.cleanable.dirty.ratio', '0.75'],
      [TOPIC, 'min.cleanable.dirty.ratio', '1'],
      [TOPIC, 'follower.replication.throttled.replicas', '*'],
      [TOPIC, 'leader.replication.throttled.replicas', '0:1, 1:2'],
      [TOPIC, 'leader.replication.throttled.replicas', ''],
      [TOPIC, 'compression.gzip.level', '-1'],
      [TOPIC, 'compression.gzip.level', '9'],
      [TOPIC, 'compression.zstd.level', '-131072'],
      [TOPIC, 'message.format.version', '2.8-IV1'],
      [BROKER, 'num.io.threads', '16'],
      [BROKER, 'log.retention.ms', '1000'],
      [BROKER, 'auto.create.topics.enable', 'false'],
      [BROKER, 'log.cleaner.io.max.bytes.per.second', '1.5e6'],
    ];
    for (const [type, name, value] of ok)
      expect(() => validateConfig(type as 2 | 4, name, value), `${name}=${value}`).not.toThrow();
  });

  it('deleting a known config (null) is always valid', () => {
    expect(() => validateConfig(TOPIC, 'retention.ms', null)).not.toThrow();
  });

  it('refuses unknown keys naming them, even when deleting', () => {
    for (const [type, kind] of [
      [TOPIC, 'topic'],
      [BROKER, 'broker'],
    ] as const) {
      for (const value of ['1', null]) {
        const e = refusal(() => validateConfig(type, 'no.such.config', value));
        expect(e.code).toBe('INVALID_CONFIG');
        expect(e.errorCode).toBe(40);
        expect(e.message).toBe(`Unknown ${kind} config name: no.such.config`);
      }
    }
    // A broker-only name is not a topic config, and the other way round.
    expect(refusal(() => configDef(TOPIC, 'num.io.threads')).code).toBe('INVALID_CONFIG');
    expect(refusal(() => configDef(BROKER, 'retention.ms')).code).toBe('INVALID_CONFIG');
  });

  it('refuses bad values naming key, value and type', () => {
    const bad: [number, string, string, RegExp][] = [
      [TOPIC, 'retention.ms', 'abc', /type LONG\): Expected value to be a 64-bit integer/],
      [TOPIC, 'retention.ms', '-2', /Value must be at least -1/],
      [TOPIC, 'retention.ms', '9223372036854775808', /64-bit integer/],
      [TOPIC, 'retention.ms', '1.5', /64-bit integer/],
      [TOPIC, 'retention.ms', '', /64-bit integer/],
      [TOPIC, 'segment.bytes', '13', /type INT\): Value must be at least 14/],
      [TOPIC, 'segment.bytes', '2147483648', /32-bit integer/],
      [TOPIC, 'segment.bytes', '1e9', /32-bit integer/],
      [TOPIC, 'min.insync.replicas', '0', /at least 1/],
      [TOPIC, 'max.message.bytes', '-1', /at least 0/],
      [TOPIC, 'cleanup.policy', 'compact,remove', /String must be one of: compact, delete/],
      [
        TOPIC,
        'compression.type',
        'brotli',
        /String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer/,
      ],
      [TOPIC, 'compression.type', 'GZIP', /String must be one of/],
      [
        TOPIC,
        'unclean.leader.election.enable',
        'yes',
        /type BOOLEAN\): Expected value to be either true or false/,
      ],
      [TOPIC, 'message.timestamp.type', 'createtime', /CreateTime, LogAppendTime/],
      [TOPIC, 'min.cleanable.dirty.ratio', '1.5', /no more than 1/],
      [TOPIC, 'min.cleanable.dirty.ratio', 'half', /type DOUBLE\): Expected value to be a double/],
      [TOPIC, 'leader.replication.throttled.replicas', '0-1', /\[partitionId\]:\[brokerId\]/],
      [TOPIC, 'leader.replication.throttled.replicas', '*,0:1', /literal '\*'/],
      [TOPIC, 'compression.gzip.level', '0', /-1 or between 1 and 9/],
      [TOPIC, 'compression.lz4.level', '18', /no more than 17/],
      [TOPIC, 'message.format.version', 'latest', /version/],
      [TOPIC, 'segment.ms', '0', /at least 1/],
      [TOPIC, 'max.compaction.lag.ms', '0', /at least 1/],
      [TOPIC, 'flush.messages', '0', /at least 1/],
      [TOPIC, 'local.retention.ms', '-3', /at least -2/],
      [BROKER, 'num.io.threads', '0', /at least 1/],
      [BROKER, 'num.network.threads', 'many', /32-bit integer/],
      [BROKER, 'auto.create.topics.enable', '1', /true or false/],
      [BROKER, 'log.cleaner.threads', '-1', /at least 0/],
    ];
    for (const [type, name, value, message] of bad) {
      const e = refusal(() => validateConfig(type as 2 | 4, name, value));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain(`Invalid value ${value} for configuration ${name}`);
      expect(e.message, `${name}=${value}`).toMatch(message);
    }
  });

  it('parses to typed values', () => {
    expect(parseConfigValue(configDef(TOPIC, 'retention.ms'), ' 42 ')).toBe(42n);
    expect(parseConfigValue(configDef(TOPIC, 'segment.bytes'), '1024')).toBe(1024);
    expect(parseConfigValue(configDef(TOPIC, 'preallocate'), 'True')).toBe(true);
    expect(parseConfigValue(configDef(TOPIC, 'cleanup.policy'), 'compact, delete')).toEqual([
      'compact',
      'delete',
    ]);
    expect(parseConfigValue(configDef(TOPIC, 'cleanup.policy'), '')).toEqual([]);
    expect(parseConfigValue(configDef(TOPIC, 'min.cleanable.dirty.ratio'), '.25')).toBe(0.25);
  });
});

describe('whole-resource validation', () => {
  it("checks Kafka's compaction-lag rule with defaults for the absent side", () => {
    expect(() =>
      validateTopicConfigs({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '10' }),
    ).not.toThrow();
    expect(() => validateTopicConfigs(new Map([['min.compaction.lag.ms', '5']]))).not.toThrow();
    const e = refusal(() =>
      validateTopicConfigs({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toBe(
      'conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)',
    );
    expect(() =>
      validateTopicConfigs({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': null }),
    ).not.toThrow();
    expect(refusal(() => validateTopicConfigs({ bogus: '1' })).message).toMatch(
      /Unknown topic config name: bogus/,
    );
    expect(refusal(() => validateTopicConfigs({ 'retention.ms': 'x' })).message).toMatch(/retention.ms/);
  });

  it('validates broker resources', () => {
    expect(() => validateBrokerConfigs({ 'num.io.threads': '4', 'message.max.bytes': '100' })).not.toThrow();
    expect(refusal(() => validateBrokerConfigs(new Map([['num.io.threads', '0']]))).code).toBe(
      'INVALID_CONFIG',
    );
  });

  it('validates resource names', () => {
    expect(() => validateConfigResource(BROKER, '')).not.toThrow();
    expect(() => validateConfigResource(BROKER, '3')).not.toThrow();
    expect(() => validateConfigResource(TOPIC, 'orders')).not.toThrow();
    const cases: [number, string, RegExp][] = [
      [BROKER, 'abc', /non-integral/],
      [BROKER, '1.5', /non-integral/],
      [BROKER, '-1', /negative broker ID/],
      [TOPIC, '', /Default topic resources are not allowed/],
      [TOPIC, 'bad name', /Illegal topic name/],
      [8, 'x', /Unsupported configuration resource type 8/],
    ];
    for (const [type, name, message] of cases) {
      const e = refusal(() => validateConfigResource(type, name));
      expect(e.code).toBe('INVALID_REQUEST');
      expect(e.message).toMatch(message);
    }
  });
});

describe('effective topic configs', () => {
  const topic = new Map([['retention.ms', '1000']]);
  const cluster = new Map([
    ['log.retention.ms', '5000'],
    ['log.segment.bytes', '1048576'],
    ['min.insync.replicas', '2'],
  ]);
  const staticCfg = new Map([
    ['log.retention.hours', '24'],
    ['log.roll.hours', '1'],
    ['log.segment.bytes', '999999'],
  ]);

  it('resolves topic, then cluster default, then static config, then Kafka’s default', () => {
    const eff = effectiveTopicConfig(topic, cluster, staticCfg);
    expect(eff.size).toBe(TOPIC_CONFIGS.size);
    expect(eff.get('retention.ms')).toEqual({
      name: 'retention.ms',
      value: '1000',
      source: ConfigSource.DynamicTopicConfig,
    });
    expect(eff.get('segment.bytes')).toEqual({
      name: 'segment.bytes',
      value: '1048576',
      source: ConfigSource.DynamicDefaultBrokerConfig,
      synonym: 'log.segment.bytes',
    });
    expect(eff.get('segment.ms')).toEqual({
      name: 'segment.ms',
      value: '3600000',
      source: ConfigSource.StaticBrokerConfig,
      synonym: 'log.roll.hours',
    });
    expect(eff.get('cleanup.policy')).toEqual({
      name: 'cleanup.policy',
      value: 'delete',
      source: ConfigSource.DefaultConfig,
    });
    expect(effectiveTopicConfig(undefined, undefined, staticCfg).get('retention.ms')).toMatchObject({
      value: String(24 * 3600000),
      synonym: 'log.retention.hours',
    });
    expect(effectiveTopicConfig(undefined, cluster).get('retention.ms')).toMatchObject({
      value: '5000',
      source: 3,
    });
    expect(effectiveTopicConfigValue('min.insync.replicas', undefined, cluster)).toBe('2');
    expect(effectiveTopicConfigValue('retention.ms', undefined, undefined)).toBe('604800000');
  });

  it('unclean election: topic overrides cluster default overrides the static default', () => {
    const key = 'unclean.leader.election.enable';
    expect(isUncleanElectionAllowed(undefined, undefined)).toBe(false);
    expect(isUncleanElectionAllowed(undefined, undefined, true)).toBe(true);
    expect(isUncleanElectionAllowed(undefined, new Map([[key, 'true']]))).toBe(true);
    expect(isUncleanElectionAllowed(new Map([[key, 'false']]), new Map([[key, 'true']]))).toBe(false);
    expect(isUncleanElectionAllowed(new Map([[key, ' TRUE ']]), undefined)).toBe(true);
    expect(isUncleanElectionAllowed(new Map([[key, 'garbage']]), undefined, true)).toBe(false);
  });

  it('reads an image', () => {
    const rc = (values: Record<string, string>): ResourceConfigs => ({
      values: new Map(Object.entries(values)),
      changedOffset: 1,
      changedTimeMs: 0,
      createdOffset: 1,
      createdTimeMs: 0,
      version: 1,
    });
    const image = {
      configs: {
        get: (type: number, name: string) =>
          type === TOPIC && name === 'a'
            ? rc({ 'unclean.leader.election.enable': 'true', 'min.insync.replicas': '3' })
            : type === BROKER && name === ''
              ? rc({ 'min.insync.replicas': '2' })
              : undefined,
      },
    } as unknown as MetadataImageView;
    expect(uncleanElectionAllowedInImage(image, 'a')).toBe(true);
    expect(uncleanElectionAllowedInImage(image, 'b')).toBe(false);
    expect(effectiveMinIsr(image, 'a')).toBe(3);
    expect(effectiveMinIsr(image, 'b')).toBe(2);
  });
});
