/**
 * The security settings as the config file and flags give them, the users file, and the permission
 * table of the client APIs.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText, resolveStartSettings } from '../src/cli/config-file.js';
import { ConfigError } from '../src/node/config.js';
import { mayCall, parseUsers, zkDigest } from '../src/node/security.js';

describe('security settings', () => {
  it('the config file sets TLS and users with the flags’ keys, in any spelling', () => {
    const settings = parseConfigText(
      [
        'node.id=1',
        'controller.quorum=1@127.0.0.1:9093',
        'tls.cert=/etc/kbroker/node.crt',
        'tls-key=/etc/kbroker/node.key',
        'tlsCa=/etc/kbroker/ca.crt',
        'tls.listeners=client,quorum',
        'tls.client.auth=required',
        'users.file=/etc/kbroker/users.json',
        'unauthenticated.access=none',
      ].join('\n'),
    );
    const { config } = resolveStartSettings(settings);
    expect(config.tls).toEqual({
      certFile: '/etc/kbroker/node.crt',
      keyFile: '/etc/kbroker/node.key',
      caFile: '/etc/kbroker/ca.crt',
      listeners: ['client', 'quorum'],
      clientAuth: true,
    });
    expect(config.auth).toEqual({ usersFile: '/etc/kbroker/users.json', unauthenticatedAccess: 'none' });
  });

  it('refuses half a TLS setup or auth settings without users', () => {
    expect(() => resolveStartSettings({ tlsCert: '/a' })).toThrow(ConfigError);
    expect(() => resolveStartSettings({ tlsCa: '/a' })).toThrow(ConfigError);
    expect(() => resolveStartSettings({ unauthenticatedAccess: 'none' })).toThrow(ConfigError);
    expect(resolveStartSettings({}).config.tls).toBeUndefined();
    expect(resolveStartSettings({}).config.auth).toBeUndefined();
  });

  it('parses users files and refuses malformed ones', () => {
    const users = parseUsers(
      JSON.stringify([{ name: 'zk-only', permission: 'write', zkDigest: zkDigest('zk-only', 'pw') }]),
      'users.json',
    );
    expect(users.get('zk-only')?.permission).toBe('write');
    for (const bad of [
      '{',
      '{"users": 3}',
      '[{"name": "a b", "zkDigest": "a b:x"}]',
      '[{"name": "a"}]',
      '[{"name": "a", "zkDigest": "b:x"}]',
      '[{"name": "a", "zkDigest": "a:x", "permission": "root"}]',
      '[{"name": "a", "scram": "scram-sha-256:10:c2FsdA==:a:b"}]',
      '[{"name": "a", "zkDigest": "a:x"}, {"name": "a", "zkDigest": "a:y"}]',
    ]) {
      expect(() => parseUsers(bad, 'users.json'), bad).toThrow(ConfigError);
    }
  });

  it('ZooKeeper digests are base64(sha1(user:password)), as zkCli computes them', () => {
    // What ZooKeeper 3.8 prints for `java org.apache.zookeeper.server.auth.DigestAuthenticationProvider
    // super:secret alice:alice-secret`.
    expect(zkDigest('super', 'secret')).toBe('super:lK75jTNcA+U9vtVEw5vB51mj/w4=');
    expect(zkDigest('alice', 'alice-secret')).toBe('alice:JYdjG/dL2+v79QyuS8/0gpT+rQQ=');
  });

  it('permissions: anonymous levels, users, and admin-only internal APIs', () => {
    expect(mayCall('hello', undefined, 'none')).toBe(true);
    expect(mayCall('saslStart', undefined, 'none')).toBe(true);
    expect(mayCall('describeCluster', undefined, 'none')).toBe(false);
    expect(mayCall('describeCluster', undefined, 'metadata')).toBe(true);
    expect(mayCall('describeConfigs', undefined, 'metadata')).toBe(false);
    expect(mayCall('watch', undefined, 'metadata')).toBe(false);
    expect(mayCall('watch', 'read', 'none')).toBe(true);
    expect(mayCall('describeConfigs', undefined, 'read')).toBe(true);
    expect(mayCall('createTopics', undefined, 'read')).toBe(false);
    expect(mayCall('createTopics', 'read', 'none')).toBe(false);
    expect(mayCall('createTopics', 'write', 'none')).toBe(true);
    expect(mayCall('registerBroker', 'write', 'none')).toBe(false);
    expect(mayCall('registerBroker', 'admin', 'none')).toBe(true);
    expect(mayCall('someFutureApi', 'write', 'read')).toBe(false);
  });
});
