import { ServiceProcess } from '../../scripts/lib/service-process.js';

/** The built service (dist/src/main.js) as a real process, for restart and crash tests. */
export class ServerProcess extends ServiceProcess {
  constructor(env: Record<string, string>) {
    super({ env });
  }
}
