import { MemoryFeatureStore } from '../src/index';
import { describeFeatureStoreContract } from './store-contract';

describeFeatureStoreContract(
  'memory',
  async () => new MemoryFeatureStore({ sweepIntervalMs: 0 }),
  async () => {},
);
