/**
 * The tick process of the backlog figure, run as a child so its RSS is its own: connects, warms up,
 * runs one `TickLoop.pass()` over the whole backlog with a no-op publisher while sampling RSS every 10 ms,
 * and prints one JSON line. Usage: backlog-child.ts <redis url> <namespace> <expected jobs>
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { connect, Engine } from 'tickset';
import { TickLoop } from 'tickset/tick';
import { noopPublisher } from './claim.js';

const [url, namespace, expectedText] = process.argv.slice(2);
if (!url || !namespace || !expectedText) throw new Error('usage: backlog-child.ts <url> <namespace> <n>');
const expected = Number(expectedText);
const gc = (globalThis as { gc?: () => void }).gc;

const client = connect(url);
try {
  const engine = new Engine(client, { namespace });
  await engine.handlersOf(0); // connected
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let heapPeak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  }, 10);
  // The live heap: heapUsed right after each major GC (read in the observer's callback, so a little
  // allocation after the GC is included: an upper bound). RSS and the sampled heapUsed also hold garbage
  // that V8 has not collected yet, which grows with how long the pass runs, not with what it keeps.
  let liveHeapMax = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry.detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        liveHeapMax = Math.max(liveHeapMax, process.memoryUsage().heapUsed);
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const publisher = noopPublisher();
  const loop = new TickLoop({ engine, publisher });
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const stats = await loop.pass();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const end = process.memoryUsage();
  observer.disconnect();
  gc?.(); // synchronous: heapUsed right after it is what the pass left behind
  liveHeapMax = Math.max(liveHeapMax, process.memoryUsage().heapUsed);
  rssPeak = Math.max(rssPeak, end.rss);
  if (stats.published !== expected) throw new Error(`published ${stats.published} of ${expected}`);
  process.stdout.write(
    `${JSON.stringify({
      published: stats.published,
      ms,
      cpuUs: cpu.user + cpu.system,
      rssBefore,
      rssPeak,
      rssAfter: end.rss,
      heapPeak,
      liveHeapMax,
      maxRssKb: process.resourceUsage().maxRSS,
    })}\n`,
  );
} finally {
  await client.quit().catch(() => client.disconnect());
}
