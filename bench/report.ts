/** One figure of a benchmark run, as written to bench/results/<date>.json. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  ceiling?: number;
  ratio?: number;
  target?: number;
  met?: boolean;
}

/** A figure with the phase that measured it, as run.ts collects them. */
export type PhaseFigure = BenchFigure & { phase: string };

const fmt = (v: number | undefined): string =>
  v === undefined ? '' : Number.isFinite(v) ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3)) : String(v);

/** The rows of the printed table (also used for the Markdown summary). */
export function tableRows(figures: (BenchFigure & { phase?: string })[]): { header: string[]; rows: string[][] } {
  const header = ['phase', 'figure', 'value', 'unit', 'ceiling', 'ratio', 'target', 'met'];
  const rows = figures.map((f) => [
    f.phase ?? '',
    f.name,
    fmt(f.value),
    f.unit,
    fmt(f.ceiling),
    fmt(f.ratio),
    fmt(f.target),
    f.met === undefined ? '' : f.met ? 'yes' : 'NO',
  ]);
  return { header, rows };
}

/** Prints figures as an aligned table. */
export function printTable(figures: (BenchFigure & { phase?: string })[]): void {
  const { header, rows } = tableRows(figures);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
