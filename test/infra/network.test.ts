/** The VPC: NAT gateways, subnets, interface endpoints (private DNS), and a VPC you bring. */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, expect, it } from 'vitest';
import { inlineFunction, tasksStack } from './support.js';

const endpointService = (service: string) =>
  Match.objectLike({
    ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
    VpcEndpointType: 'Interface',
    PrivateDnsEnabled: true,
  });

describe('default network', () => {
  const template = Template.fromStack(tasksStack().stack);

  it('makes a VPC with one NAT gateway, private subnets with egress and a flow log', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.hasResourceProperties('AWS::EC2::Subnet', {
      Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Private' }]),
    });
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  it('adds EventBridge and Secrets Manager interface endpoints with private DNS', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', endpointService('events'));
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', endpointService('secretsmanager'));
  });
});

describe('natGateways: 0', () => {
  it('uses isolated subnets and reaches AWS only through the endpoints', () => {
    // GIVEN no NAT gateway (no handler calls out)
    const s = tasksStack({ natGateways: 0 });
    s.tasks.addHandler('h', inlineFunction(s, 'H'));
    // WHEN
    const template = Template.fromStack(s.stack);
    // THEN
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.hasResourceProperties('AWS::EC2::Subnet', {
      Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Isolated' }]),
    });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    expect(s.tasks.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
  });

  it('rejects a negative NAT gateway count', () => {
    expect(() => tasksStack({ natGateways: -1 })).toThrow(/natGateways is -1: use a whole number >= 0/);
  });
});

describe('a VPC you bring', () => {
  it('creates no VPC or endpoints unless asked, and lets the tick out on 443', () => {
    // GIVEN an existing VPC
    const s = tasksStack((stack) => ({
      vpc: new ec2.Vpc(stack, 'Mine', { natGateways: 1 }),
      natGateways: 3,
    }));
    // WHEN
    const template = Template.fromStack(s.stack);
    // THEN
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('tickset tick'),
      SecurityGroupEgress: Match.arrayWith([
        Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }),
      ]),
    });
    Annotations.fromStack(s.stack).hasWarning('*', Match.stringLikeRegexp('natGateways is ignored'));
  });

  it('adds the endpoints when asked', () => {
    const s = tasksStack((stack) => ({ vpc: new ec2.Vpc(stack, 'Mine'), vpcEndpoints: true }));
    Template.fromStack(s.stack).resourceCountIs('AWS::EC2::VPCEndpoint', 2);
  });
});
