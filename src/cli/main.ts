#!/usr/bin/env node
/** Entry point of the `tickset` CLI (bin/tickset.js loads the built copy, or this file through tsx). */
import { runCli } from './program.js';

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  now: Date.now,
});
process.exitCode = exitCode;
// Exit once stdout is flushed, even if a socket to an unresponsive server lingers.
process.stdout.write('', () => process.exit(exitCode));
