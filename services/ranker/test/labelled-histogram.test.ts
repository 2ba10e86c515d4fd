import { Histogram, LATENCY_BUCKETS_SECONDS, Registry } from '@nexttap/observability';
import { describe, expect, it } from 'vitest';
import { LabelledHistogram } from '../src/labelled-histogram';

const STAGES = ['session', 'rules', 'explain'] as const;

describe('LabelledHistogram', () => {
  it('exports what a prom-client histogram exports', async () => {
    const expected = new Registry();
    const actual = new Registry();
    const reference = new Histogram({ name: 'stage_seconds', help: 'Time of a stage', labelNames: ['stage'], buckets: LATENCY_BUCKETS_SECONDS, registers: [expected] });
    const histogram = new LabelledHistogram('stage_seconds', 'Time of a stage', 'stage', STAGES, LATENCY_BUCKETS_SECONDS, [actual]);
    // Values on bucket bounds, between them, past the last and below zero, in two label values.
    const observations: Array<[(typeof STAGES)[number], number]> = [
      ['rules', 0.0005],
      ['session', 0.0003],
      ['rules', 2],
      ['session', 0.001],
      ['session', -1],
      ['rules', 0.1 + 0.2],
    ];
    for (const [stage, seconds] of observations) {
      reference.observe({ stage }, seconds);
      histogram.observe(stage, seconds);
    }

    expect(await actual.metrics()).toBe(await expected.metrics());
    expect(await actual.getMetricsAsJSON()).toEqual(await expected.getMetricsAsJSON());

    actual.resetMetrics();
    expected.resetMetrics();
    histogram.observe('explain', 0.01);
    reference.observe({ stage: 'explain' }, 0.01);
    expect(await actual.metrics()).toBe(await expected.metrics());
  });

  it('rejects an unknown label value and a non-finite value', () => {
    const histogram = new LabelledHistogram('stage_seconds', 'Time of a stage', 'stage', STAGES, LATENCY_BUCKETS_SECONDS, []);

    expect(() => histogram.observe('other' as (typeof STAGES)[number], 1)).toThrow('stage is other; expected one of session, rules, explain');
    expect(() => histogram.observe('rules', Number.NaN)).toThrow('observed value is NaN');
  });
});
