/**
 * `TicksetFunction`: a `NodejsFunction` with tickset's Lambda defaults, in one place. The tick uses it, and so
 * can handler and producer Lambdas (the sample stack does).
 *
 * Bundling runs the local esbuild (never Docker) into one ESM file for Node.js 22 on arm64. The AWS SDK v3 is
 * bundled rather than taken from the runtime: the bundle then runs exactly the SDK version the tests ran
 * (package-lock.json), at the price of a larger asset and a few ms more cold start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ENV } from '../src/config/env.js';

/** Finds the tickset package root (the directory whose package.json is named `tickset`). */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tickset') {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`tickset: no package.json named "tickset" above ${start}`);
  }
}

/** The tickset package root: the tick's entry and (in this repo) the lock file live here. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * True when this module runs from the TypeScript sources (this repo: tsx, vitest), false when it runs from
 * the build in an installed package (`dist/infra/function.js`). From the sources, bundles resolve `tickset`
 * imports to the sources (the `tickset-source` export condition); from an installed package, to its `dist/`.
 */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Lets the ESM bundle `require()` Node built-ins from CommonJS dependencies (ioredis, the AWS SDK). */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __ticksetCreateRequire } from 'node:module'; const require = __ticksetCreateRequire(import.meta.url);";

const MANAGED_POLICIES = ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'];

/** tickset's Lambda defaults; `TicksetFunction` props override them key by key. */
export const TICKSET_FUNCTION_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_22_X,
  architecture: lambda.Architecture.ARM_64,
  memorySize: 512,
  timeout: Duration.seconds(30),
  logRetention: logs.RetentionDays.ONE_MONTH,
  bundling: {
    format: OutputFormat.ESM,
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    sourceMap: true,
    banner: ESM_REQUIRE_BANNER,
    externalModules: [] as string[],
    // In this repo, resolve `tickset`, `tickset/handler` to the TypeScript sources (package.json `exports`
    // condition); in an installed package, to its build.
    esbuildArgs: { '--conditions': FROM_SOURCE ? 'tickset-source,module' : 'module' },
    forceDockerBundling: false,
  },
} as const;

export interface TicksetFunctionProps extends Omit<NodejsFunctionProps, 'logRetention'> {
  /**
   * Retention of the function's log group (one is created for it).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** A `NodejsFunction` with tickset's defaults (Node.js 22, arm64, ESM bundle, local esbuild, 30 s, 512 MB). */
export class TicksetFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TicksetFunctionProps = {}) {
    const d = TICKSET_FUNCTION_DEFAULTS;
    const lockFile = join(PACKAGE_ROOT, 'package-lock.json');
    const { logRetention, bundling, environment, ...rest } = props;
    super(scope, id, {
      runtime: d.runtime,
      architecture: d.architecture,
      memorySize: d.memorySize,
      timeout: d.timeout,
      ...(existsSync(lockFile) ? { projectRoot: PACKAGE_ROOT, depsLockFilePath: lockFile } : {}),
      ...rest,
      environment: { ...SOURCE_MAPS, ...environment },
      bundling: {
        ...d.bundling,
        externalModules: [...d.bundling.externalModules],
        mainFields: [...d.bundling.mainFields],
        esbuildArgs: { ...d.bundling.esbuildArgs },
        ...bundling,
      },
      logGroup: props.logGroup ?? newLogGroup(scope, id, logRetention),
    });
    acknowledgeDefaults(this);
  }
}

/** Stack traces in the logs point into the TypeScript sources (the bundles ship source maps). */
const SOURCE_MAPS = { [ENV.nodeOptions]: '--enable-source-maps' };

/** The function's own log group, deleted with the stack. */
function newLogGroup(scope: Construct, id: string, retention: logs.RetentionDays | undefined): logs.LogGroup {
  return new logs.LogGroup(scope, `${id}LogGroup`, {
    retention: retention ?? TICKSET_FUNCTION_DEFAULTS.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

/** cdk-nag acknowledgements that hold for every function with tickset's defaults. */
function acknowledgeDefaults(fn: lambda.Function): void {
  if (fn.runtime.name === TICKSET_FUNCTION_DEFAULTS.runtime.name) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'tickset pins Node.js 22 on purpose: bundles target node22 and the package is tested on it. ' +
        'Move runtime and esbuild target together when adopting a newer runtime.',
    });
  }
  for (const policy of MANAGED_POLICIES) {
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
      reason:
        `${policy} is the AWS-maintained minimum for a Lambda function (CloudWatch Logs` +
        (policy.includes('VPC') ? ', and the ENIs a function in a VPC needs' : '') +
        '); a copy as a customer policy would hold the same actions and drift from it.',
    });
  }
}

export interface PrebuiltTicksetFunctionProps
  extends Omit<lambda.FunctionProps, 'code' | 'runtime' | 'handler' | 'logRetention'> {
  /** Directory holding the prebuilt bundle `index.mjs` (and its source map). */
  readonly bundleDir: string;
  /** Exported handler function of `index.mjs`. */
  readonly handler: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Lambda function with tickset's defaults whose code is a bundle built ahead of time (`npm run build`
 * writes the tick's to `dist/functions/tick/`): an installed package synthesizes its tick without bundling,
 * and the tick runs exactly the dependency versions this package was built and tested with.
 */
export class PrebuiltTicksetFunction extends lambda.Function {
  constructor(scope: Construct, id: string, props: PrebuiltTicksetFunctionProps) {
    const d = TICKSET_FUNCTION_DEFAULTS;
    const { bundleDir, handler, logRetention, environment, ...rest } = props;
    super(scope, id, {
      runtime: d.runtime,
      architecture: d.architecture,
      memorySize: d.memorySize,
      timeout: d.timeout,
      ...rest,
      code: lambda.Code.fromAsset(bundleDir),
      handler: `index.${handler}`,
      environment: { ...SOURCE_MAPS, ...environment },
      logGroup: props.logGroup ?? newLogGroup(scope, id, logRetention),
    });
    acknowledgeDefaults(this);
  }
}
