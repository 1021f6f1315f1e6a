/** `kbroker cluster describe`: cluster id, active controller, brokers with endpoints, rack and state. */
import type { ClusterDescription } from '@kbroker/client';
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import type { CliContext } from './context.js';
import { renderKeyValues, renderTable } from './format.js';

export function renderCluster(c: ClusterDescription): string {
  const brokers = [...c.brokers].sort((a, b) => a.nodeId - b.nodeId);
  return [
    renderKeyValues([
      ['ClusterId', c.clusterId],
      ['Controller', c.controller < 0 ? 'none' : c.controller],
      ['Brokers', brokers.length],
    ]),
    '',
    renderTable(
      ['NodeId', 'Endpoint', 'Rack', 'State'],
      brokers.map((b) => [
        b.nodeId,
        `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`,
        b.rack,
        b.inControlledShutdown ? 'controlled-shutdown' : b.fenced ? 'fenced' : 'active',
      ]),
    ),
  ].join('\n');
}

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('the cluster: id, controller, brokers');
  withClientOptions(cluster.command('describe').description('cluster id, controller and brokers')).action(
    async (flags: ClientFlags) => {
      const c = await withClient(ctx, flags, (s) => s.admin.describeCluster());
      emit(ctx, flags, c, () => renderCluster(c));
    },
  );
}
