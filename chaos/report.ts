/** Formats a chaos report as the plain text `npm run chaos` prints. */
import type { ChaosReport } from './run.js';

const n = (value: number) => value.toLocaleString('en-US');
const list = (record: Record<string, number>) =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || 'none';

export function formatReport(report: ChaosReport): string {
  const p = report.publisher;
  const i = report.invariants;
  const h = report.handlerFaults;
  const lines = [
    '== tickset chaos report ==',
    `seed                      ${report.seed}`,
    `tasks                     ${n(report.tasks.submitted)} submitted in ${n(report.tasks.scheduledInMs)} ms → ${n(report.tasks.jobs)} jobs (${list(report.tasks.byKind)}) + ${report.tasks.series} series`,
    `                          ${n(report.tasks.inBatchDuplicateKeys)} keys repeated in one batch, ${n(report.tasks.upserted)} upserted mid-run (${report.tasks.upsertsLate} after due)`,
    `occurrences               ${n(i.occurrencesExpected)} expected (${n(i.seriesOccurrences)} of series), ${n(i.occurrencesRun)} ran at least once`,
    `tick processes            ${report.params.tickProcesses} at once, ${report.tickStarts} starts`,
    `kills (SIGKILL)           ${report.kills} (${report.leaderKills} aimed at the leader)`,
    `redis restarts            ${report.redisRestarts.length}: ${report.redisRestarts.join('; ') || 'none'}`,
    `PutEvents requests        ${n(p.requests)}: ok ${n(p.ok)}, partial failures ${n(p.partial)} (${n(p.partialEntriesFailed)} entries), throttled ${n(p.throttle)} (+${n(p.backpressure)} for backpressure), 500 ${n(p.error500)}, reset ${n(p.reset)}, ack lost ${n(p.ackLost)}`,
    `entries delivered         ${n(report.deliveries.accepted)}; duplicate deliveries injected ${n(report.deliveries.duplicatesInjected)}`,
    `invocations               ${n(report.deliveries.invocations)} (one per task): ${list(report.deliveries.byStatus)}`,
    `batched delivery          ${n(report.deliveries.batchEvents)} batch entries carrying ${n(report.deliveries.batchedTasks)} tasks`,
    `handler failures injected ${n(h.failuresInjected)} (${n(h.beforeEffect)} before the effect, ${n(h.afterEffect)} after it); poison failures ${n(h.poisonFailures)}`,
    `hangs injected            ${n(h.hangsPastTimeoutAndLease)} past time-out and lease, ${n(h.hangsPastLease)} past the lease only`,
    `executions                ${n(i.executions)} (${n(i.duplicateExecutions)} beyond one per key)`,
    `crash window              ${n(i.crashWindow)} re-executions after an effect whose record was never completed`,
    `effects suppressed        ${n(i.effectsSuppressed)} (keyed SET NX found the effect already written)`,
    `superseded revisions      ${n(i.supersededChecked)} checked never to run`,
    `live claim at start       ${n(i.claimsCheckedAtStart)} executions checked (no handler start without a live claim)`,
    `dead set                  ${list(i.deadByReason)} | by kind: ${list(i.deadByKind)}`,
    `tick stderr               ${report.tickStderr.warnings} warnings, ${report.tickStderr.errors} errors, ${report.tickStderr.other} other lines`,
    `drain time                ${report.drainMs === undefined ? 'did not drain' : `${n(report.drainMs)} ms after the last due time`}`,
    `duration                  ${n(report.durationMs)} ms`,
    `violations                ${i.violations.length === 0 ? 0 : `${Object.values(i.byInvariant).reduce((a, b) => a + b, 0)} (${list(i.byInvariant)})`}`,
  ];
  for (const v of i.violations) lines.push(`  ✗ [${v.invariant}] ${v.detail}`);
  const messages = Object.entries(report.tickStderr.messages);
  if (messages.length > 0) {
    lines.push('most frequent tick stderr messages (numbers masked):');
    for (const [message, count] of messages.sort((a, b) => b[1] - a[1]).slice(0, 6))
      lines.push(`  ${count}× ${message}`);
  }
  return lines.join('\n');
}
