/**
 * Hostile input for the shared frame decoder: random byte streams, valid frames mutated (bit flips,
 * truncation, length fields that lie), huge declared lengths and deeply nested msgpack. Only
 * `FrameTooLargeError` and `MalformedFrameError` may come out, a declared length over the limit is
 * refused before any body byte is kept, and a failed decoder stays failed.
 * `FUZZ_RUNS=100000 npx vitest run test/fuzz` for a long run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  FrameTooLargeError,
  MalformedFrameError,
} from '../../packages/wire/src/frame.js';
import { mutate, mutations, RUNS } from './helpers.js';

const MAX = 4096;

function expectTyped(err: unknown): void {
  expect(err instanceof FrameTooLargeError || err instanceof MalformedFrameError, String(err)).toBe(true);
}

/** Feeds `bytes` cut at `cuts`; returns how many values came out, or the error. */
function feedAll(bytes: Uint8Array, cuts: number[]): { values: number; error?: unknown; buffered: number } {
  const d = new FrameDecoder({ maxFrameBytes: MAX });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let values = 0;
  let at = 0;
  try {
    for (const p of [...points, bytes.length]) {
      values += d.push(bytes.subarray(at, p)).length;
      at = p;
    }
  } catch (error) {
    return { values, error, buffered: d.bufferedBytes };
  }
  return { values, buffered: d.bufferedBytes };
}

/** Valid frames of JSON-ish values, as msgpack encodes them for the protocols. */
const validFrames = fc
  .array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 4 })
  .map((vs) => Buffer.concat(vs.map((v) => encodeFrame(v))));

describe('FrameDecoder under hostile input', () => {
  it('random byte streams, cut anywhere: values or typed errors, never more than the limit buffered', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2 * MAX }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, cuts) => {
          const r = feedAll(bytes, cuts);
          if (r.error !== undefined) expectTyped(r.error);
          expect(r.buffered).toBeLessThanOrEqual(MAX + 4);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('mutated valid frames: values or typed errors', () => {
    fc.assert(
      fc.property(validFrames, mutations, fc.array(fc.nat(), { maxLength: 4 }), (frames, ms, cuts) => {
        const r = feedAll(mutate(frames, ms), cuts);
        if (r.error !== undefined) expectTyped(r.error);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a declared length over the limit from its 4 header bytes alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX + 1, max: 0xffff_ffff }), (declared) => {
        const d = new FrameDecoder({ maxFrameBytes: MAX });
        const header = Buffer.alloc(4);
        header.writeUInt32BE(declared);
        let thrown: unknown;
        try {
          d.push(header);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(FrameTooLargeError);
        expect((thrown as FrameTooLargeError).declaredBytes).toBe(declared);
        expect(d.bufferedBytes).toBe(0);
        // Stays failed: the stream position is lost.
        expect(() => d.push(Buffer.from([0x90]))).toThrow(FrameTooLargeError);
      }),
      { numRuns: Math.min(RUNS, 500) },
    );
  });

  it('deep nesting and lying container lengths are malformed frames, not crashes', () => {
    const bodies = [
      Buffer.alloc(MAX, 0x91), // arrays nested MAX deep (call-stack exhaustion in a naive decoder)
      Buffer.alloc(MAX, 0x81), // maps nested
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4 billion items, none present
      Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), // map32
      Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]), // str32
      Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x41]), // bin32
      Buffer.from([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]), // ext32
    ];
    for (const body of bodies) {
      const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      let thrown: unknown;
      try {
        d.push(Buffer.concat([header, body]));
      } catch (err) {
        thrown = err;
      }
      expect(thrown, body.subarray(0, 6).toString('hex')).toBeInstanceOf(MalformedFrameError);
    }
  });
});
