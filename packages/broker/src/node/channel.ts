import type { ClientSasl, ClientTls } from '@kbroker/client';
import { Connection } from '@kbroker/client/connection';
import type { ApiName, ApiRequest, ApiResponse, Endpoint } from '@kbroker/client/protocol';
import type { ControllerChannel } from './service.js';

/**
 * Connections from this node to other nodes' client listeners (to reach the active controller), one per
 * endpoint, reopened when one breaks. Errors keep the remote's code, so forwarded refusals reach the
 * original caller unchanged.
 */
export class ConnectionPool implements ControllerChannel {
  private readonly conns = new Map<string, Promise<Connection>>();
  private closed = false;

  constructor(
    private readonly clientId: string,
    private readonly clusterId: string,
    private readonly connectionTimeoutMs = 3_000,
    private readonly security: {
      readonly tls?: ClientTls | undefined;
      readonly sasl?: ClientSasl | undefined;
    } = {},
  ) {}

  async call<A extends ApiName>(
    endpoint: Endpoint,
    api: A,
    body: ApiRequest<A>,
    timeoutMs: number,
  ): Promise<ApiResponse<A>> {
    const conn = await this.connection(endpoint);
    return conn.request(api, body, { timeoutMs });
  }

  private connection(endpoint: Endpoint): Promise<Connection> {
    if (this.closed)
      return Promise.reject(
        Object.assign(new Error('the node is stopping'), { code: 'NOT_CONTROLLER', retriable: true }),
      );
    const key = `${endpoint.host}:${endpoint.port}`;
    let conn = this.conns.get(key);
    if (conn === undefined) {
      conn = Connection.connect(endpoint, {
        host: endpoint.host,
        port: endpoint.port,
        clientId: this.clientId,
        clusterId: this.clusterId,
        connectionTimeoutMs: this.connectionTimeoutMs,
        requestTimeoutMs: 30_000,
        tls: this.security.tls,
        sasl: this.security.sasl,
      });
      this.conns.set(key, conn);
      conn.then(
        (c) => c.onClose(() => this.conns.get(key) === conn && this.conns.delete(key)),
        () => this.conns.get(key) === conn && this.conns.delete(key),
      );
    }
    return conn;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (c) => c.close(),
          () => undefined,
        ),
      ),
    );
  }
}
