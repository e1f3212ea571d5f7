/**
 * tickset's own CloudWatch metrics, as the alarms and the dashboard read them.
 *
 * DIMENSION CONTRACT (the runtime emitters in src/observability/metrics.ts must match it exactly; CloudWatch
 * only matches a query whose dimension set is identical to the emitted one):
 *
 *   CloudWatch namespace  `Tickset` (DEFAULTS.metricsNamespace), overridable with POWERTOOLS_METRICS_NAMESPACE,
 *                         which the construct sets from its `metricsNamespace` prop.
 *   Dimensions            exactly two on every datapoint, no others:
 *                           `service`   = `tickset-tick` (the tick Lambda) or `tickset-handler` (taskHandler)
 *                                         (Powertools Metrics adds it from `serviceName`)
 *                           `Namespace` = the tickset namespace (TICKSET_NAMESPACE, the `namespace` prop)
 *
 *   service=tickset-tick     TasksDispatched, TasksExpired, TasksDeadLettered (unknown handler, lease expired
 *                            with no attempts left), PublishFailures, TaskLagMs (due -> published),
 *                            OldestDueAgeMs (every pass, 0 when nothing is due), TickHeartbeat (count, leader only)
 *   service=tickset-handler  TasksSucceeded, TasksFailed, TasksRetried, TasksDeadLettered, LateAckRejected,
 *                            HandlerStartLagMs (due -> handler start, first attempts only)
 *
 * Units: counts are `Count`, *Ms metrics are `Milliseconds`.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS, type MetricEmitter, type MetricName, SERVICES } from '../src/config/env.js';

/** The `service` dimension value of each emitter (SERVICES in src/config/env.ts). */
export const METRIC_SERVICES: Record<MetricEmitter, string> = {
  tick: SERVICES.tick,
  handler: SERVICES.handler,
};

export type { MetricEmitter } from '../src/config/env.js';

/** A tickset metric name (see METRICS in src/config/env.ts). */
export type TicksetMetricName = MetricName;

/** Builds tickset's metrics for one namespace. Used by `ScheduledTasks.metric*()`. */
export class TicksetMetrics {
  constructor(
    /** CloudWatch namespace, e.g. `Tickset`. */
    readonly metricsNamespace: string,
    /** The tickset namespace (the `Namespace` dimension). */
    readonly namespace: string,
  ) {}

  /** One metric as one emitter publishes it. Defaults: Sum over 1 minute. */
  metric(
    metricName: TicksetMetricName,
    emitter: MetricEmitter,
    props: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
      ...props,
      dimensionsMap: { service: METRIC_SERVICES[emitter], Namespace: this.namespace, ...props.dimensionsMap },
    });
  }

  /** A count both the tick and the handlers emit, summed (missing data counts as 0). */
  both(metricName: TicksetMetricName, props: cloudwatch.MathExpressionOptions = {}): cloudwatch.IMetric {
    const period = props.period ?? Duration.minutes(1);
    return new cloudwatch.MathExpression({
      expression: 'FILL(tick, 0) + FILL(handler, 0)',
      usingMetrics: {
        tick: this.metric(metricName, 'tick', { period }),
        handler: this.metric(metricName, 'handler', { period }),
      },
      label: metricName,
      ...props,
      period,
    });
  }

  dispatched(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.dispatched, 'tick', props);
  }
  succeeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.succeeded, 'handler', props);
  }
  failed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.failed, 'handler', props);
  }
  retried(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.retried, 'handler', props);
  }
  deadLettered(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.both(METRICS.deadLettered, props);
  }
  expired(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.expired, 'tick', props);
  }
  publishFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.publishFailures, 'tick', props);
  }
  lateAckRejected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.lateAckRejected, 'handler', props);
  }
  /**
   * Due -> published (`TaskLagMs`, emitted by the tick) or due -> handler start of first attempts
   * (`HandlerStartLagMs`, emitted by the handler wrapper); p99 by default.
   */
  lag(emitter: MetricEmitter = 'tick', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const name = emitter === 'tick' ? METRICS.lagMs : METRICS.handlerStartLagMs;
    return this.metric(name, emitter, { statistic: cloudwatch.Stats.p(99), ...props });
  }
  /** Age of the oldest due, unclaimed job, as the tick sees it; Maximum by default. */
  oldestDueAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.oldestDueAgeMs, 'tick', { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }
  tickHeartbeat(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRICS.tickHeartbeat, 'tick', props);
  }
}
