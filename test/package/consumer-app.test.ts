/**
 * tickset as a user gets it: `npm pack` (prepack builds dist/ and the tick bundle) installed into a copy of
 * examples/consumer-app, a CDK app of its own. Its `cdk synth` runs offline with a `docker` on the PATH that
 * only records being called; the template holds the tick, both handlers and the producer; the runtime entry
 * points import from a plain .mjs file with `node`, and the CLI runs from the installed package.
 */
import { execFile } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
/** What `npm pack` must not see: local builds, installs and outputs of the working tree. */
const SKIP = new Set(['node_modules', 'dist', 'cdk.out', '.tmp', '.git', 'coverage']);

interface Template {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, string> }
  >;
}

describe('examples/consumer-app installed from the packed tarball', () => {
  let dir: string;
  let app: string;
  let dockerLog: string;
  let template: Template;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickset-consumer-'));
    // GIVEN tickset packed as `npm pack` does it, from a copy of the sources (the tests' dist/ stays untouched)
    const pkg = join(dir, 'tickset');
    cpSync(root, pkg, {
      recursive: true,
      filter: (source) => {
        const rel = relative(root, source);
        return !rel.split(/[\\/]/).some((part) => SKIP.has(part)) && !rel.endsWith('.tgz');
      },
    });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    const { stdout: packed } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], {
      cwd: pkg,
    });
    const tarball = join(dir, packed.trim().split('\n').at(-1)!);

    // AND the example app in a directory of its own, depending on that tarball
    app = join(dir, 'app');
    cpSync(join(root, 'examples', 'consumer-app'), app, {
      recursive: true,
      filter: (source) => !/[\\/](node_modules|cdk\.out)$/.test(source),
    });
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    manifest.dependencies.tickset = `file:${tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: app,
    });

    // WHEN it synthesizes with a `docker` that records any call and fails, and no other docker on the PATH
    const fakeBin = join(dir, 'fake-bin');
    dockerLog = join(dir, 'docker-called');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'docker'), `#!/bin/sh\necho "$@" >> '${dockerLog}'\nexit 1\n`);
    chmodSync(join(fakeBin, 'docker'), 0o755);
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((entry) => entry && !existsSync(join(entry, 'docker')));
    await run('npx', ['cdk', 'synth', '--no-notices', '--quiet', '--output', 'cdk.out'], {
      cwd: app,
      env: { ...process.env, PATH: [fakeBin, ...path].join(delimiter), CDK_DISABLE_VERSION_CHECK: '1' },
    });
    template = JSON.parse(readFileSync(join(app, 'cdk.out', 'Reminders.template.json'), 'utf8'));
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const functions = () =>
    Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Runtime === 'nodejs22.x',
    );
  const assetOf = (logicalId: string) =>
    join(app, 'cdk.out', template.Resources[logicalId]!.Metadata!['aws:asset:path']!);

  it('synthesizes without Docker: the tick, two handlers and the producer on Node.js 22', () => {
    expect(existsSync(dockerLog)).toBe(false);
    const ids = functions().map(([id]) => id);
    expect(ids.some((id) => id.startsWith('TasksTick'))).toBe(true);
    for (const name of ['SendReminder', 'SendDigest', 'Producer']) {
      expect(ids.some((id) => id.startsWith(name))).toBe(true);
    }
    for (const [id] of functions()) expect(existsSync(join(assetOf(id), 'index.mjs'))).toBe(true);
  });

  it('deploys the tick bundle prebuilt in the package, byte for byte', () => {
    const [tickId] = functions().find(([id]) => id.startsWith('TasksTick'))!;
    const prebuilt = join(app, 'node_modules', 'tickset', 'dist', 'functions', 'tick', 'index.mjs');
    expect(readFileSync(join(assetOf(tickId), 'index.mjs'))).toEqual(readFileSync(prebuilt));
  });

  it('routes both handlers and gives the producer the scheduling environment', () => {
    const rules = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    const patterns = JSON.stringify(rules.map((r) => r.Properties?.EventPattern));
    expect(patterns).toContain('send-reminder');
    expect(patterns).toContain('send-digest');
    const [, producer] = functions().find(([id]) => id.startsWith('Producer'))!;
    const env = (producer.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['TICKSET_REDIS_URL', 'TICKSET_HANDLERS']));
  });

  it('imports tickset, tickset/handler, tickset/local, tickset/tick and tickset/infra with plain node', async () => {
    writeFileSync(
      join(app, 'probe.mjs'),
      `
const [main, handler, local, tick, infra] = await Promise.all([
  import('tickset'), import('tickset/handler'), import('tickset/local'), import('tickset/tick'), import('tickset/infra'),
]);
let thrown;
try { handler.parseTaskEvent(null); } catch (error) { thrown = error; }
console.log(JSON.stringify({
  Scheduler: typeof main.Scheduler, taskHandler: typeof handler.taskHandler, startLocal: typeof local.startLocal,
  TickLoop: typeof tick.TickLoop, ScheduledTasks: typeof infra.ScheduledTasks,
  handlerErrorIsTicksetError: thrown instanceof main.TicksetError,
  handlerErrorIsMalformedEventError: thrown instanceof main.MalformedEventError,
  sameClass: handler.MalformedEventError === main.MalformedEventError,
  bundleConditions: infra.TICKSET_FUNCTION_DEFAULTS.bundling.esbuildArgs['--conditions'],
}));`,
    );
    const { stdout } = await run('node', ['probe.mjs'], { cwd: app });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      Scheduler: 'function',
      taskHandler: 'function',
      startLocal: 'function',
      TickLoop: 'function',
      ScheduledTasks: 'function',
      handlerErrorIsTicksetError: true,
      handlerErrorIsMalformedEventError: true,
      sameClass: true,
      // handler bundles resolve tickset to the installed build, not to its TypeScript sources
      bundleConditions: 'module',
    });
  });

  it('runs the CLI from the installed package', async () => {
    const { stdout } = await run(join(app, 'node_modules', '.bin', 'tickset'), ['--version'], { cwd: app });
    expect(stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    expect(readdirSync(join(app, 'node_modules', 'tickset', 'docs'))).toContain('DEPLOY.md');
  });
});
