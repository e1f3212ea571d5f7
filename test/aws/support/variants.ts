/**
 * Every supported variant of the stack, synthesized ONCE per test run into one cloud assembly, with cdk-nag
 * (AWS Solutions) registered on the whole app. The default variant is the sample app `TicksetSample`, the
 * only one bundled (real esbuild assets for the end-to-end test); the others skip bundling, which does not
 * change their templates' resources.
 *
 * Several test files need the assembly and vitest runs them in separate worker processes, so the first
 * worker to get the lock directory synthesizes and the others wait for its `done.json` (polled, with a
 * deadline). The directory is keyed by the vitest main process (the workers' parent).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ScheduledTasksProps } from '../../../infra/props.js';
import { TicksetSampleStack } from '../../../infra/sample-stack.js';

/** Stack name of each variant (the template is `<name>.template.json` in the assembly). */
export const VARIANTS = {
  default: 'TicksetSample',
  memorydb: 'Variant-memorydb',
  serverless: 'Variant-serverless',
  existingVpc: 'Variant-existing-vpc',
  existingCache: 'Variant-existing-cache',
  minute: 'Variant-minute',
  nat0: 'Variant-nat0',
  shards: 'Variant-shards',
  snapshot: 'Variant-snapshot',
  snapshotMemoryDb: 'Variant-snapshot-memorydb',
  snapshotServerless: 'Variant-snapshot-serverless',
  retain: 'Variant-retain',
} as const;

export interface Assembly {
  readonly outdir: string;
  /** Synthesis time in ms (of the worker that synthesized). */
  readonly synthMs: number;
  /** Acknowledged cdk-nag rules, id -> reason, over every stack. */
  readonly acknowledgements: Record<string, string>;
  /** cdk-nag run again on the synthesized app: its unacknowledged findings (must be none). */
  readonly nagViolations: unknown[];
  /** Stacks cdk-nag checked. */
  readonly nagStacks: string[];
}

export function templatePath(assembly: Assembly, stackName: string): string {
  return join(assembly.outdir, `${stackName}.template.json`);
}

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
export function readTemplate(assembly: Assembly, stackName: string): any {
  return JSON.parse(readFileSync(templatePath(assembly, stackName), 'utf8'));
}

/** What a user already has, made in `stack`: a VPC (with a flow log), a cache security group and secret. */
function existing(stack: Stack) {
  const vpc = new ec2.Vpc(stack, 'ExistingVpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
    ],
  });
  vpc.addFlowLog('FlowLog', {
    trafficType: ec2.FlowLogTrafficType.REJECT,
    destination: ec2.FlowLogDestination.toCloudWatchLogs(
      new logs.LogGroup(stack, 'ExistingFlowLogs', {
        removalPolicy: RemovalPolicy.DESTROY,
        retention: logs.RetentionDays.ONE_MONTH,
      }),
    ),
  });
  const securityGroup = new ec2.SecurityGroup(stack, 'ExistingCacheSecurityGroup', {
    vpc,
    description: 'an existing cache',
    allowAllOutbound: false,
  });
  const secret = new secretsmanager.Secret(stack, 'ExistingCacheSecret', {
    description: 'an existing cache password',
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'Test fixture standing for a secret the user already has; its rotation is theirs, and tickset reads it ' +
      'at cold start (docs/DEPLOY.md, rotating the cache password).',
  });
  return { vpc, securityGroup, secret };
}

/** The props of each variant. */
export const VARIANT_PROPS: Record<string, ScheduledTasksProps | ((stack: Stack) => ScheduledTasksProps)> = {
  [VARIANTS.default]: {},
  [VARIANTS.memorydb]: { cache: { engine: 'memorydb' } },
  [VARIANTS.serverless]: { cache: { engine: 'elasticache-serverless' } },
  [VARIANTS.existingVpc]: (stack) => ({
    vpc: existing(stack).vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  }),
  [VARIANTS.existingCache]: (stack) => {
    const { vpc, securityGroup, secret } = existing(stack);
    return {
      vpc,
      cache: {
        engine: 'existing',
        host: 'cache.example.internal',
        securityGroup,
        authSecret: secret,
        cluster: true,
      },
    };
  },
  [VARIANTS.minute]: { precision: 'minute' },
  [VARIANTS.nat0]: {
    natGateways: 0,
    endpoints: [ec2.InterfaceVpcEndpointAwsService.SNS, ec2.GatewayVpcEndpointAwsService.DYNAMODB],
  },
  [VARIANTS.shards]: { shards: 4, cache: { shards: 4, replicas: 2 } },
  [VARIANTS.snapshot]: { cache: { removalPolicy: RemovalPolicy.SNAPSHOT } },
  [VARIANTS.snapshotMemoryDb]: { cache: { engine: 'memorydb', removalPolicy: RemovalPolicy.SNAPSHOT } },
  [VARIANTS.snapshotServerless]: {
    cache: { engine: 'elasticache-serverless', removalPolicy: RemovalPolicy.SNAPSHOT },
  },
  [VARIANTS.retain]: { cache: { removalPolicy: RemovalPolicy.RETAIN }, idempotencyTtl: Duration.days(2) },
};

function build(outdir: string): App {
  // CDK's built-in template validation is off: cfn-lint checks every template (test/aws/variants.test.ts).
  const app = new App({
    outdir,
    context: { 'aws:cdk:bundling-stacks': [VARIANTS.default] },
    builtinCloudFormationValidation: false,
  });
  for (const [name, tasks] of Object.entries(VARIANT_PROPS)) new TicksetSampleStack(app, name, { tasks });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

function acknowledgementsOf(app: App): Record<string, string> {
  const acknowledged: Record<string, string> = {};
  for (const construct of app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (id.includes('AwsSolutions-')) acknowledged[id.replace(/^annotation::/i, '')] = reason;
      }
    }
  }
  return acknowledged;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let cached: Promise<Assembly> | undefined;

/** The assembly of every variant, synthesized once per vitest run. Throws if cdk-nag reports anything. */
export function synthesizedVariants(): Promise<Assembly> {
  cached ??= load();
  return cached;
}

async function load(): Promise<Assembly> {
  const root = tmpdir();
  for (const entry of readdirSync(root)) {
    const match = /^tickset-variants-(\d+)$/.exec(entry);
    if (match && Number(match[1]) !== process.ppid && !alive(Number(match[1]))) {
      rmSync(join(root, entry), { recursive: true, force: true });
    }
  }
  const dir = join(root, `tickset-variants-${process.ppid}`);
  const outdir = join(dir, 'cdk.out');
  const done = join(dir, 'done.json');
  mkdirSync(root, { recursive: true });
  let owner = false;
  try {
    mkdirSync(dir);
    owner = true;
  } catch {
    // Another worker of this run synthesizes.
  }
  if (owner) {
    const started = Date.now();
    try {
      const app = build(outdir);
      app.synth(); // throws if a validation plugin (cdk-nag) reports a violation
      const nag = new AwsSolutionsChecks().validateScope(app);
      const assembly: Assembly = {
        outdir,
        synthMs: Date.now() - started,
        acknowledgements: acknowledgementsOf(app),
        nagViolations: nag.violations,
        nagStacks: app.node.children.filter((c) => c instanceof Stack).map((c) => c.node.id),
      };
      writeFileSync(done, JSON.stringify(assembly));
      return assembly;
    } catch (error) {
      writeFileSync(done, JSON.stringify({ error: String((error as Error).stack ?? error) }));
      throw error;
    }
  }
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (existsSync(done)) {
      const result = JSON.parse(readFileSync(done, 'utf8')) as Assembly | { error: string };
      if ('error' in result)
        throw new Error(`synthesizing the variants failed in another worker: ${result.error}`);
      return result;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the variants were not synthesized within 300 s (${dir})`);
}
