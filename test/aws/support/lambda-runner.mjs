// A stand-in for the Lambda Node.js runtime, for tests: imports one bundled function (`index.mjs` of a
// cdk.out asset) once, like a warm container, and calls `handler(event, context)` for each JSON line on
// stdin ({ "id", "event", "remainingMs" }), one at a time. Each result is written to stdout as one line
// `@@RESULT {"id","ok","result"|"error"}`; everything else on stdout is the function's own output (logs,
// EMF metrics). `process.env` is instrumented: when stdin closes, `@@ENV ["NAME", ...]` lists every
// variable the code read.
// Usage: node lambda-runner.mjs <bundle> <function name>
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';

const [bundle, functionName] = process.argv.slice(2);
const read = new Set();
const env = process.env;
process.env = new Proxy(env, {
  get(target, key) {
    if (typeof key === 'string') read.add(key);
    return target[key];
  },
  has(target, key) {
    if (typeof key === 'string') read.add(key);
    return key in target;
  },
});

const mod = await import(bundle);
const write = (line) => new Promise((resolve) => process.stdout.write(`\n${line}\n`, resolve));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, event, remainingMs } = JSON.parse(line);
  const started = Date.now();
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/12/06/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, remainingMs - (Date.now() - started)),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await mod.handler(event, context);
    await write(`@@RESULT ${JSON.stringify({ id, ok: true, result: result ?? null })}`);
  } catch (error) {
    await write(`@@RESULT ${JSON.stringify({ id, ok: false, error: String(error?.message ?? error) })}`);
  }
}
await write(`@@ENV ${JSON.stringify([...read].sort())}`);
process.exit(0);
