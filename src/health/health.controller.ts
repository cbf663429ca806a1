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
  // Without swagger documentation: terminus would require() @nestjs/swagger for it, which
  // Node 24 can, loading at every start what /docs loads on demand.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.readiness.checks());
  }
}
