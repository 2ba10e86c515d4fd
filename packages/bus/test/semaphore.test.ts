import { describe, expect, it } from 'vitest';
import { Semaphore } from '../src/semaphore';

describe('Semaphore', () => {
  it('grants permits up to the limit', async () => {
    const semaphore = new Semaphore(2);
    await semaphore.acquire();
    await semaphore.acquire();
    let third = false;
    const thirdAcquired = semaphore.acquire().then(() => {
      third = true;
    });

    await Promise.resolve();
    expect(third).toBe(false);
    semaphore.release();
    await thirdAcquired;
    expect(third).toBe(true);
  });

  it('serves waiters in arrival order', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const order: string[] = [];
    const first = semaphore.acquire().then(() => order.push('first'));
    const second = semaphore.acquire().then(() => order.push('second'));

    semaphore.release();
    await first;
    semaphore.release();
    await second;
    expect(order).toEqual(['first', 'second']);
  });

  it('frees a permit without waiters', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    semaphore.release();

    await expect(semaphore.acquire()).resolves.toBeUndefined();
  });
});
