import { Module } from '@nestjs/common';
import { RoomsModule } from '../rooms/rooms.module.js';
import { UsersModule } from '../users/users.module.js';
import { AdminRpcController } from './admin-rpc.controller.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';

@Module({
  imports: [RoomsModule, UsersModule],
  controllers: [AdminController, AdminRpcController],
  providers: [AdminService],
})
export class AdminModule {}
