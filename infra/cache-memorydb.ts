/**
 * MemoryDB for Valkey builder for `TicksetCache`: every write is committed to a Multi-AZ transaction log
 * before it is acknowledged, so a failover loses nothing tickset acknowledged. ACL user with a generated
 * password, parameter group with `noeviction`, TLS, encryption at rest.
 */
import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as memorydb from 'aws-cdk-lib/aws-memorydb';
import type { Construct } from 'constructs';
import { AWS_METRICS } from '../src/config/env.js';
import type { CacheBackend, CacheContext, MemoryDbOptions } from './cache.js';
import {
  ACCESS_STRING,
  credentialsSecret,
  dataRemovalPolicy,
  passwordOf,
  secretRemovalPolicy,
} from './cache-auth.js';
import { childName, finalSnapshotName } from './names.js';

export function memoryDbCluster(
  scope: Construct,
  context: CacheContext,
  options: MemoryDbOptions,
): CacheBackend {
  const removalPolicy = options.removalPolicy ?? RemovalPolicy.DESTROY;
  const shards = options.shards ?? 1;
  const replicas = options.replicasPerShard ?? 1;
  const port = options.port ?? 6379;
  const engineVersion = options.engineVersion ?? '7.3';
  if (!Number.isInteger(shards) || shards < 1 || shards > 500) {
    throw new Error(`cache.shards is ${shards}: use a whole number from 1 to 500`);
  }
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 5) {
    throw new Error(`cache.replicasPerShard is ${replicas}: use a whole number from 0 to 5`);
  }
  if (replicas === 0) {
    Annotations.of(scope).addWarningV2(
      'tickset:memoryDbNoReplica',
      'MemoryDB without replicas keeps data in its transaction log, but a node failure means downtime ' +
        'until a replacement node recovers. Use replicasPerShard >= 1 for availability.',
    );
  }
  // MemoryDB user names are regional and are what the client sends in AUTH. The children's names change
  // with the properties that force their replacement (infra/names.ts), so they can be replaced.
  const username = childName(scope, 'user');
  const secret = credentialsSecret(scope, username, secretRemovalPolicy(removalPolicy));
  const user = new memorydb.CfnUser(scope, 'User', {
    userName: username,
    accessString: ACCESS_STRING,
    authenticationMode: { Type: 'password', Passwords: [passwordOf(secret)] },
  });
  const acl = new memorydb.CfnACL(scope, 'Acl', { aclName: childName(scope, 'acl'), userNames: [user.ref] });
  const family = `memorydb_valkey${engineVersion.split('.')[0]}`;
  const parametersDescription = 'tickset: noeviction (an evicted key is a lost job)';
  const parameters = new memorydb.CfnParameterGroup(scope, 'Parameters', {
    parameterGroupName: childName(scope, 'params', [family, parametersDescription]),
    family,
    description: parametersDescription,
    parameters: { 'maxmemory-policy': 'noeviction' },
  });
  const subnetsDescription = 'tickset cache subnets';
  const subnetGroup = new memorydb.CfnSubnetGroup(scope, 'SubnetGroup', {
    subnetGroupName: childName(scope, 'subnets', [subnetsDescription]),
    description: subnetsDescription,
    subnetIds: context.subnetIds,
  });
  const cluster = new memorydb.CfnCluster(scope, 'Cluster', {
    clusterName: context.name,
    description: 'tickset scheduled jobs',
    engine: 'valkey',
    engineVersion,
    nodeType: options.nodeType ?? 'db.t4g.small',
    numShards: shards,
    numReplicasPerShard: replicas,
    port,
    aclName: acl.ref,
    parameterGroupName: parameters.ref,
    subnetGroupName: subnetGroup.ref,
    securityGroupIds: [context.securityGroup.securityGroupId],
    tlsEnabled: true,
    ...(options.kmsKey ? { kmsKeyId: options.kmsKey.keyArn } : {}),
    snapshotRetentionLimit: options.snapshotRetentionDays ?? 1,
    autoMinorVersionUpgrade: true,
    // CloudFormation ignores DeletionPolicy Snapshot on a MemoryDB cluster: the final snapshot is a property.
    ...(removalPolicy === RemovalPolicy.SNAPSHOT ? { finalSnapshotName: finalSnapshotName() } : {}),
  });
  cluster.applyRemovalPolicy(dataRemovalPolicy(removalPolicy));
  const metric = (metricName: string, statistic: string) =>
    new cloudwatch.Metric({
      namespace: AWS_METRICS.memoryDbMemory.namespace,
      metricName,
      statistic,
      dimensionsMap: { ClusterName: context.name },
    });
  return {
    host: cluster.attrClusterEndpointAddress,
    port,
    cluster: true,
    tls: true,
    authSecret: secret,
    username,
    memoryUsagePercent: [metric(AWS_METRICS.memoryDbMemory.metricName, 'Maximum')],
    evictions: [metric(AWS_METRICS.memoryDbEvictions.metricName, 'Sum')],
  };
}
