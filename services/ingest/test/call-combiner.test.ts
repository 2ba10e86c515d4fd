import { describe, expect, it } from 'vitest';
import { CallCombiner, type CombinedResult } from '../src/call-combiner';

/** A call function whose calls stay pending until the test settles them, recording the items of each. */
function controlledCalls() {
  const calls: Array<{ items: string[]; resolve(): void; reject(error: Error): void }> = [];
  const callAll = (items: string[]): Promise<CombinedResult<string, number>> =>
    new Promise((resolve, reject) => {
      const callNumber = calls.length + 1;
      calls.push({
        items,
        resolve: () => resolve({ results: items.map((item) => `${item}!`), call: callNumber }),
        reject,
      });
    });
  return { calls, callAll };
}

/** Resolves after the current event-loop turn, when the combiner has started its calls. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('CallCombiner', () => {
  it('merges submissions of one turn', async () => {
    const { calls, callAll } = controlledCalls();
    const combiner = new CallCombiner(callAll, 2);

    const first = combiner.submit(['a']);
    const second = combiner.submit(['b']);
    expect(calls).toHaveLength(0);
    await nextTurn();
    expect(calls.map((call) => call.items)).toEqual([['a', 'b']]);

    calls[0]?.resolve();
    expect(await first).toEqual({ results: ['a!'], call: 1 });
    expect(await second).toEqual({ results: ['b!'], call: 1 });
  });

  it('starts a second call while one runs', async () => {
    const { calls, callAll } = controlledCalls();
    const combiner = new CallCombiner(callAll, 2);

    void combiner.submit(['a']);
    await nextTurn();
    void combiner.submit(['b']);
    await nextTurn();

    expect(calls.map((call) => call.items)).toEqual([['a'], ['b']]);
  });

  it('merges submissions waiting for a call', async () => {
    const { calls, callAll } = controlledCalls();
    const combiner = new CallCombiner(callAll, 1);

    const first = combiner.submit(['a']);
    await nextTurn();
    const second = combiner.submit(['b', 'c']);
    const third = combiner.submit(['d']);
    await nextTurn();
    expect(calls.map((call) => call.items)).toEqual([['a']]);

    calls[0]?.resolve();
    expect(await first).toEqual({ results: ['a!'], call: 1 });
    await Promise.resolve();
    expect(calls.map((call) => call.items)).toEqual([['a'], ['b', 'c', 'd']]);

    calls[1]?.resolve();
    expect(await second).toEqual({ results: ['b!', 'c!'], call: 2 });
    expect(await third).toEqual({ results: ['d!'], call: 2 });
  });

  it('rejects every submission of a failed call', async () => {
    const { calls, callAll } = controlledCalls();
    const combiner = new CallCombiner(callAll, 1);
    const first = combiner.submit(['a']);
    await nextTurn();
    const second = combiner.submit(['b']);
    const third = combiner.submit(['c']);

    calls[0]?.resolve();
    await first;
    await Promise.resolve();
    calls[1]?.reject(new Error('store unavailable'));

    await expect(second).rejects.toThrow('store unavailable');
    await expect(third).rejects.toThrow('store unavailable');
  });

  it('starts the next call after a failure', async () => {
    const { calls, callAll } = controlledCalls();
    const combiner = new CallCombiner(callAll, 1);
    const failed = combiner.submit(['a']);
    await nextTurn();
    const later = combiner.submit(['b']);

    calls[0]?.reject(new Error('store unavailable'));
    await expect(failed).rejects.toThrow('store unavailable');
    await Promise.resolve();
    calls[1]?.resolve();

    expect(await later).toEqual({ results: ['b!'], call: 2 });
  });

  it('rejects a call limit below one', () => {
    const { callAll } = controlledCalls();
    expect(() => new CallCombiner(callAll, 0)).toThrow('invalid maxCalls 0');
  });
});
