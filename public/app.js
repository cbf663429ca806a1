// The chat web client: a plain browser ES module on the socket.io client the service serves.
// Wire contract: docs/PROTOCOL.md. All message data is rendered with textContent, never markup.
import { io } from '/socket.io/socket.io.esm.min.js';

const ACK_TIMEOUT_MS = 5000;
const TYPING_EMIT_EVERY_MS = 2000;
const TYPING_SHOW_MS = 3000;
const HISTORY_PAGE = 50;
const SERVER_DROP_RETRY_MS = 2000; // socket.io does not reconnect by itself after a server drop
const AUTH_ERRORS = {
  UNAUTHORIZED: 'the token is missing, invalid or expired',
  INVALID_AUTH: 'the user id (1-64 of A-Z a-z 0-9 _ . -) or display name is not allowed',
  TOO_MANY_SOCKETS: 'this user has too many tabs or devices connected: close one',
};
/** Refusals that pass: socket.io gives up after them, so the page retries by itself. */
const PASSING_REFUSALS = new Set(['RATE_LIMITED', 'SHUTTING_DOWN']);
const PASSING_RETRY_MAX_MS = 30_000;

const $ = (testId) => document.querySelector(`[data-testid="${testId}"]`);

/** An element with optional data-testid, class and text content. */
function el(tag, { testId, className, text } = {}) {
  const node = document.createElement(tag);
  if (testId) node.dataset.testid = testId;
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const newId = () =>
  crypto.randomUUID?.() ?? // only in secure contexts (https, localhost)
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');

// ---- state ------------------------------------------------------------------------------

let socket; // undefined while signed out
let me; // { id, name }
let connectedOnce = false;
let serverLeaving = false; // set by server:shutdown: its drop is worth retrying
let refusedRetries = 0; // retries after a passing refusal, for the back-off
const timers = new Set(); // pending timeouts, cancelled on sign-out
const convs = new Map(); // 'room:<id>' | 'user:<id>' -> conversation
const online = new Map(); // user id -> name
let active; // key of the conversation shown

function later(ms, fn) {
  const timer = setTimeout(() => {
    timers.delete(timer);
    fn();
  }, ms);
  timers.add(timer);
}

let roomsRefresh; // one room:list for a burst of joins and leaves
function scheduleRoomRefresh() {
  if (roomsRefresh) return;
  roomsRefresh = true;
  later(300, () => {
    roomsRefresh = false;
    if (socket?.connected) void refreshRooms();
  });
}

// ---- talking to the server --------------------------------------------------------------

/** Emits with an ack; sends get a clientMsgId and one retry with the same id on timeout. */
async function request(event, payload, { send = false } = {}) {
  const body = send ? { ...payload, clientMsgId: newId() } : payload;
  for (let attempt = send ? 2 : 1; attempt > 0; attempt--) {
    try {
      return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, body);
    } catch {
      // timed out: the retry carries the same clientMsgId, so nothing is stored twice
    }
  }
  return { ok: false, error: { code: 'TIMEOUT', message: 'no answer from the server' } };
}

const describeError = (reply) => `${reply.error.code}: ${reply.error.message}`;
const showError = (text) => ($('chat-error').textContent = text);

// ---- sign in and out --------------------------------------------------------------------

function tokenSubject(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json).sub;
  } catch {
    return undefined; // the server will refuse it with UNAUTHORIZED
  }
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const [userId, name, token] = ['userId', 'name', 'token'].map((k) => form.get(k).trim());
  if (!token && !userId) return ($('signin-error').textContent = 'Enter a user id or a token.');
  const auth = token ? { token } : name ? { userId, name } : { userId };
  me = token ? { id: tokenSubject(token) ?? '?', name: '' } : { id: userId, name: name || userId };
  // A sign-in while an earlier one is still retrying replaces it.
  if (socket) signOut();
  $('signin-error').textContent = 'Connecting…';
  connect(auth);
});

function connect(auth) {
  socket = io({ auth });
  socket.on('connect', onConnect);
  socket.on('connect_error', onConnectError);
  socket.on('disconnect', onDisconnect);
  socket.on('message', onMessage);
  socket.on('typing', onTyping);
  socket.on('chat:error', (e) => showError(`${e.event}: ${e.code} ${e.message}`));
  // A server that is going away says so first: then its drop is worth retrying.
  socket.on('server:shutdown', () => (serverLeaving = true));
}

function signOut(reason = '') {
  socket?.off();
  socket?.disconnect();
  socket = undefined;
  connectedOnce = false;
  refusedRetries = 0;
  timers.forEach(clearTimeout);
  timers.clear();
  roomsRefresh = false;
  for (const conv of convs.values()) conv.typing.forEach((t) => clearTimeout(t.timer));
  convs.clear();
  online.clear();
  active = undefined;
  $('tabs').replaceChildren();
  $('message-lists').replaceChildren($('empty-state'));
  $('chat-view').hidden = true;
  $('signin-view').hidden = false;
  $('signin-error').textContent = reason;
}
$('signout').addEventListener('click', () => signOut());

async function onConnect() {
  refusedRetries = 0;
  const recovering = connectedOnce;
  if (!connectedOnce) {
    connectedOnce = true;
    $('signin-view').hidden = true;
    $('chat-view').hidden = false;
    showError('');
  }
  await Promise.all([refreshUsers(), refreshRooms()]);
  // Recovery: each open room again, with since = last seq seen; addMessage drops duplicates.
  if (recovering) await Promise.all([...convs.values()].filter(isJoinedRoom).map(joinRoom));
  if (socket?.connected) $('reconnect-banner').hidden = true;
}

function onConnectError(error) {
  const code = error.message;
  if (PASSING_REFUSALS.has(code)) {
    // Many clients come back at once after a restart: spread the retries out.
    const delay =
      Math.min(PASSING_RETRY_MAX_MS, 1000 * 2 ** refusedRetries++) * (0.5 + Math.random());
    if (!connectedOnce) $('signin-error').textContent = `Server busy (${code}): retrying…`;
    const refused = socket;
    later(delay, () => {
      if (socket === refused && !refused.connected && !refused.active) refused.connect();
    });
    return;
  }
  if (socket.active) {
    // A transient failure (network, server down): socket.io retries by itself.
    if (!connectedOnce) $('signin-error').textContent = `Cannot reach the server: retrying…`;
    return;
  }
  signOut(`Sign-in refused: ${code} (${AUTH_ERRORS[code] ?? 'could not connect'})`);
}

function onDisconnect(reason) {
  if (reason === 'io server disconnect' && !serverLeaving) {
    // Dropped on purpose (admin, idle timeout): coming straight back would undo it.
    signOut('Disconnected by the server (idle for too long, or removed by an administrator).');
    return;
  }
  $('reconnect-banner').hidden = false;
  if (reason === 'io server disconnect') {
    serverLeaving = false;
    later(SERVER_DROP_RETRY_MS, () => socket?.connect());
  }
}

// ---- conversations (tabs) ---------------------------------------------------------------

const isJoinedRoom = (conv) => conv.kind === 'room' && !conv.left;

function openConversation(kind, id, title) {
  const key = `${kind}:${id}`;
  const list = el('div', { testId: 'message-list', className: 'messages' });
  list.dataset.conv = key;
  list.hidden = true;
  const tab = el('button', { testId: 'tab', className: 'tab' });
  tab.type = 'button';
  tab.dataset.conv = key;
  const close = el('span', { testId: 'tab-close', className: 'close', text: '×' });
  close.title = kind === 'room' ? 'Leave the room' : 'Close';
  tab.append(el('span', { className: 'label' }), el('span', { className: 'unread' }), close);
  const conv = { key, kind, id, title, list, tab, ids: new Set(), seqs: new Set() };
  Object.assign(conv, { lastSeq: 0, oldestSeq: Infinity, unread: 0, typing: new Map() });
  tab.addEventListener('click', (event) =>
    event.target === close ? closeConversation(conv) : activate(key),
  );
  list.addEventListener('scroll', () => list.scrollTop < 40 && loadOlder(conv));
  convs.set(key, conv);
  $('tabs').append(tab);
  $('message-lists').append(list);
  renderTab(conv);
  if (!active) activate(key);
  return conv;
}

function renderTab(conv) {
  conv.tab.querySelector('.label').textContent =
    (conv.kind === 'room' ? '#' : '@') + (conv.title ?? conv.id);
  conv.tab.querySelector('.unread').textContent = conv.unread ? String(conv.unread) : '';
}

function activate(key) {
  active = key;
  const conv = convs.get(key);
  for (const c of convs.values()) {
    c.list.hidden = c !== conv;
    c.tab.classList.toggle('active', c === conv);
  }
  $('empty-state').hidden = Boolean(conv);
  $('composer-input').disabled = $('composer-send').disabled = !conv;
  $('composer-memo-label').hidden = conv?.kind !== 'user';
  if (conv) {
    conv.unread = 0;
    renderTab(conv);
    conv.list.scrollTop = conv.list.scrollHeight;
    $('composer-input').focus();
  }
  renderTyping();
}

function closeConversation(conv) {
  if (isJoinedRoom(conv)) void request('room:leave', { roomId: conv.id });
  conv.typing.forEach((t) => clearTimeout(t.timer));
  conv.tab.remove();
  conv.list.remove();
  convs.delete(conv.key);
  if (active === conv.key) activate(convs.keys().next().value);
}

// ---- messages ---------------------------------------------------------------------------

function renderMessage(m) {
  const row = el('div', { testId: 'message', className: `msg ${m.type}` });
  row.dataset.type = m.type;
  if (m.seq !== undefined) row.dataset.seq = String(m.seq);
  const time = el('time', {
    text: new Date(m.timestamp).toLocaleTimeString([], { timeStyle: 'short' }),
  });
  time.title = m.timestamp;
  row.append(time);
  if (m.sender.id !== 'system') {
    const sender = el('span', {
      testId: 'message-sender',
      className: 'sender',
      text: m.sender.name,
    });
    sender.title = m.sender.id;
    row.append(sender);
  }
  if (m.type === 'instant_message') row.append(el('span', { className: 'badge', text: 'memo' }));
  row.append(el('span', { testId: 'message-content', className: 'content', text: m.content }));
  return row;
}

/** Adds a message once (by id, and by seq in rooms), keeping room events in seq order. */
function addMessage(conv, m) {
  if (conv.ids.has(m.id) || (m.seq !== undefined && conv.seqs.has(m.seq))) return false;
  conv.ids.add(m.id);
  const row = renderMessage(m);
  if (m.seq === undefined) {
    conv.list.append(row);
    return true;
  }
  conv.seqs.add(m.seq);
  conv.lastSeq = Math.max(conv.lastSeq, m.seq);
  conv.oldestSeq = Math.min(conv.oldestSeq, m.seq);
  let before = null; // history pages and recovered events may arrive after newer live ones
  for (let n = conv.list.lastElementChild; n && Number(n.dataset.seq) > m.seq;) {
    before = n;
    n = n.previousElementSibling;
  }
  conv.list.insertBefore(row, before);
  return true;
}

function addNote(conv, text) {
  conv.list.append(el('div', { testId: 'note', className: 'msg note', text }));
}

/** A message as it happens: shown, scrolled into view if the reader was at the bottom. */
function showLive(conv, m) {
  const list = conv.list;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (!addMessage(conv, m)) return;
  if (atBottom || m.sender.id === me.id) list.scrollTop = list.scrollHeight;
  if (conv.key !== active) conv.unread += 1;
  renderTab(conv);
}

function onMessage(m, received) {
  // A memo the server stored for us: it may delete it now (a repeat is dropped by id below).
  if (typeof received === 'function') received();
  if (m.type === 'user_connect') online.set(m.user.id, m.user.name);
  if (m.type === 'user_disconnect') online.delete(m.user.id);
  if (m.type === 'user_connect' || m.type === 'user_disconnect') return renderUsers();
  if (m.type === 'private_chat' || m.type === 'instant_message') {
    const other = m.sender.id === me.id ? m.recipient : m.sender;
    const conv = convs.get(`user:${other.id}`) ?? openConversation('user', other.id, other.name);
    return showLive(conv, m);
  }
  const conv = convs.get(`room:${m.roomId}`);
  if (!conv) {
    // Placed into a room by the admin API: open it like a join of our own.
    if (m.type === 'room_join' && m.user?.id === me.id) void joinRoom({ id: m.roomId });
    return;
  }
  if (m.type === 'room_join' || m.type === 'room_leave') {
    if (m.user?.id === me.id) conv.left = m.type === 'room_leave';
    scheduleRoomRefresh();
  }
  if (m.type === 'room_chat') stopTyping(conv, m.sender.id);
  showLive(conv, m);
}

// ---- rooms ------------------------------------------------------------------------------

async function refreshRooms() {
  const reply = await request('room:list', {});
  if (!reply.ok) return showError(describeError(reply));
  $('room-list').replaceChildren(
    ...reply.rooms.map((room) => {
      const item = el('li', { testId: 'room-item', className: 'room' });
      item.dataset.roomId = room.id;
      const name = el('span', { testId: 'room-name', className: 'name', text: room.name });
      name.title = room.id;
      if (room.private) name.append(el('span', { className: 'badge', text: 'private' }));
      const members = el('span', {
        testId: 'room-members',
        className: 'count',
        text: String(room.members),
      });
      members.title = `${room.members} members`;
      const joined = convs.has(`room:${room.id}`) && isJoinedRoom(convs.get(`room:${room.id}`));
      const button = el('button', { testId: 'room-join', text: joined ? 'Open' : 'Join' });
      button.type = 'button';
      button.addEventListener('click', () => joinRoom({ id: room.id, title: room.name }, true));
      item.append(name, members, button);
      return item;
    }),
  );
}
$('room-refresh').addEventListener('click', refreshRooms);

/** Joins (or re-joins with since, recovering missed events) and shows the room's messages. */
async function joinRoom({ id, title }, show = false) {
  const key = `room:${id}`;
  const known = convs.get(key);
  if (known && isJoinedRoom(known) && show && known.lastSeq > 0 && socket.connected) {
    return activate(key); // already in it and up to date
  }
  const conv = known ?? openConversation('room', id, title);
  let reply = await request(
    'room:join',
    conv.lastSeq > 0 ? { roomId: id, since: conv.lastSeq } : { roomId: id },
  );
  if (!reply.ok) {
    if (!known) closeConversation(conv);
    return showError(`Cannot join ${id}: ${describeError(reply)}`);
  }
  conv.left = false;
  conv.title = reply.room.name;
  if (!reply.complete) addNote(conv, 'Some older messages are no longer kept on the server.');
  reply.messages.forEach((m) => addMessage(conv, m));
  // A long absence comes back in pages: go on from the last one until nothing more is missing.
  while (reply.ok && reply.more) {
    const since = reply.messages.at(-1)?.seq ?? conv.lastSeq;
    reply = await request('room:join', { roomId: id, since });
    if (reply.ok) reply.messages.forEach((m) => addMessage(conv, m));
  }
  renderTab(conv);
  if (show) activate(key);
  else if (key === active) conv.list.scrollTop = conv.list.scrollHeight;
  scheduleRoomRefresh();
}

/** Scrolled to the top: the page of events before the oldest shown. */
async function loadOlder(conv) {
  const before = conv.oldestSeq; // Infinity with no room event shown (and in private chats)
  if (conv.loading || conv.exhausted || before <= 1 || before === Infinity) return;
  conv.loading = true;
  const reply = await request('room:history', { roomId: conv.id, before, limit: HISTORY_PAGE });
  conv.loading = false;
  if (!reply.ok) return showError(describeError(reply));
  if (reply.messages.length < HISTORY_PAGE) conv.exhausted = true;
  const fromBottom = conv.list.scrollHeight - conv.list.scrollTop;
  reply.messages.forEach((m) => addMessage(conv, m));
  conv.list.scrollTop = conv.list.scrollHeight - fromBottom; // keep the reader's place
}

$('room-create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const roomId = $('room-create-id').value.trim();
  const reply = await request('room:create', { roomId, private: $('room-create-private').checked });
  if (!reply.ok) return showError(`Cannot create ${roomId}: ${describeError(reply)}`);
  event.target.reset();
  await joinRoom({ id: reply.room.id, title: reply.room.name }, true);
});

// ---- people -----------------------------------------------------------------------------

async function refreshUsers() {
  const reply = await request('user:list', {});
  if (!reply.ok) return showError(describeError(reply));
  online.clear();
  for (const user of reply.users) online.set(user.id, user.name);
  renderUsers();
}

function renderUsers() {
  if (online.has(me.id)) me.name = online.get(me.id); // the server's word on our name
  $('current-user').textContent = `${me.name} (${me.id})`;
  const users = [...online].sort(([, a], [, b]) => a.localeCompare(b));
  $('user-list').replaceChildren(
    ...users.map(([id, name]) => {
      const item = el('li');
      const button = el('button', {
        testId: 'user-item',
        text: id === me.id ? `${name} (you)` : name,
      });
      button.type = 'button';
      button.dataset.userId = id;
      button.title = id;
      button.disabled = id === me.id;
      button.addEventListener('click', () => {
        const conv = convs.get(`user:${id}`) ?? openConversation('user', id, name);
        activate(conv.key);
      });
      item.append(button);
      return item;
    }),
  );
}

// ---- typing -----------------------------------------------------------------------------

function onTyping({ roomId, user }) {
  const conv = convs.get(`room:${roomId}`);
  if (!conv || user.id === me.id) return;
  clearTimeout(conv.typing.get(user.id)?.timer);
  const timer = setTimeout(() => stopTyping(conv, user.id), TYPING_SHOW_MS);
  conv.typing.set(user.id, { name: user.name, timer });
  renderTyping();
}

function stopTyping(conv, userId) {
  clearTimeout(conv.typing.get(userId)?.timer);
  if (conv.typing.delete(userId)) renderTyping();
}

function renderTyping() {
  const names = [...(convs.get(active)?.typing.values() ?? [])].map((t) => t.name);
  $('typing-indicator').textContent =
    names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
}

$('composer-input').addEventListener('input', () => {
  const conv = convs.get(active);
  if (conv?.kind !== 'room' || !socket.connected || !$('composer-input').value.trim()) return;
  if (Date.now() - (conv.typingSentAt ?? 0) < TYPING_EMIT_EVERY_MS) return;
  conv.typingSentAt = Date.now();
  socket.emit('typing', { roomId: conv.id }, () => {}); // an ack, so errors stay quiet
});

// ---- sending ----------------------------------------------------------------------------

$('composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('composer-input');
  const content = input.value;
  const conv = convs.get(active);
  if (!conv || !content.trim()) return;
  input.value = '';
  const memo = conv.kind === 'user' && $('composer-memo').checked;
  const reply =
    conv.kind === 'room'
      ? await request('room:message', { roomId: conv.id, content }, { send: true })
      : await request(
          memo ? 'memo:send' : 'private:message',
          { to: conv.id, content },
          { send: true },
        );
  if (!reply.ok) {
    if (!input.value) input.value = content; // give the text back to try again
    return showError(describeError(reply));
  }
  showError('');
  showLive(conv, reply.message);
  if (memo && !reply.delivered) addNote(conv, `${conv.title} is offline: the memo waits for them.`);
});
