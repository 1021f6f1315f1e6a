import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashString, PMap } from '../src/image/pmap.js';

function contents<V>(m: PMap<V>): [string, V][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('PMap', () => {
  it('behaves as a Map under random sets and deletes, persistent and transient alike', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), key: fc.string({ maxLength: 3 }), v: fc.integer() }),
      fc.record({ k: fc.constant('del' as const), key: fc.string({ maxLength: 3 }) }),
      fc.record({ k: fc.constant('build' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const model = new Map<string, number>();
        let persistent = PMap.empty<number>();
        const builder = PMap.empty<number>().asMutable();
        const snapshots: [PMap<number>, [string, number][]][] = [];
        for (const o of ops) {
          if (o.k === 'set') {
            model.set(o.key, o.v);
            persistent = persistent.set(o.key, o.v);
            builder.set(o.key, o.v);
          } else if (o.k === 'del') {
            model.delete(o.key);
            persistent = persistent.delete(o.key);
            builder.delete(o.key);
          } else {
            const built = builder.build();
            snapshots.push([built, contents(built)]);
          }
          expect(persistent.size).toBe(model.size);
          expect(builder.size).toBe(model.size);
        }
        const expected = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(contents(persistent)).toEqual(expected);
        expect(contents(builder.build())).toEqual(expected);
        for (const [k, v] of model) expect(persistent.get(k)).toBe(v);
        // Maps built earlier never see later builder writes.
        for (const [m, c] of snapshots) expect(contents(m)).toEqual(c);
      }),
      { numRuns: 300 },
    );
  });

  it('handles full 32-bit hash collisions', () => {
    const seen = new Map<number, string>();
    const pairs: [string, string][] = [];
    for (let i = 0; pairs.length < 2 && i < 2_000_000; i++) {
      const k = `k${i}`;
      const h = hashString(k);
      const other = seen.get(h);
      if (other !== undefined) pairs.push([other, k]);
      else seen.set(h, k);
    }
    expect(pairs.length).toBeGreaterThan(0);
    for (const [a, b] of pairs) {
      let m = PMap.empty<number>().set(a, 1).set(b, 2).set('x', 3);
      expect([m.get(a), m.get(b), m.size]).toEqual([1, 2, 3]);
      m = m.set(b, 4);
      expect(m.get(b)).toBe(4);
      m = m.delete(a);
      expect([m.get(a), m.get(b), m.size]).toEqual([undefined, 4, 2]);
      m = m.delete(b).delete('x');
      expect(m.size).toBe(0);
      expect([...m.values()]).toEqual([]);
    }
  });

  it('shares untouched structure and returns itself on no-op writes', () => {
    const m = PMap.empty<number>().set('a', 1);
    expect(m.set('a', 1)).toBe(m);
    expect(m.delete('b')).toBe(m);
    const big = PMap.empty<number>().asMutable();
    for (let i = 0; i < 10_000; i++) big.set(`t${i}`, i);
    const b = big.build();
    expect(b.size).toBe(10_000);
    let n = 0;
    b.forEach(() => {
      n++;
    });
    expect(n).toBe(10_000);
    expect(b.set('t1', 99).get('t1')).toBe(99);
    expect(b.get('t1')).toBe(1);
  });
});
