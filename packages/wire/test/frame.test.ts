import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FrameDecoder,
  FrameTooLargeError,
  MalformedFrameError,
} from '../src/frame.js';

/** A frame with an arbitrary body, bypassing msgpack. */
function rawFrame(body: Uint8Array, declaredBytes = body.length): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(declaredBytes, 0);
  return Buffer.concat([header, body]);
}

describe('encodeFrame / FrameDecoder', () => {
  // Binary values decode as Buffers (a Uint8Array subclass), so the expectations use Buffers.
  it('round-trips values', () => {
    const values = [
      null,
      true,
      0,
      -1,
      2 ** 40,
      1.5,
      'héllo',
      '',
      [1, [2, [3]]],
      { t: 'msg', p: { term: 3, entries: [{ index: 1, data: Buffer.from([1, 2, 3]) }] } },
      Buffer.alloc(0),
    ];
    const decoder = new FrameDecoder();
    const decoded = decoder.push(Buffer.concat(values.map((v) => encodeFrame(v))));
    expect(decoded).toEqual(values);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('writes a 4-byte big-endian length before the body', () => {
    const frame = encodeFrame('abc');
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(new Packr({ useRecords: false }).unpack(frame.subarray(4))).toBe('abc');
  });

  it('keeps each frame self-contained while maps of one shape share a key list', () => {
    const results = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => ({
        topic: `t${from + i}`,
        partition: i,
        errorCode: 0,
        error: null,
      }));
    const first = encodeFrame({ offsets: results(20) });
    const second = encodeFrame({ offsets: results(20, 100) });
    // Decoded alone, out of order, by a fresh plain-map decoder (as an earlier build's): same values.
    expect(new FrameDecoder().push(second)).toEqual([{ offsets: results(20, 100) }]);
    expect(new Packr({ useRecords: false }).unpack(first.subarray(4))).toEqual({ offsets: results(20) });
    // Nothing carries over from the frames encoded before.
    expect(encodeFrame({ offsets: results(20, 100) })).toEqual(second);
    // The keys are written once, not once per map.
    expect(second.length).toBeLessThan(
      new Packr({ useRecords: false }).pack({ offsets: results(20, 100) }).length / 2,
    );
  });

  it('decodes frames fed one byte at a time', () => {
    const values = [{ a: 1 }, 'x'.repeat(300), [1, 2, 3], Buffer.alloc(70_000, 7)];
    const stream = Buffer.concat(values.map((v) => encodeFrame(v)));
    const decoder = new FrameDecoder();
    const decoded: unknown[] = [];
    for (let i = 0; i < stream.length; i++) decoded.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(decoded).toEqual(values);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes many frames from one chunk', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => ({ i, s: `v${i}` }));
    const decoded = new FrameDecoder().push(Buffer.concat(values.map((v) => encodeFrame(v))));
    expect(decoded).toEqual(values);
  });

  it('reports the buffered bytes of an incomplete frame', () => {
    const frame = encodeFrame('hello world');
    const decoder = new FrameDecoder();
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(2);
    expect(decoder.push(frame.subarray(2, 7))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(7);
    expect(decoder.push(frame.subarray(7))).toEqual(['hello world']);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects a declared length over the limit from the header alone', () => {
    const decoder = new FrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(2 ** 31, 0);
    // Only the header has arrived: the decoder must refuse without waiting for (or allocating) 2 GiB.
    const thrown = (() => {
      try {
        decoder.push(header);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(FrameTooLargeError);
    expect((thrown as FrameTooLargeError).code).toBe('FRAME_TOO_LARGE');
    expect((thrown as FrameTooLargeError).declaredBytes).toBe(2 ** 31);
    expect((thrown as FrameTooLargeError).maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
    // The decoder stays failed: the stream position is lost.
    expect(() => decoder.push(encodeFrame(1))).toThrow(FrameTooLargeError);
  });

  it('honours a configured limit, also when the header is split', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 10 });
    expect(decoder.push(encodeFrame('0123456'))).toEqual(['0123456']); // 8-byte body
    const big = encodeFrame('0123456789abc');
    expect(decoder.push(big.subarray(0, 3))).toEqual([]);
    expect(() => decoder.push(big.subarray(3, 4))).toThrow(FrameTooLargeError);
  });

  it('applies a limit changed from inside feed to the next header', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 4 });
    const stream = Buffer.concat([encodeFrame('a'), encodeFrame('x'.repeat(100))]);
    const seen: unknown[] = [];
    decoder.feed(stream, (value) => {
      seen.push(value);
      decoder.maxFrameBytes = 1000;
    });
    expect(seen).toEqual(['a', 'x'.repeat(100)]);
  });

  it('throws MalformedFrameError for a body msgpack cannot decode', () => {
    for (const body of [[0x92, 0x01], [0x01, 0x02], [], [0xd9, 0xff], [0xc7, 0x01, 0x72, 0x00]]) {
      const decoder = new FrameDecoder();
      let thrown: unknown;
      try {
        decoder.push(rawFrame(Buffer.from(body)));
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `body ${JSON.stringify(body)}`).toBeInstanceOf(MalformedFrameError);
      expect((thrown as MalformedFrameError).code).toBe('MALFORMED_FRAME');
    }
  });

  it('feed delivers the good frames before a bad one', () => {
    const decoder = new FrameDecoder();
    const seen: unknown[] = [];
    const stream = Buffer.concat([
      encodeFrame(1),
      encodeFrame(2),
      rawFrame(Buffer.from([0x92])),
      encodeFrame(3),
    ]);
    expect(() => decoder.feed(stream, (v) => seen.push(v))).toThrow(MalformedFrameError);
    expect(seen).toEqual([1, 2]);
  });

  it('feed stops when the callback returns false', () => {
    const decoder = new FrameDecoder();
    const seen: unknown[] = [];
    decoder.feed(Buffer.concat([encodeFrame(1), encodeFrame(2), encodeFrame(3)]), (v) => {
      seen.push(v);
      return v !== 2;
    });
    expect(seen).toEqual([1, 2]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('does not hand out views into the pushed chunks', () => {
    const chunk = encodeFrame({ data: new Uint8Array([1, 2, 3]) });
    const [value] = new FrameDecoder().push(chunk) as [{ data: Uint8Array }];
    chunk.fill(0);
    expect([...value.data]).toEqual([1, 2, 3]);
  });

  it('property: framed values re-chunked at random boundaries decode to the same values', () => {
    const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.maxSafeInteger(),
        // msgpack has no negative zero integer; -0 is written as 0.
        fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
        fc.string(),
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      ),
    }));
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 20 }),
        fc.array(fc.nat({ max: 64 }), { maxLength: 200 }),
        (values, cuts) => {
          const stream = Buffer.concat(values.map((v) => encodeFrame(v)));
          const decoder = new FrameDecoder();
          const decoded: unknown[] = [];
          let offset = 0;
          for (const size of cuts) {
            if (offset >= stream.length) break;
            decoded.push(...decoder.push(stream.subarray(offset, offset + size)));
            offset += size;
          }
          if (offset < stream.length) decoded.push(...decoder.push(stream.subarray(offset)));
          expect(decoded).toEqual(values);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
