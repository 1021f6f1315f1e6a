/**
 * Real ZooKeeper servers for the benchmark (the Debian `zookeeper` package: jars in /usr/share/java,
 * config dir /etc/zookeeper/conf): a standalone server (as test/fixtures/real-zookeeper.ts) or a
 * 3-server ensemble on loopback (zoo.cfg with server.N lines, a myid file per data dir), each on free
 * ports with temporary data dirs removed by `stop`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectWithRetry } from './zk-client.js';

const CLASSPATH = '/usr/share/java/*:/etc/zookeeper/conf';

/** Every child process started here, killed on exit whatever happens. */
export const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
});

/** Why a real ZooKeeper cannot run here, or undefined when it can. */
export function zookeeperUnavailable(): string | undefined {
  if (!existsSync('/usr/share/java/zookeeper.jar'))
    return 'no /usr/share/java/zookeeper.jar (apt-get install -y zookeeper)';
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error !== undefined || java.status !== 0)
    return `java does not run: ${java.error?.message ?? java.stderr}`;
  return undefined;
}

/** Ports handed out by this process: deployments started side by side must not get the same one. */
const handedOut = new Set<number>();

/**
 * `n` ports free now (listened on and closed again). The OS may offer a port just closed to the next
 * caller, so ports this process handed out before are skipped: otherwise two deployments started
 * at once could share one, and a client would talk ZooKeeper to a Kafka or quorum port.
 */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const servers = await Promise.all(
      Array.from(
        { length: n - out.length },
        () =>
          new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
            const s = createServer();
            s.once('error', reject);
            s.listen(0, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    for (const s of servers) {
      const a = s.address();
      if (typeof a !== 'object' || a === null) throw new Error('no port');
      if (!handedOut.has(a.port)) {
        handedOut.add(a.port);
        out.push(a.port);
      }
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
  return out;
}

export interface ZooKeeperDeployment {
  readonly name: string;
  /** host:port of each server. */
  readonly servers: readonly string[];
  stop(): Promise<void>;
}

/** A deployment whose servers can be killed (SIGKILL) and started again on the same data dir. */
export interface RestartableDeployment extends ZooKeeperDeployment {
  /** kill -9 of server `i` (index into `servers`); resolves once the process is gone. */
  kill(i: number): Promise<void>;
  /** Starts server `i` again with its data dir; resolves once the process is spawned. */
  restart(i: number): Promise<void>;
}

/** A child process whose output tail is kept for error messages. */
function spawnJava(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: () => boolean;
  exit: Promise<void>;
} {
  let output = '';
  let exited = false;
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  const keep = (d: Buffer) => {
    output = (output + String(d)).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      liveChildren.delete(child);
      resolve();
    }),
  );
  return { child, output: () => output, exited: () => exited, exit };
}

async function stopChild(p: {
  child: ChildProcess;
  exited: () => boolean;
  exit: Promise<void>;
}): Promise<void> {
  if (p.exited()) return;
  p.child.kill('SIGTERM');
  const killer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exit;
  clearTimeout(killer);
}

const JVM_FLAGS = [
  '-Xms512m',
  '-Xmx2g',
  '-Dzookeeper.4lw.commands.whitelist=ruok,srvr',
  '-Dzookeeper.admin.enableServer=false',
  '-Dzookeeper.jmx.log4j.disable=true',
  '-Dzookeeper.root.logger=WARN,CONSOLE',
  '-Dzookeeper.console.threshold=WARN',
];

/** Sends a four-letter word (`srvr`, `ruok`) and resolves with the whole answer. */
export function fourLetterWord(server: string, word: string, timeoutMs = 5000): Promise<string> {
  const [host, port] = server.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = connect(Number(port), host, () => socket.write(word));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${word} to ${server} timed out`)));
    socket.on('data', (d) => {
      out += String(d);
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(out));
  });
}

/**
 * Starts `size` servers: 1 = standalone (ZooKeeperServerMain), 3 = an ensemble (QuorumPeerMain).
 * Ready when a client session opens on every server (for an ensemble: once a quorum has formed).
 */
export async function startZooKeeper(size: 1 | 3, timeoutMs = 60_000): Promise<RestartableDeployment> {
  const why = zookeeperUnavailable();
  if (why !== undefined) throw new Error(`cannot start ZooKeeper: ${why}`);
  const root = await mkdtemp(join(tmpdir(), 'zk-bench-zookeeper-'));
  const ports = await freePorts(size * 3);
  const procs: ReturnType<typeof spawnJava>[] = [];
  const argsOf: string[][] = [];
  const launch = (i: number, args: string[]) => {
    argsOf[i] = args;
    procs[i] = spawnJava(args);
  };
  const servers = Array.from({ length: size }, (_, i) => `127.0.0.1:${ports[i]}`);
  const stop = async () => {
    await Promise.all(procs.map(stopChild));
    await rm(root, { recursive: true, force: true });
  };
  try {
    if (size === 1) {
      launch(0, [
        '-cp',
        CLASSPATH,
        ...JVM_FLAGS,
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        String(ports[0]),
        root,
      ]);
    } else {
      const serverLines = Array.from(
        { length: size },
        (_, i) => `server.${i + 1}=127.0.0.1:${ports[size + 2 * i]}:${ports[size + 2 * i + 1]}`,
      );
      for (let i = 0; i < size; i++) {
        const dataDir = join(root, `server-${i + 1}`);
        await mkdir(dataDir, { recursive: true });
        await writeFile(join(dataDir, 'myid'), `${i + 1}\n`);
        const cfg = join(dataDir, 'zoo.cfg');
        await writeFile(
          cfg,
          [
            'tickTime=2000',
            'initLimit=10',
            'syncLimit=5',
            `dataDir=${dataDir}`,
            `clientPort=${ports[i]}`,
            'clientPortAddress=127.0.0.1',
            'admin.enableServer=false',
            '4lw.commands.whitelist=ruok,srvr',
            'maxClientCnxns=0',
            ...serverLines,
            '',
          ].join('\n'),
        );
        launch(i, ['-cp', CLASSPATH, ...JVM_FLAGS, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg]);
      }
    }
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      servers.map(async (s, i) => {
        const exitedEarly = procs[i]!.exit.then(() => {
          throw new Error(`ZooKeeper ${s} exited before it was ready:\n${procs[i]!.output()}`);
        });
        const c = await Promise.race([connectWithRetry(s, deadline - Date.now()), exitedEarly]);
        exitedEarly.catch(() => {});
        c.close();
      }),
    );
    // An ensemble serves sessions only with a quorum; still, wait until `srvr` names a leader.
    while (size > 1) {
      const modes = await Promise.all(servers.map((s) => fourLetterWord(s, 'srvr').catch(() => '')));
      if (modes.some((m) => /Mode: leader/.test(m))) break;
      if (Date.now() > deadline) throw new Error(`no ZooKeeper leader within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = async (i: number) => {
    const p = procs[i]!;
    if (p.exited()) return;
    p.child.kill('SIGKILL');
    await p.exit;
  };
  const restart = async (i: number) => {
    await kill(i);
    launch(i, argsOf[i]!);
  };
  return { name: size === 1 ? 'zookeeper-1' : `zookeeper-${size}`, servers, stop, kill, restart };
}

/** `srvr`'s Mode line of each server ('leader', 'follower', 'standalone'; '' when it does not answer). */
export async function zookeeperModes(servers: readonly string[]): Promise<string[]> {
  return Promise.all(
    servers.map(async (s) => {
      const out = await fourLetterWord(s, 'srvr', 2000).catch(() => '');
      return /Mode: (\w+)/.exec(out)?.[1] ?? '';
    }),
  );
}
