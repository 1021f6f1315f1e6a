import hdr from 'hdr-histogram-js';

/** A latency distribution in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/**
 * Records durations with microsecond resolution in an HdrHistogram (3 significant digits), using the
 * library's pure JS build.
 */
export class LatencyRecorder {
  private readonly h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: false,
  });

  recordMs(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** Adds every value recorded by `other`. */
  addAll(other: LatencyRecorder): void {
    this.h.add(other.h);
  }

  get count(): number {
    return this.h.totalCount;
  }

  summary(): LatencySummary {
    const us = (v: number) => round3(v / 1000);
    if (this.h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: this.h.totalCount,
      mean: us(this.h.mean),
      p50: us(this.h.getValueAtPercentile(50)),
      p90: us(this.h.getValueAtPercentile(90)),
      p99: us(this.h.getValueAtPercentile(99)),
      p999: us(this.h.getValueAtPercentile(99.9)),
      max: us(this.h.maxValue),
    };
  }
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
