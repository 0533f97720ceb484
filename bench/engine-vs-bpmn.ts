/**
 * Benchmark: the Gridflow engine core against bpmn-engine on the same three-step process.
 *
 * - core: a definition start → step1 → step2 → done with three actions; each iteration evaluates the three actions
 *   on a fresh instance (actor check, compiled lookups, timer/approval plans, result objects).
 * - bpmn-engine: a BPMN process start → userTask1 → userTask2 → userTask3 → end; each iteration executes a fresh
 *   process instance and signals the three user tasks in turn. The XML is parsed once (the engine object is reused,
 *   which caches the serialized definitions), so the comparison does not charge bpmn-engine for parsing.
 *
 * Both are reported as completed three-step flows per second (medians over several rounds) and their ratio.
 * Run after the build: `node dist/bench/engine-vs-bpmn.js [--quick]`.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Engine } from 'bpmn-engine';
import type { Actor, InstanceSnapshot, WorkflowDefinition } from '../libs/engine/src/index.js';
import { compile, evaluate } from '../libs/engine/src/index.js';
import { printTable, type BenchFigure } from './report.js';


const TARGET_RATIO = 1000;
const NOW = Date.parse('2025-03-01T08:00:00.000Z');

const THREE_STEP: WorkflowDefinition = {
  key: 'bench-three-step',
  name: 'Three steps',
  states: [{ id: 'start', initial: true }, { id: 'step1' }, { id: 'step2' }, { id: 'done', final: true }],
  actions: [
    { id: 'step1', from: ['start'], to: 'step1', actors: [{ role: 'staff', relation: 'assignee' }] },
    { id: 'step2', from: ['step1'], to: 'step2', actors: [{ role: 'staff', relation: 'assignee' }] },
    { id: 'done', from: ['step2'], to: 'done', actors: [{ role: 'staff', relation: 'assignee' }] },
  ],
};
const ACTIONS = ['step1', 'step2', 'done'];
const ACTOR: Actor = { userId: 'u-1', orgUnitId: 'street-1', roles: ['staff'] };

const THREE_STEP_BPMN = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench" targetNamespace="http://gridflow.local/bench">
  <process id="threeStep" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="f0" sourceRef="start" targetRef="step1" />
    <userTask id="step1" />
    <sequenceFlow id="f1" sourceRef="step1" targetRef="step2" />
    <userTask id="step2" />
    <sequenceFlow id="f2" sourceRef="step2" targetRef="step3" />
    <userTask id="step3" />
    <sequenceFlow id="f3" sourceRef="step3" targetRef="end" />
    <endEvent id="end" />
  </process>
</definitions>`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function freshInstance(): InstanceSnapshot {
  return {
    state: 'start',
    version: 0,
    ownerOrgUnitId: 'dept-1',
    assigneeOrgUnitId: 'street-1',
    ownerParentOrgUnitId: 'district',
    assigneeAncestorIds: ['district'],
    dueAt: null,
    facts: {},
  };
}

/** One three-step flow through the core; returns the number of evaluations (3). */
function coreFlow(): number {
  let inst = freshInstance();
  for (const action of ACTIONS) {
    const r = evaluate(THREE_STEP, inst, ACTOR, action, undefined, NOW);
    if (!r.ok) throw new Error(`core refused ${action}: ${r.refusal.code}`);
    inst = { ...inst, state: r.nextState, version: inst.version + 1 };
  }
  if (inst.state !== 'done') throw new Error('core flow did not finish');
  return ACTIONS.length;
}

/** Runs the core for ~durationMs; returns flows per second. */
function coreRound(durationMs: number): number {
  let flows = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < durationMs) {
    for (let i = 0; i < 1000; i++) coreFlow();
    flows += 1000;
    t = performance.now();
  }
  return (flows * 1000) / (t - t0);
}

/** A bpmn-engine whose XML is parsed once; every call to `flow` runs a fresh process instance to its end. */
function bpmnRunner(): { flow: () => Promise<void> } {
  const engine = new Engine({ name: 'bench', source: THREE_STEP_BPMN });
  const listener = new EventEmitter();
  listener.on('wait', (api: { signal: (message?: unknown) => void }) => api.signal());
  return {
    async flow() {
      const ended = new Promise<void>((resolve, reject) => {
        engine.once('end', () => resolve());
        engine.once('error', reject);
      });
      await engine.execute({ listener });
      await ended;
      engine.removeAllListeners('end');
      engine.removeAllListeners('error');
    },
  };
}

async function bpmnRound(runner: { flow: () => Promise<void> }, durationMs: number): Promise<number> {
  let flows = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < durationMs) {
    for (let i = 0; i < 20; i++) await runner.flow();
    flows += 20;
    t = performance.now();
  }
  return (flows * 1000) / (t - t0);
}

export async function runEngineVsBpmn(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const rounds = opts.quick ? 3 : 7;
  const coreMs = opts.quick ? 200 : 600;
  const bpmnMs = opts.quick ? 300 : 1000;

  compile(THREE_STEP);
  const runner = bpmnRunner();
  // warm-up (JIT, caches), then check both really complete the flow
  coreRound(opts.quick ? 100 : 300);
  await bpmnRound(runner, opts.quick ? 100 : 300);

  const core: number[] = [];
  const bpmn: number[] = [];
  for (let r = 0; r < rounds; r++) {
    core.push(coreRound(coreMs));
    bpmn.push(await bpmnRound(runner, bpmnMs));
  }
  const coreFlows = median(core);
  const bpmnFlows = median(bpmn);
  const ratio = coreFlows / bpmnFlows;
  const nsPerEval = 1e9 / (coreFlows * ACTIONS.length);
  return [
    { name: 'core evaluations/s', value: Math.round(coreFlows * ACTIONS.length), unit: 'evaluations/s' },
    {
      name: 'core evaluate latency (mean)',
      value: Math.round(nsPerEval),
      unit: 'ns',
      ceiling: 10_000,
      met: nsPerEval <= 10_000,
    },
    { name: 'core three-step flows/s', value: Math.round(coreFlows), unit: 'flows/s' },
    { name: 'bpmn-engine three-step flows/s', value: Math.round(bpmnFlows), unit: 'flows/s' },
    {
      name: 'core vs bpmn-engine',
      value: Math.round(ratio),
      unit: 'x',
      ratio,
      target: TARGET_RATIO,
      met: ratio >= TARGET_RATIO,
    },
  ];
}


if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  runEngineVsBpmn({ quick })
    .then((figures) => printTable(figures))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
