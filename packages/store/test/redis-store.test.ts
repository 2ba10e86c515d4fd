import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { RedisFeatureStore } from '../src/index';
import { describeFeatureStoreContract } from './store-contract';

let server: RedisServer | undefined;
let client: Redis | undefined;

describeFeatureStoreContract(
  'redis',
  async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { lazyConnect: true });
    await client.connect();
    return new RedisFeatureStore(client, { keyPrefix: `${uniqueName('contract')}:` });
  },
  async () => {
    await client?.quit();
    await server?.stop();
  },
);
