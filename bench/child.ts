/** Runs a bench script in a Node child process of its own (through tsx) and returns its last stdout line, parsed as JSON. */
import { spawn } from 'node:child_process';

/**
 * `node [nodeFlags] --import tsx <script> <args>`; stderr goes to the bench's. Rejects when the child
 * exits with a non-zero code.
 */
export async function runChildJson<T>(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): Promise<T> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`bench child ${script} ${args.join(' ')} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}
