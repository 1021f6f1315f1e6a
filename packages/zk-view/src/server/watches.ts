import { EventType, type EventTypeCode, WatcherType } from '../jute/constants.js';
import { parentOf } from './paths.js';

export type WatchKind = 'data' | 'child' | 'persistent' | 'recursive';

/**
 * Watches of every connection, keyed by client path, with ZooKeeper's semantics: 'data' (getData,
 * exists) and 'child' (getChildren) watches fire once; 'persistent' watches see all four event types
 * on their path; 'recursive' ones see created, deleted and data-changed events on their path and below,
 * never children-changed (DataTree.addWatch puts them in dataWatches only).
 */
export class WatchManager<C> {
  private readonly byKind: Record<WatchKind, Map<string, Set<C>>> = {
    data: new Map(),
    child: new Map(),
    persistent: new Map(),
    recursive: new Map(),
  };
  private readonly byConn = new Map<C, Record<WatchKind, Set<string>>>();

  add(conn: C, kind: WatchKind, path: string): void {
    let set = this.byKind[kind].get(path);
    if (set === undefined) {
      set = new Set();
      this.byKind[kind].set(path, set);
    }
    set.add(conn);
    let mine = this.byConn.get(conn);
    if (mine === undefined) {
      mine = { data: new Set(), child: new Set(), persistent: new Set(), recursive: new Set() };
      this.byConn.set(conn, mine);
    }
    mine[kind].add(path);
  }

  has(conn: C, kind: WatchKind, path: string): boolean {
    return this.byConn.get(conn)?.[kind].has(path) ?? false;
  }

  remove(conn: C, kind: WatchKind, path: string): boolean {
    const set = this.byKind[kind].get(path);
    if (set === undefined || !set.delete(conn)) return false;
    if (set.size === 0) this.byKind[kind].delete(path);
    this.byConn.get(conn)?.[kind].delete(path);
    return true;
  }

  /** The watch kinds a CheckWatches/RemoveWatches type selects (`DataTree.containsWatcher/removeWatch`). */
  static kindsFor(watcherType: number): readonly WatchKind[] | undefined {
    switch (watcherType) {
      case WatcherType.Children:
        return ['child'];
      case WatcherType.Data:
        return ['data'];
      case WatcherType.Persistent:
        return ['persistent'];
      case WatcherType.PersistentRecursive:
        return ['recursive'];
      case WatcherType.Any:
        return ['data', 'child', 'persistent', 'recursive'];
      default:
        return undefined;
    }
  }

  /** Forgets every watch of a connection (it closed). */
  removeConnection(conn: C): void {
    const mine = this.byConn.get(conn);
    if (mine === undefined) return;
    for (const kind of Object.keys(mine) as WatchKind[]) {
      for (const path of mine[kind]) {
        const set = this.byKind[kind].get(path);
        set?.delete(conn);
        if (set?.size === 0) this.byKind[kind].delete(path);
      }
    }
    this.byConn.delete(conn);
  }

  /** The connections an event reaches, each once; one-shot watches it fires are removed. */
  trigger(type: EventTypeCode, path: string): Set<C> {
    const out = new Set<C>();
    if (type !== EventType.NodeChildrenChanged) this.take('data', path, out);
    if (type === EventType.NodeChildrenChanged || type === EventType.NodeDeleted)
      this.take('child', path, out);
    const persistent = this.byKind.persistent.get(path);
    if (persistent !== undefined) for (const c of persistent) out.add(c);
    if (type !== EventType.NodeChildrenChanged && this.byKind.recursive.size > 0) {
      let p = path;
      for (;;) {
        const rec = this.byKind.recursive.get(p);
        if (rec !== undefined) for (const c of rec) out.add(c);
        if (p === '/') break;
        p = parentOf(p);
      }
    }
    return out;
  }

  private take(kind: 'data' | 'child', path: string, out: Set<C>): void {
    const set = this.byKind[kind].get(path);
    if (set === undefined) return;
    this.byKind[kind].delete(path);
    for (const c of set) {
      out.add(c);
      this.byConn.get(c)?.[kind].delete(path);
    }
  }

  /** No watch of any kind: no event can reach anyone. */
  get isEmpty(): boolean {
    const k = this.byKind;
    return k.data.size === 0 && k.child.size === 0 && k.persistent.size === 0 && k.recursive.size === 0;
  }

  /** Number of (connection, path, kind) watches. */
  get count(): number {
    let n = 0;
    for (const kind of Object.keys(this.byKind) as WatchKind[]) {
      for (const set of this.byKind[kind].values()) n += set.size;
    }
    return n;
  }

  /** Number of watches of one connection. */
  countFor(conn: C): number {
    const mine = this.byConn.get(conn);
    if (mine === undefined) return 0;
    return mine.data.size + mine.child.size + mine.persistent.size + mine.recursive.size;
  }
}
