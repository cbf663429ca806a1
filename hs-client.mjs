import { io } from 'socket.io-client';
const [url, n, pid] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const sockets = [];
process.kill(pid, 'SIGUSR2'); await new Promise(r => setTimeout(r, 8000));
for (let i = 0; i < n; i++) {
  const s = io(url, { auth: { userId: `u${i}`, name: `u ${i}` }, transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(s);
  await new Promise(r => s.once('connect', r));
  await s.emitWithAck('room:join', { roomId: `load-${i % 10}` });
}
await new Promise(r => setTimeout(r, 8000));
process.kill(pid, 'SIGUSR2'); await new Promise(r => setTimeout(r, 10000));
process.exit(0);
