#!/usr/bin/env node
// Writes docs/benchmarks.md and docs/benchmarks/*.svg from the results of `npm run bench`
// (<results>/<name>-latest.json and <name>-stdout.txt). The charts are plain SVG written here (no
// library: a few polylines, bars and axes), so GitHub shows them as images without running anything.
//
//   node scripts/bench-report.mjs [--results bench/results] [--docs docs]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ORDER = ['raft', 'metadata', 'cluster', 'client', 'zk', 'migrate', 'vs-zookeeper'];
const TITLES = {
  raft: 'Raft (3 voters, one process each)',
  metadata: 'Metadata image and log',
  cluster: 'Cluster: startup, dead-broker detection, topic creation',
  client: 'Client library against 3 kbroker processes',
  zk: 'ZooKeeper view: reads and watches against ZooKeeper',
  migrate: 'Migration from a real ZooKeeper',
  'vs-zookeeper': 'kbroker vs ZooKeeper, side by side',
};
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n, d = 0) =>
  typeof n === 'number' && Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
    : '-';

/** Axis ticks for [lo, hi]: 1-2-5 steps (linear) or powers of ten (log). */
function ticks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out;
  }
  const raw = (hi - lo) / 5 || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step / 2; v += step)
    out.push(Number(v.toPrecision(6)));
  return out;
}

const tickLabel = (v) =>
  v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : v < 1 ? String(Number(v.toPrecision(2))) : String(v);

/**
 * A chart over categorical x values (e.g. 1, 16, 256 clients; p50 ... max): `kind` 'line' joins each
 * series' points, 'bar' groups bars per x. `logY` for values spanning decades.
 */
export function chartSvg({ title, xLabel, yLabel, xs, series, kind = 'line', logY = false }) {
  const W = 640;
  const H = 360;
  const m = { l: 70, r: 20, t: 40, b: 70 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === 'number' && v > 0);
  let lo = logY ? Math.min(...values) : 0;
  let hi = Math.max(...values, logY ? 1 : 0);
  if (!Number.isFinite(lo) || lo <= 0) lo = 1;
  if (logY) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
  } else {
    const t = ticks(0, hi || 1, false);
    hi = t[t.length - 1];
  }
  const y = (v) =>
    m.t + ph - (logY ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi) * ph;
  const band = pw / xs.length;
  const x = (i) => m.l + band * (i + 0.5);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const t of ticks(lo, hi, logY)) {
    if (t < lo || t > hi) continue;
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="black"/>`,
    `<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="black"/>`,
  );
  xs.forEach((v, i) => {
    out.push(`<text x="${x(i).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle">${esc(v)}</text>`);
  });
  out.push(
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 38}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    if (kind === 'bar') {
      const bw = (band * 0.8) / series.length;
      s.values.forEach((v, i) => {
        if (typeof v !== 'number' || v <= 0) return;
        const bx = m.l + band * i + band * 0.1 + bw * k;
        out.push(
          `<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(m.t + ph - y(v)).toFixed(1)}" fill="${color}"><title>${esc(`${s.name}: ${fmt(v, v < 10 ? 2 : 0)}`)}</title></rect>`,
        );
      });
    } else {
      const pts = s.values
        .map((v, i) => (typeof v === 'number' && v > 0 ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : undefined))
        .filter(Boolean);
      out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      s.values.forEach((v, i) => {
        if (typeof v === 'number' && v > 0)
          out.push(
            `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${s.name}: ${fmt(v, v < 10 ? 2 : 0)}`)}</title></circle>`,
          );
      });
    }
    const lx = m.l + 10 + k * 150;
    out.push(
      `<rect x="${lx}" y="${H - 18}" width="12" height="12" fill="${color}"/>`,
      `<text x="${lx + 18}" y="${H - 8}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function sh(cmd) {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** A number named `name` anywhere in the result's sections (one level down), formatted. */
function found(r, name) {
  for (const v of Object.values(r)) {
    if (v !== null && typeof v === 'object' && typeof v[name] === 'number')
      return fmt(v[name], v[name] < 100 ? 1 : 0);
  }
  return undefined;
}

/** Every target of a result as { name, wanted, actual, pass }, whatever shape the benchmark used. */
function targetsOf(r) {
  if (r === undefined) return [];
  if (Array.isArray(r.targets))
    return r.targets.map((t) => ({
      name: t.name,
      wanted: t.wanted ?? t.target,
      actual: t.actual ?? (t.ratio !== undefined ? `${t.ratio}x` : ''),
      pass: t.pass,
    }));
  if (r.targets && typeof r.targets === 'object')
    return Object.entries(r.targets).map(([name, t]) => ({
      name,
      wanted: t.target,
      actual:
        t.value !== undefined
          ? fmt(t.value, t.value < 100 ? 1 : 0)
          : t.values
            ? Object.entries(t.values)
                .map(([k, v]) => `${k}: ${fmt(v, 0)}`)
                .join('; ')
            : // Some benchmarks keep the measured value beside the target, under the target's name.
              (found(r, name) ?? ''),
      pass: t.met,
    }));
  if (r.target) return [{ name: r.target.description, wanted: '', actual: '', pass: r.target.met }];
  return [];
}

function vsZookeeperSection(r, svgDir, docsDir) {
  const lines = [];
  const chart = (name, spec) => {
    writeFileSync(join(svgDir, name), chartSvg(spec));
    lines.push(`![${spec.title}](${relative(docsDir, join(svgDir, name))})`, '');
  };
  const rows = r.rows ?? [];
  const workloads = [...new Set(rows.map((x) => x.workload))];
  lines.push(
    `Both systems on this machine, 3 servers each on loopback, fsync on; the same client code (ZkWireClient, one request in flight per session), the same operations and payloads; each case ran ${r.options.rounds} round(s) per system, alternating. ${fmt(r.options.topics)} topics x ${r.options.partitions} partitions, ${fmt(r.options.offsetPartitions)} offset znodes; ${fmt(r.options.durationMs)} ms per case after ${fmt(r.options.warmupMs)} ms of warm-up. kbroker election timeout ${r.systems.kbroker.electionTimeoutMs} ms; ZooKeeper: ${r.systems.zookeeper.config}. Load average when it finished: ${r.machine.loadAverage.join(' ')}.`,
    '',
    '| workload | clients | kbroker ops/s | ZooKeeper ops/s | kbroker/ZooKeeper | kbroker p50 / p99 / p999 ms | ZooKeeper p50 / p99 / p999 ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (x) =>
        `| ${x.workload} | ${x.clients} | ${fmt(x.kbroker.opsPerSec)} | ${fmt(x.zookeeper.opsPerSec)} | ${x.throughputRatio.toFixed(2)}x | ${x.kbroker.p50Ms.toFixed(2)} / ${x.kbroker.p99Ms.toFixed(2)} / ${x.kbroker.p999Ms.toFixed(2)} | ${x.zookeeper.p50Ms.toFixed(2)} / ${x.zookeeper.p99Ms.toFixed(2)} / ${x.zookeeper.p999Ms.toFixed(2)} |`,
    ),
    '',
  );
  if ((r.failover ?? []).length > 0) {
    lines.push(
      '| failover: kill -9 of the leader under a steady write load | reps | median ms | max ms | all clients writing again, median ms | max ms |',
      '|---|---:|---:|---:|---:|---:|',
      ...r.failover.map(
        (f) =>
          `| ${f.system} | ${f.reps} | ${fmt(f.medianMs, 1)} | ${fmt(f.maxMs, 1)} | ${fmt(f.allClientsMedianMs, 1)} | ${fmt(f.allClientsMaxMs, 1)} |`,
      ),
      '',
    );
  }
  lines.push(
    '| target (kbroker / ZooKeeper) | wanted | measured | result |',
    '|---|---|---:|---|',
    ...r.targets.map(
      (t) => `| ${t.name} | ${t.wanted} | ${t.ratio.toFixed(2)}x | **${t.pass ? 'PASS' : 'MISS'}** |`,
    ),
    '',
  );
  for (const w of workloads) {
    const ws = rows.filter((x) => x.workload === w);
    if (ws.length < 2) continue;
    chart(`vs-zookeeper-${w.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-throughput.svg`, {
      title: `${w}: throughput against clients`,
      xLabel: 'concurrent clients (sessions)',
      yLabel: 'operations per second',
      xs: ws.map((x) => String(x.clients)),
      series: [
        { name: 'kbroker', values: ws.map((x) => x.kbroker.opsPerSec) },
        { name: 'ZooKeeper', values: ws.map((x) => x.zookeeper.opsPerSec) },
      ],
    });
  }
  const results = r.results ?? [];
  const maxClients = Math.max(...results.map((x) => x.clients));
  for (const w of ['offset commit', 'getData partition state']) {
    const k = results.find((x) => x.system === 'kbroker' && x.workload === w && x.clients === maxClients);
    const z = results.find((x) => x.system === 'zookeeper' && x.workload === w && x.clients === maxClients);
    if (k?.percentiles?.length && z?.percentiles?.length)
      chart(`vs-zookeeper-${w.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-latency.svg`, {
        title: `${w}, ${maxClients} clients: latency distribution`,
        xLabel: 'percentile',
        yLabel: 'latency (ms, log scale)',
        xs: k.percentiles.map(([p]) => (p === 0 ? 'min' : p === 100 ? 'max' : `p${p}`)),
        series: [
          { name: 'kbroker', values: k.percentiles.map(([, v]) => v) },
          { name: 'ZooKeeper', values: z.percentiles.map(([, v]) => v) },
        ],
        logY: true,
      });
  }
  if ((r.failovers ?? []).length > 0) {
    const reps = [...new Set(r.failovers.map((f) => f.rep))].sort((a, b) => a - b);
    chart('vs-zookeeper-failover.svg', {
      title: 'Failover: kill -9 of the leader until writes succeed again',
      xLabel: 'repetition',
      yLabel: 'ms',
      kind: 'bar',
      xs: reps.map((x) => String(x + 1)),
      series: ['kbroker', 'zookeeper'].map((s) => ({
        name: s === 'kbroker' ? 'kbroker' : 'ZooKeeper',
        values: reps.map((rep) => r.failovers.find((f) => f.system === s && f.rep === rep)?.recoveryMs),
      })),
    });
  }
  if ((r.warnings ?? []).length > 0)
    lines.push(...r.warnings.map((w) => `> **Warning from the run:** ${w}`), '');
  const prof = r.profile;
  if (prof?.summary !== undefined) {
    lines.push(
      `**Where kbroker's time goes** (the harness profiles the write case when its target is missed, or with \`--profile\`): offset commits with ${prof.clients} clients on a fresh 3-node kbroker run under \`node --cpu-prof\`, ZooKeeper stopped, ${prof.topics} topics, ${fmt(prof.offsets)} offsets; ${fmt(prof.opsPerSec)} commits/s under the profiler, p50 ${prof.latency.p50Ms.toFixed(2)} ms.`,
      '',
      '| process | main thread, % of a core | other threads (GC helpers, libuv pool: LevelDB writes and fsync) | of which kernel time (system calls) |',
      '|---|---:|---:|---:|',
      ...prof.cpu.map((c) => `| ${c.process} | ${c.mainPct} | ${c.otherPct} | ${c.kernelPct ?? '-'} |`),
      '',
      '| component (all kbroker processes; a sample counts for the innermost frame of our code) | share of busy time | CPU µs per commit |',
      '|---|---:|---:|',
      ...prof.summary.components.map(
        (c) => `| ${c.component} | ${c.percent.toFixed(1)}% | ${c.usPerOp.toFixed(1)} |`,
      ),
      '',
      '<details><summary>Hottest functions by self time</summary>',
      '',
      '| share | function |',
      '|---:|---|',
      ...prof.summary.hot.map(([pct, name]) => `| ${pct.toFixed(1)}% | \`${name}\` |`),
      '',
      '</details>',
      '',
    );
  }
  return lines;
}

function raftCharts(r, svgDir, docsDir) {
  const t = r.results?.throughput;
  if (!Array.isArray(t) || t.length < 2) return [];
  writeFileSync(
    join(svgDir, 'raft-throughput.svg'),
    chartSvg({
      title: 'Raft: commits per second against concurrent proposers',
      xLabel: 'concurrent proposers',
      yLabel: 'commits per second',
      xs: t.map((x) => String(x.concurrency)),
      series: [{ name: 'commits/s', values: t.map((x) => x.commitsPerSec) }],
    }),
  );
  writeFileSync(
    join(svgDir, 'raft-latency.svg'),
    chartSvg({
      title: 'Raft: commit latency against concurrent proposers',
      xLabel: 'concurrent proposers',
      yLabel: 'ms (log scale)',
      xs: t.map((x) => String(x.concurrency)),
      series: ['p50', 'p99', 'p999'].map((p) => ({ name: p, values: t.map((x) => x.latencyMs?.[p]) })),
      logY: true,
    }),
  );
  return [
    `![Raft throughput](${relative(docsDir, join(svgDir, 'raft-throughput.svg'))})`,
    `![Raft latency](${relative(docsDir, join(svgDir, 'raft-latency.svg'))})`,
    '',
  ];
}

/** Writes the report; returns its path. */
export async function writeReport({ resultsDir, docsDir }) {
  const svgDir = join(docsDir, 'benchmarks');
  mkdirSync(svgDir, { recursive: true });
  const results = Object.fromEntries(ORDER.map((n) => [n, readJson(join(resultsDir, `${n}-latest.json`))]));
  const stdoutOf = (n) => {
    const f = join(resultsDir, `${n}-stdout.txt`);
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
  };
  const dateOf = (r) => r?.date ?? r?.timestamp;
  const java = sh('java -version 2>&1 | head -1');
  const disk = sh(`df -h --output=source,fstype,size ${JSON.stringify(resultsDir)} | tail -1`);
  const fsync = results.raft?.results?.disk?.combined?.fdatasync;
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` (scripts/bench.mjs, scripts/bench-report.mjs) from full runs; `npm run bench -- --quick` is the',
    "smoke run CI makes (every benchmark at small sizes, results in bench/results/quick/, this page left alone). Each section's",
    'first table is what the benchmark printed; the charts are SVG files in docs/benchmarks/.',
    '',
    '## The machine',
    '',
    `- CPU: ${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    `- RAM: ${fmt(totalmem() / 2 ** 30, 1)} GiB`,
    `- disk: ${disk || '?'}${fsync ? `; fdatasync of 200 B p50 ${fsync.p50} ms, p99 ${fsync.p99} ms (raft benchmark)` : ''}`,
    `- Node ${process.version}; ${java || 'java: not found'}; ZooKeeper 3.8 from Debian's \`zookeeper\` package`,
    `- load average when the report was written: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(
        ' ',
      )} (the machine is shared: other work runs beside the benchmarks; each result below notes when it ran)`,
    '',
    '## Summary of targets',
    '',
    '| benchmark | target | wanted | measured | result |',
    '|---|---|---|---|---|',
  ];
  for (const n of ORDER) {
    for (const t of targetsOf(results[n]))
      lines.push(
        `| ${n} | ${esc(t.name)} | ${esc(t.wanted ?? '')} | ${esc(t.actual ?? '')} | ${t.pass ? 'PASS' : 'MISS'} |`,
      );
  }
  lines.push('');
  for (const n of ORDER) {
    const r = results[n];
    lines.push(`## ${TITLES[n]}`, '');
    if (r === undefined) {
      lines.push(`No full-run result yet: run \`npm run bench:${n}\` (or \`npm run bench\`).`, '');
      continue;
    }
    lines.push(
      `\`npm run bench:${n}\`, run ${dateOf(r) ?? '?'}${r.quick || r.config?.quick ? ' (**quick run**: small sizes, not representative)' : ''}.`,
      '',
    );
    if (n === 'vs-zookeeper') {
      lines.push(...vsZookeeperSection(r, svgDir, docsDir));
      // Hand-written analysis of the latest full run (where the time goes when a target is missed).
      const notes = join(svgDir, 'vs-zookeeper-notes.md');
      if (existsSync(notes)) lines.push(readFileSync(notes, 'utf8').trim(), '');
    }
    if (n === 'raft') lines.push(...raftCharts(r, svgDir, docsDir));
    const out = stdoutOf(n);
    if (out !== undefined)
      lines.push('<details><summary>Output</summary>', '', '```', out, '```', '', '</details>', '');
  }
  const file = join(docsDir, 'benchmarks.md');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const arg = (f, d) => {
    const i = process.argv.indexOf(f);
    return i < 0 ? d : process.argv[i + 1];
  };
  const file = await writeReport({
    resultsDir: resolve(arg('--results', join(root, 'bench', 'results'))),
    docsDir: resolve(arg('--docs', join(root, 'docs'))),
  });
  process.stdout.write(`wrote ${file}\n`);
}
