/**
 * The CI chaos run: 60 seconds of seeded faults on three real kbroker processes behind the fault proxy,
 * with the workload and every checker (`npm run chaos -- --duration 60 --seed 20261121` by hand). A
 * failing run leaves its history in chaos-results/ for `npm run chaos -- --replay`.
 */
import { describe, expect, it } from 'vitest';
import { formatVerdict } from '../../src/chaos/checkers.js';
import { runChaos } from '../../src/chaos/run.js';

const SEED = 20261121;

describe('chaos', () => {
  it(`a 60 s seeded run (seed ${SEED}) keeps the register history linearizable, loses no acknowledged write, ends with equal images and recovers`, {
    timeout: 15 * 60_000,
  }, async () => {
    const lines: string[] = [];
    const { verdict, record } = await runChaos({
      seed: SEED,
      durationMs: 60_000,
      nodes: 3,
      // Generous: the machine running the suite is shared and loaded.
      recoveryBoundMs: 60_000,
      out: (l) => lines.push(l),
    });
    expect(record.schedule.length).toBeGreaterThan(5);
    expect(record.history.filter((o) => o.outcome === 'ok').length).toBeGreaterThan(100);
    expect(verdict.ok, lines.join('\n')).toBe(true);
    expect(formatVerdict(verdict)).toContain('verdict: PASS');
  });
});
