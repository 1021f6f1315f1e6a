import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  loadConfigFile,
  mergeSettings,
  normalizeKey,
  parseConfigText,
  resolveStartSettings,
} from '../src/cli/config-file.js';
import { ConfigError, NODE_DEFAULTS } from '../src/node/config.js';

describe('normalizeKey', () => {
  it('accepts camelCase, kebab-case, dotted and snake spellings of a flag', () => {
    for (const k of ['nodeId', 'node-id', 'node.id', 'node_id', 'NodeId'])
      expect(normalizeKey(k)).toBe('nodeId');
    expect(normalizeKey('heartbeat-interval-ms')).toBe('brokerHeartbeatIntervalMs');
    expect(normalizeKey('session-timeout-ms')).toBe('sessionTimeoutMs');
    expect(normalizeKey('http-listener')).toBe('httpListener');
  });

  it("knows Kafka's names for the same settings", () => {
    expect(normalizeKey('process.roles')).toBe('roles');
    expect(normalizeKey('controller.quorum.voters')).toBe('controllerQuorum');
    expect(normalizeKey('broker.rack')).toBe('rack');
  });

  it('is undefined for a key no flag has', () => {
    expect(normalizeKey('bootstrap')).toBeUndefined();
    expect(normalizeKey('toString')).toBeUndefined();
  });
});

describe('parseConfigText: properties', () => {
  it('reads key=value, key: value and key value lines, skipping comments and blanks', () => {
    const s = parseConfigText(
      [
        '# a node',
        '! also a comment',
        '',
        'node-id=2',
        'controller.quorum.voters = 1@h1:9093,2@h2:9093',
        'roles: broker,controller',
        'listener 0.0.0.0:9092',
        'log-level=DEBUG',
        'heartbeatIntervalMs=500',
        'data-dir=/var/lib/kbroker',
      ].join('\n'),
    );
    expect(s).toEqual({
      nodeId: 2,
      controllerQuorum: '1@h1:9093,2@h2:9093',
      roles: ['broker', 'controller'],
      listener: '0.0.0.0:9092',
      logLevel: 'debug',
      brokerHeartbeatIntervalMs: 500,
      dataDir: '/var/lib/kbroker',
    });
  });

  it('joins a line ending in a backslash with the next', () => {
    expect(parseConfigText('controller-quorum=1@a:9093,\\\n   2@b:9093').controllerQuorum).toBe(
      '1@a:9093,2@b:9093',
    );
  });

  it('keeps the last of a repeated key and handles CRLF and a BOM', () => {
    expect(parseConfigText('\uFEFFnode-id=1\r\nnode-id=3\r\n')).toEqual({ nodeId: 3 });
  });

  it('names the file and line of a bad entry', () => {
    expect(() => parseConfigText('node-id=1\nbogus=2', 'kb.properties')).toThrow(
      new ConfigError('kb.properties:2: unknown key "bogus"'),
    );
    expect(() => parseConfigText('\n\nnode-id=zero', 'f')).toThrow(
      /^f:3: the node id must be a positive integer/,
    );
    expect(() => parseConfigText('listener=nohostport', 'f')).toThrow(/f:1: the listener must be host:port/);
    expect(() => parseConfigText('roles=broker,leader', 'f')).toThrow(/f:1: roles must be/);
    expect(() => parseConfigText('controller-quorum=x@h', 'f')).toThrow(/f:1: invalid voter/);
    expect(() => parseConfigText('log-level=loud', 'f')).toThrow(/f:1: the log level must be one of/);
    expect(() => parseConfigText('just-a-key', 'f')).toThrow(/f:1: expected key=value/);
    expect(() => parseConfigText('cluster-id=a b', 'f')).toThrow(/must not contain spaces/);
  });
});

describe('parseConfigText: JSON', () => {
  it('reads an object with numbers, strings and arrays', () => {
    const s = parseConfigText(
      JSON.stringify({
        nodeId: 3,
        'controller-quorum': ['1@a:9093', '2@b:9093', '3@c:9093'],
        roles: ['broker'],
        sessionTimeoutMs: '12000',
        rack: 'eu-1a',
        httpListener: null,
      }),
    );
    expect(s).toEqual({
      nodeId: 3,
      controllerQuorum: '1@a:9093,2@b:9093,3@c:9093',
      roles: ['broker'],
      sessionTimeoutMs: 12000,
      rack: 'eu-1a',
    });
  });

  it('refuses invalid JSON, non-objects and wrongly typed values', () => {
    expect(() => parseConfigText('{ nodeId: 1 }', 'c.json')).toThrow(/^c.json: invalid JSON/);
    expect(() => parseConfigText('{"nodeId": 1.5}', 'c.json')).toThrow(
      /c.json: the node id must be a positive integer/,
    );
    expect(() => parseConfigText('{"listener": true}', 'c.json')).toThrow(
      /the listener must be a non-empty string/,
    );
    expect(() => parseConfigText('{"dataDir": ""}', 'c.json')).toThrow(
      /the data dir must be a non-empty string/,
    );
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kbroker-cli-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads either format from disk', async () => {
    await writeFile(join(dir, 'a.json'), '{"node-id": 4, "controllerQuorum": "4@h:1"}');
    await writeFile(join(dir, 'b.properties'), 'node.id=5\n');
    expect(await loadConfigFile(join(dir, 'a.json'))).toEqual({ nodeId: 4, controllerQuorum: '4@h:1' });
    expect(await loadConfigFile(join(dir, 'b.properties'))).toEqual({ nodeId: 5 });
  });

  it('says plainly when the file is missing', async () => {
    const missing = join(dir, 'nope.properties');
    await expect(loadConfigFile(missing)).rejects.toThrow(`cannot read config file ${missing}: no such file`);
    await expect(loadConfigFile(dir)).rejects.toThrow(/is a directory/);
  });
});

describe('precedence and resolution', () => {
  it('lets flags override the file and keeps file values the flags leave out', () => {
    const file = parseConfigText('node-id=1\nlistener=0.0.0.0:9092\nrack=r1');
    const merged = mergeSettings(file, { nodeId: 7, rack: undefined, logLevel: 'warn' });
    expect(merged).toEqual({ nodeId: 7, listener: '0.0.0.0:9092', rack: 'r1', logLevel: 'warn' });
  });

  it('runs as the single node with no node id and no quorum', () => {
    const { config, singleNode } = resolveStartSettings({});
    expect(singleNode).toBe(true);
    expect(config.nodeId).toBe(1);
    expect(config.controllerQuorum).toBe(NODE_DEFAULTS.singleNode.controllerQuorum);
    expect(config.roles).toEqual(['broker', 'controller']);
    expect(config.listener).toBe('127.0.0.1:9092');
    expect(config.dataDir).toBe('./data');
    expect(config.rack).toBeNull();
  });

  it('keeps single-node defaults when only other settings are given', () => {
    const { config, singleNode } = resolveStartSettings({ listener: '127.0.0.1:0', logLevel: 'debug' });
    expect(singleNode).toBe(true);
    expect(config.listener).toBe('127.0.0.1:0');
    expect(config.logLevel).toBe('debug');
  });

  it('needs both the node id and the quorum once either is given', () => {
    expect(() => resolveStartSettings({ nodeId: 2 })).toThrow(/--controller-quorum is required/);
    expect(() => resolveStartSettings({ controllerQuorum: '1@a:1' })).toThrow(/--node-id is required/);
    const { config, singleNode } = resolveStartSettings({
      nodeId: 4,
      controllerQuorum: '1@a:9093,2@b:9093,3@c:9093',
      brokerHeartbeatIntervalMs: 250,
    });
    expect(singleNode).toBe(false);
    expect(config.roles).toEqual(['broker']);
    expect(config.brokerHeartbeatIntervalMs).toBe(250);
  });

  it('accepts a controller outside the starting quorum (it follows as an observer until added)', () => {
    const settings = resolveStartSettings({
      nodeId: 4,
      controllerQuorum: '1@a:9093',
      roles: ['broker', 'controller'],
    });
    expect(settings).toBeDefined();
    expect(() => resolveStartSettings({ nodeId: 4, controllerQuorum: '1@a:9093', roles: [] })).toThrow(
      ConfigError,
    );
  });
});
