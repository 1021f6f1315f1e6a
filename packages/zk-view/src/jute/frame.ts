import { JuteError } from './errors.js';

/** Capacity kept between frames; a larger buffer (for one large frame) is dropped once it is empty. */
const KEEP_BYTES = 64 * 1024;

/**
 * Splits a byte stream into ZooKeeper frames: a 4-byte big-endian length, then that many bytes. A
 * declared length over `maxFrameBytes` (jute.maxbuffer) or below zero is refused before any buffer for
 * it is allocated ("Len error" in ZooKeeper, which then closes the connection).
 *
 * Received bytes are gathered in one buffer that doubles as needed, so a client dribbling a frame a
 * byte at a time costs linear work and at most twice the bytes it sent (a naive concatenation per
 * chunk would copy the whole partial frame again for every byte). Frames are returned as copies.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private filled = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.filled;
  }

  /** The first 4 bytes received, when at least 4 have arrived (for four-letter-word detection). */
  peekInt(): number | undefined {
    return this.filled >= 4 ? this.buf.readInt32BE(0) : undefined;
  }

  /** Appends `chunk` and returns every frame now complete (their payloads, without the length). */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const frames: Buffer[] = [];
    let off = 0;
    while (this.filled - off >= 4) {
      const len = this.buf.readInt32BE(off);
      if (len < 0 || len > this.maxFrameBytes) {
        this.buf = Buffer.alloc(0);
        this.filled = 0;
        throw new JuteError(len < 0 ? 'negative-length' : 'too-large', `Len error ${len}`);
      }
      if (this.filled - off - 4 < len) break;
      frames.push(Buffer.from(this.buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    if (off > 0) {
      this.buf.copy(this.buf, 0, off, this.filled);
      this.filled -= off;
      if (this.filled === 0 && this.buf.length > KEEP_BYTES) this.buf = Buffer.alloc(0);
    }
    return frames;
  }

  private append(chunk: Buffer): void {
    const needed = this.filled + chunk.length;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 256, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.filled);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.filled);
    this.filled = needed;
  }
}
