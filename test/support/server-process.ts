import { ServiceProcess } from '../../scripts/lib/service-process.js';

/**
 * The built service (dist/src/main.js) as a real process, for restart and crash tests; or
 * another command that ends up running it (e.g. inside a namespace of the test's own).
 */
export class ServerProcess extends ServiceProcess {
  constructor(
    env: Record<string, string>,
    command: Partial<{ command: string; args: string[] }> = {},
  ) {
    // Departures at once, as in startApp: the suites about the grace set their own.
    super({ env: { PRESENCE_GRACE_MS: '0', ...env }, ...command });
  }
}
