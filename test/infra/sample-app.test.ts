/**
 * The sample app end to end, as `npx cdk synth` builds it: real esbuild bundling, CDK's built-in template
 * validation and cdk-nag (AWS Solutions) with zero unacknowledged findings. Then the producer bundle runs
 * against the test Redis, logged in as a user with the access string the construct gives the cache user.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { App } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_STRING } from '../../infra/cache-auth.js';
import { createSampleApp, type TicksetSampleStack } from '../../infra/sample-stack.js';
import { Scheduler } from '../../src/client/scheduler.js';
import { newClient, randomNamespace, redisUrl } from '../support/context.js';
import { EXPECTED_ACKNOWLEDGEMENTS } from './support.js';

const run = promisify(execFile);

describe('sample app', () => {
  let outdir: string;
  let app: App;
  let stack: TicksetSampleStack;
  let assembly: CloudAssembly;
  let template: Template;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'tickset-cdk-'));
    ({ app, stack } = createSampleApp({ outdir }));
    // Throws if a validation plugin (cdk-nag) reports anything.
    assembly = app.synth();
    template = Template.fromStack(stack);
  }, 180_000);

  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  it('synthesizes offline: no context lookups, environment-agnostic', () => {
    expect(assembly.manifest.missing ?? []).toEqual([]);
    const artifact = assembly.getStackByName('TicksetSample');
    expect(artifact.environment.account).toBe('unknown-account');
    expect(artifact.environment.region).toBe('unknown-region');
  });

  it('passes cdk-nag AWS Solutions checks with zero unacknowledged findings', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });

  it('acknowledges only the expected rules, each with a written reason', () => {
    const acknowledged = new Map<string, string>();
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          if (!id.includes('AwsSolutions-')) continue;
          acknowledged.set(id.replace(/^annotation::/i, ''), reason);
        }
      }
    }
    expect([...acknowledged.keys()].sort()).toEqual(EXPECTED_ACKNOWLEDGEMENTS);
    for (const reason of acknowledged.values()) expect(reason.length).toBeGreaterThan(80);
  });

  it('bundles four Lambdas as ESM for Node.js 22 that load', async () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
      const file = bundleOf(fn.Properties.Code.S3Key);
      expect(readFileSync(file, 'utf8').slice(0, 200)).toContain('createRequire');
      const { stdout } = await run(process.execPath, [
        '--input-type=module',
        '-e',
        'const m = await import(process.argv[1]); console.log(typeof m.handler);',
        file,
      ]);
      expect(stdout.trim()).toBe('function');
    }
  });

  describe('producer bundle against Redis', () => {
    const namespace = randomNamespace('sample');
    const user = `tickset-test-${namespace}`;
    let redis: Redis;

    beforeAll(async () => {
      redis = newClient();
      await redis.call('ACL', 'SETUSER', user, 'reset', '>secret-password', ...ACCESS_STRING.split(' '));
    });

    afterAll(async () => {
      await redis.call('ACL', 'DELUSER', user);
      await redis.quit();
    });

    it('schedules a reminder with Scheduler.fromEnv(), as the restricted cache user', async () => {
      // GIVEN the producer bundle and the environment grantSchedule gives it (auth inline instead of the secret)
      const producer =
        template.toJSON().Resources[
          Object.keys(template.findResources('AWS::Lambda::Function')).find((id) =>
            id.startsWith('Producer'),
          )!
        ];
      const env = producer.Properties.Environment.Variables as Record<string, unknown>;
      const url = new URL(redisUrl());
      url.username = user;
      url.password = 'secret-password';
      // WHEN the producer is invoked
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          'const m = await import(process.argv[1]); console.log(JSON.stringify(await m.handler(JSON.parse(process.argv[2])))); process.exit(0);',
          bundleOf(producer.Properties.Code.S3Key),
          JSON.stringify({ action: 'remind', userId: 42, delayMs: 3_600_000 }),
        ],
        {
          env: {
            PATH: process.env.PATH,
            TICKSET_REDIS_URL: url.href,
            TICKSET_REDIS_CLUSTER: 'false',
            TICKSET_NAMESPACE: namespace,
            TICKSET_SHARDS: env.TICKSET_SHARDS as string,
            TICKSET_HANDLERS: env.TICKSET_HANDLERS as string,
          },
        },
      );
      // THEN the job is in Redis, for the right handler
      const { id } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { id: string };
      const scheduler = new Scheduler({ redis: redisUrl(), namespace });
      try {
        expect(await scheduler.get(id)).toMatchObject({ handler: 'send-reminder', payload: { userId: 42 } });
      } finally {
        await scheduler.close();
      }
    });
  });

  function bundleOf(s3Key: string): string {
    const file = join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs');
    expect(existsSync(file), file).toBe(true);
    return file;
  }
});
