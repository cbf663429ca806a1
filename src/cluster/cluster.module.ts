import { Module, type OnModuleInit } from '@nestjs/common';
import { StoreModule } from '../store/store.module.js';
import { ClusterBus } from './cluster-bus.js';
import { ClusterNode } from './cluster-node.js';

/**
 * Cluster mode's machinery (REDIS_URL with the PostgreSQL store): this instance's lease
 * (ClusterNode) and the messages between instances (ClusterBus). Both are present in every
 * mode and do nothing outside cluster mode.
 */
@Module({
  imports: [StoreModule],
  providers: [ClusterNode, ClusterBus],
  exports: [ClusterNode, ClusterBus],
})
export class ClusterModule implements OnModuleInit {
  constructor(
    private readonly node: ClusterNode,
    private readonly bus: ClusterBus,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.node.start();
    await this.bus.start();
  }
}
