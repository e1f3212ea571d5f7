/**
 * Every supported variant, as deployed: its template linted by cfn-lint (all templates in ONE run) and the
 * whole app checked by cdk-nag (AWS Solutions). The variants are synthesized once per run
 * (test/aws/support/variants.ts). cfn-lint missing is a failure, never a skip.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED_ACKNOWLEDGEMENTS } from '../infra/support.js';
import {
  type Assembly,
  readTemplate,
  synthesizedVariants,
  templatePath,
  VARIANTS,
} from './support/variants.js';

const run = promisify(execFile);
const CONFIG = join(import.meta.dirname, 'cfnlintrc.yaml');

interface Resource {
  Type: string;
  Properties: { Environment: { Variables: Record<string, unknown> } };
}

interface LintMatch {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
}

describe('every variant as deployed', () => {
  let assembly: Assembly;
  let matches: LintMatch[];
  let lintMs: number;

  beforeAll(async () => {
    assembly = await synthesizedVariants();
    const files = Object.values(VARIANTS).map((name) => templatePath(assembly, name));
    const started = Date.now();
    try {
      const { stdout } = await run(
        'cfn-lint',
        ['--format', 'json', '--config-file', CONFIG, '--', ...files],
        {
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      matches = JSON.parse(stdout || '[]') as LintMatch[];
    } catch (error) {
      const e = error as { code?: unknown; stdout?: string };
      if (e.code === 'ENOENT') {
        throw new Error(
          'cfn-lint is not on PATH: install it (pip install cfn-lint) to run the template checks',
        );
      }
      // cfn-lint exits non-zero when it reports matches: parse them.
      if (!e.stdout) throw error;
      matches = JSON.parse(e.stdout) as LintMatch[];
    }
    lintMs = Date.now() - started;
    console.log(
      `variants: ${files.length} templates synthesized in ${assembly.synthMs} ms, cfn-lint in ${lintMs} ms, ` +
        `${matches.length} findings`,
    );
  }, 400_000);

  it('cfn-lint reports nothing on any variant (errors are never ignored)', () => {
    const byFile = matches.map((m) => `${m.Filename.split('/').pop()}: ${m.Level} ${m.Rule.Id} ${m.Message}`);
    expect(byFile).toEqual([]);
  });

  it('ignores cfn-lint warnings only with a written reason per rule id', () => {
    const text = readFileSync(CONFIG, 'utf8');
    const ids = [...text.matchAll(/^\s+- (\w+)$/gm)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      expect(id, 'only warnings may be ignored').toMatch(/^[WI]\d+$/);
      expect(text).toMatch(new RegExp(`^\\s+# ${id} \\(.{20,}`, 'm'));
    }
  });

  it('passes cdk-nag on every variant with only the expected acknowledgements, each with a reason', () => {
    // Synthesis throws on an unacknowledged finding; the report confirms it saw them all.
    const report = JSON.parse(readFileSync(join(assembly.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
    expect(assembly.nagViolations).toEqual([]);
    expect(assembly.nagStacks.sort()).toEqual(Object.values(VARIANTS).sort());
    expect(Object.keys(assembly.acknowledgements).sort()).toEqual(EXPECTED_ACKNOWLEDGEMENTS);
    for (const reason of Object.values(assembly.acknowledgements)) expect(reason.length).toBeGreaterThan(80);
  });

  it('synthesizes each variant with what makes it that variant', () => {
    const types = (name: string) =>
      new Set(
        Object.values(readTemplate(assembly, name).Resources as Record<string, { Type: string }>).map(
          (r) => r.Type,
        ),
      );
    expect(types(VARIANTS.default).has('AWS::ElastiCache::ReplicationGroup')).toBe(true);
    expect(types(VARIANTS.memorydb).has('AWS::MemoryDB::Cluster')).toBe(true);
    expect(types(VARIANTS.serverless).has('AWS::ElastiCache::ServerlessCache')).toBe(true);
    const existingCache = types(VARIANTS.existingCache);
    expect(
      existingCache.has('AWS::ElastiCache::ReplicationGroup') || existingCache.has('AWS::MemoryDB::Cluster'),
    ).toBe(false);
    expect(types(VARIANTS.nat0).has('AWS::EC2::NatGateway')).toBe(false);
    expect(types(VARIANTS.default).has('AWS::EC2::NatGateway')).toBe(true);
    const resources = readTemplate(assembly, VARIANTS.minute).Resources as Record<string, Resource>;
    const minuteTick = Object.values(resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment.Variables.TICKSET_PRECISION,
    );
    expect(minuteTick!.Properties.Environment.Variables.TICKSET_PRECISION).toBe('minute');
  });
});
