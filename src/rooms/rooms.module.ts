import { Module } from '@nestjs/common';
import { ClusterBus } from '../cluster/cluster-bus.js';
import { ClusterModule } from '../cluster/cluster.module.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { AppConfig } from '../config/app-config.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { MESSAGE_STORE, type MessageStore } from '../store/message-store.js';
import { StoreModule } from '../store/store.module.js';
import { ClusterRoomsService } from './cluster-rooms.service.js';
import { LocalRoomsService } from './local-rooms.service.js';
import { ReadStates } from './read-states.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [DispatcherModule, DeliveryModule, StoreModule, ClusterModule],
  providers: [
    {
      provide: ReadStates,
      inject: [MESSAGE_STORE],
      useFactory: (store: MessageStore) => new ReadStates(store),
    },
    {
      provide: RoomsService,
      inject: [
        ReadStates,
        DispatcherService,
        DeliveryService,
        AppConfig,
        MESSAGE_STORE,
        ClusterNode,
        ClusterBus,
      ],
      useFactory: (
        readStates: ReadStates,
        dispatcher: DispatcherService,
        delivery: DeliveryService,
        config: AppConfig,
        store: MessageStore,
        node: ClusterNode,
        bus: ClusterBus,
      ): RoomsService =>
        config.clusterMode
          ? new ClusterRoomsService(dispatcher, delivery, config, store, readStates, node, bus)
          : new LocalRoomsService(dispatcher, delivery, config, store, readStates),
    },
  ],
  exports: [RoomsService, ReadStates],
})
export class RoomsModule {}
