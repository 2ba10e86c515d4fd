import { describe, expect, it } from 'vitest';
import { MAX_K, resolveReplayOptions } from '../src/index';
import { event, item, jsonlInput } from './fixtures';

const input = jsonlInput([event('like', 's1', 'A', 0)], [item('A', ['x'])]);

describe('resolveReplayOptions ks', () => {
  it('accepts K at the ranking depth', () => {
    expect(resolveReplayOptions({ input, ks: [5, MAX_K] }).ks).toEqual([5, MAX_K]);
  });

  it('rejects K above the ranking depth', () => {
    expect(() => resolveReplayOptions({ input, ks: [5, MAX_K + 1] })).toThrow(`ks 5,${MAX_K + 1} is invalid; pass integers from 1 to ${MAX_K}`);
  });
});
