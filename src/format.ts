/**
 * Plain-text output for people, shared by the CLI and the demo: aligned tables, durations (`1.2s`,
 * `3m 05s`, `2d 4h`), relative times. They favour short and scannable over exact (the CLI's machine
 * output is `--json`).
 */

/** `850ms`, `4.2s`, `3m 05s`, `5m`, `2h 05m`, `3d 04h`, `7d`: two units at most, a zero second unit dropped. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)}ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)}s`;
  const two = (big: number, bigUnit: string, smallMs: number, smallUnit: string) => {
    const major = Math.floor(abs / big);
    const minor = Math.floor((abs % big) / smallMs);
    return minor === 0
      ? `${sign}${major}${bigUnit}`
      : `${sign}${major}${bigUnit} ${String(minor).padStart(2, '0')}${smallUnit}`;
  };
  if (abs < 3_600_000) return two(60_000, 'm', 1000, 's');
  if (abs < 86_400_000) return two(3_600_000, 'h', 60_000, 'm');
  return two(86_400_000, 'd', 3_600_000, 'h');
}

/** `in 30.0s` or `2m 05s ago`, relative to `now`. */
export function formatRelative(at: Date | number, now: number): string {
  const ms = (at instanceof Date ? at.getTime() : at) - now;
  if (Math.abs(ms) < 500) return 'now';
  return ms > 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

/** ISO 8601 without milliseconds when they are zero. */
export function formatTime(at: Date | number): string {
  const iso = new Date(at).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** Shortens long text for a table cell. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export type Cell = string | number;

/**
 * An aligned table: a header row, then one row per entry. Numeric cells are right-aligned, text is left-
 * aligned, columns are separated by two spaces.
 */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (cells: readonly Cell[], header: boolean) =>
    cells
      .map((cell, i) => {
        const text = String(cell ?? '');
        return numeric[i] && !header ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
      })
      .map((text, i) => (numeric[i] && header ? text.trimEnd().padStart(widths[i]!) : text))
      .join('  ')
      .trimEnd();
  return [line(headers, true), ...rows.map((r) => line(r, false))].join('\n');
}

/** `label   value` pairs, labels padded to one width. */
export function keyValues(pairs: readonly (readonly [string, string | number | undefined])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
