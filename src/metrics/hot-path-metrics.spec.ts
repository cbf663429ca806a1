import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { FastHistogram, LabelledCounter } from './hot-path-metrics.js';

describe(FastHistogram.name, () => {
  it('should expose cumulative buckets, sum and count per label', async () => {
    const registry = new Registry();
    const sut = new FastHistogram(registry, 'test_seconds', 'A test.', [0.01, 0.1], {
      name: 'event',
      values: ['a', 'b'],
    });

    sut.observe(0.005, 'a');
    sut.observe(0.01, 'a'); // on a bound: counts in it (le = less or equal)
    sut.observe(0.5, 'a');

    const text = await registry.metrics();
    expect(text).toContain('# TYPE test_seconds histogram');
    expect(text).toContain('test_seconds_bucket{event="a",le="0.01"} 2');
    expect(text).toContain('test_seconds_bucket{event="a",le="0.1"} 2');
    expect(text).toContain('test_seconds_bucket{event="a",le="+Inf"} 3');
    expect(text).toContain('test_seconds_sum{event="a"} 0.515');
    expect(text).toContain('test_seconds_count{event="a"} 3');
    expect(text).toContain('test_seconds_count{event="b"} 0');
  });

  it('should expose a histogram without labels', async () => {
    const registry = new Registry();
    const sut = new FastHistogram(registry, 'batch_size', 'A test.', [1, 10]);

    sut.observe(4);

    const text = await registry.metrics();
    expect(text).toContain('batch_size_bucket{le="1"} 0');
    expect(text).toContain('batch_size_bucket{le="10"} 1');
    expect(text).toContain('batch_size_count 1');
  });
});

describe(LabelledCounter.name, () => {
  it('should show known labels at 0 and keep totals across scrapes', async () => {
    const registry = new Registry();
    const sut = new LabelledCounter(registry, 'things_total', 'A test.', 'kind', ['x', 'y']);

    sut.inc('x');
    sut.inc('x', 2);
    expect(await registry.metrics()).toContain('things_total{kind="x"} 3');
    sut.inc('x');
    const text = await registry.metrics();

    expect(text).toContain('# TYPE things_total counter');
    expect(text).toContain('things_total{kind="x"} 4');
    expect(text).toContain('things_total{kind="y"} 0');
  });
});
