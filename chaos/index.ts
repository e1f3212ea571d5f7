/**
 * `npm run chaos`: the full chaos run (100,000 tasks over about 60 s, three tick processes killed at random,
 * Redis restarted twice, faulty PutEvents, misbehaving handlers), then the invariants. Exits 1 on any
 * violation.
 *
 * Environment: CHAOS_SEED (reproduce a fault plan), CHAOS_TASKS, CHAOS_WINDOW_MS, CHAOS_SMALL=1 (the
 * `npm test` size), CHAOS_KEEP=1 (keep Redis' AOF and the JSONL logs under chaos/.runs/).
 */
import { fileURLToPath } from 'node:url';
import { fullParams, smallParams } from './params.js';
import { formatReport } from './report.js';
import { runChaos } from './run.js';

const env = process.env;
const overrides = {
  ...(env.CHAOS_SEED ? { seed: Number(env.CHAOS_SEED) } : {}),
  ...(env.CHAOS_TASKS ? { tasks: Number(env.CHAOS_TASKS) } : {}),
  ...(env.CHAOS_WINDOW_MS ? { windowMs: Number(env.CHAOS_WINDOW_MS) } : {}),
  ...(env.CHAOS_KEEP === '1'
    ? { keepRunDir: true, runsDir: fileURLToPath(new URL('./.runs', import.meta.url)) }
    : {}),
};
const params = env.CHAOS_SMALL === '1' ? smallParams(overrides) : fullParams(overrides);
const started = Date.now();
const report = await runChaos(params, (line) => {
  console.error(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
});
console.log(formatReport(report));
if (params.keepRunDir) console.log(`run directory: ${report.runDir}`);
const failed = report.invariants.violations.length > 0 || report.drainMs === undefined;
process.exit(failed ? 1 : 0);
