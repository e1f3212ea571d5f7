/**
 * `Tick`: the tick Lambda and the EventBridge rule that starts it every minute.
 *
 * `second` precision: each invocation loops for about 70 s (src/tick/config.ts `loopDeadline`) under a 90 s
 * timeout, so consecutive invocations overlap; the leader lease in Redis lets only one of them claim. Reserved
 * concurrency 2 admits exactly that overlap. `minute` precision: one pass per invocation, short timeout.
 * The rule fires at an arbitrary second of each minute; in `second` mode that does not matter.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FROM_SOURCE, PACKAGE_ROOT, PrebuiltTicksetFunction, TicksetFunction } from './function.js';

export type { Precision } from '../src/config/env.js';

import type { Precision } from '../src/config/env.js';

export interface TickProps {
  readonly precision: Precision;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly environment: Record<string, string>;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * Reserved concurrency. 2 lets a `second`-mode invocation overlap the next one; 0 reserves nothing (needed
   * in an account whose concurrency limit is still 10).
   * @default 2
   */
  readonly reservedConcurrency?: number;
  /**
   * Entry file of the tick Lambda, bundled at synth.
   * @default - an installed package uses its prebuilt bundle (dist/functions/tick/index.mjs, no bundling at
   * synth); this repo bundles functions/tick/index.ts
   */
  readonly entry?: string;
}

export class Tick extends Construct {
  readonly function: lambda.Function;
  readonly rule: events.Rule;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: TickProps) {
    super(scope, id);
    const reserved = props.reservedConcurrency ?? 2;
    if (!Number.isInteger(reserved) || reserved < 0) {
      throw new Error(`tickReservedConcurrency is ${reserved}: use 2 (or 0 to reserve nothing)`);
    }
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'tickset tick: egress only to the cache and the AWS API endpoints',
      allowAllOutbound: false,
    });
    const functionProps = {
      description: `tickset tick (${props.precision} precision): promote, claim, publish`,
      handler: 'handler',
      memorySize: props.memorySize ?? 512,
      timeout: props.precision === 'second' ? Duration.seconds(90) : Duration.seconds(50),
      ...(reserved > 0 ? { reservedConcurrentExecutions: reserved } : {}),
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [this.securityGroup],
      environment: props.environment,
      // A failed tick is not retried: the next minute's invocation does the same work.
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60),
    };
    const prebuilt = join(PACKAGE_ROOT, 'dist', 'functions', 'tick');
    this.function =
      props.entry === undefined && !FROM_SOURCE && existsSync(join(prebuilt, 'index.mjs'))
        ? new PrebuiltTicksetFunction(this, 'Function', { ...functionProps, bundleDir: prebuilt })
        : new TicksetFunction(this, 'Function', {
            ...functionProps,
            entry: props.entry ?? join(PACKAGE_ROOT, 'functions', 'tick', 'index.ts'),
          });
    this.rule = new events.Rule(this, 'Schedule', {
      description: 'tickset: start the tick every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(this.function, { maxEventAge: Duration.seconds(60), retryAttempts: 2 }),
      ],
    });
  }
}
