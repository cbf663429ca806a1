import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { StoreModule } from '../store/store.module.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [DispatcherModule, DeliveryModule, StoreModule],
  providers: [RoomsService],
  exports: [RoomsService],
})
export class RoomsModule {}
