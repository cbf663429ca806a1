import { Module } from '@nestjs/common';
import { DeliveryService } from './delivery.service.js';
import { SlowConsumers } from './slow-consumers.js';

@Module({
  providers: [DeliveryService, SlowConsumers],
  exports: [DeliveryService, SlowConsumers],
})
export class DeliveryModule {}
