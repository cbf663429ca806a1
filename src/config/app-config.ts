import { ID_PATTERN } from '../contract/text-rules.js';
import { ConfigError, EnvReader, type Env } from './env.js';

export const STORE_KINDS = ['sqlite', 'postgres', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export type NodeEnv = 'development' | 'production' | 'test';

/**
 * Every setting of the service, read once from the environment and validated. Code
 * never reads process.env elsewhere; it injects this.
 */
export class AppConfig {
  readonly nodeEnv!: NodeEnv;
  readonly logLevel!: LogLevelName;
  readonly port!: number;
  readonly host!: string;

  readonly dispatcherWorkers!: number;
  readonly mailboxCapacity!: number;
  readonly shutdownTimeoutMs!: number;

  readonly store!: StoreKind;
  readonly dataDir!: string;
  readonly sqliteSynchronous!: 'full' | 'normal';
  /** Tests only (NODE_ENV=test): the stores' fault hooks are armed. */
  readonly faultInjection!: boolean;
  readonly databaseUrl!: string | undefined;
  readonly databaseSchema!: string;
  readonly redisUrl!: string | undefined;
  readonly redisPrefix!: string;
  readonly clusterLeaseMs!: number;
  readonly clusterForwardTimeoutMs!: number;

  readonly jwtSecret!: string | undefined;
  readonly jwtIssuer!: string | undefined;
  readonly jwtAudience!: string | undefined;
  readonly adminApiKey!: string | undefined;

  readonly defaultRooms!: readonly string[];
  readonly idleTimeoutMs!: number;
  readonly roomNoticeIntervalMs!: number;
  readonly presenceGraceMs!: number;
  readonly presenceBroadcastMaxUsers!: number;
  readonly statsIntervalMs!: number;

  readonly maxMessageLength!: number;
  readonly maxHttpBufferSize!: number;
  readonly handshakeTimeoutMs!: number;
  readonly corsOrigins!: readonly string[];
  readonly historyMaxPerRoom!: number;
  readonly rateLimitBurst!: number;
  readonly rateLimitPerSecond!: number;
  readonly activityRateBurst!: number;
  readonly activityRatePerSecond!: number;
  readonly maxInvitesPerRoom!: number;
  readonly memoConfirmMs!: number;
  readonly recoveryBatchBytes!: number;
  readonly maxRoomsPerUser!: number;
  readonly maxMembersPerRoom!: number;
  readonly maxSocketsPerUser!: number;
  readonly connectRatePerIp!: number;
  readonly connectRateWindowMs!: number;
  readonly maxPendingHandshakesPerIp!: number;
  readonly trustProxy!: boolean;
  readonly maxOutboundBufferBytes!: number;
  readonly editWindowSeconds!: number;
  readonly readReceiptsMaxMembers!: number;

  private constructor(values: AppConfig) {
    Object.assign(this, values);
  }

  get production(): boolean {
    return this.nodeEnv === 'production';
  }

  /**
   * Several instances form one chat when they share PostgreSQL and Redis. REDIS_URL on SQLite
   * or memory only shares broadcasts and the admin transport: those instances are not one chat.
   */
  get clusterMode(): boolean {
    return this.redisUrl !== undefined && this.store === 'postgres';
  }

  get authMode(): 'jwt' | 'open' {
    return this.jwtSecret === undefined ? 'open' : 'jwt';
  }

  /** Reads and validates; throws one ConfigError listing every wrong variable. */
  static fromEnv(env: Env, overrides: Partial<AppConfig> = {}): AppConfig {
    const read = new EnvReader(env);
    const nodeEnv = read.oneOf('NODE_ENV', ['development', 'production', 'test'], 'development');
    const values = {
      nodeEnv,
      logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
      port: read.int('PORT', 3000, 0, 65535),
      // A laptop's service is not the network's: only production listens everywhere.
      host: read.string('HOST', nodeEnv === 'production' ? '0.0.0.0' : '127.0.0.1'),

      dispatcherWorkers: read.int('DISPATCHER_WORKERS', 4, 1, 256),
      mailboxCapacity: read.int('MAILBOX_CAPACITY', 10_000, 1),
      shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0),

      databaseUrl: read.optional('DATABASE_URL'),
      store: read.oneOf('STORE', STORE_KINDS, env.DATABASE_URL?.trim() ? 'postgres' : 'sqlite'),
      dataDir: read.string('DATA_DIR', './data'),
      sqliteSynchronous: read.oneOf('SQLITE_SYNCHRONOUS', ['full', 'normal'] as const, 'full'),
      faultInjection: read.oneOf('FAULT_INJECTION', ['on', 'off'] as const, 'off') === 'on',
      databaseSchema: read.string('DATABASE_SCHEMA', 'public'),
      redisUrl: read.optional('REDIS_URL'),
      redisPrefix: read.string('REDIS_PREFIX', ''),
      clusterLeaseMs: read.int('CLUSTER_LEASE_MS', 3000, 500, 60_000),
      clusterForwardTimeoutMs: read.int('CLUSTER_FORWARD_TIMEOUT_MS', 8000, 500, 60_000),

      jwtSecret: read.optional('AUTH_JWT_SECRET'),
      jwtIssuer: read.optional('AUTH_JWT_ISSUER'),
      jwtAudience: read.optional('AUTH_JWT_AUDIENCE'),
      adminApiKey: read.optional('ADMIN_API_KEY'),

      defaultRooms: read.list('DEFAULT_ROOMS', ['general', 'game', 'dev'], ID_PATTERN),
      idleTimeoutMs: read.int('IDLE_TIMEOUT_MS', 600_000, 0),
      roomNoticeIntervalMs: read.int('ROOM_NOTICE_INTERVAL_MS', 0, 0),
      // A page reload or a short network drop is not a departure.
      presenceGraceMs: read.int('PRESENCE_GRACE_MS', 5000, 0),
      presenceBroadcastMaxUsers: read.int('PRESENCE_BROADCAST_MAX_USERS', 0, 0),
      statsIntervalMs: read.int('STATS_INTERVAL_MS', 0, 0),

      maxMessageLength: read.int('MAX_MESSAGE_LENGTH', 2000, 1, 1_000_000),
      maxHttpBufferSize: read.int('MAX_HTTP_BUFFER_SIZE', 1_000_000, 1024),
      handshakeTimeoutMs: read.int('HANDSHAKE_TIMEOUT_MS', 10_000, 100),
      corsOrigins: read.list('CORS_ORIGINS', []),
      historyMaxPerRoom: read.int('HISTORY_MAX_PER_ROOM', 10_000, 1),
      // Defaults sized for bots and test suites; the README recommends tighter ones for people.
      rateLimitBurst: read.int('RATE_LIMIT_BURST', 200, 1),
      rateLimitPerSecond: read.int('RATE_LIMIT_PER_SECOND', 50, 1),
      // A user may join its MAX_ROOMS_PER_USER rooms at once.
      activityRateBurst: read.int('ACTIVITY_RATE_BURST', 100, 1),
      activityRatePerSecond: read.int('ACTIVITY_RATE_PER_SECOND', 5, 1),
      maxInvitesPerRoom: read.int('MAX_INVITES_PER_ROOM', 1000, 1),
      memoConfirmMs: read.int('MEMO_CONFIRM_MS', 10_000, 0),
      recoveryBatchBytes: read.int('RECOVERY_BATCH_BYTES', 262_144, 16_384),
      maxRoomsPerUser: read.int('MAX_ROOMS_PER_USER', 100, 1),
      maxMembersPerRoom: read.int('MAX_MEMBERS_PER_ROOM', 10_000, 1),
      maxSocketsPerUser: read.int('MAX_SOCKETS_PER_USER', 50, 1),
      // Off by default: a test suite, a bot fleet or an office behind one NAT share an address.
      connectRatePerIp: read.int('CONNECT_RATE_PER_IP', 0, 0),
      connectRateWindowMs: read.int('CONNECT_RATE_WINDOW_MS', 10_000, 100),
      maxPendingHandshakesPerIp: read.int('MAX_PENDING_HANDSHAKES_PER_IP', 2000, 0),
      trustProxy: read.oneOf('TRUST_PROXY', ['true', 'false'] as const, 'false') === 'true',
      maxOutboundBufferBytes: read.int('MAX_OUTBOUND_BUFFER_BYTES', 1_048_576, 65_536),
      editWindowSeconds: read.int('EDIT_WINDOW_SECONDS', 900, 0, 10 * 365 * 24 * 3600),
      readReceiptsMaxMembers: read.int('READ_RECEIPTS_MAX_MEMBERS', 50, 0),
      ...overrides,
    };
    read.check(
      !(values.nodeEnv === 'production' && values.jwtSecret === undefined),
      'AUTH_JWT_SECRET is required when NODE_ENV=production (open mode lets anyone pick any user id)',
    );
    read.check(
      // A message within the limit must get TOO_LARGE or through, never a closed connection:
      // up to 4 bytes a code point in JSON, plus room for the rest of the packet.
      values.maxHttpBufferSize >= values.maxMessageLength * 4 + 16_384,
      `MAX_HTTP_BUFFER_SIZE (${values.maxHttpBufferSize}) must be at least ` +
        `4 x MAX_MESSAGE_LENGTH + 16384 (${values.maxMessageLength * 4 + 16_384})`,
    );
    read.check(
      !values.faultInjection || values.nodeEnv === 'test',
      'FAULT_INJECTION=on is for tests only (NODE_ENV=test)',
    );
    read.check(
      values.store !== 'postgres' || values.databaseUrl !== undefined,
      'STORE=postgres needs DATABASE_URL (postgres://user:password@host:5432/database)',
    );
    read.check(
      /^[a-z_][a-z0-9_]{0,62}$/.test(values.databaseSchema),
      `DATABASE_SCHEMA must be a lower-case SQL identifier, got "${values.databaseSchema}"`,
    );
    read.check(
      values.redisUrl === undefined || isRedisUrl(values.redisUrl),
      'REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://:password@redis:6379/0',
    );
    read.check(
      /^[A-Za-z0-9_.:-]{0,64}$/.test(values.redisPrefix),
      `REDIS_PREFIX must be at most 64 of [A-Za-z0-9_.:-], got "${values.redisPrefix}"`,
    );
    read.check(
      values.jwtSecret === undefined || values.jwtSecret.length >= 32,
      'AUTH_JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)',
    );
    if (read.errors.length > 0) throw new ConfigError(read.errors);
    return new AppConfig(values as AppConfig);
  }
}

/** redis:// or rediss:// with a host, an optional port and an optional database number. */
function isRedisUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
    url.hostname !== '' &&
    /^(\/\d{0,2})?$/.test(url.pathname)
  );
}
