/** Every four-letter word ZooKeeper knows (FourLetterCommands); only whitelisted ones are answered. */
export const KNOWN_FOUR_LETTER_WORDS: ReadonlySet<string> = new Set([
  'conf',
  'cons',
  'crst',
  'dirs',
  'dump',
  'envi',
  'gtmk',
  'ruok',
  'stmk',
  'srst',
  'srvr',
  'stat',
  'wchc',
  'wchp',
  'wchs',
  'mntr',
  'isro',
  'hash',
]);

/** Default whitelist (ZooKeeper's own default is only srvr; exporters need mntr and ruok). */
export const DEFAULT_FOUR_LETTER_WORDS: readonly string[] = ['ruok', 'srvr', 'stat', 'mntr', 'isro'];

export interface ServerStatsView {
  readonly version: string;
  readonly mode: string;
  readonly zxid: bigint;
  readonly latency: { readonly min: number; readonly avg: number; readonly max: number };
  readonly packetsReceived: number;
  readonly packetsSent: number;
  readonly outstanding: number;
  readonly connections: readonly {
    readonly remote: string;
    readonly queued: number;
    readonly received: number;
    readonly sent: number;
  }[];
  readonly watchCount: number;
  readonly readOnly: boolean;
  /** Walks the tree: only computed for the words that print it. */
  tree(): { readonly nodes: number; readonly ephemerals: number; readonly dataBytes: number };
}

/** A double as Java prints it for these values ("0.0", "1.25"). */
function javaDouble(x: number): string {
  const r = Math.round(x * 10000) / 10000;
  return Number.isInteger(r) ? r.toFixed(1) : String(r);
}

function statsBody(s: ServerStatsView): string {
  return (
    `Latency min/avg/max: ${s.latency.min}/${javaDouble(s.latency.avg)}/${s.latency.max}\n` +
    `Received: ${s.packetsReceived}\n` +
    `Sent: ${s.packetsSent}\n` +
    `Connections: ${s.connections.length}\n` +
    `Outstanding: ${s.outstanding}\n` +
    `Zxid: 0x${s.zxid.toString(16)}\n` +
    `Mode: ${s.mode}\n` +
    `Node count: ${s.tree().nodes}\n`
  );
}

/** The answer to a whitelisted four-letter word, as ZooKeeper formats it. */
export function answerFourLetterWord(word: string, s: ServerStatsView): string {
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return s.readOnly ? 'ro' : 'rw';
    case 'srvr':
      return `Zookeeper version: ${s.version}\n${statsBody(s)}`;
    case 'stat': {
      const clients = s.connections
        .map((c) => ` ${c.remote}[1](queued=${c.queued},recved=${c.received},sent=${c.sent})\n`)
        .join('');
      return `Zookeeper version: ${s.version}\nClients:\n${clients}\n${statsBody(s)}`;
    }
    case 'mntr': {
      const t = s.tree();
      const lines: [string, string | number][] = [
        ['zk_version', s.version],
        ['zk_server_state', s.mode],
        ['zk_avg_latency', javaDouble(s.latency.avg)],
        ['zk_max_latency', s.latency.max],
        ['zk_min_latency', s.latency.min],
        ['zk_packets_received', s.packetsReceived],
        ['zk_packets_sent', s.packetsSent],
        ['zk_num_alive_connections', s.connections.length],
        ['zk_outstanding_requests', s.outstanding],
        ['zk_znode_count', t.nodes],
        ['zk_watch_count', s.watchCount],
        ['zk_ephemerals_count', t.ephemerals],
        ['zk_approximate_data_size', t.dataBytes],
      ];
      return lines.map(([k, v]) => `${k}\t${v}\n`).join('');
    }
    default:
      return `${word} is not executed because it is not in the whitelist.\n`;
  }
}
