/** Helpers that drive the engine by hand, the way the tick does, with an injected clock. */
import type { ClaimSpec, Engine } from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';

/** Promotes the due jobs of these handlers and claims from them, in one shard. */
export async function promoteClaim(
  engine: Engine,
  specs: readonly ClaimSpec[],
  now: number,
  shard = 0,
): Promise<{ tasks: TaskEventDetail[]; expired: number; promoted: number }> {
  const promoted = await engine.promote(
    shard,
    specs.map((s) => s.handler),
    now,
    100_000,
  );
  const { tasks, expired } = await engine.claim(shard, specs, now);
  return { tasks, expired, promoted };
}

/** One claim spec with a default lease. */
export function spec(handler: string, limit = 1000, extra: Partial<ClaimSpec> = {}): ClaimSpec {
  return { handler, limit, leaseMs: 30_000, ...extra };
}

/** The score of `member` in the delayed queue of `handler`, or undefined. */
export async function delayedScore(
  engine: Engine,
  handler: string,
  member: string,
  shard = 0,
): Promise<number | undefined> {
  const score = await engine.redis.zscore(engine.keys(shard).delayed(handler), member);
  return score === null ? undefined : Number(score);
}
