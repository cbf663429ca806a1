/**
 * Small typed readers for environment variables. Each collects a clear message instead
 * of throwing, so start-up reports every wrong variable at once.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  readonly errors: string[] = [];

  constructor(private readonly env: Env) {}

  #raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
      this.errors.push(`${name} must be an integer ${range}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.#raw(name);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.errors.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  list(name: string, fallback: readonly string[], itemPattern?: RegExp): string[] {
    const raw = this.#raw(name);
    if (raw === undefined) return [...fallback];
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const bad = itemPattern ? items.filter((item) => !itemPattern.test(item)) : [];
    if (bad.length > 0) {
      this.errors.push(`${name} has invalid entries: ${bad.map((b) => `"${b}"`).join(', ')}`);
    }
    return items;
  }

  check(condition: boolean, message: string): void {
    if (!condition) this.errors.push(message);
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}
