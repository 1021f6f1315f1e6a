const utf8 = new TextEncoder();

/** Bytes written by {@link JuteWriter.raw} from this size on are attached, not copied. */
const ATTACH_BYTES = 4096;

/**
 * Writes jute's binary archive into a growable buffer. Large pre-encoded pieces ({@link raw}) are kept
 * by reference between the buffer's parts, so a reply made mostly of a cached encoding is written
 * without copying it ({@link frameParts}).
 */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;

export class JuteWriter {
  private buf: Buffer;
  private pos = 0;
  /** Everything before `buf[partStart]`, in order: earlier buffer parts and attached pieces. */
  private parts: Uint8Array[] | undefined;
  private partStart = 0;
  private attached = 0;
  /** The buffer part holding offset 0 once parts were taken (a later `ensure` may replace `buf`). */
  private head: Buffer | undefined;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get length(): number {
    return this.pos + this.attached;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  long(v: bigint): this {
    this.ensure(8);
    // Stats are mostly small non-negative zxids and times: as two 32-bit halves of a Number they cost
    // no BigInt arithmetic (several allocations per field in writeBigInt64BE).
    if (v >= 0n && v <= MAX_SAFE) {
      const n = Number(v);
      this.buf.writeUInt32BE(Math.floor(n / TWO_32), this.pos);
      this.buf.writeUInt32BE(n % TWO_32, this.pos + 4);
    } else {
      this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.pos);
    }
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  /** A buffer; null is written as length -1. */
  buffer(v: Uint8Array | null): this {
    if (v === null) return this.int(-1);
    this.int(v.byteLength);
    this.ensure(v.byteLength);
    this.buf.set(v, this.pos);
    this.pos += v.byteLength;
    return this;
  }

  /**
   * Bytes already encoded (no length prefix). Large ones are attached by reference: the caller must
   * never change them afterwards (cached encodings are immutable).
   */
  raw(bytes: Uint8Array): this {
    if (bytes.byteLength >= ATTACH_BYTES) {
      this.parts ??= [];
      if (this.pos > this.partStart) {
        const part = this.buf.subarray(this.partStart, this.pos);
        if (this.partStart === 0) this.head = part;
        this.parts.push(part);
      }
      this.parts.push(bytes);
      this.attached += bytes.byteLength;
      // Later writes go to a fresh region: the buffer part just taken stays as it is.
      this.partStart = this.pos;
      return this;
    }
    this.ensure(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
    return this;
  }

  /** A UTF-8 string; null is written as length -1. */
  ustring(v: string | null): this {
    if (v === null) return this.int(-1);
    const max = v.length * 3;
    this.ensure(4 + max);
    const { written } = utf8.encodeInto(v, this.buf.subarray(this.pos + 4, this.pos + 4 + max));
    this.buf.writeInt32BE(written, this.pos);
    this.pos += 4 + written;
    return this;
  }

  /** A vector; null is written as count -1. */
  vector<T>(items: readonly T[] | null, writeItem: (w: JuteWriter, item: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }

  /** The bytes written so far (without attached pieces, a view: copy it before writing more). */
  bytes(): Buffer {
    if (this.parts === undefined) return this.buf.subarray(0, this.pos);
    return Buffer.concat([...this.parts, this.buf.subarray(this.partStart, this.pos)]);
  }

  /**
   * The bytes written so far as one frame: the caller started with `int(0)` as a placeholder, which is
   * overwritten with the length of what follows it.
   */
  frame(): Buffer {
    this.writeLength();
    return this.bytes();
  }

  /** The frame's length prefix, in the placeholder at offset 0 (wherever that buffer part is now). */
  private writeLength(): void {
    (this.head ?? this.buf).writeInt32BE(this.length - 4, 0);
  }

  /** {@link frame} as pieces to write in order (attached pieces by reference, nothing copied). */
  frameParts(): Uint8Array[] {
    this.writeLength();
    if (this.parts === undefined) return [this.buf.subarray(0, this.pos)];
    const out = [...this.parts];
    if (this.pos > this.partStart) out.push(this.buf.subarray(this.partStart, this.pos));
    return out;
  }
}
