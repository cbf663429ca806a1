import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from './openapi-annotations.js';
import type { ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import type { AdminRoomView } from './admin-rooms.js';
import { AdminErrorFilter } from './admin-error.filter.js';
import { AdminKeyGuard } from './admin-key.guard.js';
import { ADMIN_SECURITY, ref } from './admin.openapi.js';
import {
  parseCreateRoom,
  parseMember,
  parseMessagePath,
  parseNotice,
  parsePathId,
  parsePutRoom,
} from './admin.schemas.js';
import { AdminService, type AdminSnapshot } from './admin.service.js';

const ID_SCHEMA = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } as const;
const ROOM_ID = { name: 'id', description: 'The room id', schema: ID_SCHEMA } as const;
const USER_ID = { name: 'userId', description: 'The user id', schema: ID_SCHEMA } as const;
const error = (status: number, description: string) =>
  ApiResponse({ status, description, schema: ref('Error') });
const BAD_REQUEST = error(400, 'A bad body or path id (checked before any lookup)');
const UNAUTHORIZED = error(401, 'No valid Bearer ADMIN_API_KEY');
const BUSY = error(503, 'The server is busy (a full mailbox) or shutting down: retry');

/** The HTTP admin API for other backend services (a game server placing players, say). */
@ApiTags('admin')
@ApiBearerAuth(ADMIN_SECURITY)
@Controller('api')
@UseGuards(AdminKeyGuard)
@UseFilters(AdminErrorFilter)
export class AdminController {
  constructor(
    private readonly admin: AdminService,
    private readonly config: AppConfig,
  ) {}

  @Get('snapshot')
  @ApiOperation({ summary: 'Online users with their rooms, and every room with its members' })
  @ApiResponse({ status: 200, description: 'The snapshot', schema: ref('Snapshot') })
  @UNAUTHORIZED
  snapshot(): Promise<AdminSnapshot> {
    return this.admin.snapshot();
  }

  @Post('rooms')
  @ApiOperation({
    summary: 'Create a room (no owner)',
    description: 'Fails with 409 when the id exists; PUT /api/rooms/{id} is the retry-safe way.',
  })
  @ApiBody({ schema: ref('CreateRoom') })
  @ApiResponse({ status: 201, description: 'Created', schema: ref('RoomAnswer') })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(409, 'The room exists')
  async createRoom(@Body() body: unknown): Promise<{ room: AdminRoomView }> {
    return { room: await this.admin.createRoom(parseCreateRoom(body)) };
  }

  @Put('rooms/:id')
  @ApiOperation({
    summary: 'Create a room, or confirm it: safe to retry',
    description:
      'Creates the room (201) or, when it exists with exactly these settings (name defaulting ' +
      'to the id, private false, no TTL, no owner), confirms it (200). A room with other ' +
      'settings, or made by a user, is a 409.',
  })
  @ApiParam(ROOM_ID)
  @ApiBody({ schema: ref('PutRoom'), required: false })
  @ApiResponse({ status: 201, description: 'Created', schema: ref('RoomAnswer') })
  @ApiResponse({
    status: 200,
    description: 'Exists with these settings',
    schema: ref('RoomAnswer'),
  })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(409, 'The room exists with other settings')
  async putRoom(
    @Param('id') id: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<{ room: AdminRoomView }> {
    const { created, room } = await this.admin.putRoom(parsePutRoom(id, body ?? {}));
    response.statusCode = created ? 201 : 200;
    return { room };
  }

  @Delete('rooms/:id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Close a room',
    description:
      'Every member gets room_leave; the room and its history are gone and its id may be ' +
      'created again, from seq 1. Default rooms are never closed (409).',
  })
  @ApiParam(ROOM_ID)
  @ApiResponse({ status: 204, description: 'Closed' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'No such room')
  @error(409, 'A default room')
  @BUSY
  async closeRoom(@Param('id') id: string): Promise<void> {
    await this.admin.closeRoom(parsePathId(id, 'room'));
  }

  @Post('rooms/:id/members')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Place an online user in a room',
    description:
      'The user joins (the members get room_join), private room or not; on a private room it ' +
      'counts as an invitation. Placing a member again changes nothing and is a 204 too.',
  })
  @ApiParam(ROOM_ID)
  @ApiBody({ schema: ref('Member') })
  @ApiResponse({ status: 204, description: 'The user is a member' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'No such room, or the user is offline')
  @BUSY
  async addMember(@Param('id') id: string, @Body() body: unknown): Promise<void> {
    const { roomId, userId } = parseMember(id, body);
    await this.admin.addMember(roomId, userId);
  }

  @Delete('rooms/:id/members/:userId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Remove a user from a room',
    description:
      'The user leaves (room_leave to the remaining members and the leaver) and loses its ' +
      'invitation to a private room. A user who is not a member, online or not, is a 204.',
  })
  @ApiParam(ROOM_ID)
  @ApiParam(USER_ID)
  @ApiResponse({ status: 204, description: 'The user is not a member' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'No such room')
  @BUSY
  async removeMember(@Param('id') id: string, @Param('userId') userId: string): Promise<void> {
    const roomId = parsePathId(id, 'room');
    await this.admin.removeMember(roomId, parsePathId(userId, 'user'));
  }

  @Post('rooms/:id/notices')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Send a room_notice to every member',
    description: 'A system message without seq; nothing is stored.',
  })
  @ApiParam(ROOM_ID)
  @ApiBody({ schema: ref('Notice') })
  @ApiResponse({ status: 204, description: 'Sent' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'No such room')
  @BUSY
  async notice(@Param('id') id: string, @Body() body: unknown): Promise<void> {
    const { roomId, content } = parseNotice(id, body, this.config.maxMessageLength);
    await this.admin.notice(roomId, content);
  }

  @Delete('rooms/:id/messages/:seq')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a message (moderation)',
    description:
      'Every member gets a room_delete by system naming the message in `target`; history and ' +
      'join replies show it deleted from then on.',
  })
  @ApiParam(ROOM_ID)
  @ApiParam({
    name: 'seq',
    description: 'The seq of the room_chat to delete',
    schema: { type: 'integer', minimum: 1 },
  })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'No such room, or no retained undeleted room_chat at that seq')
  @BUSY
  async deleteMessage(@Param('id') id: string, @Param('seq') seq: string): Promise<void> {
    const target = parseMessagePath(id, seq);
    await this.admin.deleteMessage(target.roomId, target.seq);
  }

  @Post('users/:id/disconnect')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Disconnect a user',
    description: 'Every socket of the user is closed; the others get user_disconnect.',
  })
  @ApiParam({ ...USER_ID, name: 'id' })
  @ApiResponse({ status: 204, description: 'Disconnected' })
  @BAD_REQUEST
  @UNAUTHORIZED
  @error(404, 'The user is offline')
  async disconnectUser(@Param('id') id: string): Promise<void> {
    await this.admin.disconnectUser(parsePathId(id, 'user'));
  }
}
