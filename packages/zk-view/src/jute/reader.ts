import { JuteError } from './errors.js';

/** ZooKeeper's default jute.maxbuffer (just under 1 MiB). */
export const DEFAULT_MAX_BUFFER = 0xfffff;

const utf8 = new TextDecoder('utf-8');

/**
 * Reads jute's binary archive (big-endian ints and longs, length-prefixed buffers, strings and vectors)
 * from one frame. Every length is checked against the bytes left in the frame and against `maxBuffer`
 * before anything is allocated.
 */
export class JuteReader {
  private readonly view: DataView;
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxBuffer: number = DEFAULT_MAX_BUFFER,
    offset = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = offset;
    this.end = bytes.byteLength;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new JuteError('truncated', `${what}: needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  int(): number {
    this.need(4, 'int');
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  long(): bigint {
    this.need(8, 'long');
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    this.need(1, 'boolean');
    const v = this.bytes[this.pos] !== 0;
    this.pos += 1;
    return v;
  }

  /** A length prefix: -1 is null; any other negative, or one over maxBuffer or the frame, is an error. */
  private length(what: string, unit: number): number | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < 0) throw new JuteError('negative-length', `${what}: negative length ${n}`);
    if (n > this.maxBuffer) {
      throw new JuteError('too-large', `${what}: length ${n} is over the maximum ${this.maxBuffer}`);
    }
    if (n * unit > this.end - this.pos) {
      throw new JuteError(
        'truncated',
        `${what}: length ${n} runs past the frame (${this.end - this.pos} left)`,
      );
    }
    return n;
  }

  /** A buffer; null for length -1. The result is a copy, not a view of the frame. */
  buffer(): Uint8Array | null {
    const n = this.length('buffer', 1);
    if (n === null) return null;
    // A copy (Buffer#slice would be a view of the frame).
    const out = new Uint8Array(n);
    out.set(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A UTF-8 string; null for length -1. */
  ustringOrNull(): string | null {
    const n = this.length('ustring', 1);
    if (n === null) return null;
    const s = utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  /** A UTF-8 string; null (-1) reads as ''. */
  ustring(): string {
    return this.ustringOrNull() ?? '';
  }

  /**
   * A vector; null for count -1. `minItemBytes` is the smallest encoding of one item, so a count that
   * cannot fit in the rest of the frame is refused before the array is allocated.
   */
  vectorOrNull<T>(readItem: (r: JuteReader) => T, minItemBytes: number): T[] | null {
    const n = this.length('vector', Math.max(1, minItemBytes));
    if (n === null) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(readItem(this));
    return out;
  }

  /** A vector; null (-1) reads as []. */
  vector<T>(readItem: (r: JuteReader) => T, minItemBytes: number): T[] {
    return this.vectorOrNull(readItem, minItemBytes) ?? [];
  }
}
