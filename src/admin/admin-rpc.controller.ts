import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { AppConfig } from '../config/app-config.js';
import { toErrorBody } from '../contract/error-body.js';
import type { AdminRoomView } from './admin-rooms.js';
import { ADMIN_PATTERNS, type AdminReply } from './admin.patterns.js';
import {
  parseCreateRoom,
  parseRoomMember,
  parseRoomMessage,
  parseRoomNotice,
  parseRoomRef,
  parseUserRef,
} from './admin.schemas.js';
import { AdminService, type AdminSnapshot } from './admin.service.js';

/**
 * The admin commands over Nest's Redis transport (a hybrid app, when REDIS_URL is set):
 * the same AdminService calls as the HTTP API, each answered `{ ok: true, ... }` or
 * `{ ok: false, error: { code, message } }`. Whoever can publish to the Redis is trusted.
 */
@Controller()
export class AdminRpcController {
  readonly #logger = new Logger(AdminRpcController.name);

  constructor(
    private readonly admin: AdminService,
    private readonly config: AppConfig,
  ) {}

  @MessagePattern(ADMIN_PATTERNS.snapshot)
  snapshot(): Promise<AdminReply<AdminSnapshot>> {
    return this.#reply(() => this.admin.snapshot());
  }

  @MessagePattern(ADMIN_PATTERNS.createRoom)
  createRoom(@Payload() payload: unknown): Promise<AdminReply<{ room: AdminRoomView }>> {
    return this.#reply(async () => ({
      room: await this.admin.createRoom(parseCreateRoom(payload)),
    }));
  }

  @MessagePattern(ADMIN_PATTERNS.putRoom)
  putRoom(
    @Payload() payload: unknown,
  ): Promise<AdminReply<{ created: boolean; room: AdminRoomView }>> {
    return this.#reply(() => this.admin.putRoom(parseCreateRoom(payload)));
  }

  @MessagePattern(ADMIN_PATTERNS.deleteRoom)
  deleteRoom(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      await this.admin.closeRoom(parseRoomRef(payload).roomId);
      return {};
    });
  }

  @MessagePattern(ADMIN_PATTERNS.addMember)
  addMember(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      const { roomId, userId } = parseRoomMember(payload);
      await this.admin.addMember(roomId, userId);
      return {};
    });
  }

  @MessagePattern(ADMIN_PATTERNS.removeMember)
  removeMember(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      const { roomId, userId } = parseRoomMember(payload);
      await this.admin.removeMember(roomId, userId);
      return {};
    });
  }

  @MessagePattern(ADMIN_PATTERNS.notice)
  notice(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      const { roomId, content } = parseRoomNotice(payload, this.config.maxMessageLength);
      await this.admin.notice(roomId, content);
      return {};
    });
  }

  @MessagePattern(ADMIN_PATTERNS.deleteMessage)
  deleteMessage(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      const { roomId, seq } = parseRoomMessage(payload);
      await this.admin.deleteMessage(roomId, seq);
      return {};
    });
  }

  @MessagePattern(ADMIN_PATTERNS.disconnectUser)
  disconnectUser(@Payload() payload: unknown): Promise<AdminReply> {
    return this.#reply(async () => {
      await this.admin.disconnectUser(parseUserRef(payload).userId);
      return {};
    });
  }

  /** Runs one command; every refusal becomes `{ ok: false, error }`, never a transport error. */
  async #reply<T extends object>(command: () => T | Promise<T>): Promise<AdminReply<T>> {
    try {
      return { ok: true, ...(await command()) };
    } catch (error) {
      const body = toErrorBody(error, (kind, detail) =>
        this.#logger.error(`admin command failed with ${kind}`, detail),
      );
      return { ok: false, error: body };
    }
  }
}
