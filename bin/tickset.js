#!/usr/bin/env node
// Launcher for the `tickset` CLI. A published package ships dist/: load it. In a clone without a build,
// run the TypeScript sources through tsx (a devDependency) with the `tickset-source` export condition.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write(
      'tickset: this copy of tickset has no dist/ (a git-URL install arrives without it). Install tickset ' +
        'from a tarball made with `npm pack` (README, "Install"); in a clone, run `npm ci && npm run build`.\n',
    );
    process.exit(1);
  }
  const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=tickset-source', '--import', tsx, source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? 128 + (constants.signals[signal] ?? 1);
  });
}
