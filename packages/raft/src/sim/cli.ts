#!/usr/bin/env node
import { performance } from 'node:perf_hooks';
/**
 * Runs the Raft simulation from the command line.
 *
 *   node packages/raft/dist/sim/cli.js --seed 5 [--trace]        replay one seed verbosely
 *   node packages/raft/dist/sim/cli.js --seeds 1000 [--start 0]   run many seeds, then a summary
 *
 * Options: --intensity calm|moderate|violent, --fault-ms N (override the seed's plan).
 * Exits with status 1 if any seed fails; each failure prints its seed and the command replaying it.
 */
import { format as formatLine } from 'node:util';
import { SimFailure } from './cluster.js';
import { type Intensity, type PlanOverrides, runSimulation, type SimResult } from './simulation.js';

/** Output for people on stdout (this is a command-line entry point, not library code). */
const say = (...parts: unknown[]): void => {
  process.stdout.write(`${formatLine(...parts)}\n`);
};

interface Args {
  seed?: number;
  seeds?: number;
  start: number;
  trace: boolean;
  overrides: PlanOverrides;
}

function usage(message?: string): never {
  if (message !== undefined) console.error(message);
  console.error(
    'usage: sim --seed N [--trace] | --seeds N [--start S]  [--intensity calm|moderate|violent] [--fault-ms N]',
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { start: 0, trace: false, overrides: {} };
  let overrides: PlanOverrides = {};
  const num = (i: number, name: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isInteger(v) || v < 0) usage(`${name} needs a non-negative integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--seed':
        args.seed = num(++i, a);
        break;
      case '--seeds':
        args.seeds = num(++i, a);
        break;
      case '--start':
        args.start = num(++i, a);
        break;
      case '--trace':
        args.trace = true;
        break;
      case '--intensity': {
        const v = argv[++i];
        if (v !== 'calm' && v !== 'moderate' && v !== 'violent')
          usage('--intensity is calm, moderate or violent');
        overrides = { ...overrides, intensity: v as Intensity };
        break;
      }
      case '--fault-ms':
        overrides = { ...overrides, faultMs: num(++i, a) };
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown argument ${a}`);
    }
  }
  args.overrides = overrides;
  if ((args.seed === undefined) === (args.seeds === undefined))
    usage('give exactly one of --seed and --seeds');
  return args;
}

function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seed} --trace`;
}

function describe(r: SimResult): string {
  const p = r.plan;
  const faults = Object.entries(r.faults)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    `seed ${r.seed}: ${p.intensity}, ${p.cluster.voters} voters + ${p.cluster.observers ?? 0} observers, faults for ${p.faultMs}ms`,
    `  network: drop=${p.cluster.network?.dropRate?.toFixed(3)} dup=${p.cluster.network?.dupRate?.toFixed(3)} reorder=${p.cluster.network?.reorder} snapshotEvery=${p.cluster.snapshotEvery}`,
    `  faults: ${faults || 'none'}`,
    `  ${r.events} events, ${r.virtualMs.toFixed(0)}ms virtual, max term ${r.maxTerm}, ${r.committed} entries applied`,
    `  proposals ${r.proposals}, acked ${r.acked}; reads ${r.reads}, served ${r.readsServed}`,
    `  membership changes proposed ${r.membershipChanges.proposed}, acked ${r.membershipChanges.acked}, refused [${r.membershipChanges.refused.join(',')}]`,
    `  crashes ${r.crashes}, snapshots taken ${r.snapshotsTaken}, installed ${r.snapshotsInstalled}`,
    `  messages sent ${r.messages.sent}, dropped ${r.messages.dropped}, duplicated ${r.messages.duplicated}`,
    `  recovered ${r.recoveryMs.toFixed(0)}ms after healing; final voters [${r.finalVoters.join(',')}]`,
  ].join('\n');
}

function runOne(seed: number, args: Args): boolean {
  const started = performance.now();
  try {
    const result = runSimulation({
      seed,
      overrides: args.overrides,
      ...(args.trace ? { trace: (line: string) => say(line) } : {}),
    });
    say(describe(result));
    say(`  PASS in ${(performance.now() - started).toFixed(0)}ms wall`);
    return true;
  } catch (err) {
    printFailure(seed, err);
    return false;
  }
}

function printFailure(seed: number, err: unknown): void {
  if (err instanceof SimFailure) console.error(`FAIL ${err.message}`);
  else console.error(`FAIL seed=${seed}: ${(err as Error)?.stack ?? String(err)}`);
  console.error(`  replay: ${replayCommand(seed)}`);
}

function runMany(count: number, start: number, args: Args): boolean {
  const failed: number[] = [];
  const started = performance.now();
  let events = 0;
  for (let k = 0; k < count; k++) {
    const seed = start + k;
    try {
      events += runSimulation({ seed, overrides: args.overrides }).events;
    } catch (err) {
      failed.push(seed);
      printFailure(seed, err);
    }
    if ((k + 1) % 100 === 0 || k + 1 === count) {
      const secs = (performance.now() - started) / 1000;
      say(
        `${k + 1}/${count} seeds, ${failed.length} failed, ${secs.toFixed(1)}s, ${(events / secs / 1000).toFixed(0)}k events/s`,
      );
    }
  }
  if (failed.length > 0) {
    say(`failing seeds: ${failed.join(' ')}`);
    say(`replay one with: ${replayCommand(failed[0]!)}`);
  }
  say(`${count - failed.length} passed, ${failed.length} failed`);
  return failed.length === 0;
}

const args = parseArgs(process.argv.slice(2));
const ok = args.seed !== undefined ? runOne(args.seed, args) : runMany(args.seeds!, args.start, args);
process.exitCode = ok ? 0 : 1;
