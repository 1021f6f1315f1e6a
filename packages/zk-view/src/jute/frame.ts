import { JuteError } from './errors.js';

/**
 * Splits a byte stream into ZooKeeper frames: a 4-byte big-endian length, then that many bytes. A
 * declared length over `maxFrameBytes` (jute.maxbuffer) or below zero is refused before any buffer for
 * it is allocated ("Len error" in ZooKeeper, which then closes the connection).
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The first 4 bytes received, when at least 4 have arrived (for four-letter-word detection). */
  peekInt(): number | undefined {
    return this.pending.length >= 4 ? this.pending.readInt32BE(0) : undefined;
  }

  /** Appends `chunk` and returns every frame now complete (their payloads, without the length). */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let off = 0;
    while (this.pending.length - off >= 4) {
      const len = this.pending.readInt32BE(off);
      if (len < 0 || len > this.maxFrameBytes) {
        this.pending = Buffer.alloc(0);
        throw new JuteError(len < 0 ? 'negative-length' : 'too-large', `Len error ${len}`);
      }
      if (this.pending.length - off - 4 < len) break;
      frames.push(this.pending.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.pending = off === 0 ? this.pending : Buffer.from(this.pending.subarray(off));
    return frames;
  }
}
