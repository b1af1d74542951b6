import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { createRedisPrefix } from '@glassdome/testkit';
import { Producer } from '../src/index';

/**
 * What a test file of the queue shares: a Redis prefix of its own, a logger that prints nothing, and a
 * producer open for the file's tests (opened before the first, closed with the prefix after the last).
 */
export function queueTestbed(name: string) {
  const redis = createRedisPrefix(name);
  const logger = createLogger({
    name: 'test',
    level: 'warn',
    destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  let producer: Producer | undefined;
  before(async () => {
    producer = await Producer.open(redis.url, redis.prefix);
  });
  after(async () => {
    await producer?.close();
    await redis.cleanup();
  });
  return {
    redis,
    logger,
    get producer(): Producer {
      if (!producer) throw new Error('the producer opens before the first test');
      return producer;
    },
  };
}
