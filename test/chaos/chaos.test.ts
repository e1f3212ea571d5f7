/**
 * The chaos scenario of `npm run chaos` at a tenth of the size (10,000 tasks over 20 s): three tick
 * processes killed with SIGKILL and restarted, Redis killed and restarted with `appendfsync always`, PutEvents
 * failing on purpose, handlers failing, hanging and receiving duplicates; part of the load (`chaos.keyed`,
 * `chaos.every`) with batched delivery. Every invariant must hold.
 */
import { describe, expect, it } from 'vitest';
import { smallParams } from '../../chaos/params.js';
import { formatReport } from '../../chaos/report.js';
import { runChaos } from '../../chaos/run.js';

describe('chaos (10k tasks)', () => {
  it('loses nothing, runs each occurrence under one key, and drains, through kills and restarts', async () => {
    const params = smallParams();
    const report = await runChaos(params);
    const text = formatReport(report);

    expect(report.invariants.violations, text).toEqual([]);
    expect(report.drainMs, text).toBeDefined();
    // The faults really happened (otherwise the run proves nothing).
    expect(report.kills, text).toBeGreaterThanOrEqual(params.minKills);
    expect(report.redisRestarts, text).toHaveLength(params.redisRestarts.length);
    expect(
      report.publisher.partial + report.publisher.throttle + report.publisher.error500,
      text,
    ).toBeGreaterThan(0);
    expect(report.deliveries.duplicatesInjected, text).toBeGreaterThan(0);
    // Part of the load went out as batch events (params.batched), through the same faults.
    expect(report.deliveries.batchEvents, text).toBeGreaterThan(0);
    expect(report.deliveries.batchedTasks, text).toBeGreaterThan(report.deliveries.batchEvents);
    expect(report.handlerFaults.failuresInjected, text).toBeGreaterThan(0);
    expect(report.invariants.occurrencesRun, text).toBeGreaterThan(0.9 * report.tasks.jobs);
    expect(report.tasks.upserted, text).toBeGreaterThan(0);
  }, 300_000);
});
