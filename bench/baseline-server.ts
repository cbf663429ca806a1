/**
 * The bare baseline for `npm run bench -- --baseline`: the plain socket.io room broadcast
 * every tutorial shows. No Nest, no actors, no store, no validation. Same wire shape as
 * the service for the events the load generator uses, so the same client code drives both.
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from 'socket.io';

const httpServer = createServer();
const io = new Server(httpServer, { perMessageDeflate: false });

io.on('connection', (socket) => {
  const auth = socket.handshake.auth as { userId?: string; name?: string };
  const user = { id: String(auth.userId), name: String(auth.name ?? auth.userId) };
  void socket.join(`u:${user.id}`);
  socket.on('room:join', (payload: { roomId: string }, ack: (reply: unknown) => void) => {
    void socket.join(`r:${payload.roomId}`);
    ack({
      ok: true,
      room: { id: payload.roomId, name: payload.roomId, members: [] },
      messages: [],
      complete: true,
    });
  });
  socket.on(
    'room:message',
    (payload: { roomId: string; content: string }, ack: (reply: unknown) => void) => {
      const message = {
        id: randomUUID(),
        type: 'room_chat',
        roomId: payload.roomId,
        sender: user,
        content: payload.content,
        timestamp: new Date().toISOString(),
      };
      io.to(`r:${payload.roomId}`).emit('message', message);
      ack({ ok: true, message });
    },
  );
  socket.on(
    'private:message',
    (payload: { to: string; content: string }, ack: (reply: unknown) => void) => {
      const message = {
        id: randomUUID(),
        type: 'private_chat',
        sender: user,
        recipient: { id: payload.to, name: payload.to },
        content: payload.content,
        timestamp: new Date().toISOString(),
      };
      io.to([`u:${user.id}`, `u:${payload.to}`]).emit('message', message);
      ack({ ok: true, message });
    },
  );
});

httpServer.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = httpServer.address() as { port: number };
  console.log(`chat service on http://127.0.0.1:${address.port} (bare socket.io baseline)`);
});

process.on('SIGTERM', () => {
  io.close();
  process.exit(0);
});
