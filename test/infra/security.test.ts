/** Who reaches the cache port, and what IAM allows: least privilege for tick, handlers and producers. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { environmentOf, inlineFunction, logicalId, tasksStack } from './support.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

describe('network access and IAM', () => {
  // GIVEN a handler, a producer and a bystander function in the same VPC
  const s = tasksStack();
  s.tasks.addHandler('send-reminder', inlineFunction(s, 'Reminder'));
  const producer = inlineFunction(s, 'Producer');
  const grant = s.tasks.grantSchedule(producer);
  inlineFunction(s, 'Bystander');
  // WHEN synthesized
  const template = Template.fromStack(s.stack);
  const resources = template.toJSON().Resources as Resources;
  const cacheSg = logicalId(template, 'AWS::EC2::SecurityGroup', 'CacheSecurityGroup');
  const sgOf = (hint: string) => logicalId(template, 'AWS::EC2::SecurityGroup', hint);

  it('lets only the tick, the handlers and granted producers reach the cache port', () => {
    const sources = Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::EC2::SecurityGroupIngress' &&
          JSON.stringify(r.Properties.GroupId) === JSON.stringify({ 'Fn::GetAtt': [cacheSg, 'GroupId'] }),
      )
      .map((r) => {
        expect(r.Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379 });
        return (r.Properties.SourceSecurityGroupId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      })
      .sort();
    expect(sources).toEqual(
      [sgOf('ProducerSecurityGroup'), sgOf('ReminderSecurityGroup'), sgOf('TickSecurityGroup')].sort(),
    );
    // and the cache security group itself has no inline rules (no CIDR ingress, no egress)
    expect(resources[cacheSg]!.Properties.SecurityGroupIngress).toBeUndefined();
  });

  it('lets the tick out only to the cache and the AWS endpoints', () => {
    const tickSg = sgOf('TickSecurityGroup');
    const egress = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::EC2::SecurityGroupEgress' &&
        JSON.stringify(r.Properties.GroupId) === JSON.stringify({ 'Fn::GetAtt': [tickSg, 'GroupId'] }),
    );
    const targets = egress.map((r) => [
      (r.Properties.DestinationSecurityGroupId as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
      r.Properties.FromPort,
    ]);
    expect(targets.sort()).toEqual(
      [
        [cacheSg, 6379],
        [sgOf('EventBridgeEndpointSecurityGroup'), 443],
        [sgOf('SecretsManagerEndpointSecurityGroup'), 443],
      ].sort(),
    );
    expect(resources[tickSg]!.Properties.SecurityGroupEgress).toBeUndefined();
  });

  it('allows the tick events:PutEvents on its own bus only, plus reading the cache secret', () => {
    const busId = logicalId(template, 'AWS::Events::EventBus', 'Bus');
    const secretId = logicalId(template, 'AWS::SecretsManager::Secret', 'Cache');
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(template, 'AWS::IAM::Role', 'TickFunctionServiceRole') }],
      PolicyDocument: {
        Statement: [
          { Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [busId, 'Arn'] } },
          {
            Action: 'secretsmanager:GetSecretValue',
            Effect: 'Allow',
            Resource: { Ref: secretId },
          },
        ],
      },
    });
  });

  it('has no wildcard action and no events:PutEvents outside the tick in any policy', () => {
    const statements = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .flatMap(([id, r]) =>
        (r.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement.map(
          (st) => ({
            id,
            actions: ([] as string[]).concat(st.Action),
          }),
        ),
      );
    expect(statements.length).toBeGreaterThan(0);
    for (const { id, actions } of statements) {
      for (const action of actions) expect(action, `${id}: ${action}`).not.toMatch(/\*/);
      if (actions.includes('events:PutEvents')) expect(id).toMatch(/TickFunction/);
    }
  });

  it('grantSchedule gives the producer secret read, the connection env and the handler names', () => {
    expect(grant.success).toBe(true);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(template, 'AWS::IAM::Role', 'ProducerServiceRole') }],
      PolicyDocument: {
        Statement: [Match.objectLike({ Action: 'secretsmanager:GetSecretValue' })],
      },
    });
    expect(environmentOf(template, 'Producer')).toMatchObject({
      TICKSET_NAMESPACE: 'tickset',
      TICKSET_HANDLERS: 'send-reminder',
      TICKSET_REDIS_TLS: 'true',
      TICKSET_REDIS_CLUSTER: 'false',
    });
    // A producer emits no tickset metrics: no Powertools settings.
    expect(environmentOf(template, 'Producer').POWERTOOLS_SERVICE_NAME).toBeUndefined();
  });

  it('leaves the bystander without cache access or tickset environment', () => {
    const bystander = resources[logicalId(template, 'AWS::Lambda::Function', 'Bystander')]!;
    expect(bystander.Properties.Environment).toBeUndefined();
  });
});

describe('grantSchedule', () => {
  it('throws for a function outside the VPC and says how to fix it', () => {
    // GIVEN a function that is not in a VPC
    const s = tasksStack();
    const outside = inlineFunction(s, 'Outside', { inVpc: false });
    // WHEN / THEN
    expect(() => s.tasks.grantSchedule(outside)).toThrow(
      "grantSchedule(): function Test/Outside is not in a VPC, so it cannot reach the cache. Place it in the tickset VPC's private subnets: { vpc: scheduledTasks.vpc, vpcSubnets: scheduledTasks.vpcSubnets }.",
    );
  });

  it('can be called twice for one function (e.g. a handler that also schedules)', () => {
    const s = tasksStack();
    const fn = inlineFunction(s, 'Both');
    s.tasks.addHandler('chain', fn);
    s.tasks.grantSchedule(fn);
    expect(() => Template.fromStack(s.stack)).not.toThrow();
  });
});
