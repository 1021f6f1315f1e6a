/**
 * Where kbroker's time goes: V8 CPU profiles of the kbroker processes (`node --cpu-prof`), cut to a
 * measurement window and summed by component of the code base, plus each process's CPU time by
 * thread from /proc (the main thread runs all JavaScript; the others are V8's GC helpers, libuv's
 * pool doing LevelDB writes and fsyncs, and LevelDB's compaction).
 *
 * A sample belongs to the innermost frame of our own packages on its stack (a socket write made by
 * the ZooKeeper server counts for the ZooKeeper server); samples with no such frame are node
 * internals, the garbage collector or V8 itself ("program"). Timestamps in a .cpuprofile are
 * CLOCK_MONOTONIC microseconds, the clock of `process.hrtime`, so a window taken in the harness cuts
 * the children's profiles.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Components, first match wins, by the file a frame comes from. */
const COMPONENTS: readonly (readonly [string, RegExp])[] = [
  ['zookeeper tree (znode view, change events)', /zk-view\/dist\/(tree|layout|json)\.js/],
  ['zookeeper server (protocol, sessions, replies)', /zk-view\/dist\/(server|jute)\//],
  ['zookeeper writes -> controller calls', /broker\/dist\/node\/zk-(writes|sessions|auth)\.js/],
  ['node RPC server (forwarded calls)', /broker\/dist\/node\/(rpc-server|service|node|channel)\.js/],
  ['client library (forwarding to the controller)', /client\/dist\//],
  ['controller (handlers, speculation)', /metadata-log\/dist\/controller\//],
  [
    'metadata image (decode, replay, changes)',
    /metadata-log\/dist\/(image|replay|state-machine|records|queries)/,
  ],
  ['metadata snapshots', /metadata-log\/dist\/snapshot/],
  ['raft storage (LevelDB)', /raft\/dist\/storage\//],
  ['raft transport', /raft\/dist\/transport\//],
  ['raft core and driver', /raft\/dist\//],
  ['frame codec', /wire\/dist\//],
  ['broker (other)', /broker\/dist\//],
];

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ComponentShare {
  readonly component: string;
  /** Share of the busy (non-idle) time of all processes. */
  readonly percent: number;
  /** CPU microseconds per operation, all processes together (0 when no operation count was given). */
  readonly usPerOp: number;
}

export interface ProfileSummary {
  /** Per profile (one per process): busy milliseconds in the window. */
  readonly processes: readonly { readonly file: string; readonly busyMs: number; readonly idleMs: number }[];
  readonly components: readonly ComponentShare[];
  /** The hottest functions by self time over all processes: [share of busy %, function and place]. */
  readonly hot: readonly (readonly [number, string])[];
}

function special(fn: string): string | undefined {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8 and native code outside JavaScript ("program")';
  if (fn === '(idle)') return 'idle';
  return undefined;
}

/**
 * Sums every `.cpuprofile` of `dir` over [fromUs, toUs] (CLOCK_MONOTONIC µs); `ops` operations ran
 * in the window (for µs per operation). `root` is cut from frame URLs.
 */
export async function summariseProfiles(
  dir: string,
  fromUs: number,
  toUs: number,
  ops: number,
  root: string,
): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const byComponent = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const processes: { file: string; busyMs: number; idleMs: number }[] = [];
  let busyAll = 0;
  for (const file of files) {
    const p = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const componentOf = new Map<number, string>();
    const component = (id: number): string => {
      const known = componentOf.get(id);
      if (known !== undefined) return known;
      const n = byId.get(id)!;
      let c = special(n.callFrame.functionName);
      if (c === undefined) {
        for (const [name, re] of COMPONENTS)
          if (re.test(n.callFrame.url)) {
            c = name;
            break;
          }
      }
      if (c === undefined) {
        const up = parent.get(id);
        c = up === undefined ? 'node internals (sockets, timers, promises)' : component(up);
      }
      componentOf.set(id, c);
      return c;
    };
    let ts = p.startTime;
    let busy = 0;
    let idle = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const dt = p.timeDeltas[i] ?? 0;
      ts += dt;
      if (ts < fromUs || ts > toUs) continue;
      const id = p.samples[i]!;
      const c = component(id);
      if (c === 'idle') {
        idle += dt;
        continue;
      }
      busy += dt;
      byComponent.set(c, (byComponent.get(c) ?? 0) + dt);
      const n = byId.get(id)!;
      const url = n.callFrame.url.replace(/^file:\/\//, '').replace(root, '');
      const key = `${n.callFrame.functionName || '(anonymous)'} ${url}${url === '' ? '' : `:${n.callFrame.lineNumber + 1}`}`;
      bySelf.set(key, (bySelf.get(key) ?? 0) + dt);
    }
    busyAll += busy;
    processes.push({ file, busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000) });
  }
  const share = (us: number) => Number(((100 * us) / Math.max(1, busyAll)).toFixed(1));
  return {
    processes,
    components: [...byComponent]
      .sort((a, b) => b[1] - a[1])
      .map(([component, us]) => ({
        component,
        percent: share(us),
        usPerOp: ops > 0 ? Number((us / ops).toFixed(1)) : 0,
      })),
    hot: [...bySelf]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([k, us]) => [share(us), k] as const),
  };
}

/**
 * CPU milliseconds of a process so far (Linux /proc): its main thread and all its other threads, and
 * how much of the total was kernel time (system calls: socket reads and writes, fsync).
 */
export async function threadCpuMs(
  pid: number,
): Promise<{ mainMs: number; otherMs: number; kernelMs: number } | undefined> {
  const tick = 10; // USER_HZ is 100 on Linux: /proc times are in 10 ms ticks.
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let mainMs = 0;
  let otherMs = 0;
  let kernelMs = 0;
  for (const t of tasks) {
    let raw: string;
    try {
      raw = await readFile(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * tick;
    kernelMs += Number(f[12]) * tick;
    if (t === String(pid)) mainMs += ms;
    else otherMs += ms;
  }
  return { mainMs, otherMs, kernelMs };
}
