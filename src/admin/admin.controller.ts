import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { UsersService } from '../users/users.service.js';
import { AdminErrorFilter } from './admin-error.filter.js';
import { AdminKeyGuard } from './admin-key.guard.js';
import { parseCreateRoom, parseMember, parseNotice, parsePathId } from './admin.schemas.js';

/** The admin API for other backend services (a game server placing players, say). */
@Controller('api')
@UseGuards(AdminKeyGuard)
@UseFilters(AdminErrorFilter)
export class AdminController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly users: UsersService,
    private readonly config: AppConfig,
  ) {}

  @Get('snapshot')
  async snapshot() {
    const [users, rooms] = await Promise.all([this.users.snapshot(), this.rooms.snapshot()]);
    return { users, rooms };
  }

  @Post('rooms')
  createRoom(@Body() body: unknown) {
    const input = parseCreateRoom(body);
    return { room: this.rooms.createByAdmin(input) };
  }

  @Delete('rooms/:id')
  @HttpCode(204)
  async closeRoom(@Param('id') id: string): Promise<void> {
    await this.rooms.close(parsePathId(id, 'room'));
  }

  @Post('rooms/:id/members')
  @HttpCode(204)
  async addMember(@Param('id') id: string, @Body() body: unknown): Promise<void> {
    const { userId } = parseMember(body);
    const room = this.rooms.get(parsePathId(id, 'room'));
    const user = this.users.onlineRef(userId);
    if (user === undefined) throw new NotFoundException(`user ${userId} is not online`);
    await room.join(user, { byAdmin: true });
  }

  @Delete('rooms/:id/members/:userId')
  @HttpCode(204)
  async removeMember(@Param('id') id: string, @Param('userId') userId: string): Promise<void> {
    const roomId = parsePathId(id, 'room');
    const user = parsePathId(userId, 'user');
    const room = this.rooms.get(roomId);
    await room.remove(this.users.onlineRef(user) ?? { id: user, name: user });
  }

  @Post('rooms/:id/notices')
  @HttpCode(204)
  async notice(@Param('id') id: string, @Body() body: unknown): Promise<void> {
    const { content } = parseNotice(body, this.config.maxMessageLength);
    await this.rooms.notice(parsePathId(id, 'room'), content);
  }

  @Post('users/:id/disconnect')
  @HttpCode(204)
  disconnectUser(@Param('id') id: string): void {
    if (!this.users.disconnectUser(parsePathId(id, 'user'))) {
      throw new NotFoundException(`user ${id} is not online`);
    }
  }
}
