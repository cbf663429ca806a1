import { Global, Module } from '@nestjs/common';
import { RedisConnection } from './redis.connection.js';

/** The service's Redis clients (when REDIS_URL is set), for any module that needs them. */
@Global()
@Module({
  providers: [RedisConnection],
  exports: [RedisConnection],
})
export class RedisModule {}
