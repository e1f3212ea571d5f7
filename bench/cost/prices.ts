/**
 * The one price table of the cost model (bench/cost/model.ts, `npm run cost`): us-east-1, on-demand, in US
 * dollars. Every price the model uses is here and nowhere else. Prices change: check each line against the
 * AWS pricing page it names before quoting a figure, and update `asOf` when you do.
 */

export interface Price {
  readonly usd: number;
  /** What the price is for, in the unit it is charged. */
  readonly unit: string;
  /** Where it comes from, and how sure the figure is. */
  readonly source: string;
}

export const PRICES_AS_OF = '2026-12-06';
export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  eventBridgeEvent: {
    usd: 1.0 / 1e6,
    unit: 'per custom event published with PutEvents, each 64 KB chunk of an entry billed as one event',
    source: 'aws.amazon.com/eventbridge/pricing, "Custom events"',
  },
  schedulerInvocation: {
    usd: 1.0 / 1e6,
    unit: 'per EventBridge Scheduler invocation, after the free tier below',
    source: 'aws.amazon.com/eventbridge/pricing, "EventBridge Scheduler"',
  },
  schedulerFreeInvocationsPerMonth: {
    usd: 14e6,
    unit: 'invocations per month free (a count, not dollars)',
    source: 'aws.amazon.com/eventbridge/pricing, "EventBridge Scheduler" free tier',
  },
  logsIngestionPerGB: {
    usd: 0.5,
    unit: 'per GB of CloudWatch Logs ingested (standard class)',
    source: 'aws.amazon.com/cloudwatch/pricing, "Logs: Collect (Data Ingestion)"',
  },
  lambdaArmGBSecond: {
    usd: 0.0000133334,
    unit: 'per GB-second of Lambda on arm64 (first tier)',
    source: 'aws.amazon.com/lambda/pricing, "Arm Price"',
  },
  lambdaRequest: {
    usd: 0.2 / 1e6,
    unit: 'per Lambda invocation (request)',
    source: 'aws.amazon.com/lambda/pricing, "Requests"',
  },
  natGatewayHour: {
    usd: 0.045,
    unit: 'per NAT gateway hour',
    source: 'aws.amazon.com/vpc/pricing, "NAT Gateway"',
  },
  natGatewayPerGB: {
    usd: 0.045,
    unit: 'per GB processed by a NAT gateway',
    source: 'aws.amazon.com/vpc/pricing, "NAT Gateway"',
  },
  interfaceEndpointHourPerAz: {
    usd: 0.01,
    unit: 'per interface VPC endpoint per AZ per hour',
    source: 'aws.amazon.com/privatelink/pricing, "Interface Endpoint"',
  },
  interfaceEndpointPerGB: {
    usd: 0.01,
    unit: 'per GB processed by an interface endpoint (first PB)',
    source: 'aws.amazon.com/privatelink/pricing, "Interface Endpoint"',
  },
  cacheT4gMicroValkeyHour: {
    usd: 0.0128,
    unit: 'per cache.t4g.micro node hour, ElastiCache for Valkey',
    source:
      'ElastiCache pricing: Redis OSS cache.t4g.micro $0.016/h, Valkey priced 20% lower; derived, not read off ' +
      'a Valkey price line: check aws.amazon.com/elasticache/pricing',
  },
  cacheT4gSmallValkeyHour: {
    usd: 0.0256,
    unit: 'per cache.t4g.small node hour, ElastiCache for Valkey',
    source:
      'ElastiCache pricing: Redis OSS cache.t4g.small $0.032/h, Valkey priced 20% lower; derived, not read off ' +
      'a Valkey price line: check aws.amazon.com/elasticache/pricing',
  },
  alarm: {
    usd: 0.1,
    unit: 'per standard-resolution CloudWatch alarm metric per month',
    source: 'aws.amazon.com/cloudwatch/pricing, "Alarms"',
  },
  customMetric: {
    usd: 0.3,
    unit: 'per custom metric per month (first 10,000)',
    source: 'aws.amazon.com/cloudwatch/pricing, "Metrics"',
  },
  dashboard: {
    usd: 3.0,
    unit: 'per dashboard per month (beyond the 3 free)',
    source: 'aws.amazon.com/cloudwatch/pricing, "Dashboards"',
  },
  kmsKey: {
    usd: 1.0,
    unit: 'per customer managed KMS key per month',
    source: 'aws.amazon.com/kms/pricing',
  },
  secret: {
    usd: 0.4,
    unit: 'per Secrets Manager secret per month',
    source: 'aws.amazon.com/secrets-manager/pricing',
  },
} as const satisfies Record<string, Price>;

export type PriceTable = { readonly [K in keyof typeof PRICES]: Price };

/** Hours in the month the model uses (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;
/** Seconds in that month. */
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
