import { serializeError } from '@nexttap/observability';
import { StoreReadError } from '@nexttap/rank';
import { describe, expect, it } from 'vitest';

describe('StoreReadError in a log line', () => {
  // The `feed degraded` warning logs the error with pino's serializer, which appends the message of
  // each cause, so the error's own message must not repeat it.
  it('shows the cause once', () => {
    const serialized = serializeError(new StoreReadError(new Error("Stream isn't writeable")));
    expect((serialized as { message: string }).message).toBe("feature store read failed: Stream isn't writeable");
  });
});
