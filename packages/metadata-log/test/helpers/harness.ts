import type { ControllerResult } from '../../src/controller/quorum-controller.js';
import { MetadataImage } from '../../src/image/metadata-image.js';
import type { MetadataImageView } from '../../src/image/types.js';
import { type MetadataRecord, RecordType } from '../../src/records.js';
import { replayBatch } from '../../src/replay.js';

/**
 * Runs handlers as the controller would, without Raft: each result's records become the next batch at
 * the next offset. Keeps the log so a "follower" can replay it from scratch.
 */
export class Harness {
  image: MetadataImage = MetadataImage.EMPTY;
  readonly log: { records: readonly MetadataRecord[]; offset: number; timestampMs: number }[] = [];
  nowMs = 1_700_000_000_000;

  apply(records: readonly MetadataRecord[]): number {
    const offset = this.image.provenance.offset + 1;
    this.nowMs += 10;
    this.image = replayBatch(this.image, { timestampMs: this.nowMs, records }, offset, 1);
    this.log.push({ records, offset, timestampMs: this.nowMs });
    return offset;
  }

  run<R>(result: ControllerResult<R>): R {
    const offset = result.records.length > 0 ? this.apply(result.records) : this.image.provenance.offset;
    const r = result.response;
    return typeof r === 'function' ? (r as (c: MetadataImageView, o: number) => R)(this.image, offset) : r;
  }

  /** Registers unfenced brokers `ids` (with racks r0, r1, ... round-robin when `racks` > 0). */
  brokers(ids: readonly number[], racks = 0): void {
    for (const [i, id] of ids.entries()) {
      const offset = this.apply([
        {
          type: RecordType.RegisterBroker,
          version: 0,
          brokerId: id,
          incarnationId: `inc-${id}`,
          endpoints: [{ name: 'CLIENT', host: 'localhost', port: 9000 + id, securityProtocol: 'PLAINTEXT' }],
          rack: racks > 0 ? `r${i % racks}` : null,
          fenced: true,
          inControlledShutdown: false,
        },
      ]);
      this.apply([
        {
          type: RecordType.BrokerRegistrationChange,
          version: 0,
          brokerId: id,
          brokerEpoch: offset,
          fenced: -1,
          inControlledShutdown: 0,
        },
      ]);
    }
  }

  /** A follower's image: the whole log replayed from empty. */
  replayAll(): MetadataImage {
    let image = MetadataImage.EMPTY;
    for (const b of this.log)
      image = replayBatch(image, { timestampMs: b.timestampMs, records: b.records }, b.offset, 1);
    return image;
  }
}

/** A seeded RandomSource for deterministic assignments. */
export function seeded(seed: number) {
  let s = seed >>> 0 || 1;
  return {
    int(bound: number): number {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % bound;
    },
  };
}
