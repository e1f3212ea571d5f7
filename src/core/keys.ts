/**
 * Every Redis key name tickset uses comes from this module (see ARCHITECTURE.md for types and owners).
 *
 * Keys of one shard share the hash tag `{<namespace>:<shard>}`, so every script touches one cluster slot.
 * Keys that span shards (leader lease, heartbeat, pause switches) live under `{<namespace>}`.
 */

/** Keys that belong to one shard. A script receives the subset it needs through KEYS. */
export interface ShardKeys {
  readonly shard: number;
  readonly tag: string;
  /** HASH id → packed job body (format version byte + handler code + header JSON + "\n" + payload JSON). */
  readonly jobs: string;
  /** HASH user key → id. */
  readonly keys: string;
  /** HASH id → priority, only for jobs whose priority is not 0. */
  readonly prio: string;
  /** HASH id → "attempt|token|reason|error" for jobs that were claimed at least once. */
  readonly state: string;
  /** SET of handler names that have (or had) jobs in this shard. */
  readonly handlers: string;
  /** STRING counter: the source of job revisions. */
  readonly seq: string;
  /** ZSET id → failedAt ms. */
  readonly dead: string;
  /** SET of cron series ids whose next occurrence Node must compute. */
  readonly arm: string;
  /** HASH with the newest stored format version written (`format`). */
  readonly meta: string;
  /** HASH handler name → its code in this shard's job bodies (base 36, assigned by `schedule.lua`, never reused). */
  readonly handlerCodes: string;
  /** HASH handler code → handler name: the reverse of `handlerCodes`. */
  readonly handlerNames: string;
  /**
   * Prefix of the handler wrapper's idempotency records of this shard's tasks: a record is the STRING
   * `<prefix>#<md5 of the idempotency key>` (Powertools' key and JSON), in the shard's slot, so that one
   * script can write a record and ack its claim.
   */
  readonly idempotencyPrefix: string;
  /** ZSET id → due ms, per handler: scheduled and retrying jobs. */
  delayed(handler: string): string;
  /** ZSET id → rank (due ms − priority × aging step), per handler: due jobs waiting for a claim. */
  ready(handler: string): string;
  /** ZSET id → lease deadline ms, per handler: claimed jobs not yet acknowledged. */
  inflight(handler: string): string;
  /** HASH handler → number of its parked jobs in this shard (exact; see `parking.ts`). */
  readonly parkedCount: string;
  /** ZSET slot (`<start>+<width>`) → slot start ms, per handler: the parking slots that hold jobs. */
  parked(handler: string): string;
  /** LIST of the ids parked in one slot of a handler (`slot` as in `parked`), in the order they came. */
  parkedSlot(handler: string, slot: string): string;
}

/** Keys shared by all shards of a namespace. */
export interface GlobalKeys {
  readonly tag: string;
  /** STRING owner id with PX: the tick leader lease. */
  readonly leader: string;
  /** HASH: the last tick heartbeat (`at`, `owner`, `claimed`, `published`). */
  readonly heartbeat: string;
  /** SET of paused handler names. */
  readonly paused: string;
  /** Pub/sub channel a producer publishes to when it schedules a job earlier than the queue head. */
  readonly wakeChannel: string;
  /** ZSET, per handler: the rate limiter's sliding log of reservations over all shards (see `store/rate-limit.ts`). */
  rateLog(handler: string): string;
  /**
   * Prefix of the idempotency records written before records moved into their shard's slot
   * (`ShardKeys.idempotencyPrefix`): `<prefix>#<md5 of the idempotency key>`, no hash tag. Read only, by the
   * wrapper's legacy lookup (see ARCHITECTURE.md, "Upgrading").
   */
  readonly legacyIdempotencyPrefix: string;
}

/** The stored format `schedule.lua` writes (format 1 is still read; see `codec.ts`). */
export const STORED_FORMAT_VERSION = 2;

const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HANDLER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE_PATTERN.test(namespace);
}

export function isValidHandlerName(handler: string): boolean {
  return HANDLER_PATTERN.test(handler);
}

export function shardKeys(namespace: string, shard: number): ShardKeys {
  const tag = `{${namespace}:${shard}}`;
  return {
    shard,
    tag,
    jobs: `${tag}:jobs`,
    keys: `${tag}:keys`,
    prio: `${tag}:prio`,
    state: `${tag}:state`,
    handlers: `${tag}:handlers`,
    seq: `${tag}:seq`,
    dead: `${tag}:dead`,
    arm: `${tag}:arm`,
    meta: `${tag}:meta`,
    handlerCodes: `${tag}:hcodes`,
    handlerNames: `${tag}:hnames`,
    idempotencyPrefix: `${tag}:idem`,
    delayed: (handler) => `${tag}:delayed:${handler}`,
    ready: (handler) => `${tag}:ready:${handler}`,
    inflight: (handler) => `${tag}:inflight:${handler}`,
    parkedCount: `${tag}:parkedn`,
    parked: (handler) => `${tag}:parked:${handler}`,
    // "#" is not in handler names, so no slot list can have another handler's index name.
    parkedSlot: (handler, slot) => `${tag}:parked:${handler}#${slot}`,
  };
}

export function globalKeys(namespace: string): GlobalKeys {
  const tag = `{${namespace}}`;
  return {
    tag,
    leader: `${tag}:leader`,
    heartbeat: `${tag}:heartbeat`,
    paused: `${tag}:paused`,
    wakeChannel: `${tag}:wake`,
    rateLog: (handler) => `${tag}:ratelog:${handler}`,
    legacyIdempotencyPrefix: `tickset-idem:${namespace}`,
  };
}

/** All key names of a namespace match this glob (used by tests and the CLI to inspect a namespace). */
export function namespaceGlob(namespace: string): string[] {
  return [`{${namespace}}:*`, `{${namespace}:*}:*`, `tickset-idem:${namespace}#*`];
}
