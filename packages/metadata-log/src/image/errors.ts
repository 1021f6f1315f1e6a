import type { MetadataRecord } from '../records.js';

/**
 * A record that cannot be replayed against the image it follows: it names a topic, partition or
 * broker that does not exist, or would break an invariant (a duplicate topic, a gap in partition ids).
 * The controller validates every record before writing it, so meeting one means the log is corrupt or
 * was written by an incompatible build; replay stops rather than guess.
 */
export class MetadataReplayError extends Error {
  override readonly name = 'MetadataReplayError';
  readonly code = 'METADATA_REPLAY';
  constructor(
    /** Raft index of the batch holding the record. */
    readonly offset: number,
    readonly record: MetadataRecord,
    readonly reason: string,
  ) {
    super(`cannot replay record type ${record.type} at offset ${offset}: ${reason} (${describe(record)})`);
  }
}

function describe(record: MetadataRecord): string {
  try {
    const text = JSON.stringify(record);
    return text.length > 300 ? `${text.slice(0, 300)}...` : text;
  } catch {
    return String(record.type);
  }
}
