/**
 * Faults a reviewer of the synthesized stack found (issue #17, faults 3 to 8), each checked on the template.
 * Each test fails on the code before the fix.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, expect, it } from 'vitest';
import type { ScheduledTasksProps } from '../../infra/props.js';
import { ScheduledTasks } from '../../infra/scheduled-tasks.js';
import { inlineFunction, logicalId, tasksStack } from './support.js';

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }
>;

function resources(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}
function only(template: Template, type: string) {
  const found = Object.values(resources(template, type));
  expect(found, type).toHaveLength(1);
  return found[0]!;
}

describe('fault 3: removalPolicy SNAPSHOT takes a final snapshot on every engine', () => {
  it('MemoryDB: FinalSnapshotName unique per stack instance, no ignored DeletionPolicy Snapshot anywhere', () => {
    const t = Template.fromStack(
      tasksStack({ cache: { engine: 'memorydb', removalPolicy: RemovalPolicy.SNAPSHOT } }).stack,
    );
    const cluster = only(t, 'AWS::MemoryDB::Cluster');
    expect(cluster.Properties.FinalSnapshotName).toEqual({
      'Fn::Join': [
        '',
        ['tickset-final-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }],
      ],
    });
    expect(JSON.stringify(t.toJSON())).not.toContain('"DeletionPolicy":"Snapshot"');
    // The secret cannot be snapshotted: it goes with the stack (a restored cache gets new credentials).
    expect(only(t, 'AWS::SecretsManager::Secret').DeletionPolicy).toBe('Delete');
  });

  it('ElastiCache Serverless: FinalSnapshotName, no ignored DeletionPolicy Snapshot', () => {
    const t = Template.fromStack(
      tasksStack({ cache: { engine: 'elasticache-serverless', removalPolicy: RemovalPolicy.SNAPSHOT } })
        .stack,
    );
    const cache = only(t, 'AWS::ElastiCache::ServerlessCache');
    expect(JSON.stringify(cache.Properties.FinalSnapshotName)).toContain('AWS::StackId');
    expect(JSON.stringify(t.toJSON())).not.toContain('"DeletionPolicy":"Snapshot"');
  });

  it('replication group: DeletionPolicy Snapshot (supported there), the secret is deleted', () => {
    const t = Template.fromStack(tasksStack({ cache: { removalPolicy: RemovalPolicy.SNAPSHOT } }).stack);
    expect(only(t, 'AWS::ElastiCache::ReplicationGroup').DeletionPolicy).toBe('Snapshot');
    expect(only(t, 'AWS::SecretsManager::Secret').DeletionPolicy).toBe('Delete');
  });

  it('RETAIN keeps the cache and its secret, and takes no snapshot', () => {
    const t = Template.fromStack(
      tasksStack({ cache: { engine: 'memorydb', removalPolicy: RemovalPolicy.RETAIN } }).stack,
    );
    const cluster = only(t, 'AWS::MemoryDB::Cluster');
    expect(cluster.DeletionPolicy).toBe('Retain');
    expect(cluster.Properties.FinalSnapshotName).toBeUndefined();
    expect(only(t, 'AWS::SecretsManager::Secret').DeletionPolicy).toBe('Retain');
  });
});

describe('fault 4: an alarm on events Lambda accepted and then dropped', () => {
  it('alarms on AWS/Lambda AsyncEventsDropped of each handler function', () => {
    const s = tasksStack();
    const a = inlineFunction(s, 'HandlerA');
    const b = inlineFunction(s, 'HandlerB');
    s.tasks.addHandler('a', a);
    s.tasks.addHandler('b', b);
    const t = Template.fromStack(s.stack);
    const dropped = Object.entries(resources(t, 'AWS::CloudWatch::Alarm')).filter(
      ([, r]) => r.Properties.MetricName === 'AsyncEventsDropped',
    );
    expect(dropped.map(([, r]) => r.Properties.Dimensions)).toEqual([
      [{ Name: 'FunctionName', Value: { Ref: logicalId(t, 'AWS::Lambda::Function', 'HandlerA') } }],
      [{ Name: 'FunctionName', Value: { Ref: logicalId(t, 'AWS::Lambda::Function', 'HandlerB') } }],
    ]);
    for (const [, r] of dropped) {
      expect(r.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect((r.Properties.AlarmActions as unknown[]).length).toBe(1);
    }
  });
});

describe('fault 5: the stateless children of the cache can be replaced', () => {
  function names(props: ScheduledTasksProps, stackName = 'Test'): Record<string, unknown> {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new Stack(app, 'S', { stackName });
    new ScheduledTasks(stack, 'Tasks', props);
    const t = Template.fromStack(stack);
    const pick = (type: string, key: string) =>
      Object.values(resources(t, type)).map((r) => r.Properties[key]);
    return {
      cluster: pick('AWS::MemoryDB::Cluster', 'ClusterName'),
      user: pick('AWS::MemoryDB::User', 'UserName'),
      acl: pick('AWS::MemoryDB::ACL', 'ACLName'),
      params: pick('AWS::MemoryDB::ParameterGroup', 'ParameterGroupName'),
      subnets: pick('AWS::MemoryDB::SubnetGroup', 'SubnetGroupName'),
      serverless: pick('AWS::ElastiCache::ServerlessCache', 'ServerlessCacheName'),
      users: pick('AWS::ElastiCache::User', 'UserId'),
      userGroup: pick('AWS::ElastiCache::UserGroup', 'UserGroupId'),
    };
  }

  it('MemoryDB: a parameter group whose family changes gets a new name (so the replacement can succeed)', () => {
    const v7 = names({ cache: { engine: 'memorydb', engineVersion: '7.3' } });
    const v8 = names({ cache: { engine: 'memorydb', engineVersion: '8.0' } });
    expect(v8.params).not.toEqual(v7.params);
    // The cluster keeps its stable name: a change forcing its replacement fails on purpose (docs/DEPLOY.md).
    expect(v8.cluster).toEqual(v7.cluster);
  });

  it('MemoryDB and Serverless children: distinct valid names, unique per stack name', () => {
    for (const engine of ['memorydb', 'elasticache-serverless'] as const) {
      const a = names({ cache: { engine } }, 'stack-a');
      const b = names({ cache: { engine } }, 'stack-b');
      const children = (n: Record<string, unknown>) =>
        [n.user, n.acl, n.params, n.subnets, n.users, n.userGroup].flat() as string[];
      const own = children(a);
      expect(own.length).toBeGreaterThan(0);
      expect(new Set(own).size).toBe(own.length);
      for (const name of own) expect(name).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      for (const name of own) expect(name.length).toBeLessThanOrEqual(40);
      for (const name of children(b)) expect(own).not.toContain(name);
      const cacheName = [a.cluster, a.serverless].flat()[0];
      expect(own).not.toContain(cacheName);
    }
  });
});

describe('fault 6: endpoints for the AWS services handlers call', () => {
  it('adds interface and gateway endpoints; handlers and producers (not the tick) reach interface ones', () => {
    const s = tasksStack({
      natGateways: 0,
      endpoints: [ec2.InterfaceVpcEndpointAwsService.SNS, ec2.GatewayVpcEndpointAwsService.DYNAMODB],
    });
    const handler = inlineFunction(s, 'Handler');
    s.tasks.addHandler('h', handler);
    const producer = inlineFunction(s, 'Producer');
    s.tasks.grantSchedule(producer);
    const t = Template.fromStack(s.stack);
    const endpoints = Object.values(resources(t, 'AWS::EC2::VPCEndpoint'));
    const serviceOf = (r: (typeof endpoints)[number]) => JSON.stringify(r.Properties.ServiceName);
    expect(endpoints.filter((r) => serviceOf(r).includes('.sns'))).toHaveLength(1);
    const dynamo = endpoints.filter((r) => serviceOf(r).includes('dynamodb'));
    expect(dynamo).toHaveLength(1);
    expect(dynamo[0]!.Properties.VpcEndpointType).toBe('Gateway');
    const snsSg = logicalId(t, 'AWS::EC2::SecurityGroup', 'NetworkEndpointsnsSecurityGroup');
    const ingress = Object.values(resources(t, 'AWS::EC2::SecurityGroupIngress'))
      .filter((r) => JSON.stringify(r.Properties.GroupId).includes(snsSg))
      .map((r) => JSON.stringify(r.Properties.SourceSecurityGroupId));
    expect(ingress.some((x) => x.includes('HandlerSecurityGroup'))).toBe(true);
    expect(ingress.some((x) => x.includes('ProducerSecurityGroup'))).toBe(true);
    expect(ingress.some((x) => x.includes('Tick'))).toBe(false);
  });
});

describe("fault 7: Lambda's 4 KB environment limit fails synth, not the deploy", () => {
  function withHandlers(count: number, nameLength: number): App {
    const s = tasksStack();
    for (let i = 0; i < count; i++) {
      const name = `h${String(i).padStart(3, '0')}`.padEnd(nameLength, 'x');
      s.tasks.addHandler(name, inlineFunction(s, `F${i}`), { rateLimit: { perSecond: 5, maxInFlight: 20 } });
    }
    return s.app;
  }

  it('synthesizes 10 handlers', () => {
    expect(() => withHandlers(10, 20).synth()).not.toThrow();
  });

  it('fails with the function and the largest variables named when the tick environment would exceed 4 KB', () => {
    expect(() => withHandlers(45, 30).synth()).toThrow(
      /Tick\/Function is about \d+ bytes, over Lambda's limit of 4096 bytes.*TICKSET_RATE_LIMITS \d+ B, TICKSET_LEASES \d+ B/s,
    );
  });
});

describe('fault 8: teardown and every cache node watched', () => {
  it("deletes the alarm topic's KMS key with the stack (7-day waiting period)", () => {
    const t = Template.fromStack(tasksStack().stack);
    const key = only(t, 'AWS::KMS::Key');
    expect(key.DeletionPolicy).toBe('Delete');
    expect(key.Properties.PendingWindowInDays).toBe(7);
  });

  it('watches every node of a 12-node replication group (alarms of at most 10 metrics each)', () => {
    const t = Template.fromStack(tasksStack({ cache: { shards: 4, replicas: 2 } }).stack);
    const alarms = Object.entries(resources(t, 'AWS::CloudWatch::Alarm'));
    for (const [prefix, metricName] of [
      ['CacheMemory', 'DatabaseMemoryUsagePercentage'],
      ['CacheEvictions', 'Evictions'],
    ] as const) {
      const mine = alarms.filter(([id]) => id.includes(`Alarms${prefix}`));
      expect(mine).toHaveLength(2);
      const nodes: string[] = [];
      for (const [, alarm] of mine) {
        const stats = (
          alarm.Properties.Metrics as { MetricStat?: { Metric: Record<string, unknown> } }[]
        ).filter((m) => m.MetricStat);
        expect(stats.length).toBeLessThanOrEqual(10);
        for (const m of stats) {
          expect(m.MetricStat!.Metric.MetricName).toBe(metricName);
          nodes.push(JSON.stringify((m.MetricStat!.Metric.Dimensions as { Value: unknown }[])[0]!.Value));
        }
      }
      expect(new Set(nodes).size).toBe(12);
      expect(nodes.some((n) => n.includes('-0004-003'))).toBe(true);
    }
  });
});
