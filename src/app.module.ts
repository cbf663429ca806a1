import { Module } from '@nestjs/common';
import { ConfigModule } from './config/config.module.js';
import { DispatcherModule } from './dispatcher/dispatcher.module.js';

@Module({
  imports: [ConfigModule, DispatcherModule],
})
export class AppModule {}
