/** Cache engines: replication group (default), MemoryDB, ElastiCache Serverless and an existing endpoint. */
import { RemovalPolicy } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { environmentOf, inlineFunction, logicalId, tasksStack } from './support.js';

describe('default cache: ElastiCache for Valkey replication group', () => {
  // GIVEN defaults WHEN synthesized
  const s = tasksStack();
  const template = Template.fromStack(s.stack);

  it('runs Valkey with a replica, Multi-AZ failover, TLS, encryption at rest and an AUTH token', () => {
    const secretId = logicalId(template, 'AWS::SecretsManager::Secret', 'AuthToken');
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      EngineVersion: '8.0',
      CacheNodeType: 'cache.t4g.small',
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] },
      SecurityGroupIds: [
        { 'Fn::GetAtt': [logicalId(template, 'AWS::EC2::SecurityGroup', 'Cache'), 'GroupId'] },
      ],
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 64 },
    });
  });

  it('sets maxmemory-policy noeviction in its parameter group', () => {
    const paramsId = logicalId(template, 'AWS::ElastiCache::ParameterGroup', 'Parameters');
    template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'valkey8',
      Properties: { 'maxmemory-policy': 'noeviction' },
    });
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheParameterGroupName: { Ref: paramsId },
    });
  });

  it('connects single-node mode (no cluster client) over TLS', () => {
    expect(s.tasks.cache.cluster).toBe(false);
    expect(environmentOf(template, 'TickFunction')).toMatchObject({
      TICKSET_REDIS_CLUSTER: 'false',
      TICKSET_REDIS_TLS: 'true',
    });
    expect(environmentOf(template, 'TickFunction').TICKSET_REDIS_USERNAME).toBeUndefined();
  });
});

describe('replication group options', () => {
  it('turns on cluster mode for more than one shard', () => {
    const s = tasksStack({ cache: { shards: 3, replicas: 2, nodeType: 'cache.r7g.large' } });
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      ClusterMode: 'enabled',
      NumNodeGroups: 3,
      ReplicasPerNodeGroup: 2,
      CacheNodeType: 'cache.r7g.large',
    });
    template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      Properties: { 'maxmemory-policy': 'noeviction', 'cluster-enabled': 'yes' },
    });
    expect(JSON.stringify(environmentOf(template, 'TickFunction').TICKSET_REDIS_URL)).toContain(
      'ConfigurationEndPoint',
    );
    expect(environmentOf(template, 'TickFunction').TICKSET_REDIS_CLUSTER).toBe('true');
  });

  it('warns about a single-AZ cache and rejects Multi-AZ without a replica', () => {
    const s = tasksStack({ cache: { replicas: 0 } });
    Annotations.fromStack(s.stack).hasWarning('*', Match.stringLikeRegexp('not Multi-AZ'));
    expect(() => tasksStack({ cache: { replicas: 0, multiAz: true } })).toThrow(
      /set cache.replicas >= 1 or multiAz: false/,
    );
  });

  it('applies the removal policy to the cache and its secret', () => {
    const template = Template.fromStack(
      tasksStack({ cache: { removalPolicy: RemovalPolicy.SNAPSHOT } }).stack,
    );
    template.hasResource('AWS::ElastiCache::ReplicationGroup', { DeletionPolicy: 'Snapshot' });
  });
});

describe('MemoryDB', () => {
  // GIVEN engine memorydb WHEN synthesized
  const s = tasksStack({ cache: { engine: 'memorydb' } });
  s.tasks.addHandler('h', inlineFunction(s, 'H'));
  const template = Template.fromStack(s.stack);

  it('runs a Multi-AZ Valkey cluster with TLS, an ACL user and noeviction', () => {
    template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 0);
    template.hasResourceProperties('AWS::MemoryDB::Cluster', {
      Engine: 'valkey',
      NodeType: 'db.t4g.small',
      NumShards: 1,
      NumReplicasPerShard: 1,
      TLSEnabled: true,
      ACLName: { Ref: logicalId(template, 'AWS::MemoryDB::ACL', 'Acl') },
      ParameterGroupName: { Ref: logicalId(template, 'AWS::MemoryDB::ParameterGroup', 'Parameters') },
    });
    template.hasResourceProperties('AWS::MemoryDB::ParameterGroup', {
      Family: 'memorydb_valkey7',
      Parameters: { 'maxmemory-policy': 'noeviction' },
    });
    template.hasResourceProperties('AWS::MemoryDB::User', {
      AccessString: 'on ~* &* +@all -@dangerous +info',
      AuthenticationMode: { Type: 'password', Passwords: [Match.anyValue()] },
    });
    // the password is a dynamic reference, resolved by CloudFormation, never in the template
    const user = Object.values(template.findResources('AWS::MemoryDB::User'))[0];
    expect(JSON.stringify(user)).toContain('{{resolve:secretsmanager:');
  });

  it('tells the Lambdas to use a cluster client with the ACL user and the secret', () => {
    const env = environmentOf(template, 'H');
    expect(env).toMatchObject({
      TICKSET_REDIS_CLUSTER: 'true',
      TICKSET_REDIS_TLS: 'true',
      TICKSET_REDIS_USERNAME: s.tasks.cache.username,
      TICKSET_REDIS_AUTH_SECRET_ARN: {
        Ref: logicalId(template, 'AWS::SecretsManager::Secret', 'Credentials'),
      },
    });
    expect(s.tasks.cache.username).toMatch(/^tickset-user-[0-9a-f]{12}$/);
  });

  it('alarms on MemoryDB memory and evictions', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/MemoryDB',
      MetricName: 'DatabaseMemoryUsagePercentage',
      Threshold: 75,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/MemoryDB',
      MetricName: 'Evictions',
    });
  });
});

describe('ElastiCache Serverless', () => {
  // GIVEN engine elasticache-serverless WHEN synthesized
  const s = tasksStack({ cache: { engine: 'elasticache-serverless', maxDataStorageGb: 5 } });
  const template = Template.fromStack(s.stack);

  it('runs a serverless Valkey cache behind an RBAC user group', () => {
    template.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      MajorEngineVersion: '8',
      UserGroupId: { Ref: logicalId(template, 'AWS::ElastiCache::UserGroup', 'UserGroup') },
      CacheUsageLimits: { DataStorage: { Maximum: 5, Unit: 'GB' } },
    });
    template.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'default',
      AccessString: 'off -@all',
    });
    template.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'tickset',
      AccessString: 'on ~* &* +@all -@dangerous +info',
    });
    expect(environmentOf(template, 'TickFunction')).toMatchObject({
      TICKSET_REDIS_CLUSTER: 'true',
      TICKSET_REDIS_USERNAME: 'tickset',
    });
  });

  it('warns that serverless cannot set noeviction', () => {
    Annotations.fromStack(s.stack).hasWarning(
      '*',
      Match.stringLikeRegexp('cannot set maxmemory-policy noeviction'),
    );
  });

  it('alarms on memory relative to the storage limit', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: '100 * bytes / 5000000000' }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'AWS/ElastiCache',
              MetricName: 'BytesUsedForCache',
              Dimensions: Match.anyValue(),
            },
          }),
        }),
      ]),
    });
  });
});

describe('existing endpoint', () => {
  // GIVEN an endpoint you run, its security group and its secret
  const s = tasksStack((stack) => ({
    cache: {
      engine: 'existing',
      host: 'cache.internal.example',
      port: 6380,
      cluster: true,
      username: 'app',
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'CacheSg', 'sg-0123456789abcdef0'),
      authSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'CacheSecret', 'my-cache-password'),
    },
  }));
  s.tasks.addHandler('h', inlineFunction(s, 'H'));
  // WHEN synthesized
  const template = Template.fromStack(s.stack);

  it('creates no cache, and no cache alarms', () => {
    template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 0);
    template.resourceCountIs('AWS::ElastiCache::ServerlessCache', 0);
    template.resourceCountIs('AWS::MemoryDB::Cluster', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('AWS/ElastiCache');
  });

  it('opens the given security group on the given port to the tick and the handler', () => {
    const rules = Object.values(
      template.findResources('AWS::EC2::SecurityGroupIngress', {
        Properties: { GroupId: 'sg-0123456789abcdef0' },
      }),
    );
    expect(rules).toHaveLength(2);
    for (const rule of rules) expect(rule.Properties).toMatchObject({ FromPort: 6380, ToPort: 6380 });
  });

  it('passes the endpoint, cluster flag, user and secret to the Lambdas', () => {
    const env = environmentOf(template, 'H');
    expect(env).toMatchObject({
      TICKSET_REDIS_URL: 'rediss://cache.internal.example:6380',
      TICKSET_REDIS_CLUSTER: 'true',
      TICKSET_REDIS_TLS: 'true',
      TICKSET_REDIS_USERNAME: 'app',
    });
    expect(JSON.stringify(env.TICKSET_REDIS_AUTH_SECRET_ARN)).toContain(':secret:my-cache-password');
  });
});
