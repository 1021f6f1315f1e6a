import { describe, expect, it } from 'vitest';
import { runSeeds } from '../../src/sim/index.js';

const PER_FILE = 500;
const CHUNK = 100;

/**
 * Declares the randomized simulation runs of one seed file (`part` of four, so vitest runs them in
 * parallel): seeds part*500 .. part*500+499, shifted by SIM_SEED_START to explore new ones. Each seed
 * is a full run: faults, clients, liveness and every invariant after every event; a failure names its
 * seed and how to replay it.
 */
export function describeSeedRange(part: number): void {
  const base = Number(process.env.SIM_SEED_START ?? 0) + part * PER_FILE;
  describe(`simulation seeds ${base}..${base + PER_FILE - 1}`, () => {
    for (let start = base; start < base + PER_FILE; start += CHUNK) {
      it(`seeds ${start}..${start + CHUNK - 1} keep every invariant`, () => {
        const { failures } = runSeeds(start, CHUNK);
        const report = failures.map((f) => `seed ${f.seed}: ${f.message}`).join('\n\n');
        expect(
          failures.map((f) => `seed ${f.seed} [${f.invariant}]`),
          report,
        ).toEqual([]);
      });
    }
  });
}
