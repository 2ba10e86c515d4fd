import { describe, expect, it } from 'vitest';
import { redeliveryDelayMs, resolveRedeliveryBackoff } from '../src/index';

describe('redeliveryDelayMs', () => {
  const backoff = resolveRedeliveryBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });

  it('doubles from the initial delay up to the cap', () => {
    const withoutJitter = (): number => 0.5;
    const delays = [1, 2, 3, 4, 5, 50, 10_000].map((attempt) => redeliveryDelayMs(backoff, attempt, withoutJitter));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('varies the delay by at most 20 percent', () => {
    expect(redeliveryDelayMs(backoff, 2, () => 0)).toBe(160);
    expect(redeliveryDelayMs(backoff, 2, () => 0.999_999)).toBe(240);
    expect(redeliveryDelayMs(backoff, 10, () => 0.999_999)).toBe(1_000);
  });

  it('rejects invalid options', () => {
    expect(() => resolveRedeliveryBackoff({ initialDelayMs: 0 })).toThrow('invalid redelivery.initialDelayMs 0');
    expect(() => resolveRedeliveryBackoff({ maxDelayMs: Number.NaN })).toThrow('invalid redelivery.maxDelayMs NaN');
  });

  it('applies the defaults', () => {
    expect(resolveRedeliveryBackoff()).toEqual({ initialDelayMs: 200, maxDelayMs: 10_000 });
  });
});
