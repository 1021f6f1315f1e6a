import { describe, expect, it } from 'vitest';
import { planDevCluster, prettyLogLine } from '../src/cli/dev.js';

describe('planDevCluster', () => {
  it('gives each node its own ports and data dir, the first three being voters', () => {
    const plan = planDevCluster({ nodes: 4, basePort: 19092, dataDir: 'dev' });
    expect(plan.controllerQuorum).toBe('1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194');
    expect(
      plan.nodes.map((n) => [n.nodeId, n.roles.join(','), n.client, n.quorum, n.http, n.dataDir]),
    ).toEqual([
      [1, 'broker,controller', '127.0.0.1:19092', '127.0.0.1:19192', '127.0.0.1:19292', 'dev/node-1'],
      [2, 'broker,controller', '127.0.0.1:19093', '127.0.0.1:19193', '127.0.0.1:19293', 'dev/node-2'],
      [3, 'broker,controller', '127.0.0.1:19094', '127.0.0.1:19194', '127.0.0.1:19294', 'dev/node-3'],
      [4, 'broker', '127.0.0.1:19095', undefined, '127.0.0.1:19295', 'dev/node-4'],
    ]);
  });

  it('takes the number of voters and checks the ranges', () => {
    expect(
      planDevCluster({ nodes: 5, voters: 5, basePort: 1000, dataDir: 'd' }).controllerQuorum.split(','),
    ).toHaveLength(5);
    expect(() => planDevCluster({ nodes: 0, basePort: 1000, dataDir: 'd' })).toThrow(/--nodes must be 1-99/);
    expect(() => planDevCluster({ nodes: 2, voters: 3, basePort: 1000, dataDir: 'd' })).toThrow(
      /--voters must be 1-2/,
    );
    expect(() => planDevCluster({ nodes: 3, basePort: 65400, dataDir: 'd' })).toThrow(/--base-port/);
  });
});

describe('prettyLogLine', () => {
  it('prettifies pino JSON: time, level, message and extra fields', () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2025, 0, 1, 12, 30, 5, 123),
      pid: 1,
      hostname: 'h',
      nodeId: 2,
      roles: 'broker',
      msg: 'lost leadership',
      term: 7,
      peer: 'a',
      err: { message: 'boom', stack: '...' },
    });
    expect(prettyLogLine(2, line)).toBe(
      'node 2 | 12:30:05.123 WARN  lost leadership  term=7 peer=a err="boom"',
    );
  });

  it('passes other lines through after the prefix', () => {
    expect(prettyLogLine(3, 'kbroker node 3 is running')).toBe('node 3 | kbroker node 3 is running');
    expect(prettyLogLine(1, '{not json')).toBe('node 1 | {not json');
    expect(prettyLogLine(1, '{"a":1}')).toBe('node 1 | {"a":1}');
  });

  it('colours the prefix and the level on a terminal', () => {
    const text = prettyLogLine(1, JSON.stringify({ level: 50, msg: 'x' }), true);
    expect(text).toBe('\u001b[36mnode 1 |\u001b[0m \u001b[31mERROR\u001b[0m x');
  });
});
