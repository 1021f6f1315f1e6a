/**
 * `npm run chaos -- --duration <s> --seed <n> [--nodes 3|5]`: a chaos run against real kbroker
 * processes (see run.ts), printing the seed, the schedule, each fault as applied and the verdict.
 * Exit code 1 when a checker fails; the history is then saved under chaos-results/ for
 * `npm run chaos -- --replay chaos-results/<seed>.json`.
 */
import { Command, InvalidArgumentError } from 'commander';
import { formatVerdict } from './checkers.js';
import { killAllNodes } from './cluster.js';
import { replay, runChaos } from './run.js';

const int = (what: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min)
    throw new InvalidArgumentError(`${what} must be an integer >= ${min}`);
  return n;
};

const program = new Command('chaos')
  .description('fault injection on a cluster of real kbroker processes, with linearizability checking')
  .option('--duration <s>', 'seconds of faults and workload', int('duration', 5), 60)
  .option('--seed <n>', 'schedule and workload seed (default: random, printed)', int('seed', 0))
  .option('--nodes <n>', 'cluster size: 3 or 5', int('nodes', 3), 3)
  .option(
    '--recovery-bound <s>',
    'seconds the cluster may take to serve again after healing',
    int('bound', 1),
    30,
  )
  .option('--results <dir>', 'where a failing run leaves its history and logs', 'chaos-results')
  .option('--save', 'save the history even when the run passes')
  .option('--replay <file>', 're-run the checkers on a saved history instead of running')
  .action(
    async (o: {
      duration: number;
      seed?: number;
      nodes: number;
      recoveryBound: number;
      results: string;
      save?: boolean;
      replay?: string;
    }) => {
      if (o.replay !== undefined) {
        const verdict = await replay(o.replay);
        process.stdout.write(`replay of ${o.replay}\n${formatVerdict(verdict)}\n`);
        process.exitCode = verdict.ok ? 0 : 1;
        return;
      }
      if (o.nodes !== 3 && o.nodes !== 5) throw new InvalidArgumentError('--nodes must be 3 or 5');
      const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
      const { verdict } = await runChaos({
        seed,
        durationMs: o.duration * 1000,
        nodes: o.nodes,
        recoveryBoundMs: o.recoveryBound * 1000,
        resultsDir: o.results,
        save: o.save === true,
        out: (line) => process.stdout.write(`${line}\n`),
      });
      process.exitCode = verdict.ok ? 0 : 1;
    },
  );

// An interrupted run leaves no kbroker process behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllNodes();
    process.stderr.write(`chaos: ${signal}, nodes killed\n`);
    process.exit(130);
  });
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).message}\n`);
  process.exitCode = 2;
});
