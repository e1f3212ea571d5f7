/**
 * A tiny SVG line-chart generator (no chart dependency): linear or log-10 x axis, linear y axis, "nice"
 * ticks, a legend, optional horizontal reference lines and point labels. Output is plain, diffable SVG.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Draw a marker at every point (for sparse series). */
  readonly markers?: boolean;
  /** Vertical whiskers (min, max) per point, same order as `points`. */
  readonly ranges?: ReadonlyArray<readonly [number, number]>;
  /** A label above each point. */
  readonly labels?: readonly string[];
  /** Draw as a step function (for CDFs). */
  readonly step?: boolean;
}

export interface ReferenceLine {
  readonly y: number;
  readonly label: string;
  readonly color: string;
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly xLog?: boolean;
  readonly xMin?: number;
  readonly xMax?: number;
  readonly yMin?: number;
  readonly yMax?: number;
  readonly xFormat?: (v: number) => string;
  readonly yFormat?: (v: number) => string;
  readonly references?: readonly ReferenceLine[];
  /** Where the legend goes. @default 'top-left' */
  readonly legend?: 'top-left' | 'bottom-right';
  readonly width?: number;
  readonly height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const r1 = (v: number) => Math.round(v * 10) / 10;

/** About `count` round tick values from `min` up to the first tick at or above `max`. */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  const last = Math.ceil(max / step - 1e-9) * step;
  for (let v = Math.ceil(min / step) * step; v <= last + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(3))}`;
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 440;
  const m = { left: 78, right: 24, top: o.subtitle ? 64 : 48, bottom: 62 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => [
    ...s.points.map((p) => p[1]),
    ...(s.ranges ?? []).flatMap((r) => [r[0], r[1]]),
  ]);
  for (const ref of o.references ?? []) ys.push(ref.y);
  const xMin = o.xMin ?? Math.min(...xs);
  const xMax = o.xMax ?? Math.max(...xs);
  const yMin = o.yMin ?? 0;
  const yTicks = niceTicks(yMin, o.yMax ?? Math.max(...ys) * 1.08);
  const yMax = o.yMax ?? yTicks[yTicks.length - 1]!;
  const fx = o.xFormat ?? compact;
  const fy = o.yFormat ?? compact;
  const tx = (v: number) =>
    o.xLog
      ? m.left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw
      : m.left + ((v - xMin) / (xMax - xMin)) * pw;
  const ty = (v: number) => m.top + ph - ((v - yMin) / (yMax - yMin)) * ph;
  const xTicks = o.xLog
    ? Array.from(
        { length: Math.floor(Math.log10(xMax)) - Math.ceil(Math.log10(xMin)) + 1 },
        (_, i) => 10 ** (Math.ceil(Math.log10(xMin)) + i),
      )
    : niceTicks(xMin, xMax);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  );
  if (o.subtitle)
    out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${esc(o.subtitle)}</text>`);
  for (const t of yTicks) {
    if (t > yMax) continue;
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${r1(ty(t))}" y2="${r1(ty(t))}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${r1(ty(t) + 4)}" text-anchor="end">${esc(fy(t))}</text>`,
    );
  }
  for (const t of xTicks) {
    if (t < xMin || t > xMax) continue;
    out.push(
      `<line x1="${r1(tx(t))}" x2="${r1(tx(t))}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`,
      `<text x="${r1(tx(t))}" y="${m.top + ph + 18}" text-anchor="middle">${esc(fx(t))}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 18}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  for (const ref of o.references ?? []) {
    const y = r1(ty(ref.y));
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="${ref.color}" stroke-dasharray="6 4"/>`,
      `<text x="${m.left + pw - 4}" y="${y - 5}" text-anchor="end" fill="${ref.color}">${esc(ref.label)}</text>`,
    );
  }
  out.push(
    `<clipPath id="plot"><rect x="${m.left}" y="${m.top - 1}" width="${pw}" height="${ph + 2}"/></clipPath>`,
  );
  for (const s of o.series) {
    const pts = s.points.filter((p) => p[0] >= xMin && p[0] <= xMax);
    let d = '';
    pts.forEach(([x, y], i) => {
      const X = r1(tx(x));
      const Y = r1(ty(Math.min(y, yMax)));
      if (i === 0) d += `M${X} ${Y}`;
      else if (s.step) d += `H${X}V${Y}`;
      else d += `L${X} ${Y}`;
    });
    if (s.step && pts.length > 0) d += `H${r1(tx(xMax))}`;
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" clip-path="url(#plot)"/>`);
    s.points.forEach(([x, y], i) => {
      const X = r1(tx(x));
      const range = s.ranges?.[i];
      if (range) {
        out.push(
          `<line x1="${X}" x2="${X}" y1="${r1(ty(range[0]))}" y2="${r1(ty(range[1]))}" stroke="${s.color}" stroke-width="1.5"/>`,
        );
      }
      if (s.markers) out.push(`<circle cx="${X}" cy="${r1(ty(y))}" r="4" fill="${s.color}"/>`);
      const label = s.labels?.[i];
      if (label)
        out.push(
          `<text x="${X}" y="${r1(ty(range ? range[1] : y) - 9)}" text-anchor="middle" fill="${s.color}">${esc(label)}</text>`,
        );
    });
  }
  const legendWidth = Math.max(...o.series.map((s) => s.name.length)) * 6.4 + 40;
  o.series.forEach((s, i) => {
    const bottom = o.legend === 'bottom-right';
    const x = r1(bottom ? m.left + pw - legendWidth : m.left + 14);
    const y = bottom ? m.top + ph - 14 - (o.series.length - 1 - i) * 18 : m.top + 14 + i * 18;
    out.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${x + 30}" y="${y}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Points of an empirical CDF (x = value, y = percent of samples <= x): thinned to about `max` points, but
 * every sample of the top 2% is kept, since the tail is what the chart is for.
 */
export function cdfPoints(samples: readonly number[], max = 400): Array<[number, number]> {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const points: Array<[number, number]> = [];
  const stride = Math.max(1, Math.floor(n / max));
  const tail = Math.floor(n * 0.98);
  for (let i = 0; i < n; i += i >= tail ? 1 : stride) points.push([sorted[i]!, ((i + 1) / n) * 100]);
  if (n > 0 && points[points.length - 1]![1] < 100) points.push([sorted[n - 1]!, 100]);
  return points;
}

// ---------------------------------------------------------------------------------------------------
// The two charts of BENCHMARKS.md, from the shapes stored in bench/results.json (so they can be redrawn
// from a results file: BENCH_CHARTS_ONLY=1).

interface SummaryLike {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface LatenessChartData {
  readonly tasks: number;
  readonly spreadMs: number;
  readonly runs: number;
  readonly hz: number;
  readonly bullmqVersion: string;
  readonly tickset: { readonly samplesMs: readonly number[]; readonly p50: number; readonly p99: number };
  readonly bullmq: { readonly samplesMs: readonly number[]; readonly p50: number; readonly p99: number };
}

const ms = (v: number) => v.toFixed(v < 10 ? 1 : 0);

export function latenessChart(d: LatenessChartData): string {
  const all = [...d.tickset.samplesMs, ...d.bullmq.samplesMs].sort((a, b) => a - b);
  const p999 = all[Math.min(all.length - 1, Math.floor(all.length * 0.999))] ?? 10;
  return lineChart({
    title: `Lateness: due → handler start (CDF), Redis hz ${d.hz}`,
    subtitle: `${d.tasks} tasks spread over ${d.spreadMs / 1000} s, ${d.runs} run(s) each, same Redis and machine; x axis to the p99.9`,
    xLabel: 'lateness (ms)',
    yLabel: 'tasks started (%)',
    xMin: Math.min(0, all[0] ?? 0),
    xMax: Math.max(10, p999 * 1.05),
    yMax: 100,
    yFormat: (v) => `${v}%`,
    legend: 'bottom-right',
    series: [
      {
        name: `tickset startLocal: p50 ${ms(d.tickset.p50)} ms, p99 ${ms(d.tickset.p99)} ms`,
        color: '#1f6feb',
        points: cdfPoints(d.tickset.samplesMs),
        step: true,
      },
      {
        name: `BullMQ ${d.bullmqVersion} delayed jobs + Worker: p50 ${ms(d.bullmq.p50)} ms, p99 ${ms(d.bullmq.p99)} ms`,
        color: '#d9480f',
        points: cdfPoints(d.bullmq.samplesMs),
        step: true,
      },
    ],
  });
}

export interface BacklogChartData {
  readonly points: ReadonlyArray<{
    readonly size: number;
    readonly perSecond: SummaryLike;
    readonly rssBefore: SummaryLike;
    readonly rssPeak: SummaryLike;
  }>;
  /** Bare-Lua ZSET move, jobs/s (named in the subtitle: drawn, it would flatten the data). */
  readonly ceiling?: number;
}

export function backlogChart(d: BacklogChartData): string {
  return lineChart({
    title: 'Claim + publish throughput vs backlog (one tick process, no-op publisher)',
    subtitle: `median and min–max of runs; labels: tick RSS growth during the pass${
      d.ceiling ? `; bare-Lua ZSET move ceiling ${compact(d.ceiling)}/s` : ''
    }`,
    xLabel: 'jobs due at once (log scale)',
    yLabel: 'jobs/s',
    xLog: true,
    xMin: 5_000,
    xMax: 2_000_000,
    series: [
      {
        name: 'tickset TickLoop.pass()',
        color: '#1f6feb',
        markers: true,
        points: d.points.map((b) => [b.size, b.perSecond.median] as const),
        ranges: d.points.map((b) => [b.perSecond.min, b.perSecond.max] as const),
        labels: d.points.map(
          (b) => `+${((b.rssPeak.median - b.rssBefore.median) / 2 ** 20).toFixed(0)} MiB RSS`,
        ),
      },
    ],
    references: [{ y: 80_000, label: 'target 80,000/s', color: '#2b8a3e' }],
  });
}
