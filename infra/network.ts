/**
 * `TicksetNetwork`: the VPC tickset runs in (given or created), the subnets its Lambdas use, and interface
 * endpoints so the tick and the handlers reach EventBridge and Secrets Manager without a NAT gateway.
 */
import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface TicksetNetworkProps {
  /**
   * The VPC to run in. It needs private subnets (with egress if handlers call the internet).
   * @default - a new VPC over 2 AZs with public and private-with-egress subnets (isolated ones when
   * `natGateways` is 0), and a flow log of rejected traffic
   */
  readonly vpc?: ec2.IVpc;
  /**
   * NAT gateways of the new VPC. With 0 the subnets are isolated: the tick and the handlers reach EventBridge
   * and Secrets Manager through interface endpoints, and every other AWS service a handler calls needs an
   * entry in `endpoints`; nothing outside AWS is reachable. Ignored when `vpc` is given.
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * Subnets for the cache and tickset's Lambdas.
   * @default - private subnets with egress; isolated subnets in a new VPC with `natGateways: 0`
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Create interface endpoints (private DNS) for EventBridge and, if `secretsManagerEndpoint`, Secrets Manager.
   * Turn off for a VPC that already has them: a second endpoint with private DNS for the same service fails.
   * @default - true for a new VPC, false for a given one
   */
  readonly vpcEndpoints?: boolean;
  /**
   * Also create the Secrets Manager endpoint (the cache's auth secret is read at cold start).
   * @default true
   */
  readonly secretsManagerEndpoint?: boolean;
  /**
   * More endpoints for the services your handlers and producers call (SES, SNS, SQS, DynamoDB, S3, ...):
   * interface endpoints (private DNS, reachable from handlers and producers) or gateway endpoints (routes in
   * the tickset subnets). Created in a new or a given VPC.
   * @default - none
   */
  readonly endpoints?: readonly (ec2.InterfaceVpcEndpointAwsService | ec2.GatewayVpcEndpointAwsService)[];
}

export class TicksetNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  /** Subnets for the cache and every tickset Lambda. */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The interface endpoints this construct made, by service. */
  readonly endpoints: {
    readonly eventBridge?: ec2.InterfaceVpcEndpoint;
    readonly secretsManager?: ec2.InterfaceVpcEndpoint;
  };
  /** True when AWS APIs are reached through endpoints made here (else through NAT or existing endpoints). */
  readonly hasEndpoints: boolean;
  /** The endpoints of the `endpoints` prop, in its order. */
  readonly extraEndpoints: readonly (ec2.InterfaceVpcEndpoint | ec2.GatewayVpcEndpoint)[];

  constructor(scope: Construct, id: string, props: TicksetNetworkProps = {}) {
    super(scope, id);
    const natGateways = props.natGateways ?? 1;
    if (!Number.isInteger(natGateways) || natGateways < 0) {
      throw new Error(`natGateways is ${natGateways}: use a whole number >= 0 (0 when no handler calls out)`);
    }
    if (props.vpc && props.natGateways !== undefined) {
      Annotations.of(this).addWarningV2(
        'tickset:natGatewaysIgnored',
        'natGateways is ignored because a vpc was given: NAT gateways are part of that VPC.',
      );
    }
    const privateType =
      natGateways === 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS;
    if (props.vpc) {
      this.vpc = props.vpc;
      this.vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    } else {
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways,
        subnetConfiguration: [
          ...(natGateways > 0 ? [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }] : []),
          { name: 'Private', subnetType: privateType, cidrMask: 22 },
        ],
      });
      vpc.addFlowLog('FlowLog', {
        trafficType: ec2.FlowLogTrafficType.REJECT,
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(this, 'FlowLogGroup', {
            retention: logs.RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
      });
      this.vpc = vpc;
      this.vpcSubnets = props.vpcSubnets ?? { subnetType: privateType };
    }
    this.extraEndpoints = (props.endpoints ?? []).map((service) => {
      const short =
        service instanceof ec2.GatewayVpcEndpointAwsService
          ? (service.name.split('.').pop() ?? service.name)
          : service.shortName;
      const id = `Endpoint-${short.replace(/[^A-Za-z0-9]/g, '-')}`;
      return service instanceof ec2.GatewayVpcEndpointAwsService
        ? new ec2.GatewayVpcEndpoint(this, id, { vpc: this.vpc, service, subnets: [this.vpcSubnets] })
        : new ec2.InterfaceVpcEndpoint(this, id, {
            vpc: this.vpc,
            service,
            subnets: this.vpcSubnets,
            privateDnsEnabled: true,
            open: false,
          });
    });
    this.hasEndpoints = props.vpcEndpoints ?? !props.vpc;
    if (!this.hasEndpoints) {
      this.endpoints = {};
      return;
    }
    const endpoint = (endpointId: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      new ec2.InterfaceVpcEndpoint(this, endpointId, {
        vpc: this.vpc,
        service,
        subnets: this.vpcSubnets,
        privateDnsEnabled: true,
        open: false,
      });
    this.endpoints = {
      eventBridge: endpoint('EventBridgeEndpoint', ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE),
      ...(props.secretsManagerEndpoint === false
        ? {}
        : {
            secretsManager: endpoint(
              'SecretsManagerEndpoint',
              ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            ),
          }),
    };
  }

  /**
   * Lets `peer` (a Lambda) call the AWS APIs it needs over HTTPS: through the endpoints made here, or to any
   * address (NAT or the VPC's own endpoints) without them.
   */
  allowAwsApisFrom(peer: ec2.IConnectable, services: readonly ('events' | 'secrets')[]): void {
    if (!this.hasEndpoints) {
      peer.connections.allowToAnyIpv4(ec2.Port.tcp(443), 'AWS APIs over HTTPS');
      return;
    }
    const { eventBridge, secretsManager } = this.endpoints;
    if (services.includes('events')) eventBridge?.connections.allowDefaultPortFrom(peer, 'EventBridge');
    if (services.includes('secrets'))
      secretsManager?.connections.allowDefaultPortFrom(peer, 'Secrets Manager');
  }

  /** Lets `peer` (a handler or producer) reach the interface endpoints of the `endpoints` prop. */
  allowExtraEndpointsFrom(peer: ec2.IConnectable): void {
    for (const endpoint of this.extraEndpoints) {
      if (endpoint instanceof ec2.InterfaceVpcEndpoint)
        endpoint.connections.allowDefaultPortFrom(peer, 'AWS API');
    }
  }
}
