import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface HealthState {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/**
 * A node's Prometheus metrics. Each node has its own registry (several nodes may share a process, as
 * in the in-process cluster), and gauges are read at scrape time through `collect` callbacks.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'api' | 'outcome'>;
  readonly requestSeconds: Histogram<'api'>;

  constructor(labels: Record<string, string>, read: () => Record<string, number>) {
    this.registry.setDefaultLabels(labels);
    this.requests = new Counter({
      name: 'kbroker_requests_total',
      help: 'Client requests served, by API and outcome (ok or the error code).',
      labelNames: ['api', 'outcome'],
      registers: [this.registry],
    });
    this.requestSeconds = new Histogram({
      name: 'kbroker_request_duration_seconds',
      help: 'Time to answer a client request.',
      labelNames: ['api'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    const gauges: [string, string][] = [
      ['kbroker_raft_term', 'The current Raft term.'],
      ['kbroker_raft_commit_index', 'The Raft commit index.'],
      ['kbroker_raft_applied_index', 'The last Raft index applied to the metadata image.'],
      ['kbroker_raft_is_leader', '1 when this node is the Raft leader (the active controller).'],
      ['kbroker_metadata_offset', 'The metadata log offset of the local image.'],
      ['kbroker_topics', 'Topics in the local image.'],
      ['kbroker_partitions', 'Partitions in the local image.'],
      ['kbroker_brokers_registered', 'Registered brokers in the local image.'],
      ['kbroker_brokers_fenced', 'Fenced brokers in the local image.'],
      ['kbroker_broker_fenced', '1 while this broker is fenced (-1 for controller-only nodes).'],
      ['kbroker_zookeeper_sessions', 'Live ZooKeeper sessions of the cluster (the local image).'],
      [
        'kbroker_zookeeper_connections',
        "Open connections on this node's ZooKeeper listener (-1 without one).",
      ],
    ];
    for (const [name, help] of gauges) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const v = read()[name];
          if (v !== undefined) this.set(v);
        },
      });
    }
  }
}

/** Serves `/metrics` (Prometheus text) and `/health` (200 when ready, 503 otherwise, JSON detail). */
export class HttpServer {
  private server: Server | undefined;

  constructor(
    private readonly metrics: NodeMetrics,
    /** Serve HTTPS with these options; plain HTTP when undefined. */
    private readonly tls: HttpsOptions | undefined,
    private readonly health: () => HealthState,
  ) {}

  async start(host: string, port: number): Promise<AddressInfo> {
    const handle: RequestListener = (req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (url === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      } else if (url === '/health') {
        const h = this.health();
        res
          .writeHead(h.ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: h.ready ? 'ok' : 'not-ready', ...h.detail }));
      } else {
        res.writeHead(404).end();
      }
    };
    const server: Server =
      this.tls === undefined ? createServer(handle) : createHttpsServer(this.tls, handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }
}
