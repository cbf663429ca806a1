import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { StoreModule } from '../store/store.module.js';
import { UsersModule } from '../users/users.module.js';
import { Admission } from './admission.js';
import { ChatGateway } from './chat.gateway.js';
import { ClientInfoController } from './client-info.controller.js';
import { ChatService } from './chat.service.js';

@Module({
  imports: [AuthModule, DeliveryModule, RoomsModule, StoreModule, UsersModule],
  controllers: [ClientInfoController],
  providers: [Admission, ChatGateway, ChatService],
})
export class ChatModule {}
