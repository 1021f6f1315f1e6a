/**
 * The metadata as a browsable tree, for `kbroker metadata-shell`: built from a MetadataImage (a
 * snapshot file) or from what the admin API returns (a live cluster), and the shell commands over it
 * (`ls`, `cat`, `tree`, `find`, `cd`, `pwd`). Pure: no I/O here.
 *
 *   /cluster                                  cluster id, metadata offset, counts
 *   /features/<name>                          finalized level
 *   /brokers/<id>                             registration: endpoints, rack, fenced, epoch
 *   /topics/<name>                            topic id, partition count; children:
 *   /topics/<name>/<partition>                replicas, isr, leader, epochs
 *   /configs/topics/<name>[/<key>]            dynamic topic configs
 *   /configs/brokers/<id>|<default>[/<key>]   dynamic broker configs (<default>: the cluster default)
 *   /offsets/<group>/<topic>/<partition>      committed offset, metadata, commit time
 *
 * A name holding `/` or `%` is written with `%2F` / `%25` in paths.
 */
import type { MetadataImageView } from '@kbroker/metadata-log';

export interface TreeNode {
  readonly name: string;
  /** What `cat` prints (any JSON value); undefined for a plain directory. */
  readonly value?: unknown;
  readonly children: ReadonlyMap<string, TreeNode>;
}

export const DEFAULT_ENTITY = '<default>';

const NUMERIC = /^\d+$/;

/** Numbers in numeric order first, then names in code-point order. */
function compareNames(a: string, b: string): number {
  const na = NUMERIC.test(a);
  const nb = NUMERIC.test(b);
  if (na && nb) return Number(a) - Number(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function node(name: string, value?: unknown, children: readonly TreeNode[] = []): TreeNode {
  const sorted = [...children].sort((x, y) => compareNames(x.name, y.name));
  return { name, value, children: new Map(sorted.map((c) => [c.name, c])) };
}

function configNode(name: string, configs: Iterable<readonly [string, string]>): TreeNode {
  const entries = [...configs].sort(([a], [b]) => compareNames(a, b));
  return node(
    name,
    Object.fromEntries(entries),
    entries.map(([k, v]) => node(k, v)),
  );
}

/** Groups `items` by `key`, keeping order. */
function groupBy<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** The tree of a metadata image (e.g. one read from a snapshot). */
export function treeFromImage(image: MetadataImageView): TreeNode {
  const topics = [...image.topics.topics()];
  const groups = [...image.offsets.groups()];
  const cluster = node('cluster', {
    clusterId: image.cluster.clusterId,
    metadataOffset: image.provenance.offset,
    metadataEpoch: image.provenance.epoch,
    metadataTimestampMs: image.provenance.timestampMs,
    brokers: image.cluster.brokerCount,
    topics: image.topics.topicCount,
    partitions: image.topics.partitionCount,
    groups: image.offsets.groupCount,
  });
  const features = node(
    'features',
    undefined,
    [...image.features.all()].map(([name, level]) => node(name, level)),
  );
  const brokers = node(
    'brokers',
    undefined,
    [...image.cluster.brokers()].map((b) =>
      node(String(b.id), {
        id: b.id,
        epoch: b.epoch,
        incarnationId: b.incarnationId,
        endpoints: b.endpoints.map((e) => ({ ...e })),
        rack: b.rack,
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
        registeredTimeMs: b.registeredTimeMs,
      }),
    ),
  );
  const topicsNode = node(
    'topics',
    undefined,
    topics.map((t) =>
      node(
        t.name,
        {
          name: t.name,
          topicId: t.id,
          partitions: t.partitions.length,
          createdOffset: t.createdOffset,
          createdTimeMs: t.createdTimeMs,
          assignmentChangedOffset: t.assignmentChangedOffset,
          assignmentChangedTimeMs: t.assignmentChangedTimeMs,
          assignmentVersion: t.assignmentVersion,
        },
        t.partitions.map((p, i) =>
          node(String(i), {
            partition: i,
            leader: p.leader,
            leaderEpoch: p.leaderEpoch,
            partitionEpoch: p.partitionEpoch,
            replicas: [...p.replicas],
            isr: [...p.isr],
            leaderRecoveryState: p.leaderRecoveryState,
            createdOffset: p.createdOffset,
            createdTimeMs: p.createdTimeMs,
            changedOffset: p.changedOffset,
            changedTimeMs: p.changedTimeMs,
          }),
        ),
      ),
    ),
  );
  const configsOf = (type: 2 | 4, label: (name: string) => string) =>
    [...image.configs.resources(type)]
      .filter(([, rc]) => rc.values.size > 0)
      .map(([name, rc]) => configNode(label(name), rc.values));
  const configs = node('configs', undefined, [
    node(
      'topics',
      undefined,
      configsOf(2, (n) => n),
    ),
    node(
      'brokers',
      undefined,
      configsOf(4, (n) => (n === '' ? DEFAULT_ENTITY : n)),
    ),
  ]);
  const offsets = node(
    'offsets',
    undefined,
    groups.map((g) =>
      node(
        g.groupId,
        { groupId: g.groupId, partitions: g.size },
        [...groupBy(g.entries(), ([topic]) => topic)].map(([topic, entries]) =>
          node(
            topic,
            undefined,
            entries.map(([, partition, c]) =>
              node(String(partition), {
                offset: c.offset,
                metadata: c.metadata,
                commitTimestampMs: c.commitTimestampMs,
                changedOffset: c.changedOffset,
                createdOffset: c.createdOffset,
                createdTimeMs: c.createdTimeMs,
                version: c.version,
              }),
            ),
          ),
        ),
      ),
    ),
  );
  return node('', undefined, [cluster, features, brokers, topicsNode, configs, offsets]);
}

/** What a live cluster's admin API returns, as the live tree needs it (the client's types fit it). */
export interface LiveMetadata {
  readonly cluster: {
    readonly clusterId: string;
    readonly controller: number;
    readonly brokers: readonly {
      readonly nodeId: number;
      readonly host: string;
      readonly port: number;
      readonly rack: string | null;
      readonly fenced: boolean;
      readonly inControlledShutdown: boolean;
    }[];
  };
  readonly topics: readonly {
    readonly name: string;
    readonly topicId: string;
    readonly partitions: readonly {
      readonly partitionId: number;
      readonly leader: number;
      readonly leaderEpoch: number;
      readonly partitionEpoch: number;
      readonly replicas: readonly number[];
      readonly isr: readonly number[];
    }[];
  }[];
  /** Broker resource name "" is the cluster default. */
  readonly configs: readonly {
    readonly resourceType: 'topic' | 'broker';
    readonly resourceName: string;
    readonly configEntries: readonly { readonly configName: string; readonly configValue: string }[];
  }[];
  readonly groups: readonly {
    readonly groupId: string;
    readonly offsets: readonly {
      readonly topic: string;
      readonly partition: number;
      readonly offset: number;
      readonly metadata: string;
    }[];
  }[];
}

/** The tree of a live cluster, from describeCluster / describeTopics / describeConfigs / offsets. */
export function treeFromLive(data: LiveMetadata): TreeNode {
  const partitions = data.topics.reduce((n, t) => n + t.partitions.length, 0);
  const cluster = node('cluster', {
    clusterId: data.cluster.clusterId,
    controller: data.cluster.controller,
    brokers: data.cluster.brokers.length,
    topics: data.topics.length,
    partitions,
    groups: data.groups.length,
  });
  const brokers = node(
    'brokers',
    undefined,
    data.cluster.brokers.map((b) =>
      node(String(b.nodeId), {
        id: b.nodeId,
        host: b.host,
        port: b.port,
        rack: b.rack,
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
      }),
    ),
  );
  const topics = node(
    'topics',
    undefined,
    data.topics.map((t) =>
      node(
        t.name,
        { name: t.name, topicId: t.topicId, partitions: t.partitions.length },
        t.partitions.map((p) =>
          node(String(p.partitionId), {
            partition: p.partitionId,
            leader: p.leader,
            leaderEpoch: p.leaderEpoch,
            partitionEpoch: p.partitionEpoch,
            replicas: [...p.replicas],
            isr: [...p.isr],
          }),
        ),
      ),
    ),
  );
  const configsOf = (type: 'topic' | 'broker') =>
    data.configs
      .filter((r) => r.resourceType === type && r.configEntries.length > 0)
      .map((r) =>
        configNode(
          type === 'broker' && r.resourceName === '' ? DEFAULT_ENTITY : r.resourceName,
          r.configEntries.map((e) => [e.configName, e.configValue] as const),
        ),
      );
  const configs = node('configs', undefined, [
    node('topics', undefined, configsOf('topic')),
    node('brokers', undefined, configsOf('broker')),
  ]);
  const offsets = node(
    'offsets',
    undefined,
    data.groups.map((g) =>
      node(
        g.groupId,
        { groupId: g.groupId, partitions: g.offsets.length },
        [...groupBy(g.offsets, (o) => o.topic)].map(([topic, entries]) =>
          node(
            topic,
            undefined,
            entries.map((o) => node(String(o.partition), { offset: o.offset, metadata: o.metadata })),
          ),
        ),
      ),
    ),
  );
  return node('', undefined, [cluster, node('features'), brokers, topics, configs, offsets]);
}

// ---- Paths ------------------------------------------------------------------------------------

export function encodeSegment(name: string): string {
  return name.replace(/%/g, '%25').replace(/\//g, '%2F');
}

function decodeSegment(segment: string): string {
  return segment.replace(/%2F/gi, '/').replace(/%25/g, '%');
}

/** `segments` as an absolute path (`/` for the root). */
export function formatPath(segments: readonly string[]): string {
  return `/${segments.map(encodeSegment).join('/')}`;
}

/** Resolves `path` (absolute, or relative to `cwd`; `.` and `..` allowed) to segments. */
export function resolvePath(path: string, cwd: readonly string[] = []): string[] {
  const out = path.startsWith('/') ? [] : [...cwd];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(decodeSegment(part));
  }
  return out;
}

export function lookup(root: TreeNode, segments: readonly string[]): TreeNode | undefined {
  let n: TreeNode | undefined = root;
  for (const s of segments) {
    n = n.children.get(s);
    if (n === undefined) return undefined;
  }
  return n;
}

/** `*` and `?` glob over one name; no wildcard means "contains". */
export function nameMatches(name: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return name.includes(pattern);
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

/** Every path at and under `segments` (pre-order), optionally only names matching `pattern`. */
export function findPaths(root: TreeNode, segments: readonly string[], pattern?: string): string[] {
  const start = lookup(root, segments);
  if (start === undefined) return [];
  const out: string[] = [];
  const walk = (n: TreeNode, path: string[]) => {
    if (pattern === undefined || nameMatches(n.name, pattern)) out.push(formatPath(path));
    for (const c of n.children.values()) walk(c, [...path, c.name]);
  };
  walk(start, [...segments]);
  return out;
}

function inline(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The subtree drawn with box characters; a leaf with a scalar value shows it (`name = value`). */
export function renderTree(root: TreeNode, segments: readonly string[]): string[] {
  const start = lookup(root, segments);
  if (start === undefined) return [];
  const label = (n: TreeNode) => {
    if (n.children.size > 0) return `${encodeSegment(n.name)}/`;
    if (n.value === undefined || n.value === null || typeof n.value === 'object')
      return encodeSegment(n.name);
    return `${encodeSegment(n.name)} = ${inline(n.value)}`;
  };
  const lines = [segments.length === 0 ? '/' : label(start)];
  const walk = (n: TreeNode, prefix: string) => {
    const kids = [...n.children.values()];
    kids.forEach((c, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${label(c)}`);
      walk(c, prefix + (last ? '    ' : '│   '));
    });
  };
  walk(start, '');
  return lines;
}

/** The subtree as one JSON value: a leaf is its value, a directory `{ child: ..., }` (plus `.` for its own value). */
export function treeToJson(n: TreeNode): unknown {
  if (n.children.size === 0) return n.value ?? null;
  const out: Record<string, unknown> = {};
  if (n.value !== undefined) out['.'] = n.value;
  for (const c of n.children.values()) out[c.name] = treeToJson(c);
  return out;
}

// ---- The shell --------------------------------------------------------------------------------

export interface ShellResult {
  /** Lines for stdout. */
  readonly out: readonly string[];
  /** One line for stderr when the command failed. */
  readonly error?: string;
  readonly exit?: boolean;
  /** The caller should reload the tree (a live cluster) and tell the shell. */
  readonly refresh?: boolean;
}

export const SHELL_HELP = [
  'ls [path...]          list children (a trailing / marks a node with children)',
  'cat <path...>         print a node as JSON',
  'tree [path]           draw the subtree',
  'find [path] [pattern] every path under path whose name matches (* and ? glob; plain text: contains)',
  'cd [path]             change the current node (default /)',
  'pwd                   print the current node',
  'refresh               reload the metadata (live cluster)',
  'help                  this list',
  'exit, quit            leave the shell',
];

/** Splits a command line into words; '...' and "..." quote. */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

export class MetadataShell {
  private cwdSegments: string[] = [];

  constructor(
    private root: TreeNode,
    private readonly options: { readonly json?: boolean } = {},
  ) {}

  get cwd(): string {
    return formatPath(this.cwdSegments);
  }

  /** Replaces the tree (after a refresh); the current node is kept when it still exists. */
  setRoot(root: TreeNode): void {
    this.root = root;
    while (lookup(root, this.cwdSegments) === undefined) this.cwdSegments.pop();
  }

  /** Names below the current node that complete `partial` (for tab completion). */
  complete(partial: string): string[] {
    const slash = partial.lastIndexOf('/');
    const dirPart = slash >= 0 ? partial.slice(0, slash + 1) : '';
    const base = slash >= 0 ? partial.slice(slash + 1) : partial;
    const dir = lookup(this.root, resolvePath(dirPart || '.', this.cwdSegments));
    if (dir === undefined) return [];
    return [...dir.children.values()]
      .filter((c) => encodeSegment(c.name).startsWith(base))
      .map((c) => `${dirPart}${encodeSegment(c.name)}${c.children.size > 0 ? '/' : ''}`);
  }

  /** Runs one command line. */
  run(line: string): ShellResult {
    return this.exec(tokenize(line));
  }

  /** Runs one command given as words (`['ls', '/topics']`). */
  exec(words: readonly string[]): ShellResult {
    const [cmd, ...args] = words;
    const json = this.options.json === true;
    const resolveNode = (path: string, verb: string) => {
      const segments = resolvePath(path, this.cwdSegments);
      const n = lookup(this.root, segments);
      if (n === undefined) return { error: `${verb}: ${path}: no such node` } as const;
      return { segments, node: n } as const;
    };
    switch (cmd) {
      case undefined:
        return { out: [] };
      case 'ls': {
        const paths = args.length > 0 ? args : ['.'];
        const out: string[] = [];
        const listed: Record<string, string[]> = {};
        for (const p of paths) {
          const r = resolveNode(p, 'ls');
          if ('error' in r) return { out, error: r.error };
          const names =
            r.node.children.size === 0 && r.segments.length > 0
              ? [encodeSegment(r.node.name)]
              : [...r.node.children.values()].map(
                  (c) => `${encodeSegment(c.name)}${c.children.size > 0 ? '/' : ''}`,
                );
          listed[formatPath(r.segments)] = names;
          if (!json) {
            if (paths.length > 1) out.push(`${formatPath(r.segments)}:`);
            out.push(...names);
          }
        }
        if (json) {
          const v = paths.length === 1 ? Object.values(listed)[0] : listed;
          return { out: [JSON.stringify(v, null, 2)] };
        }
        return { out };
      }
      case 'cat': {
        if (args.length === 0) return { out: [], error: 'cat: which node? (cat <path>)' };
        const out: string[] = [];
        for (const p of args) {
          const r = resolveNode(p, 'cat');
          if ('error' in r) return { out, error: r.error };
          if (r.node.value === undefined) return { out, error: `cat: ${p}: has no data (try ls)` };
          const v = r.node.value;
          out.push(typeof v === 'string' && !json ? v : JSON.stringify(v, null, 2));
        }
        return { out };
      }
      case 'tree': {
        const r = resolveNode(args[0] ?? '.', 'tree');
        if ('error' in r) return { out: [], error: r.error };
        if (json) return { out: [JSON.stringify(treeToJson(r.node), null, 2)] };
        return { out: renderTree(this.root, r.segments) };
      }
      case 'find': {
        const r = resolveNode(args[0] ?? '.', 'find');
        if ('error' in r) return { out: [], error: r.error };
        const found = findPaths(this.root, r.segments, args[1]);
        return { out: json ? [JSON.stringify(found, null, 2)] : found };
      }
      case 'cd': {
        const r = resolveNode(args[0] ?? '/', 'cd');
        if ('error' in r) return { out: [], error: r.error };
        this.cwdSegments = [...r.segments];
        return { out: [] };
      }
      case 'pwd':
        return { out: [this.cwd] };
      case 'refresh':
        return { out: [], refresh: true };
      case 'help':
        return { out: SHELL_HELP };
      case 'exit':
      case 'quit':
        return { out: [], exit: true };
      default:
        return { out: [], error: `${cmd}: unknown command (help lists them)` };
    }
  }
}
