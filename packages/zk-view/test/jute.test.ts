import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JuteError } from '../src/jute/errors.js';
import { FrameDecoder } from '../src/jute/frame.js';
import { DEFAULT_MAX_BUFFER, JuteReader } from '../src/jute/reader.js';
import {
  type ConnectRequest,
  type CreateRequest,
  readConnectRequest,
  readConnectResponse,
  readCreateRequest,
  readMultiHeader,
  readReplyHeader,
  readRequestHeader,
  readSetWatches,
  readStat,
  readWatcherEvent,
  type SetWatches,
  STAT_BYTES,
  writeConnectRequest,
  writeConnectResponse,
  writeCreateRequest,
  writeMultiHeader,
  writeReplyHeader,
  writeRequestHeader,
  writeSetWatches,
  writeStat,
  writeWatcherEvent,
} from '../src/jute/records.js';
import { JuteWriter } from '../src/jute/writer.js';
import type { Stat } from '../src/types.js';

const int = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const long = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const bytes = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null });
const str = fc.string({ unit: 'grapheme', maxLength: 32 });
const strs = fc.array(str, { maxLength: 8 });

const stat: fc.Arbitrary<Stat> = fc.record({
  czxid: long,
  mzxid: long,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: long,
  dataLength: int,
  numChildren: int,
  pzxid: long,
});

function roundTrip<T>(write: (w: JuteWriter, v: T) => void, read: (r: JuteReader) => T, v: T): T {
  const w = new JuteWriter(1);
  write(w, v);
  const r = new JuteReader(Buffer.from(w.bytes()));
  const out = read(r);
  expect(r.remaining).toBe(0);
  return out;
}

/** Reads every prefix of an encoding: each must fail with a JuteError and never anything else. */
function everyPrefixFails(encoded: Uint8Array, read: (r: JuteReader) => unknown): void {
  for (let n = 0; n < encoded.length; n++) {
    expect(() => read(new JuteReader(encoded.subarray(0, n)))).toThrow(JuteError);
  }
}

describe('jute primitives', () => {
  it("writes a long as 8 big-endian two's-complement bytes on either side of 2^53", () => {
    const edges = [
      0n,
      1n,
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 63n - 1n,
      -1n,
      -(2n ** 63n),
    ];
    for (const v of edges) {
      const want = Buffer.alloc(8);
      want.writeBigInt64BE(v);
      expect(Buffer.from(new JuteWriter(1).long(v).bytes()), String(v)).toEqual(want);
    }
  });

  it('round-trip int, long, bool, buffer, ustring and vector', () => {
    fc.assert(
      fc.property(
        int,
        long,
        fc.boolean(),
        bytes,
        fc.option(str, { nil: null }),
        strs,
        (i, l, b, buf, s, v) => {
          const w = new JuteWriter(1);
          w.int(i).long(l).bool(b).buffer(buf).ustring(s);
          w.vector(v, (ww, x) => {
            ww.ustring(x);
          });
          const r = new JuteReader(Buffer.from(w.bytes()));
          expect(r.int()).toBe(i);
          expect(r.long()).toBe(l);
          expect(r.bool()).toBe(b);
          expect(r.buffer()).toEqual(buf);
          expect(r.ustringOrNull()).toBe(s);
          expect(r.vector((rr) => rr.ustring(), 4)).toEqual(v);
          expect(r.remaining).toBe(0);
        },
      ),
    );
  });

  it('null buffers, strings and vectors are length -1', () => {
    const w = new JuteWriter();
    w.buffer(null)
      .ustring(null)
      .vector(null, () => {});
    expect([...w.bytes()]).toEqual(Array(12).fill(0xff));
    const r = new JuteReader(Buffer.from(w.bytes()));
    expect(r.buffer()).toBeNull();
    expect(r.ustringOrNull()).toBeNull();
    expect(r.vectorOrNull((rr) => rr.int(), 4)).toBeNull();
  });

  it('refuses lengths over the frame, over maxBuffer, or negative, before allocating', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (n) => {
        fc.pre(n !== -1);
        const w = new JuteWriter();
        w.int(n).int(0);
        const read = () => new JuteReader(Buffer.from(w.bytes()), 1024).buffer();
        if (n >= 0 && n <= 4) {
          expect(read()).toHaveLength(n);
          return;
        }
        try {
          read();
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(JuteError);
          const kind = (e as JuteError).kind;
          if (n < 0) expect(kind).toBe('negative-length');
          else if (n > 1024) expect(kind).toBe('too-large');
          else expect(kind).toBe('truncated');
        }
      }),
    );
  });

  it('refuses a vector count that cannot fit in the frame, whatever the item size', () => {
    const w = new JuteWriter();
    w.int(DEFAULT_MAX_BUFFER).int(0).int(0);
    expect(() => new JuteReader(Buffer.from(w.bytes())).vector((r) => r.ustring(), 4)).toThrow(/runs past/);
    const w2 = new JuteWriter();
    w2.int(0x7fffffff);
    expect(() => new JuteReader(Buffer.from(w2.bytes())).vector((r) => r.int(), 4)).toThrow(
      /over the maximum/,
    );
  });

  it('random bytes never throw anything but JuteError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (b) => {
        for (const read of [
          readConnectRequest,
          (r: JuteReader) => readSetWatches(r, true),
          (r: JuteReader) => readCreateRequest(r, true),
          readStat,
        ]) {
          try {
            read(new JuteReader(b));
          } catch (e) {
            expect(e).toBeInstanceOf(JuteError);
          }
        }
      }),
    );
  });
});

describe('jute records', () => {
  it('Stat round-trips in 68 bytes, and every prefix fails', () => {
    fc.assert(
      fc.property(stat, (s) => {
        expect(roundTrip(writeStat, readStat, s)).toEqual(s);
        const w = new JuteWriter();
        writeStat(w, s);
        expect(w.length).toBe(STAT_BYTES);
        everyPrefixFails(w.bytes(), readStat);
      }),
      { numRuns: 50 },
    );
  });

  it('ConnectRequest round-trips with and without the readOnly byte', () => {
    const req = fc.record(
      {
        protocolVersion: int,
        lastZxidSeen: long,
        timeOut: int,
        sessionId: long,
        passwd: bytes,
        readOnly: fc.boolean(),
      },
      { requiredKeys: ['protocolVersion', 'lastZxidSeen', 'timeOut', 'sessionId', 'passwd'] },
    );
    fc.assert(
      fc.property(req, (c) => {
        expect(roundTrip(writeConnectRequest, readConnectRequest, c as ConnectRequest)).toEqual(c);
        expect(
          roundTrip(writeConnectResponse, readConnectResponse, {
            protocolVersion: c.protocolVersion,
            timeOut: c.timeOut,
            sessionId: c.sessionId,
            passwd: c.passwd,
          }),
        ).toEqual({
          protocolVersion: c.protocolVersion,
          timeOut: c.timeOut,
          sessionId: c.sessionId,
          passwd: c.passwd,
        });
      }),
    );
  });

  it('headers and watcher events round-trip', () => {
    fc.assert(
      fc.property(int, int, long, fc.boolean(), str, (a, b, z, done, p) => {
        expect(roundTrip(writeRequestHeader, readRequestHeader, { xid: a, type: b })).toEqual({
          xid: a,
          type: b,
        });
        expect(roundTrip(writeReplyHeader, readReplyHeader, { xid: a, zxid: z, err: b })).toEqual({
          xid: a,
          zxid: z,
          err: b,
        });
        expect(roundTrip(writeMultiHeader, readMultiHeader, { type: a, done, err: b })).toEqual({
          type: a,
          done,
          err: b,
        });
        expect(roundTrip(writeWatcherEvent, readWatcherEvent, { type: a, state: b, path: p })).toEqual({
          type: a,
          state: b,
          path: p,
        });
      }),
    );
  });

  it('SetWatches (v1 and v2) and CreateTTLRequest round-trip', () => {
    const sw = fc.record({
      relativeZxid: long,
      dataWatches: strs,
      existWatches: strs,
      childWatches: strs,
      persistentWatches: strs,
      persistentRecursiveWatches: strs,
    });
    fc.assert(
      fc.property(sw, (s: SetWatches) => {
        expect(
          roundTrip(
            (w, v) => writeSetWatches(w, v, true),
            (r) => readSetWatches(r, true),
            s,
          ),
        ).toEqual(s);
        const v1 = roundTrip(
          (w, v) => writeSetWatches(w, v, false),
          (r) => readSetWatches(r, false),
          s,
        );
        expect(v1).toEqual({ ...s, persistentWatches: [], persistentRecursiveWatches: [] });
      }),
      { numRuns: 50 },
    );
    const acl = fc.record({ perms: int, id: fc.record({ scheme: str, id: str }) });
    const create = fc.record({
      path: str,
      data: bytes,
      acl: fc.array(acl, { maxLength: 3 }),
      flags: int,
      ttl: long,
    });
    fc.assert(
      fc.property(create, (c: CreateRequest) => {
        expect(roundTrip(writeCreateRequest, (r) => readCreateRequest(r, true), c)).toEqual(c);
      }),
      { numRuns: 50 },
    );
  });
});

describe('FrameDecoder', () => {
  it('reassembles frames however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 20 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(
            payloads.map((p) => {
              const b = Buffer.alloc(4 + p.length);
              b.writeInt32BE(p.length, 0);
              b.set(p, 4);
              return b;
            }),
          );
          const d = new FrameDecoder(1024);
          const out: Buffer[] = [];
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = cuts[i++ % cuts.length]!;
            out.push(...d.push(stream.subarray(off, off + n)).map((f) => Buffer.from(f)));
            off += n;
          }
          expect(out.map((f) => [...f])).toEqual(payloads.map((p) => [...p]));
          expect(d.buffered).toBe(0);
        },
      ),
    );
  });

  it('refuses a declared length over the maximum or negative ("Len error")', () => {
    const d = new FrameDecoder(0xfffff);
    const b = Buffer.alloc(4);
    b.writeInt32BE(0x100000, 0);
    expect(() => d.push(b)).toThrow(/Len error/);
    b.writeInt32BE(-5, 0);
    expect(() => new FrameDecoder(10).push(b)).toThrow(JuteError);
    b.writeInt32BE(0xfffff, 0);
    expect(new FrameDecoder(0xfffff).push(b)).toEqual([]);
  });
});

describe('JuteWriter attached pieces', () => {
  it('frames a reply around a large cached encoding without copying it, the length prefix included', () => {
    const big = new Uint8Array(5000).map((_, i) => i % 251);
    const w = new JuteWriter(8);
    w.int(0).int(7);
    w.raw(big);
    // Past the initial capacity: the buffer is replaced while the first part is held.
    for (let i = 0; i < 20; i++) w.int(i);
    w.raw(new Uint8Array([1, 2, 3]));
    const parts = w.frameParts();
    expect(parts).toContain(big);
    const whole = Buffer.concat(parts);
    expect(whole.readInt32BE(0)).toBe(whole.length - 4);
    expect(whole.readInt32BE(4)).toBe(7);
    expect(whole.subarray(8, 5008)).toEqual(Buffer.from(big));
    expect(whole.readInt32BE(5008 + 19 * 4)).toBe(19);
    expect(whole.subarray(-3)).toEqual(Buffer.from([1, 2, 3]));
    expect(w.frame()).toEqual(whole);
    expect(w.length).toBe(whole.length);
  });
});
