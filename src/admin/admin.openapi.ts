import type { ReferenceObject, SchemaObject } from '@nestjs/swagger';
import { ROOM_NAME_MAX } from '../contract/text-rules.js';
import { TTL_SECONDS_MAX } from './admin.schemas.js';

/** The name of the Bearer ADMIN_API_KEY security scheme in the document. */
export const ADMIN_SECURITY = 'adminApiKey';

const ID = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', example: 'game_m42' } as const;
const USER_ID = { ...ID, description: 'A user id (not `system`)', example: 'p1' } as const;

/**
 * The admin API's bodies and answers, as OpenAPI schemas. The validation itself is
 * admin.schemas.ts; these describe it (the e2e suite checks the two agree on the routes).
 */
export const ADMIN_SCHEMAS: Record<string, SchemaObject> = {
  RoomSettings: {
    type: 'object',
    properties: {
      name: {
        type: 'string',
        minLength: 1,
        maxLength: ROOM_NAME_MAX,
        description: 'Display name, trimmed; defaults to the id',
        example: 'Match 42',
      },
      private: {
        type: 'boolean',
        default: false,
        description: 'Only placed users (and the API) may join',
      },
      ttlSeconds: {
        type: 'integer',
        minimum: 1,
        maximum: TTL_SECONDS_MAX,
        description:
          'Close the room automatically once it has been empty this long (as DELETE would). ' +
          'The countdown starts when the room is made (and at every start of the service) and ' +
          'again whenever its last member leaves; a join cancels it. Absent: never closed.',
        example: 300,
      },
    },
  },
  CreateRoom: {
    allOf: [
      {
        type: 'object',
        required: ['id'],
        properties: { id: { ...ID, description: 'The room id' } },
      },
      { $ref: '#/components/schemas/RoomSettings' },
    ],
  },
  PutRoom: {
    allOf: [
      {
        type: 'object',
        properties: { id: { ...ID, description: 'Optional; must be the path id' } },
      },
      { $ref: '#/components/schemas/RoomSettings' },
    ],
  },
  Room: {
    type: 'object',
    required: ['id', 'name', 'private'],
    properties: {
      id: ID,
      name: { type: 'string', example: 'Match 42' },
      private: { type: 'boolean' },
      ttlSeconds: { type: 'integer', description: 'Present only when the room has a TTL' },
    },
  },
  RoomAnswer: {
    type: 'object',
    required: ['room'],
    properties: { room: { $ref: '#/components/schemas/Room' } },
  },
  Member: {
    type: 'object',
    required: ['userId'],
    properties: { userId: USER_ID },
  },
  Notice: {
    type: 'object',
    required: ['content'],
    properties: {
      content: {
        type: 'string',
        description:
          'Message text rules: not blank, at most MAX_MESSAGE_LENGTH code points (default ' +
          '2000), no control characters but tab and newlines; sent exactly as given',
        example: 'Server restarts at 03:00',
      },
    },
  },
  Snapshot: {
    type: 'object',
    required: ['users', 'rooms'],
    properties: {
      users: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'name', 'rooms', 'idleMs'],
          properties: {
            id: USER_ID,
            name: { type: 'string' },
            rooms: { type: 'array', items: ID },
            idleMs: { type: 'integer', minimum: 0, description: 'Time since its last activity' },
          },
        },
      },
      rooms: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'name', 'members'],
          properties: {
            id: ID,
            name: { type: 'string' },
            members: { type: 'array', items: USER_ID },
          },
        },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['statusCode', 'error', 'message'],
    properties: {
      statusCode: { type: 'integer', example: 400 },
      error: { type: 'string', example: 'Bad Request' },
      message: {
        oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        example: ['id must be a valid room id (1-64 of [A-Za-z0-9_.-])'],
      },
    },
  },
};

export const ref = (name: keyof typeof ADMIN_SCHEMAS & string): ReferenceObject => ({
  $ref: `#/components/schemas/${name}`,
});
