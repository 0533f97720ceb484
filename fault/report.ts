/** The fault run's report: a table on the terminal and the same figures as JSON (and Markdown for full runs). */
import { fmt, type FaultResult, OUTAGE_P99_TARGET_MS } from './faults.js';
import type { InvariantResult } from './invariants.js';

export interface RunReport {
  at: string;
  mode: 'full' | 'short';
  machine: { cpus: number; cpuModel?: string; memoryGiB: number; node: string; mariadb: string; redis: string };
  durationS: number;
  load: Record<string, number | string>;
  faults: FaultResult[];
  invariants: InvariantResult[];
  findings: string[];
  ok: boolean;
}

const yes = (met: boolean | undefined) => (met === undefined ? '' : met ? 'yes' : 'NO');

/** Rows of the fault table: recovery, lost work and the API during the outage, each with its target. */
export function faultRows(faults: FaultResult[]): string[][] {
  const out: string[][] = [['fault', 'down', 'measure', 'value', 'target', 'met']];
  for (const f of faults) {
    out.push([
      f.name,
      fmt(f.downMs),
      `work resumes (from ${f.from})`,
      fmt(f.recoveryMs),
      `≤ ${f.targetMs / 1000} s`,
      yes(f.met),
    ]);
    if (f.lostWorkRedoneMs !== undefined) {
      const target = f.lostWorkTargetMs;
      out.push([
        '',
        '',
        `${f.service === 'worker' ? 'jobs it held applied' : 'jobs Redis lost applied'} (${f.lostWorkRows ?? '?'} at risk)`,
        fmt(f.lostWorkRedoneMs),
        target ? `≤ ${target / 1000} s` : '(info)',
        target ? yes(f.lostWorkRedoneMs !== null && f.lostWorkRedoneMs <= target) : '',
      ]);
    }
    if (f.outage) {
      const o = f.outage;
      const statuses = Object.entries(o.statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      out.push([
        '',
        '',
        `API while down (${o.requests} req: ${statuses})`,
        `p99 ${o.p99Ms} ms, max ${o.maxMs} ms`,
        `p99 ≤ ${OUTAGE_P99_TARGET_MS} ms, 2xx/503 only`,
        yes(o.met),
      ]);
    }
  }
  return out;
}

export function invariantRows(invariants: InvariantResult[]): string[][] {
  const out: string[][] = [['invariant', 'checked', 'result']];
  for (const i of invariants)
    out.push([
      i.name,
      i.checked,
      i.ok ? 'ok' : `FAILED (${i.violations.length}${i.violations.length >= 12 ? '+' : ''})`,
    ]);
  return out;
}

export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) => r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

export function printReport(r: RunReport): void {
  console.log('');
  printTable(faultRows(r.faults));
  console.log('');
  printTable(invariantRows(r.invariants));
  for (const i of r.invariants.filter((x) => !x.ok)) {
    console.log(`\n${i.name}:`);
    for (const v of i.violations) console.log(`  - ${v}`);
  }
  if (r.findings.length) {
    console.log('\nfindings:');
    for (const f of r.findings) console.log(`  - ${f}`);
  }
  console.log(
    `\nload: ${Object.entries(r.load)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

const mdTable = (rows: string[][]) =>
  [
    `| ${rows[0].join(' | ')} |`,
    `|${rows[0].map(() => '---').join('|')}|`,
    ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function markdown(r: RunReport): string {
  const m = r.machine;
  return [
    `# Fault run ${r.at} (${r.mode})`,
    '',
    `Machine: ${m.cpus} cores (${m.cpuModel ?? 'unknown'}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.mariadb}, ${m.redis}. Duration ${r.durationS} s.`,
    '',
    mdTable(faultRows(r.faults)),
    '',
    mdTable(invariantRows(r.invariants)),
    '',
    ...(r.findings.length ? ['Findings:', '', ...r.findings.map((f) => `- ${f}`), ''] : []),
    `Load: ${Object.entries(r.load)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    `Result: ${r.ok ? 'every target met, every invariant holds' : 'FAILED'}`,
    '',
  ].join('\n');
}
