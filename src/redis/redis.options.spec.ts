import { describe, expect, it } from '@jest/globals';
import { AppConfig } from '../config/app-config.js';
import { ConfigError } from '../config/env.js';
import { redactedRedisUrl, redisOptionsFromUrl } from './redis.options.js';

describe(redisOptionsFromUrl.name, () => {
  it('should read host, port, credentials, database and TLS from the URL', () => {
    expect(redisOptionsFromUrl('redis://127.0.0.1:6379')).toEqual({
      host: '127.0.0.1',
      port: 6379,
    });
    expect(redisOptionsFromUrl('redis://redis')).toEqual({ host: 'redis', port: 6379 });
    expect(redisOptionsFromUrl('rediss://chat:p%40ss@cache.example:6380/2')).toEqual({
      host: 'cache.example',
      port: 6380,
      username: 'chat',
      password: 'p@ss',
      db: 2,
      tls: { servername: 'cache.example' },
    });
    expect(redisOptionsFromUrl('redis://:secret@[::1]:7000/0')).toEqual({
      host: '::1',
      port: 7000,
      password: 'secret',
      db: 0,
    });
  });

  it('should hide the password in the URL it logs', () => {
    expect(redactedRedisUrl('redis://chat:secret@redis:6379/1')).toBe(
      'redis://chat:***@redis:6379/1',
    );
    expect(redactedRedisUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});

describe('REDIS_URL and REDIS_PREFIX', () => {
  it('should be optional, with an empty prefix', () => {
    const sut = AppConfig.fromEnv({});

    expect(sut.redisUrl).toBeUndefined();
    expect(sut.redisPrefix).toBe('');
  });

  it('should accept redis:// and rediss:// URLs and a channel prefix', () => {
    const sut = AppConfig.fromEnv({
      REDIS_URL: 'rediss://:pw@redis:6380/3',
      REDIS_PREFIX: 'chat-prod:',
    });

    expect(sut.redisUrl).toBe('rediss://:pw@redis:6380/3');
    expect(sut.redisPrefix).toBe('chat-prod:');
  });

  it.each([
    ['REDIS_URL', 'http://redis:6379'],
    ['REDIS_URL', 'redis:6379'],
    ['REDIS_URL', 'redis://redis:6379/not-a-db'],
    ['REDIS_PREFIX', 'has space'],
    ['REDIS_PREFIX', 'p'.repeat(65)],
  ])('should refuse %s=%s with a message naming it', (name, value) => {
    expect(() => AppConfig.fromEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => AppConfig.fromEnv({ [name]: value })).toThrow(name);
  });
});
