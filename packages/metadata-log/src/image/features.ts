/**
 * Finalized feature levels (`metadata.version` and others). Tiny and rarely changed: a plain map
 * copied on change. Also when the levels first and last changed and how many batches changed them
 * (a finalized-features epoch, as Kafka's `/feature` znode version).
 */
import type { FeatureLevelRecord } from '../records.js';
import type { FeaturesImage, MetadataChange } from './types.js';

/** When the levels changed: see {@link FeaturesImage}. */
export interface FeatureStamps {
  readonly createdOffset: number;
  readonly changedOffset: number;
  readonly changedTimeMs: number;
  readonly version: number;
}

const NO_STAMPS: FeatureStamps = Object.freeze({
  createdOffset: 0,
  changedOffset: 0,
  changedTimeMs: 0,
  version: 0,
});

export class FeaturesImageImpl implements FeaturesImage {
  static readonly EMPTY = new FeaturesImageImpl(new Map());

  /** @internal Takes ownership of `levels`; no level is 0 (level 0 means absent). */
  constructor(
    private readonly levels: ReadonlyMap<string, number>,
    /** @internal */ readonly stamps: FeatureStamps = NO_STAMPS,
  ) {
    Object.freeze(this);
  }

  get createdOffset(): number {
    return this.stamps.createdOffset;
  }

  get changedOffset(): number {
    return this.stamps.changedOffset;
  }

  get changedTimeMs(): number {
    return this.stamps.changedTimeMs;
  }

  get version(): number {
    return this.stamps.version;
  }

  level(name: string): number | undefined {
    return this.levels.get(name);
  }

  all(): ReadonlyMap<string, number> {
    return this.levels;
  }

  get size(): number {
    return this.levels.size;
  }

  toComparable(): { levels: Record<string, number>; stamps: FeatureStamps } {
    return {
      levels: Object.fromEntries([...this.levels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      stamps: { ...this.stamps },
    };
  }
}

export class FeaturesDelta {
  /** name -> new level; 0 removes. */
  private readonly changed = new Map<string, number>();
  private stamps: FeatureStamps;

  constructor(readonly image: FeaturesImageImpl) {
    this.stamps = image.stamps;
  }

  /** A level that differs from the current one stamps its batch (once per batch: one write). */
  replay(record: FeatureLevelRecord, offset: number, timestampMs: number): void {
    const now = this.changed.get(record.name) ?? this.image.level(record.name) ?? 0;
    this.changed.set(record.name, record.level);
    if (record.level === now || this.stamps.changedOffset === offset) return;
    const first = this.stamps.createdOffset === 0;
    this.stamps = Object.freeze({
      createdOffset: first ? offset : this.stamps.createdOffset,
      changedOffset: offset,
      changedTimeMs: timestampMs,
      version: first ? 0 : this.stamps.version + 1,
    });
  }

  get touched(): Iterable<string> {
    return this.changed.keys();
  }

  apply(): FeaturesImageImpl {
    if (this.changed.size === 0) return this.image;
    const levels = new Map(this.image.all());
    for (const [name, level] of this.changed) {
      if (level === 0) levels.delete(name);
      else levels.set(name, level);
    }
    return new FeaturesImageImpl(levels, this.stamps);
  }
}

/** One `feature-changed` per feature whose level differs (level 0: removed). */
export function featuresChanges(
  base: FeaturesImageImpl,
  next: FeaturesImageImpl,
  names: Iterable<string>,
  out: MetadataChange[],
): void {
  if (base === next) return;
  for (const name of names) {
    const before = base.level(name) ?? 0;
    const after = next.level(name) ?? 0;
    if (before !== after) out.push({ kind: 'feature-changed', name, level: after });
  }
}
