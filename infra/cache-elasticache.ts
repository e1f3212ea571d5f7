/**
 * ElastiCache for Valkey builders for `TicksetCache`: a node-based replication group (auth token, parameter
 * group with `noeviction`) and a serverless cache (RBAC user group; it cannot set an eviction policy).
 */
import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AWS_METRICS } from '../src/config/env.js';
import type {
  CacheBackend,
  CacheContext,
  ElastiCacheOptions,
  ElastiCacheServerlessOptions,
} from './cache.js';
import {
  ACCESS_STRING,
  acknowledgeSecretRotation,
  credentialsSecret,
  dataRemovalPolicy,
  passwordOf,
  secretRemovalPolicy,
} from './cache-auth.js';
import { childName, finalSnapshotName } from './names.js';

/** CloudWatch accepts at most 10 metrics in one alarm's metric math expression. */
export const MAX_METRICS_PER_ALARM = 10;

/** The node ids in groups of at most 10: one expression (and one alarm) per group, so every node is watched. */
function nodeGroups(ids: string[]): string[][] {
  const groups: string[][] = [];
  for (let i = 0; i < ids.length; i += MAX_METRICS_PER_ALARM)
    groups.push(ids.slice(i, i + MAX_METRICS_PER_ALARM));
  return groups;
}

function nodeMetrics(
  prefix: string,
  ids: string[],
  first: number,
  metricName: string,
  statistic: string,
): Record<string, cloudwatch.IMetric> {
  return Object.fromEntries(
    ids.map((id, i) => [
      `${prefix}${first + i}`,
      new cloudwatch.Metric({
        namespace: AWS_METRICS.elastiCacheNodeMemory.namespace,
        metricName,
        statistic,
        dimensionsMap: { CacheClusterId: id },
      }),
    ]),
  );
}

/** ElastiCache for Valkey, node based. */
export function elastiCacheReplicationGroup(
  scope: Construct,
  context: CacheContext,
  options: ElastiCacheOptions,
): CacheBackend {
  const replicas = options.replicas ?? 1;
  const shards = options.shards ?? 1;
  const multiAz = options.multiAz ?? replicas >= 1;
  const port = options.port ?? 6379;
  const engineVersion = options.engineVersion ?? '8.0';
  const removalPolicy = options.removalPolicy ?? RemovalPolicy.DESTROY;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 5) {
    throw new Error(`cache.replicas is ${replicas}: use a whole number from 0 to 5`);
  }
  if (!Number.isInteger(shards) || shards < 1 || shards > 500) {
    throw new Error(`cache.shards is ${shards}: use a whole number from 1 to 500`);
  }
  if (multiAz && replicas === 0) {
    throw new Error(
      'cache.multiAz needs a replica to fail over to: set cache.replicas >= 1 or multiAz: false',
    );
  }
  if (!multiAz) {
    Annotations.of(scope).addWarningV2(
      'tickset:cacheSingleAz',
      'The cache is not Multi-AZ: losing its node (or AZ) loses the scheduled jobs. Use replicas >= 1.',
    );
  }
  const clusterMode = shards > 1;
  const authToken = new secretsmanager.Secret(scope, 'AuthToken', {
    description: 'tickset: ElastiCache AUTH token, read by Scheduler.fromEnv() at cold start',
    generateSecretString: { excludePunctuation: true, passwordLength: 64 },
    removalPolicy: secretRemovalPolicy(removalPolicy),
  });
  acknowledgeSecretRotation(authToken);
  const subnetGroup = new elasticache.CfnSubnetGroup(scope, 'SubnetGroup', {
    description: 'tickset cache subnets',
    subnetIds: context.subnetIds,
  });
  const parameters = new elasticache.CfnParameterGroup(scope, 'Parameters', {
    cacheParameterGroupFamily: `valkey${engineVersion.split('.')[0]}`,
    description: 'tickset: noeviction (an evicted key is a lost job)',
    properties: { 'maxmemory-policy': 'noeviction', ...(clusterMode ? { 'cluster-enabled': 'yes' } : {}) },
  });
  const group = new elasticache.CfnReplicationGroup(scope, 'ReplicationGroup', {
    replicationGroupDescription: 'tickset scheduled jobs',
    engine: 'valkey',
    engineVersion,
    cacheNodeType: options.nodeType ?? 'cache.t4g.small',
    port,
    cacheParameterGroupName: parameters.ref,
    cacheSubnetGroupName: subnetGroup.ref,
    securityGroupIds: [context.securityGroup.securityGroupId],
    ...(clusterMode
      ? { clusterMode: 'enabled', numNodeGroups: shards, replicasPerNodeGroup: replicas }
      : { numCacheClusters: replicas + 1 }),
    automaticFailoverEnabled: multiAz || clusterMode,
    multiAzEnabled: multiAz,
    atRestEncryptionEnabled: true,
    ...(options.kmsKey ? { kmsKeyId: options.kmsKey.keyArn } : {}),
    transitEncryptionEnabled: true,
    transitEncryptionMode: 'required',
    authToken: authToken.secretValue.unsafeUnwrap(),
    snapshotRetentionLimit: options.snapshotRetentionDays ?? 1,
    autoMinorVersionUpgrade: true,
  });
  group.applyRemovalPolicy(removalPolicy);
  const nodeIds: string[] = [];
  for (let g = 1; g <= (clusterMode ? shards : 1); g++) {
    for (let n = 1; n <= replicas + 1; n++) {
      const node = String(n).padStart(3, '0');
      nodeIds.push(
        clusterMode ? `${group.ref}-${String(g).padStart(4, '0')}-${node}` : `${group.ref}-${node}`,
      );
    }
  }
  const groups = nodeGroups(nodeIds);
  const of = (g: number) => (groups.length > 1 ? ` (nodes ${g * 10 + 1}-${g * 10 + groups[g]!.length})` : '');
  return {
    host: clusterMode ? group.attrConfigurationEndPointAddress : group.attrPrimaryEndPointAddress,
    port,
    portAttribute: clusterMode ? group.attrConfigurationEndPointPort : group.attrPrimaryEndPointPort,
    cluster: clusterMode,
    tls: true,
    authSecret: authToken,
    memoryUsagePercent: groups.map(
      (ids, g) =>
        new cloudwatch.MathExpression({
          expression: 'MAX(METRICS())',
          usingMetrics: nodeMetrics(
            'memory',
            ids,
            g * MAX_METRICS_PER_ALARM,
            AWS_METRICS.elastiCacheNodeMemory.metricName,
            'Maximum',
          ),
          label: `cache memory used (%, fullest node)${of(g)}`,
        }),
    ),
    evictions: groups.map(
      (ids, g) =>
        new cloudwatch.MathExpression({
          expression: 'SUM(FILL(METRICS(), 0))',
          usingMetrics: nodeMetrics(
            'evictions',
            ids,
            g * MAX_METRICS_PER_ALARM,
            AWS_METRICS.elastiCacheEvictions.metricName,
            'Sum',
          ),
          label: `cache evictions${of(g)}`,
        }),
    ),
  };
}

/** ElastiCache Serverless for Valkey, with an RBAC user group (serverless has no AUTH token). */
export function elastiCacheServerless(
  scope: Construct,
  context: CacheContext,
  options: ElastiCacheServerlessOptions,
): CacheBackend {
  const removalPolicy = options.removalPolicy ?? RemovalPolicy.DESTROY;
  const maxGb = options.maxDataStorageGb ?? 10;
  Annotations.of(scope).addWarningV2(
    'tickset:serverlessEviction',
    'ElastiCache Serverless cannot set maxmemory-policy noeviction. Keep maxDataStorageGb well above use and ' +
      'watch the Evictions alarm: keys with a TTL (idempotency records) may be evicted near the limit.',
  );
  const username = 'tickset';
  const secret = credentialsSecret(scope, username, secretRemovalPolicy(removalPolicy));
  const password = passwordOf(secret);
  // User and user group ids change with the properties that force their replacement (infra/names.ts).
  const user = new elasticache.CfnUser(scope, 'User', {
    engine: 'valkey',
    userId: childName(scope, 'app', ['valkey', username]),
    userName: username,
    accessString: ACCESS_STRING,
    passwords: [password],
  });
  // A user group needs a user named `default`: this one is switched off.
  const defaultUser = new elasticache.CfnUser(scope, 'DefaultUser', {
    engine: 'valkey',
    userId: childName(scope, 'default', ['valkey', 'default']),
    userName: 'default',
    accessString: 'off -@all',
    passwords: [password],
  });
  const userGroup = new elasticache.CfnUserGroup(scope, 'UserGroup', {
    engine: 'valkey',
    userGroupId: childName(scope, 'users', ['valkey']),
    userIds: [defaultUser.ref, user.ref],
  });
  const cache = new elasticache.CfnServerlessCache(scope, 'ServerlessCache', {
    engine: 'valkey',
    serverlessCacheName: context.name,
    description: 'tickset scheduled jobs',
    majorEngineVersion: options.majorEngineVersion ?? '8',
    securityGroupIds: [context.securityGroup.securityGroupId],
    subnetIds: context.subnetIds,
    userGroupId: userGroup.ref,
    ...(options.kmsKey ? { kmsKeyId: options.kmsKey.keyArn } : {}),
    snapshotRetentionLimit: options.snapshotRetentionDays ?? 1,
    cacheUsageLimits: {
      dataStorage: { maximum: maxGb, unit: 'GB' },
      ...(options.maxEcpuPerSecond ? { ecpuPerSecond: { maximum: options.maxEcpuPerSecond } } : {}),
    },
    // CloudFormation ignores DeletionPolicy Snapshot on a serverless cache: the final snapshot is a property.
    ...(removalPolicy === RemovalPolicy.SNAPSHOT ? { finalSnapshotName: finalSnapshotName() } : {}),
  });
  cache.applyRemovalPolicy(dataRemovalPolicy(removalPolicy));
  const metric = (metricName: string, statistic: string) =>
    new cloudwatch.Metric({
      namespace: AWS_METRICS.elastiCacheEvictions.namespace,
      metricName,
      statistic,
      dimensionsMap: { clusterId: context.name },
    });
  return {
    host: cache.attrEndpointAddress,
    port: 6379,
    portAttribute: cache.attrEndpointPort,
    cluster: true,
    tls: true,
    authSecret: secret,
    username,
    memoryUsagePercent: [
      new cloudwatch.MathExpression({
        expression: `100 * bytes / ${maxGb * 1e9}`,
        usingMetrics: { bytes: metric(AWS_METRICS.elastiCacheServerlessBytes.metricName, 'Maximum') },
        label: `cache memory used (% of ${maxGb} GB)`,
      }),
    ],
    evictions: [metric(AWS_METRICS.elastiCacheServerlessEvictions.metricName, 'Sum')],
  };
}
