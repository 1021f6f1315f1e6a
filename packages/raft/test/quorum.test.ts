import { describe, expect, it } from 'vitest';
import { formatQuorum, parseQuorum, QuorumSpecError } from '../src/quorum.js';

describe('parseQuorum', () => {
  it('parses ids, hosts and ports, defaulting the port to 9093', () => {
    expect(parseQuorum('1@h1:9093,2@h2,3@[::1]:9500')).toEqual([
      { id: 1, address: 'h1:9093' },
      { id: 2, address: 'h2:9093' },
      { id: 3, address: '[::1]:9500' },
    ]);
    expect(parseQuorum(' 1@127.0.0.1:1 , ')).toEqual([{ id: 1, address: '127.0.0.1:1' }]);
  });

  it('round-trips through formatQuorum', () => {
    const spec = '1@a:1,2@b:2';
    expect(formatQuorum(parseQuorum(spec))).toBe(spec);
  });

  it.each([
    ['', /empty/],
    ['h1:9093', /expected id@host/],
    ['0@h1', /positive id/],
    ['x@h1', /positive id/],
    ['1@h1,1@h2', /listed twice/],
    ['1@h1:0', /port must be/],
    ['1@h1:70000', /port must be/],
    ['1@h1:abc', /port must be/],
    ['1@:9093', /bad host/],
    ['1@[::1', /unclosed/],
  ])('refuses %j with a clear message', (spec, message) => {
    expect(() => parseQuorum(spec)).toThrow(QuorumSpecError);
    expect(() => parseQuorum(spec)).toThrow(message);
  });
});
