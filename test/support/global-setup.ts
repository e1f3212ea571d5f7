/**
 * Vitest global setup: one private redis-server and one 3-master Redis Cluster for the whole run.
 * Each test file isolates itself with a random namespace (see `test/support/context.ts`).
 */
import type { TestProject } from 'vitest/node';
import { startRedisCluster, startRedisServer } from './redis-server.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startRedisServer();
  const cluster = await startRedisCluster(3);
  project.provide('redisUrl', server.url);
  project.provide('clusterUrls', [...cluster.urls]);
  return async () => {
    await cluster.stop();
    await server.stop();
  };
}
