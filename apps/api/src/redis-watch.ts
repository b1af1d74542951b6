import type { Logger } from '@glassdome/logger';
import type { Producer } from '@glassdome/queue';

/**
 * BullMQ re-emits every failed reconnect of a queue's connection as an `error` event (and prints it
 * when nobody listens). During an outage that is one line per queue per retry; log it once per
 * outage instead, and say when Redis is back.
 */
export function watchRedis(producer: Producer, logger: Logger): void {
  let down = false;
  const onError = (error: Error) => {
    if (down) return;
    down = true;
    logger.warn({ err: error }, 'Redis unavailable; requests that enqueue answer 503 until it is back');
  };
  for (const queue of Object.values(producer.queues)) queue.on('error', onError);
  producer.flows.on('error', onError);
  producer.connection.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('Redis is back');
  });
}
