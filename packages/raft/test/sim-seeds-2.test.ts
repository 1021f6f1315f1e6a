/**
 * Randomized simulation, seeds 1000 to 1499 (one of four files so vitest runs them in
 * parallel). Each seed is a full run: faults, clients, liveness and every invariant after every event.
 * SIM_SEED_START shifts the range to explore new seeds; a failure names its seed and how to replay it.
 */
import { describe, expect, it } from 'vitest';
import { runSeeds } from '../src/sim/index.js';

const PART = 2;
const PER_FILE = 500;
const CHUNK = 100;
const base = Number(process.env.SIM_SEED_START ?? 0) + PART * PER_FILE;

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
