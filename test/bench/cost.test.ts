/**
 * The cost model (bench/cost/model.ts) with exact expected dollars, worked out by hand from the price table
 * (bench/cost/prices.ts) in the comments, and the report of `npm run cost` (scripts/cost.ts).
 */
import { describe, expect, it } from 'vitest';
import { BATCHED_LOG_BYTES_PER_TASK, PROFILES, taskFigures } from '../../bench/cost/inputs.js';
import {
  COMPARE_VOLUMES,
  compare,
  entriesPerTask,
  fixedCost,
  parseCount,
  perTaskCost,
  type Scenario,
  schedulerCost,
  tasksPerEntryCap,
} from '../../bench/cost/model.js';
import { PRICES } from '../../bench/cost/prices.js';
import { report, scenarioFromArgs } from '../../scripts/cost.js';

const RESULTS = {
  finishedAt: '2026-12-03T14:11:46.392Z',
  figures: {
    claimPublish: { cpu: { tickset: { redisUs: { median: 2.62 }, clientUs: { median: 1.44 } } } },
    scheduleBatched: { cpu: { tickset: { redisUs: { median: 2.23 } } } },
  },
};

function scenario(overrides: Partial<Scenario> = {}): Scenario {
  return {
    tasksPerMonth: 100e6,
    handlers: 4,
    shards: 1,
    precision: 'second',
    profile: PROFILES.default,
    batched: false,
    passSeconds: 1,
    figures: taskFigures(RESULTS),
    ...overrides,
  };
}

describe('cost model', () => {
  it('parses volumes', () => {
    expect(parseCount('100M')).toBe(100e6);
    expect(parseCount('1.5B')).toBe(1.5e9);
    expect(parseCount('250k')).toBe(250e3);
    expect(parseCount('2,000,000')).toBe(2e6);
    expect(() => parseCount('lots')).toThrow(/not a count/);
  });

  it('default profile, second precision: ~$130 fixed', () => {
    const { total, lines } = fixedCost(scenario(), PRICES);
    // cache 2 x 730 x 0.0256 = 37.376; NAT 730 x 0.045 = 32.85; endpoints 2 x 2 x 730 x 0.01 = 29.2;
    // tick 43,800 x 70 s x 0.5 GB = 1,533,000 GB-s x 0.0000133334 = 20.4401022, + 43,800 x $0.0000002 = 0.00876;
    // 12 alarms x 0.1 + 16 metrics x 0.3 + 1 dashboard x 3 = 9; KMS 1 + secret 0.4 = 1.4.
    expect(lines.map((l) => l.usd)).toEqual([
      expect.closeTo(37.376, 9),
      expect.closeTo(32.85, 9),
      expect.closeTo(29.2, 9),
      expect.closeTo(20.4488622, 6),
      expect.closeTo(9, 9),
      expect.closeTo(1.4, 9),
    ]);
    expect(total).toBeCloseTo(130.2748622, 6);
  });

  it('lean profile, second precision: $29.07 fixed, under the $35 target', () => {
    // cache 730 x 0.0128 = 9.344; 1 endpoint x 1 AZ = 7.3; tick 43,800 x 70 x 0.25 = 766,500 GB-s
    // x 0.0000133334 = 10.2200511 + 0.00876 requests; 4 x 0.1 + 6 x 0.3 = 2.2.
    expect(fixedCost(scenario({ profile: PROFILES.lean }), PRICES).total).toBeCloseTo(29.0728111, 6);
    // With two endpoints (EventBridge and Secrets Manager, password auth) it is 7.30 more: over $35.
    const twoEndpoints = { ...PROFILES.lean, interfaceEndpoints: 2 };
    expect(fixedCost(scenario({ profile: twoEndpoints }), PRICES).total).toBeCloseTo(36.3728111, 6);
  });

  it('minute precision: the tick is one short pass per minute', () => {
    // 43,800 x 1 s x 0.5 GB = 21,900 GB-s x 0.0000133334 = 0.29200146 + 0.00876.
    const tick = fixedCost(scenario({ precision: 'minute' }), PRICES).lines.find((l) =>
      l.item.startsWith('tick'),
    );
    expect(tick?.usd).toBeCloseTo(0.30076146, 8);
  });

  it('entries per task: E[ceil(N / cap)] / λ for Poisson arrivals', () => {
    expect(entriesPerTask(5, 1)).toBe(1);
    expect(entriesPerTask(0, 100)).toBe(1);
    expect(entriesPerTask(1e-9, 100)).toBeCloseTo(1, 6);
    // cap never binds: (1 - e^-λ) / λ
    expect(entriesPerTask(2, 1000)).toBeCloseTo((1 - Math.exp(-2)) / 2, 10);
    // cap 2: E[ceil(N/2)] = (λ + P(N odd)) / 2, P(N odd) = (1 - e^-2λ) / 2
    expect(entriesPerTask(1, 2)).toBeCloseTo((1 + (1 - Math.exp(-2)) / 2) / 2, 10);
    // a full drain-like rate: → 1 / cap (plus about half an entry per pass)
    expect(entriesPerTask(10_000, 100)).toBeCloseTo((100 + 0.495) / 10_000, 4);
  });

  it('the cap is the count limit or what fits one 64 KB chunk', () => {
    const figures = taskFigures(RESULTS);
    expect(tasksPerEntryCap(false, figures)).toBe(1);
    // floor((65,536 - 512) / 1,024) = 63 < 100
    expect(tasksPerEntryCap(true, figures)).toBe(63);
    const small = { ...figures, taskBytes: { ...figures.taskBytes, value: 200 } };
    expect(tasksPerEntryCap(true, small)).toBe(100);
  });

  it('unbatched, per million tasks: $1 PutEvents + $0.60 logs + endpoint data = $1.61536', () => {
    const cost = perTaskCost(scenario(), PRICES);
    expect(cost.entriesPerTask).toBe(1);
    // 1 entry x $1/M; 1,200 B x 1e6 x $0.5/GB = 0.6; (512 + 1,024) B x 1e6 x $0.01/GB = 0.01536; tick 0.
    expect(cost.lines.map((l) => l.usd)).toEqual([
      expect.closeTo(1, 12),
      expect.closeTo(0.6, 12),
      expect.closeTo(0.01536, 12),
      0,
    ]);
    expect(cost.overheadPerMillion).toBeCloseTo(1.61536, 12);
    expect(cost.handlerRequestsPerMillion).toBeCloseTo(0.2, 12);
  });

  it('batched at 100 M/month over 4 handlers, second precision: the fill an arrival rate gives', () => {
    const figures = { ...taskFigures(RESULTS), logBytesPerTask: BATCHED_LOG_BYTES_PER_TASK };
    const cost = perTaskCost(scenario({ profile: PROFILES.lean, batched: true, figures }), PRICES);
    // λ = 1e8 / 4 / 2,628,000 s = 9.5129 tasks per handler per 1 s pass; the cap (63) almost never binds.
    const lambda = 1e8 / 4 / 2_628_000;
    expect(cost.arrivalsPerPass).toBeCloseTo(lambda, 10);
    const entries = (1 - Math.exp(-lambda)) / lambda;
    expect(cost.entriesPerTask).toBeCloseTo(entries, 8);
    // PutEvents entries x $1; logs (entries x 1,200 + 24) B x $0.5/GB; endpoint (entries x 512 + 1,024) B x $0.01/GB.
    const expected = entries + ((entries * 1200 + 24) * 0.5) / 1000 + ((entries * 512 + 1024) * 0.01) / 1000;
    expect(cost.overheadPerMillion).toBeCloseTo(expected, 8);
    expect(cost.overheadPerMillion).toBeCloseTo(0.191, 3);
    // Two shards halve λ: fuller entries need fewer shards.
    const sharded = perTaskCost(
      scenario({ profile: PROFILES.lean, batched: true, figures, shards: 2 }),
      PRICES,
    );
    expect(sharded.entriesPerTask).toBeCloseTo((1 - Math.exp(-lambda / 2)) / (lambda / 2), 8);
    // Minute precision: λ = 570.8 per pass, entries of up to 63.
    const minute = perTaskCost(
      scenario({ profile: PROFILES.lean, batched: true, figures, precision: 'minute', passSeconds: 60 }),
      PRICES,
    );
    expect(minute.entriesPerTask).toBeGreaterThan(1 / 63);
    expect(minute.entriesPerTask).toBeLessThan(1 / 63 + 1 / 570);
  });

  it('EventBridge Scheduler: $1 per million after 14 million free', () => {
    expect(schedulerCost(1e6, PRICES)).toBe(0);
    expect(schedulerCost(100e6, PRICES)).toBeCloseTo(86, 9);
    expect(schedulerCost(1e9, PRICES)).toBeCloseTo(986, 9);
    const rows = compare(scenario(), PRICES, COMPARE_VOLUMES);
    expect(rows.map((r) => r.tasksPerMonth)).toEqual([1e6, 1e7, 1e8, 1e9]);
    // Scheduler + one handler request per task: 100 M → 86 + 20.
    expect(rows[2]!.scheduler).toBeCloseTo(106, 9);
    // tickset unbatched at 100 M: 130.2748622 + 100 x (1.61536 + 0.2).
    expect(rows[2]!.tickset).toBeCloseTo(130.2748622 + 100 * 1.81536, 6);
  });

  it('the report: fixed cost and overhead on lines of their own, assumptions labelled, the compare table', () => {
    const { scenario: s, compare: withCompare } = scenarioFromArgs(
      [
        '--tasks-per-month',
        '100M',
        '--handlers',
        '4',
        '--precision',
        'second',
        '--profile',
        'lean',
        '--compare',
      ],
      RESULTS,
    );
    expect(s.batched).toBe(true);
    const lines = report(s, withCompare);
    expect(lines).toContain('fixed cost per month: $29.07');
    expect(lines.filter((l) => l.startsWith('overhead per million tasks: $0.19'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('assumed, not measured'))).toBe(true);
    expect(lines.some((l) => l.includes('measured: bench/results.json claimPublish'))).toBe(true);
    expect(lines.filter((l) => /^\| (1 M|10 M|100 M|1 B) \|/.test(l))).toHaveLength(4);
    const flagged = scenarioFromArgs(
      ['--unbatched', '--log-bytes-per-entry', '0', '--profile', 'lean'],
      RESULTS,
    );
    expect(flagged.scenario.batched).toBe(false);
    expect(flagged.scenario.figures.logBytesPerEntry).toMatchObject({ value: 0, provenance: 'flag' });
    expect(() => scenarioFromArgs(['--precision', 'hour'], RESULTS)).toThrow(/second or minute/);
  });
});
