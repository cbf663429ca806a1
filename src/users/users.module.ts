import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { StoreModule } from '../store/store.module.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [DispatcherModule, DeliveryModule, RoomsModule, StoreModule, ClusterModule],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
