import { Module } from '@nestjs/common';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { UsersModule } from '../users/users.module.js';
import { StatsReporter } from './stats.reporter.js';

@Module({
  imports: [DispatcherModule, RoomsModule, UsersModule],
  providers: [StatsReporter],
})
export class StatsModule {}
