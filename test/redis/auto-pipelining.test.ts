/**
 * Script calls leave at once; plain commands are still auto-pipelined. Each tickset script call carries a
 * batch: written at once, Redis runs it while Node prepares the next (BENCHMARKS.md, "Changes").
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/redis/connection.js';
import { redisUrl } from '../support/context.js';

describe('connect()', () => {
  let client: Redis;
  beforeAll(() => {
    client = connect(redisUrl()) as Redis;
  });
  afterAll(async () => {
    await client.quit();
  });

  it('writes a script call at once, and queues a plain command for the end of the tick', async () => {
    await client.ping();
    const script = client.eval('return 1', 0);
    expect(client.autoPipelineQueueSize).toBe(0);
    const plain = client.get('tickset-test:auto-pipelining');
    expect(client.autoPipelineQueueSize).toBe(1);
    expect(await script).toBe(1);
    expect(await plain).toBeNull();
  });
});
