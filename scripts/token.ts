/**
 * Signs a JWT the service accepts, with AUTH_JWT_SECRET (and AUTH_JWT_ISSUER/AUDIENCE when
 * set) from the environment: for trying a service in production mode, where open mode is
 * refused. Your own backend signs tokens the same way for real users.
 *
 *   AUTH_JWT_SECRET=... npm run -s token -- --user alice --name 앨리스 --ttl 8h
 *
 * Prints the token alone on stdout. Exit code 1 with a message for a wrong argument or setting.
 */
import { SignJWT } from 'jose';
import { parseArgs } from 'node:util';
import { AppConfig } from '../src/config/app-config.js';
import { ConfigError } from '../src/config/env.js';
import { USER_NAME_MAX, isUserId, normalizeName } from '../src/contract/text-rules.js';

const USAGE = `usage: AUTH_JWT_SECRET=... npm run -s token -- --user ID [--name NAME] [--ttl TTL]

  --user   the user id (the token's sub): letters, digits, _ . - (1-64)
  --name   display name (default: the id)
  --ttl    lifetime: 90s, 30m, 8h, 7d (default 24h)`;

const TTL = /^(\d+)([smhd])$/;

interface TokenRequest {
  userId: string;
  name: string | undefined;
  ttl: string;
}

function request(argv: string[]): TokenRequest | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        user: { type: 'string' },
        name: { type: 'string' },
        ttl: { type: 'string', default: '24h' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (values.help) return '';
  if (values.user === undefined) return 'give --user ID';
  if (!isUserId(values.user)) {
    return `--user: 1-64 letters, digits, _ . - (and not "system"), got "${values.user}"`;
  }
  const name = values.name === undefined ? undefined : normalizeName(values.name, USER_NAME_MAX);
  if (values.name !== undefined && name === undefined) {
    return `--name: 1-${USER_NAME_MAX} characters of text`;
  }
  const ttl = TTL.exec(values.ttl);
  if (ttl === null || Number(ttl[1]) === 0)
    return `--ttl: like 90s, 30m, 8h or 7d, got "${values.ttl}"`;
  return { userId: values.user, name, ttl: values.ttl };
}

async function main(): Promise<void> {
  const wanted = request(process.argv.slice(2));
  if (typeof wanted === 'string') {
    process.stderr.write(wanted === '' ? `${USAGE}\n` : `${wanted}\n\n${USAGE}\n`);
    process.exit(wanted === '' ? 0 : 1);
  }
  let config: AppConfig;
  try {
    // The service's own reading of the settings, so the token fits what it checks.
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  if (config.jwtSecret === undefined) {
    process.stderr.write(
      'AUTH_JWT_SECRET is not set: give the secret the service runs with ' +
        '(in open mode no token is needed: connect with { userId, name })\n',
    );
    process.exit(1);
  }
  let jwt = new SignJWT(wanted.name === undefined ? {} : { name: wanted.name })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(wanted.userId)
    .setIssuedAt()
    .setExpirationTime(wanted.ttl);
  if (config.jwtIssuer !== undefined) jwt = jwt.setIssuer(config.jwtIssuer);
  if (config.jwtAudience !== undefined) jwt = jwt.setAudience(config.jwtAudience);
  process.stdout.write(`${await jwt.sign(new TextEncoder().encode(config.jwtSecret))}\n`);
}

void main();
