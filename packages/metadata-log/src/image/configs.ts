/**
 * Dynamic configs per resource (topic name, broker id, "" for the cluster-wide broker default).
 * Resources per type live in a persistent trie (a cluster may carry configs for 100k+ topics); one
 * resource's values are a small map copied once per delta that changes it.
 *
 * A resource exists while it holds at least one value; deleting its last value removes it, and a later
 * value creates it afresh (new creation stamp, version 0), as a config znode would be. What the
 * removal forgets is kept beside: an *owned* resource (a topic's configs while the topic exists, whose
 * znode stays as `{}`) leaves its stamps ({@link EmptiedConfigs}) until its owner goes; any other
 * counts in its type's {@link ConfigRemovals}.
 */
import type { ConfigRecord, ConfigResourceType } from '../records.js';
import { PMap } from './pmap.js';
import type {
  ConfigRemovals,
  ConfigsImage,
  EmptiedConfigs,
  MetadataChange,
  ResourceConfigs,
} from './types.js';

const NO_REMOVALS: ConfigRemovals = Object.freeze({ count: 0, lastOffset: 0 });

/**
 * One resource's stamps over all its lives since `emptied`'s first: created with the first, changed
 * with the latest, and a version counting every write, an emptying and a re-creation included (one
 * write per batch: a re-creation in the batch that emptied it is that same write).
 */
export function continuedStamps(
  emptied: EmptiedConfigs | undefined,
  current: ResourceConfigs | undefined,
): EmptiedConfigs | undefined {
  if (current === undefined) return emptied;
  const recreation = emptied === undefined || current.createdOffset === emptied.changedOffset ? 0 : 1;
  return Object.freeze({
    createdOffset: emptied?.createdOffset ?? current.createdOffset,
    createdTimeMs: emptied?.createdTimeMs ?? current.createdTimeMs,
    changedOffset: current.changedOffset,
    changedTimeMs: current.changedTimeMs,
    version: (emptied === undefined ? 0 : emptied.version + recreation) + current.version,
  });
}

export class ResourceConfigsImpl implements ResourceConfigs {
  /** @internal Takes ownership of `values`. */
  constructor(
    readonly values: ReadonlyMap<string, string>,
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    readonly changedOffset: number,
    readonly changedTimeMs: number,
    readonly version: number,
  ) {
    Object.freeze(this);
  }
}

export interface ComparableResource {
  type: number;
  name: string;
  values: Record<string, string>;
  createdOffset: number;
  createdTimeMs: number;
  changedOffset: number;
  changedTimeMs: number;
  version: number;
}

const byKey = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export class ConfigsImageImpl implements ConfigsImage {
  static readonly EMPTY = new ConfigsImageImpl(new Map());

  /** @internal Resource type -> (resource name -> configs); no empty maps, no empty resources. */
  constructor(
    /** @internal */ readonly byType: ReadonlyMap<number, PMap<ResourceConfigsImpl>>,
    /** @internal Resource type -> (name -> stamps of an emptied owned resource); no empty maps. */
    readonly emptiedByType: ReadonlyMap<number, PMap<EmptiedConfigs>> = new Map(),
    /** @internal */ readonly removalsByType: ReadonlyMap<number, ConfigRemovals> = new Map(),
  ) {
    Object.freeze(this);
  }

  get(type: ConfigResourceType, name: string): ResourceConfigsImpl | undefined {
    return this.byType.get(type)?.get(name);
  }

  emptied(type: ConfigResourceType, name: string): EmptiedConfigs | undefined {
    return this.emptiedByType.get(type)?.get(name);
  }

  removals(type: ConfigResourceType): ConfigRemovals {
    return this.removalsByType.get(type) ?? NO_REMOVALS;
  }

  resources(type: ConfigResourceType): IterableIterator<[string, ResourceConfigsImpl]> {
    return (this.byType.get(type) ?? PMap.empty<ResourceConfigsImpl>()).entries();
  }

  /** Every resource type holding configs. */
  types(): IterableIterator<number> {
    return this.byType.keys();
  }

  toComparable(): {
    resources: ComparableResource[];
    emptied: [number, string, EmptiedConfigs][];
    removals: [number, ConfigRemovals][];
  } {
    const emptied: [number, string, EmptiedConfigs][] = [];
    for (const type of [...this.emptiedByType.keys()].sort((a, b) => a - b)) {
      for (const [name, e] of [...this.emptiedByType.get(type)!.entries()].sort(byKey))
        emptied.push([type, name, { ...e }]);
    }
    const removals: [number, ConfigRemovals][] = [...this.removalsByType]
      .sort(([a], [b]) => a - b)
      .map(([t, r]) => [t, { ...r }]);
    return { resources: this.comparableResources(), emptied, removals };
  }

  private comparableResources(): ComparableResource[] {
    const out: ComparableResource[] = [];
    for (const type of [...this.byType.keys()].sort((a, b) => a - b)) {
      for (const [name, r] of [...this.byType.get(type)!.entries()].sort(byKey)) {
        out.push({
          type,
          name,
          values: Object.fromEntries([...r.values].sort(byKey)),
          createdOffset: r.createdOffset,
          createdTimeMs: r.createdTimeMs,
          changedOffset: r.changedOffset,
          changedTimeMs: r.changedTimeMs,
          version: r.version,
        });
      }
    }
    return out;
  }
}

class ResourceWork {
  constructor(
    readonly values: Map<string, string>,
    readonly createdOffset: number,
    readonly createdTimeMs: number,
    public changedOffset: number,
    public changedTimeMs: number,
    public version: number,
  ) {}

  /** One batch is one write of the resource: the version moves at most once per offset. */
  touch(offset: number, timestampMs: number): void {
    if (this.changedOffset === offset) return;
    this.changedOffset = offset;
    this.changedTimeMs = timestampMs;
    this.version++;
  }
}

export class ConfigsDelta {
  /** type -> name -> working copy, or null when the resource was emptied. */
  private readonly changed = new Map<number, Map<string, ResourceWork | null>>();
  /** type -> name -> new emptied stamps, or null when dropped with the owner. */
  private readonly emptiedChanged = new Map<number, Map<string, EmptiedConfigs | null>>();
  private readonly removals: Map<number, ConfigRemovals>;

  constructor(readonly image: ConfigsImageImpl) {
    this.removals = new Map(image.removalsByType);
  }

  private emptiedNow(type: number, name: string): EmptiedConfigs | undefined {
    const c = this.emptiedChanged.get(type)?.get(name);
    return c === undefined ? this.image.emptiedByType.get(type)?.get(name) : (c ?? undefined);
  }

  private setEmptied(type: number, name: string, e: EmptiedConfigs | null): void {
    let m = this.emptiedChanged.get(type);
    if (m === undefined) {
      m = new Map();
      this.emptiedChanged.set(type, m);
    }
    m.set(name, e);
  }

  private slot(type: number): Map<string, ResourceWork | null> {
    let m = this.changed.get(type);
    if (m === undefined) {
      m = new Map();
      this.changed.set(type, m);
    }
    return m;
  }

  /** The resource's working copy, creating it from the image on first touch; undefined if absent. */
  private work(type: number, name: string): ResourceWork | undefined {
    const m = this.slot(type);
    const c = m.get(name);
    if (c !== undefined) return c ?? undefined;
    const base = this.image.byType.get(type)?.get(name);
    if (base === undefined) return undefined;
    const w = new ResourceWork(
      new Map(base.values),
      base.createdOffset,
      base.createdTimeMs,
      base.changedOffset,
      base.changedTimeMs,
      base.version,
    );
    m.set(name, w);
    return w;
  }

  /** The resource as of the records replayed so far, without copying it. */
  private peek(type: number, name: string): ResourceWork | ResourceConfigsImpl | undefined {
    const c = this.changed.get(type)?.get(name);
    return c === undefined ? this.image.byType.get(type)?.get(name) : (c ?? undefined);
  }

  /**
   * `owned`: the resource belongs to something that outlives its values (a topic that exists), so
   * emptying it keeps its stamps instead of counting a removal.
   */
  replay(record: ConfigRecord, offset: number, timestampMs: number, owned = false): void {
    const type = record.resourceType as number;
    if (record.value === null) {
      // Deleting an absent value changes nothing (no version bump): ZooKeeper would not write either.
      if (this.peek(type, record.resourceName)?.values.has(record.name) !== true) return;
      const w = this.work(type, record.resourceName)!;
      w.values.delete(record.name);
      w.touch(offset, timestampMs);
      if (w.values.size > 0) return;
      this.slot(type).set(record.resourceName, null);
      if (owned) {
        this.setEmptied(
          type,
          record.resourceName,
          continuedStamps(this.emptiedNow(type, record.resourceName), w)!,
        );
      } else {
        const r = this.removals.get(type) ?? NO_REMOVALS;
        this.removals.set(type, Object.freeze({ count: r.count + 1, lastOffset: offset }));
      }
      return;
    }
    const w = this.work(type, record.resourceName);
    if (w === undefined) {
      const fresh = new ResourceWork(new Map(), offset, timestampMs, offset, timestampMs, 0);
      fresh.values.set(record.name, record.value);
      this.slot(type).set(record.resourceName, fresh);
      return;
    }
    w.values.set(record.name, record.value);
    w.touch(offset, timestampMs);
  }

  /** Drops a whole resource and its emptied stamps with its owner (a removed topic's configs). */
  removeResource(type: number, name: string): void {
    if (this.peek(type, name) !== undefined) this.slot(type).set(name, null);
    if (this.emptiedNow(type, name) !== undefined) this.setEmptied(type, name, null);
  }

  /** [type, name] of every resource touched. */
  *touched(): Generator<[number, string]> {
    for (const [type, m] of this.changed) for (const name of m.keys()) yield [type, name];
  }

  apply(): ConfigsImageImpl {
    let any = false;
    for (const m of this.changed.values()) if (m.size > 0) any = true;
    if (!any && this.emptiedChanged.size === 0) return this.image;
    const byType = new Map(this.image.byType);
    for (const [type, m] of this.changed) {
      if (m.size === 0) continue;
      const b = (byType.get(type) ?? PMap.empty<ResourceConfigsImpl>()).asMutable();
      for (const [name, w] of m) {
        if (w === null) b.delete(name);
        else {
          b.set(
            name,
            new ResourceConfigsImpl(
              w.values,
              w.createdOffset,
              w.createdTimeMs,
              w.changedOffset,
              w.changedTimeMs,
              w.version,
            ),
          );
        }
      }
      if (b.size === 0) byType.delete(type);
      else byType.set(type, b.build());
    }
    let emptied = this.image.emptiedByType;
    if (this.emptiedChanged.size > 0) {
      const next = new Map(emptied);
      for (const [type, m] of this.emptiedChanged) {
        const b = (next.get(type) ?? PMap.empty<EmptiedConfigs>()).asMutable();
        for (const [name, e] of m) {
          if (e === null) b.delete(name);
          else b.set(name, e);
        }
        if (b.size === 0) next.delete(type);
        else next.set(type, b.build());
      }
      emptied = next;
    }
    return new ConfigsImageImpl(byType, emptied, this.removals);
  }
}

/** One `config-changed` per name whose value differs between the images (null: deleted). */
export function configsChanges(
  base: ConfigsImageImpl,
  next: ConfigsImageImpl,
  resources: Iterable<[number, string]>,
  out: MetadataChange[],
): void {
  if (base === next) return;
  for (const [type, resourceName] of resources) {
    const b = base.get(type as ConfigResourceType, resourceName);
    const a = next.get(type as ConfigResourceType, resourceName);
    if (a === b) continue;
    const resourceType = type as ConfigResourceType;
    if (b !== undefined) {
      for (const [name, value] of b.values) {
        const now = a?.values.get(name);
        if (now === undefined)
          out.push({ kind: 'config-changed', resourceType, resourceName, name, value: null });
        else if (now !== value)
          out.push({ kind: 'config-changed', resourceType, resourceName, name, value: now });
      }
    }
    if (a !== undefined) {
      for (const [name, value] of a.values) {
        if (b?.values.has(name) !== true)
          out.push({ kind: 'config-changed', resourceType, resourceName, name, value });
      }
    }
  }
}
