/**
 * `TicksetCache`: the Redis-compatible store behind tickset: an ElastiCache (Valkey) replication group (the
 * default), ElastiCache Serverless, MemoryDB, or an endpoint you already run. It owns the security group in
 * front of the cache port, the auth secret, and the environment the runtime's `Scheduler.fromEnv()` reads.
 */
import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../src/config/env.js';
import { elastiCacheReplicationGroup, elastiCacheServerless } from './cache-elasticache.js';
import { memoryDbCluster } from './cache-memorydb.js';

interface ManagedCacheOptions {
  /**
   * What happens to the cache (and its auth secret) when it leaves the stack. Jobs live in the cache: use
   * `RemovalPolicy.SNAPSHOT` (a final snapshot named `tickset-final-<stack UUID>` for every engine; the secret
   * is deleted) or `RETAIN` (cache and secret stay) for production data.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Customer managed key for encryption at rest.
   * @default - an AWS owned key (encryption at rest is always on)
   */
  readonly kmsKey?: kms.IKey;
  /**
   * Days of automatic daily snapshots to keep.
   * @default 1
   */
  readonly snapshotRetentionDays?: number;
}

/** ElastiCache for Valkey, node based: a replication group with `maxmemory-policy noeviction`. */
export interface ElastiCacheOptions extends ManagedCacheOptions {
  /** @default 'elasticache' */
  readonly engine?: 'elasticache';
  /** @default 'cache.t4g.small' */
  readonly nodeType?: string;
  /** Read replicas per shard; failover needs at least 1. @default 1 */
  readonly replicas?: number;
  /** Multi-AZ automatic failover (needs `replicas` >= 1). @default - true when replicas >= 1 */
  readonly multiAz?: boolean;
  /** Shards (node groups); more than 1 turns on cluster mode. @default 1 */
  readonly shards?: number;
  /** @default '8.0' */
  readonly engineVersion?: string;
  /** @default 6379 */
  readonly port?: number;
}

/** ElastiCache Serverless for Valkey. It cannot set `maxmemory-policy`: see docs/DEPLOY.md. */
export interface ElastiCacheServerlessOptions extends ManagedCacheOptions {
  readonly engine: 'elasticache-serverless';
  /** Upper bound of stored data in GB (a cost guard; the memory alarm is relative to it). @default 10 */
  readonly maxDataStorageGb?: number;
  /** Upper bound of ElastiCache Processing Units per second. @default - no limit */
  readonly maxEcpuPerSecond?: number;
  /** @default '8' */
  readonly majorEngineVersion?: string;
}

/** MemoryDB for Valkey: a Multi-AZ transaction log, so an acknowledged write survives a failover. */
export interface MemoryDbOptions extends ManagedCacheOptions {
  readonly engine: 'memorydb';
  /** @default 'db.t4g.small' */
  readonly nodeType?: string;
  /** @default 1 */
  readonly shards?: number;
  /** @default 1 */
  readonly replicasPerShard?: number;
  /** @default '7.3' */
  readonly engineVersion?: string;
  /** @default 6379 */
  readonly port?: number;
}

/** A Redis-compatible endpoint you run yourself; you own its eviction policy, TLS and auth. */
export interface ExistingCacheOptions {
  readonly engine: 'existing';
  /** Host name of the primary or configuration endpoint. */
  readonly host: string;
  /** @default 6379 */
  readonly port?: number;
  /** The cache's security group: tickset adds ingress rules for its Lambdas to it. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Cluster mode (serverless, cluster-mode groups, MemoryDB). @default false */
  readonly cluster?: boolean;
  /** TLS in transit (`rediss://`). @default true */
  readonly tls?: boolean;
  /** Secret holding the password / auth token (a string, or JSON with `password`). @default - no auth */
  readonly authSecret?: secretsmanager.ISecret;
  /** RBAC / ACL user name. @default - none (the default user, with `authSecret` as its token) */
  readonly username?: string;
}

export type CacheOptions =
  | ElastiCacheOptions
  | ElastiCacheServerlessOptions
  | MemoryDbOptions
  | ExistingCacheOptions;

/** What an engine builder returns. */
export interface CacheBackend {
  readonly host: string;
  readonly port: number;
  /** The port as the resource reports it (a GetAtt), for the URL. @default - `port` */
  readonly portAttribute?: string;
  readonly cluster: boolean;
  readonly tls: boolean;
  /** @default - no auth */
  readonly authSecret?: secretsmanager.ISecret;
  /** @default - the default user */
  readonly username?: string;
  /**
   * Memory use in percent of what the cache may hold: one metric per group of at most 10 nodes (an alarm's
   * metric math takes at most 10 metrics), so every node is watched. @default - no memory alarm
   */
  readonly memoryUsagePercent?: cloudwatch.IMetric[];
  /** Evicted keys, one metric per group of at most 10 nodes. @default - no eviction alarm */
  readonly evictions?: cloudwatch.IMetric[];
}

/** What an engine builder gets. */
export interface CacheContext {
  readonly vpc: ec2.IVpc;
  readonly subnetIds: string[];
  readonly securityGroup: ec2.ISecurityGroup;
  /** A name unique to this construct path: lowercase, starts with a letter, 20 characters. */
  readonly name: string;
}

export interface TicksetCacheProps {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /** @default - an ElastiCache for Valkey replication group with the defaults of `ElastiCacheOptions` */
  readonly options?: CacheOptions;
}

export class TicksetCache extends Construct implements ec2.IConnectable {
  readonly engine: NonNullable<CacheOptions['engine']>;
  /** Security group in front of the cache port; `grantConnect` adds ingress to it. */
  readonly connections: ec2.Connections;
  readonly host: string;
  readonly port: number;
  /** `rediss://host:port` (or `redis://` for an existing endpoint without TLS). */
  readonly url: string;
  readonly cluster: boolean;
  readonly tls: boolean;
  readonly authSecret?: secretsmanager.ISecret;
  readonly username?: string;
  /** Memory use in percent, one metric per group of at most 10 nodes (empty for an existing endpoint). */
  readonly memoryUsagePercent: cloudwatch.IMetric[];
  /** Evicted keys, one metric per group of at most 10 nodes (empty for an existing endpoint). */
  readonly evictions: cloudwatch.IMetric[];

  constructor(scope: Construct, id: string, props: TicksetCacheProps) {
    super(scope, id);
    const options: CacheOptions = props.options ?? {};
    this.engine = options.engine ?? 'elasticache';
    let backend: CacheBackend;
    if (options.engine === 'existing') {
      backend = {
        host: options.host,
        port: options.port ?? 6379,
        cluster: options.cluster ?? false,
        tls: options.tls ?? true,
        ...(options.authSecret ? { authSecret: options.authSecret } : {}),
        ...(options.username ? { username: options.username } : {}),
      };
      this.connections = new ec2.Connections({
        securityGroups: [options.securityGroup],
        defaultPort: ec2.Port.tcp(backend.port),
      });
    } else {
      const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: 'tickset cache: only tickset Lambdas (tick, handlers, producers) reach the cache port',
        allowAllOutbound: false,
        disableInlineRules: true,
      });
      const context: CacheContext = {
        vpc: props.vpc,
        subnetIds: props.vpc.selectSubnets(props.vpcSubnets).subnetIds,
        securityGroup,
        name: `tickset-${this.node.addr.slice(2, 14)}`,
      };
      backend =
        options.engine === 'memorydb'
          ? memoryDbCluster(this, context, options)
          : options.engine === 'elasticache-serverless'
            ? elastiCacheServerless(this, context, options)
            : elastiCacheReplicationGroup(this, context, options);
      this.connections = new ec2.Connections({
        securityGroups: [securityGroup],
        defaultPort: ec2.Port.tcp(backend.port),
      });
    }
    ({ host: this.host, port: this.port, cluster: this.cluster, tls: this.tls } = backend);
    this.url = `${backend.tls ? 'rediss' : 'redis'}://${backend.host}:${backend.portAttribute ?? backend.port}`;
    this.authSecret = backend.authSecret;
    this.username = backend.username;
    this.memoryUsagePercent = backend.memoryUsagePercent ?? [];
    this.evictions = backend.evictions ?? [];
  }

  /** Lets `peer` reach the cache port (ingress on the cache's security group). */
  grantConnect(peer: ec2.IConnectable, description: string): void {
    this.connections.allowDefaultPortFrom(peer, description);
  }

  /** The connection environment of `Scheduler.fromEnv()` (src/redis/connection.ts). */
  environment(): Record<string, string> {
    return {
      [ENV.redisUrl]: this.url,
      [ENV.redisCluster]: String(this.cluster),
      [ENV.redisTls]: String(this.tls),
      ...(this.username ? { [ENV.redisUsername]: this.username } : {}),
      ...(this.authSecret ? { [ENV.redisAuthSecretArn]: this.authSecret.secretArn } : {}),
    };
  }
}
