/**
 * `kbroker configs`: dynamic configs of topics and brokers (as kafka-configs). A broker config set
 * with `--entity-default` is the cluster-wide default (resource name "").
 */
import type { Command } from 'commander';
import { type ClientFlags, emit, withClient, withClientOptions } from './client.js';
import { type CliContext, UsageError } from './context.js';
import { renderTable } from './format.js';
import { arg, collect } from './options.js';
import { parseConfigPairs, splitConfigList } from './topics.js';

type ResourceType = 'topic' | 'broker';

const entityTypeArg = arg((value: string): ResourceType => {
  const v = value.trim().toLowerCase();
  if (v === 'topics' || v === 'topic') return 'topic';
  if (v === 'brokers' || v === 'broker') return 'broker';
  throw new Error('must be topics or brokers');
});

interface EntityFlags extends ClientFlags {
  entityType: ResourceType;
  entityName?: string;
  entityDefault?: boolean;
}

/** The resource a command names: `--entity-name X`, or "" (the cluster default) for `--entity-default`. */
export function entityName(flags: EntityFlags, required: boolean): string | undefined {
  if (flags.entityDefault && flags.entityName !== undefined) {
    throw new UsageError('give either --entity-name or --entity-default, not both');
  }
  if (flags.entityDefault) {
    if (flags.entityType !== 'broker')
      throw new UsageError('--entity-default applies to --entity-type brokers only');
    return '';
  }
  const name = flags.entityName?.trim();
  if (name === undefined || name === '') {
    if (required) throw new UsageError('--entity-name <name> (or --entity-default for brokers) is required');
    return undefined;
  }
  if (flags.entityType === 'broker' && !/^\d+$/.test(name)) {
    throw new UsageError(`a broker entity name is a broker id, got ${JSON.stringify(name)}`);
  }
  return name;
}

export function entityLabel(type: ResourceType, name: string): string {
  return name === '' ? `${type} <default>` : `${type} ${name}`;
}

function entityOptions(cmd: Command): Command {
  return withClientOptions(
    cmd
      .requiredOption('--entity-type <type>', 'topics or brokers', entityTypeArg)
      .option('--entity-name <name>', 'the topic name or broker id')
      .option('--entity-default', 'the cluster-wide default (brokers)'),
  );
}

export function registerConfigs(program: Command, ctx: CliContext): void {
  const configs = program.command('configs').description('dynamic configs of topics and brokers');

  entityOptions(
    configs
      .command('set')
      .description('set configs (others are left as they are)')
      .requiredOption(
        '--add-config <k=v,...>',
        'configs to set: k=v[,k=v] (repeatable; [a,b] for a list)',
        collect,
      ),
  ).action(async (flags: EntityFlags & { addConfig: string[] }) => {
    const name = entityName(flags, true)!;
    const entries = parseConfigPairs(flags.addConfig, '--add-config');
    await withClient(ctx, flags, (s) =>
      s.admin.alterConfigs({ resources: [{ type: flags.entityType, name, configEntries: entries }] }),
    );
    emit(
      ctx,
      flags,
      { resourceType: flags.entityType, resourceName: name, set: entries },
      () =>
        `Updated ${entityLabel(flags.entityType, name)}: ${entries.map((e) => `${e.name}=${e.value}`).join(', ')}.`,
    );
  });

  entityOptions(
    configs
      .command('delete')
      .description('delete configs (back to their defaults)')
      .requiredOption('--delete-config <k,...>', 'config names to delete (repeatable)', collect),
  ).action(async (flags: EntityFlags & { deleteConfig: string[] }) => {
    const name = entityName(flags, true)!;
    const names = flags.deleteConfig.flatMap((v) => splitConfigList(v));
    if (names.length === 0) throw new UsageError('--delete-config needs at least one config name');
    await withClient(ctx, flags, (s) =>
      s.admin.alterConfigs({
        resources: [
          { type: flags.entityType, name, configEntries: names.map((n) => ({ name: n, value: null })) },
        ],
      }),
    );
    emit(
      ctx,
      flags,
      { resourceType: flags.entityType, resourceName: name, deleted: names },
      () => `Deleted from ${entityLabel(flags.entityType, name)}: ${names.join(', ')}.`,
    );
  });

  entityOptions(
    configs
      .command('describe')
      .description('the dynamic configs of one entity, or of every entity of the type'),
  ).action(async (flags: EntityFlags) => {
    const name = entityName(flags, false);
    const resources = await withClient(ctx, flags, async (s) => {
      let names: string[];
      if (name !== undefined) names = [name];
      else if (flags.entityType === 'topic') names = (await s.admin.listTopics()).sort();
      else
        names = [
          '',
          ...(await s.admin.describeCluster()).brokers
            .map((b) => b.nodeId)
            .sort((a, b) => a - b)
            .map(String),
        ];
      if (names.length === 0) return [];
      const res = await s.admin.describeConfigs({
        resources: names.map((n) => ({ type: flags.entityType, name: n })),
      });
      return res.resources;
    });
    emit(ctx, flags, resources, () => {
      const rows = resources.flatMap((r) =>
        [...r.configEntries]
          .sort((a, b) => a.configName.localeCompare(b.configName))
          .map((e) => [entityLabel(r.resourceType, r.resourceName), e.configName, e.configValue]),
      );
      if (rows.length === 0) {
        return name === undefined
          ? `No dynamic ${flags.entityType} configs.`
          : `${entityLabel(flags.entityType, name)} has no dynamic configs.`;
      }
      return renderTable(['Entity', 'Config', 'Value'], rows);
    });
  });
}
