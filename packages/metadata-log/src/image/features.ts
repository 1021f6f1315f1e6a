/**
 * Finalized feature levels (`metadata.version` and others). Tiny and rarely changed: a plain map
 * copied on change.
 */
import type { FeatureLevelRecord } from '../records.js';
import type { FeaturesImage, MetadataChange } from './types.js';

export class FeaturesImageImpl implements FeaturesImage {
  static readonly EMPTY = new FeaturesImageImpl(new Map());

  /** @internal Takes ownership of `levels`; no level is 0 (level 0 means absent). */
  constructor(private readonly levels: ReadonlyMap<string, number>) {
    Object.freeze(this);
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

  toComparable(): Record<string, number> {
    return Object.fromEntries([...this.levels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

export class FeaturesDelta {
  /** name -> new level; 0 removes. */
  private readonly changed = new Map<string, number>();

  constructor(readonly image: FeaturesImageImpl) {}

  replay(record: FeatureLevelRecord): void {
    this.changed.set(record.name, record.level);
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
    return new FeaturesImageImpl(levels);
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
