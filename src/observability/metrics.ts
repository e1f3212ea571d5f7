/**
 * A narrow metrics sink, so the core does not depend on Powertools: Lambdas use `PowertoolsMetricsSink`
 * (CloudWatch EMF), the local runtime and tests use `InMemoryMetrics`.
 *
 * Dimension contract (the CDK alarms and dashboard match it): namespace `Tickset`
 * (POWERTOOLS_METRICS_NAMESPACE), one dimension `Namespace` = the tickset namespace; handler-side metrics
 * also carry `Handler` in a second, per-handler metric set only where noted.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DEFAULTS, ENV, type MetricName } from '../config/env.js';

export type { MetricName } from '../config/env.js';

export interface MetricsSink {
  count(name: MetricName, value?: number): void;
  /** A duration sample in milliseconds (e.g. lag). */
  durationMs(name: MetricName, value: number): void;
  /** Sends what was recorded (EMF: one log line). */
  flush(): void;
}

export class InMemoryMetrics implements MetricsSink {
  readonly counters = new Map<MetricName, number>();
  readonly samples = new Map<MetricName, number[]>();
  count(name: MetricName, value = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }
  durationMs(name: MetricName, value: number): void {
    const list = this.samples.get(name) ?? [];
    if (list.length === 0) this.samples.set(name, list);
    if (list.length < 1_000_000) list.push(value);
  }
  flush(): void {}
  get(name: MetricName): number {
    return this.counters.get(name) ?? 0;
  }
}

export class NoopMetrics implements MetricsSink {
  count(): void {}
  durationMs(): void {}
  flush(): void {}
}

export class PowertoolsMetricsSink implements MetricsSink {
  readonly metrics: Metrics;
  constructor(namespace: string, options: { metricsNamespace?: string; serviceName?: string } = {}) {
    this.metrics = new Metrics({
      namespace: options.metricsNamespace ?? process.env[ENV.metricsNamespace] ?? DEFAULTS.metricsNamespace,
      serviceName: options.serviceName ?? 'tickset',
      defaultDimensions: { Namespace: namespace },
    });
  }
  count(name: MetricName, value = 1): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
  }
  durationMs(name: MetricName, value: number): void {
    this.metrics.addMetric(name, MetricUnit.Milliseconds, value);
  }
  flush(): void {
    this.metrics.publishStoredMetrics();
  }
}
