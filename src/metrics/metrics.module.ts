import { Global, Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { StoreModule } from '../store/store.module.js';
import { UsersModule } from '../users/users.module.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { RuntimeMetrics } from './runtime-metrics.js';

/** GET /metrics; MetricsService is global so that code where counts happen can inject it. */
@Global()
@Module({
  imports: [DeliveryModule, DispatcherModule, RoomsModule, StoreModule, UsersModule],
  controllers: [MetricsController],
  providers: [MetricsService, RuntimeMetrics],
  exports: [MetricsService],
})
export class MetricsModule {}
