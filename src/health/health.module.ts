import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { StoreModule } from '../store/store.module.js';
import { GracefulShutdown } from './graceful-shutdown.service.js';
import { HealthController } from './health.controller.js';
import { ReadinessService } from './readiness.service.js';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' }), DeliveryModule, StoreModule],
  controllers: [HealthController],
  providers: [ReadinessService, GracefulShutdown],
})
export class HealthModule {}
