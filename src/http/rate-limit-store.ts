// The rate limiter's shared store: with REDIS_URL, @fastify/rate-limit keeps its counters in Redis (ioredis), so
// a subject's limit holds across replicas. Redis down must not become a 500 storm: commands fail fast (no
// offline queue, one retry), the limiter skips a request whose count it cannot read (fail open), and every
// Redis error is logged and counted (rate_limit_store_errors_total).
import { Redis } from 'ioredis';

export interface StoreErrors {
  inc(): void;
}

export function createRedisClient(url: string, log: { warn(obj: object, msg: string): void }, errors: StoreErrors): Redis {
  const client = new Redis(url, {
    connectTimeout: 500,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Keep trying to reconnect in the background, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    errors.inc();
    // One line every 10 s at most while Redis is down, not one per request.
    if (Date.now() - lastLogged > 10_000) {
      lastLogged = Date.now();
      log.warn({ reason: err.message }, 'rate-limit store (Redis) unavailable: requests are served without a shared limit');
    }
  });
  return client;
}
