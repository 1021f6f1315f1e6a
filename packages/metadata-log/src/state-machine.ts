/**
 * The metadata log's Raft state machine: committed entries in, a new frozen {@link MetadataImage} out.
 *
 * Each `apply` call replays all its entries into one delta and publishes one image (so a burst of
 * small commits costs one apply, not one per entry), then tells listeners what changed. A Normal
 * entry holds one record batch replayed at offset = entry index, epoch = entry term; NoOp and
 * Membership entries only move the provenance.
 */
import { type Entry, EntryKind, type SnapshotMeta, type StateMachine } from '@kbroker/raft';
import { diffImages, MetadataDelta, MetadataImage } from './image/metadata-image.js';
import type { MetadataChange } from './image/types.js';
import { decodeBatch } from './records.js';
import { readSnapshot, SnapshotFormatError, type WriteSnapshotOptions, writeSnapshot } from './snapshot.js';

export type MetadataListener = (changes: readonly MetadataChange[], image: MetadataImage) => void;

export interface MetadataStateMachineOptions {
  /** Start from this image (default: empty). */
  readonly image?: MetadataImage;
  readonly snapshot?: WriteSnapshotOptions;
  /**
   * Called when a listener throws. The image is already published then, so the error must not fail
   * `apply`. Default: rethrown from a microtask, surfacing as an uncaught exception (as an
   * EventEmitter 'error' without a handler).
   */
  readonly onListenerError?: (err: unknown) => void;
}

export class MetadataStateMachine implements StateMachine {
  private current: MetadataImage;
  private readonly listeners = new Set<MetadataListener>();
  private readonly snapshotOptions: WriteSnapshotOptions;
  private readonly onListenerError: (err: unknown) => void;

  constructor(options: MetadataStateMachineOptions = {}) {
    this.current = options.image ?? MetadataImage.EMPTY;
    // Small chunks: the Raft driver pulls them one at a time between other work, so a chunk's encoding
    // (~15 ms per 128 KiB here) is the longest a snapshot holds the event loop.
    this.snapshotOptions = { chunkBytes: 128 * 1024, ...options.snapshot };
    this.onListenerError =
      options.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  /** The latest published image. */
  get image(): MetadataImage {
    return this.current;
  }

  /** Registers a listener called after each published image; returns a function removing it. */
  onChange(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Applies committed entries atomically: if any batch fails to decode or replay, nothing of this
   * call is published and the error propagates (skipping metadata would silently diverge from the
   * other nodes). Entries at or below the image's offset were applied already and are skipped.
   */
  apply(entries: readonly Entry[]): void {
    const delta = new MetadataDelta(this.current);
    let moved = false;
    for (const entry of entries) {
      if (entry.index <= this.current.provenance.offset) continue;
      moved = true;
      if (entry.kind === EntryKind.Normal && entry.data !== undefined) {
        delta.replayBatch(decodeBatch(entry.data), entry.index, entry.term);
      } else {
        delta.advance(entry.index, entry.term);
      }
    }
    if (!moved) return;
    const next = delta.apply();
    this.publish(delta.changes(), next);
  }

  /** Captures the current image now; the bytes are produced lazily and always describe that image. */
  snapshot(): Iterable<Uint8Array> {
    return writeSnapshot(this.current, this.snapshotOptions);
  }

  /** Replaces the image with a snapshot's; listeners get the difference to the previous image. */
  async restore(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const next = await readSnapshot(chunks);
    if (next.provenance.offset !== meta.index) {
      throw new SnapshotFormatError(
        `metadata snapshot is at offset ${next.provenance.offset}, but Raft installs it as index ${meta.index}`,
      );
    }
    this.publish(diffImages(this.current, next), next);
  }

  private publish(changes: readonly MetadataChange[], next: MetadataImage): void {
    this.current = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(changes, next);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
