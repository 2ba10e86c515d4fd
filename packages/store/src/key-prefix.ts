import type { PlannedWrite } from '@nexttap/features';

/** Returns the write with `prefix` before its dedup key and every key its operations touch. */
export function prefixWrite(write: PlannedWrite, prefix: string): PlannedWrite {
  if (prefix === '') {
    return write;
  }
  return {
    ...write,
    ...(write.dedupKey === undefined ? {} : { dedupKey: prefix + write.dedupKey }),
    operations: write.operations.map((operation) =>
      operation.op === 'hashSnapshot'
        ? { ...operation, key: prefix + operation.key, snapshotKey: prefix + operation.snapshotKey }
        : { ...operation, key: prefix + operation.key },
    ),
  };
}
