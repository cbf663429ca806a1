/** What a URL says: the part of the options both ioredis and Nest's transport take. */
export interface RedisUrlOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: { servername: string };
}

/**
 * ioredis options from a `redis://[user:password@]host[:port][/db]` URL (`rediss://` for
 * TLS). An object rather than the URL itself, because Nest's Redis transport takes one.
 */
export function redisOptionsFromUrl(value: string): RedisUrlOptions {
  const url = new URL(value);
  const options: RedisUrlOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 6379 : Number(url.port),
  };
  if (url.username !== '') options.username = decodeURIComponent(url.username);
  if (url.password !== '') options.password = decodeURIComponent(url.password);
  const db = url.pathname.slice(1);
  if (db !== '') options.db = Number(db);
  if (url.protocol === 'rediss:') options.tls = { servername: options.host };
  return options;
}

/** The URL without its password, for logs. */
export function redactedRedisUrl(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
