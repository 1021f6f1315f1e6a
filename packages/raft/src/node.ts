import { join } from 'node:path';
import type { Logger } from 'pino';
import { unsafeForceMembership } from './core/recovery.js';
import type { Member, NodeId } from './core/types.js';
import { type RaftFrame, RaftNode, type RaftNodeOptions } from './driver.js';
import type { StateMachine } from './ports.js';
import { parseQuorum } from './quorum.js';
import { checkDataDir, formatDataDir, readDataDir } from './storage/data-dir.js';
import { LevelStorage } from './storage/level-storage.js';
import { parseAddress, type QuorumTlsOptions, TcpTransport } from './transport/tcp-transport.js';

type Tuning = Omit<
  RaftNodeOptions,
  'nodeId' | 'bootstrapVoters' | 'storage' | 'snapshots' | 'transport' | 'stateMachine' | 'logger'
>;

export interface StartRaftNodeOptions extends Tuning {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** The data directory; the Raft state lives in its `raft/` subdirectory. */
  readonly dataDir: string;
  /** Format an unformatted data dir with this cluster and node id instead of refusing to start. */
  readonly formatIfEmpty?: boolean;
  /** The bootstrap voters, as `1@host:port,...` or parsed. */
  readonly voters: string | readonly Member[];
  /**
   * Where to listen for quorum traffic. Default: this node's address in `voters`, or for an observer
   * `127.0.0.1:0` (an ephemeral loopback port). The leader dials observers at the address they
   * introduce themselves with, so an observer on another host needs a reachable listener.
   */
  readonly listen?: string;
  /** The address peers should dial; default `listen` (with the bound port when it was 0). */
  readonly advertisedAddress?: string;
  readonly stateMachine: StateMachine;
  readonly logger?: Logger;
  readonly maxFrameBytes?: number;
  /** Mutual TLS on the quorum listener and connections (PEM contents). Absent: plain TCP. */
  readonly tls?: QuorumTlsOptions;
}

/** Opens (or formats) the data dir, LevelDB storage and the TCP transport, and starts a RaftNode on them. */
export async function startRaftNode(opts: StartRaftNodeOptions): Promise<RaftNode> {
  const voters = typeof opts.voters === 'string' ? parseQuorum(opts.voters) : opts.voters;
  if (opts.formatIfEmpty && (await readDataDir(opts.dataDir)) === undefined) {
    await formatDataDir(opts.dataDir, { clusterId: opts.clusterId, nodeId: opts.nodeId });
  }
  await checkDataDir(opts.dataDir, { clusterId: opts.clusterId, nodeId: opts.nodeId });
  const listen = opts.listen ?? voters.find((v) => v.id === opts.nodeId)?.address ?? '127.0.0.1:0';
  const listenAddr = parseAddress(listen.endsWith(':0') ? listen.replace(/:0$/, ':1') : listen);
  const bindPort = listen.endsWith(':0') ? 0 : listenAddr.port;
  const storage = await LevelStorage.open(join(opts.dataDir, 'raft'), { logger: opts.logger });
  const transport = new TcpTransport<RaftFrame>({
    nodeId: opts.nodeId,
    clusterId: opts.clusterId,
    listen: { host: listenAddr.host, port: bindPort },
    advertisedAddress: opts.advertisedAddress ?? (bindPort === 0 ? undefined : listen),
    logger: opts.logger,
    maxFrameBytes: opts.maxFrameBytes,
    tls: opts.tls,
  });
  try {
    await transport.start();
  } catch (err) {
    await storage.close();
    throw err;
  }
  try {
    return await RaftNode.start({
      ...opts,
      bootstrapVoters: voters,
      storage,
      snapshots: storage,
      transport,
    });
  } catch (err) {
    await transport.close();
    await storage.close();
    throw err;
  }
}

/**
 * UNSAFE: after a quorum is permanently lost, forces `voters` as the voter set of the stopped node whose
 * data dir is `dataDir`. Run it on ONE survivor (the most up-to-date), then start that node with the new
 * voter list. See `unsafeForceMembership` for what may be lost.
 */
export async function unsafeRecoverDataDir(
  dataDir: string,
  identity: { clusterId: string; nodeId: NodeId },
  voters: string | readonly Member[],
  logger?: Logger,
): Promise<{ index: number; term: number }> {
  const members = typeof voters === 'string' ? parseQuorum(voters) : voters;
  await checkDataDir(dataDir, identity);
  const storage = await LevelStorage.open(join(dataDir, 'raft'), { logger });
  try {
    const latest = await storage.latest();
    const hardState = await storage.loadHardState();
    const entries = await storage.loadEntries();
    const snapshot = latest ?? { index: 0, term: 0, membership: { voters: members } };
    const forced = unsafeForceMembership(
      { hardState, snapshot, entries, applied: snapshot.index },
      { voters: members },
    );
    await storage.persist({ entries: [forced.entry], hardState: forced.hardState });
    logger?.warn(
      { voters: members.map((m) => m.id), index: forced.entry.index, term: forced.entry.term },
      'UNSAFE recovery: forced a new voter set',
    );
    return { index: forced.entry.index, term: forced.entry.term };
  } finally {
    await storage.close();
  }
}
