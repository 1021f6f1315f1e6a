/**
 * Length-prefixed msgpack framing, shared by every TCP protocol of the broker.
 *
 * A frame is a 4-byte big-endian unsigned body length followed by that many bytes of one
 * msgpack-encoded value. The decoder checks a declared length against its limit as soon as the
 * 4 header bytes are in, before it buffers any of the body, so a peer cannot make us hold more
 * than `maxFrameBytes` (plus one socket chunk) per connection.
 */
import { Packr, Unpackr } from 'msgpackr';

/** The default largest body a decoder accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** The largest length the 4-byte prefix can express. */
const MAX_ENCODABLE_BYTES = 0xffff_ffff;

/**
 * Frames use msgpackr's record structures: the maps of one shape in a frame (the entries of an
 * append, the per-partition results of a call) share one key list written once, so such a frame is
 * a quarter of the bytes and decodes four times faster than with a map per item. The structures are
 * defined inside each frame (this Packr keeps none between calls), so every frame stays
 * self-contained: it means the same whatever was sent before it or dropped, and every msgpackr
 * decoder reads it, including the plain-map decoders of earlier builds.
 */
const sharedPackr = new Packr({ useRecords: true });

/** Thrown by the decoder when a frame declares a body larger than the limit. */
export class FrameTooLargeError extends Error {
  readonly code = 'FRAME_TOO_LARGE' as const;
  constructor(
    readonly declaredBytes: number,
    readonly maxFrameBytes: number,
  ) {
    super(`frame of ${declaredBytes} bytes exceeds the limit of ${maxFrameBytes} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/** Thrown by the decoder when a frame body is not one valid msgpack value. */
export class MalformedFrameError extends Error {
  readonly code = 'MALFORMED_FRAME' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MalformedFrameError';
  }
}

/** Encodes one value as a frame. Throws whatever msgpackr throws for an unencodable value. */
export function encodeFrame(value: unknown, packr: Packr = sharedPackr): Buffer {
  const body = packr.pack(value);
  if (body.length > MAX_ENCODABLE_BYTES) {
    throw new RangeError(`frame body of ${body.length} bytes does not fit a 4-byte length`);
  }
  // One fresh buffer per frame: msgpackr returns views into a shared scratch buffer, so the body
  // is copied out anyway, and the caller may hold the frame as long as it likes.
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface FrameDecoderOptions {
  /** The largest body accepted; default 16 MiB. May be changed later through the property. */
  readonly maxFrameBytes?: number;
  /** Decoder to use; default: plain maps, binary values copied out of the socket chunks. */
  readonly unpackr?: Unpackr;
}

/** First capacity of the buffer that collects a body spanning chunks; it doubles from there. */
const INITIAL_PARTIAL_BYTES = 64 * 1024;

/**
 * Turns a stream of byte chunks back into values.
 *
 * A body that lies inside one chunk is copied out of it once. A body spanning chunks is collected
 * in one buffer that starts small and doubles (capped at the declared length), so work and memory
 * stay linear in the bytes received however the stream is chunked, and a peer that dribbles bytes
 * costs us no more than what it has actually sent (times two). No reference to a pushed chunk is
 * kept once `feed` returns.
 *
 * Invariants: `headerFilled` bytes of the next header are in `header` (0 while a body is in
 * progress); `expectedBytes` is the body length of the frame in progress, or -1 while its header is
 * incomplete; `partial[0, partialFilled)` holds the start of a body that spans chunks.
 *
 * After a push throws, the stream position is lost: the decoder stays failed and the caller must
 * drop the connection.
 */
export class FrameDecoder {
  /** The largest body accepted. Mutable: a protocol may accept bigger frames once a peer is trusted. */
  maxFrameBytes: number;
  private readonly unpackr: Unpackr;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private expectedBytes = -1;
  private partial: Buffer | undefined;
  private partialFilled = 0;
  private failure: Error | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    // Decoded binary values are views into the body buffer. Bodies are never views into the pushed
    // chunks (see `feed`), so this does not pin socket chunks; msgpackr's own `copyBuffers` would
    // also work but allocates one ArrayBuffer per binary value, which halves decoding speed.
    this.unpackr = options.unpackr ?? new Unpackr({ useRecords: false });
  }

  /** Bytes received but not yet returned as values (an incomplete frame). */
  get bufferedBytes(): number {
    return this.headerFilled + (this.expectedBytes >= 0 ? FRAME_HEADER_BYTES : 0) + this.partialFilled;
  }

  /**
   * Feeds one chunk and returns every value it completes. Throws `FrameTooLargeError` or
   * `MalformedFrameError`; values completed earlier in the same chunk are then lost (use `feed`
   * to receive them first).
   */
  push(chunk: Uint8Array): unknown[] {
    const values: unknown[] = [];
    this.feed(chunk, (value) => {
      values.push(value);
    });
    return values;
  }

  /**
   * Feeds one chunk and calls `onFrame` for each value it completes, in order. `onFrame` may
   * change `maxFrameBytes`; the next header is checked against the new limit. If `onFrame` returns
   * `false` the decoder stops and discards the rest of the chunk and anything buffered (for a caller
   * that closed the connection from inside the callback). Throws as `push`, after delivering the
   * values before the bad frame.
   */
  feed(chunk: Uint8Array, onFrame: (value: unknown) => unknown): void {
    if (this.failure !== undefined) throw this.failure;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let offset = 0;
    for (;;) {
      if (this.expectedBytes < 0) {
        // Header: straight from the chunk when it is all there, else gathered across chunks.
        if (this.headerFilled === 0 && buf.length - offset >= FRAME_HEADER_BYTES) {
          this.expectedBytes = buf.readUInt32BE(offset);
          offset += FRAME_HEADER_BYTES;
        } else {
          const count = Math.min(FRAME_HEADER_BYTES - this.headerFilled, buf.length - offset);
          buf.copy(this.header, this.headerFilled, offset, offset + count);
          this.headerFilled += count;
          offset += count;
          if (this.headerFilled < FRAME_HEADER_BYTES) return;
          this.expectedBytes = this.header.readUInt32BE(0);
          this.headerFilled = 0;
        }
        // Checked before a single body byte is kept.
        if (this.expectedBytes > this.maxFrameBytes) {
          this.fail(new FrameTooLargeError(this.expectedBytes, this.maxFrameBytes));
        }
      }
      const expected = this.expectedBytes;
      let body: Buffer;
      if (this.partial === undefined && buf.length - offset >= expected) {
        // Copied out of the chunk: a decoded value kept for long (an entry in the Raft log, say)
        // must not pin a whole 64 KiB socket chunk, and the caller may reuse its chunk. Small
        // bodies land in Node's shared allocation pool, so this copy is cheap.
        body = Buffer.from(buf.subarray(offset, offset + expected));
        offset += expected;
      } else {
        const available = buf.length - offset;
        if (available === 0) return;
        const count = Math.min(available, expected - this.partialFilled);
        this.reserve(this.partialFilled + count, expected);
        buf.copy(this.partial!, this.partialFilled, offset, offset + count);
        this.partialFilled += count;
        offset += count;
        if (this.partialFilled < expected) return;
        body = this.partial!.subarray(0, expected);
        this.partial = undefined;
        this.partialFilled = 0;
      }
      this.expectedBytes = -1;
      if (onFrame(this.decode(body)) === false) {
        this.reset();
        return;
      }
      if (offset === buf.length) return;
    }
  }

  /** Discards everything buffered; the next byte fed starts a new frame header. */
  reset(): void {
    this.headerFilled = 0;
    this.expectedBytes = -1;
    this.partial = undefined;
    this.partialFilled = 0;
    this.failure = undefined;
  }

  private decode(body: Buffer): unknown {
    try {
      return this.unpackr.unpack(body);
    } catch (err) {
      return this.fail(
        new MalformedFrameError(`cannot decode frame body of ${body.length} bytes: ${errorMessage(err)}`, {
          cause: err,
        }),
      );
    }
  }

  /** Makes `partial` hold at least `needed` bytes, doubling, never beyond the body length `cap`. */
  private reserve(needed: number, cap: number): void {
    const current = this.partial;
    if (current !== undefined && current.length >= needed) return;
    const grown = Math.min(cap, Math.max(needed, INITIAL_PARTIAL_BYTES, (current?.length ?? 0) * 2));
    const next = Buffer.allocUnsafe(grown);
    if (current !== undefined) current.copy(next, 0, 0, this.partialFilled);
    this.partial = next;
  }

  private fail(err: Error): never {
    this.reset();
    this.failure = err;
    throw err;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
