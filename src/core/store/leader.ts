/**
 * The tick's leader lease (`{ns}:leader`): of the `second`-mode loops running at once, the one holding it
 * loops; the others wait (see `TickLoop.run`).
 */
import type { Engine } from '../engine.js';
import { runScript } from '../script.js';
import { LUA } from '../scripts.generated.js';

/** Takes or renews the lease for `owner` (`leader-lease.lua`); true while `owner` holds it. */
export async function takeLeaderLease(engine: Engine, owner: string, leaseMs: number): Promise<boolean> {
  return (
    (await runScript<number>(engine.redis, LUA.leaderLease, [engine.global.leader], [owner, leaseMs])) === 1
  );
}

/** Releases the lease if `owner` holds it (`leader-release.lua`), so a waiting loop takes over at once. */
export async function releaseLeaderLease(engine: Engine, owner: string): Promise<void> {
  await runScript(engine.redis, LUA.leaderRelease, [engine.global.leader], [owner]);
}
