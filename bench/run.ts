/**
 * ./scripts/bench entry point: runs every phase in one process, prints a table, and writes
 * bench/results/<date>.json (`{results: [{name, value, unit, ceiling?, ratio?, target?, met?}]}`) and a Markdown
 * summary beside it. `--quick` runs each phase at a size that finishes in minutes; `--only=a,b` runs those phases.
 * Phases run in order and each sees the figures of the phases before it (the HTTP phase reads the ceilings). Before
 * each phase the run waits (up to two minutes) until the machine is quiet, and reports how busy it was.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { deleteRedisKeys, machineBusySeconds, runCeilings } from './ceilings.js';
import { runEngineVsBpmn } from './engine-vs-bpmn.js';
import { runFanout } from './fanout.js';
import { runHttp } from './http-lifecycle.js';
import { runInbox } from './inbox.js';
import { printTable, tableRows, type BenchFigure, type PhaseFigure } from './report.js';
import { runTimerBench } from './timers.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');

/** A phase: its options and the figures of the phases that ran before it. */
type Phase = (o: { quick: boolean }, previous: readonly PhaseFigure[]) => Promise<BenchFigure[]>;

const phases: Array<[string, Phase]> = [
  ['ceilings', runCeilings],
  ['engine', runEngineVsBpmn],
  ['http', runHttp],
  ['inbox', runInbox],
  ['fanout', runFanout],
  ['timers', runTimerBench],
];

const unknown = only?.filter((name) => !phases.some(([phase]) => phase === name)) ?? [];
if (unknown.length) console.error(`[bench] no phase named ${unknown.join(', ')}; phases: ${phases.map(([p]) => p).join(', ')}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Cores the whole machine keeps busy over one second. */
async function busyCores(): Promise<number> {
  const before = machineBusySeconds();
  await sleep(1000);
  return machineBusySeconds() - before;
}
/** Below this, the machine counts as quiet: the services idle, nothing left running from the phase before. */
const QUIET_CORES = 0.25;
const QUIET_WAIT_MS = 120_000;
/**
 * Waits until the machine is quiet before a phase: a phase that loads data (the inbox phase writes 5 million rows)
 * leaves MariaDB flushing and purging for a while, and the next phase would be measured against that. Returns the
 * busy cores of the last second waited, reported with the phase.
 */
async function settle(phase: string): Promise<number> {
  const until = Date.now() + QUIET_WAIT_MS;
  let quietFor = 0;
  let busy = await busyCores();
  // no /proc/stat (not Linux): nothing to wait for
  if (!Number.isFinite(busy)) return busy;
  while (Date.now() < until) {
    quietFor = busy < QUIET_CORES ? quietFor + 1 : 0;
    if (quietFor >= 2) return busy;
    busy = await busyCores();
  }
  console.error(`[bench] the machine did not quiet down before ${phase}: ${busy.toFixed(2)} cores busy`);
  return busy;
}

const results: PhaseFigure[] = [];
for (const [phase, run] of phases) {
  if (only && !only.includes(phase)) continue;
  const waited = Date.now();
  const busy = await settle(phase);
  results.push(
    { phase, name: 'machine busy before the phase', value: Math.round(busy * 100) / 100, unit: 'cores' },
    { phase, name: 'waited for a quiet machine before the phase', value: Math.round((Date.now() - waited) / 100) / 10, unit: 's' },
  );
  const t0 = Date.now();
  try {
    for (const r of await run({ quick }, [...results])) results.push({ phase, ...r });
  } catch (e) {
    results.push({ phase, name: `${phase}: failed — ${(e as Error).message.slice(0, 200)}`, value: NaN, unit: '' });
  }
  console.error(`[bench] ${phase} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

printTable(results);
const { header, rows } = tableRows(results);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
await mkdir('bench/results', { recursive: true });
await writeFile(`bench/results/${stamp}.json`, JSON.stringify({ at: new Date().toISOString(), quick, machine, results }, null, 2));
const md = [`# Bench ${new Date().toISOString()}${quick ? ' (quick)' : ''}`, '', `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
await writeFile(`bench/results/${stamp}.md`, md);
console.log(`\nwritten bench/results/${stamp}.json and .md`);

// the phases that run the API or the worker in this process leave their queues under this run's own prefix
const prefix = process.env.REDIS_PREFIX;
if (prefix?.startsWith('gfbench')) await deleteRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix);
process.exit(0);
