import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ReadinessService } from './readiness.service.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessService,
  ) {}

  /** Liveness: the process answers. */
  @Get('health')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: 200 when every configured backend answers; otherwise 503 whose `error`
   * names the one that failed (`sqlite`, `postgres`, `memory`, `redis`, or `server` while
   * shutting down).
   */
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false }) // no require of swagger at start (Node 24 can)
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.readiness.checks());
  }
}
