// The chat web client: a plain browser ES module on the socket.io client the service serves.
// Wire contract: docs/PROTOCOL.md. All message data is rendered with textContent, never markup.
import { io } from '/socket.io/socket.io.esm.min.js';

const ACK_TIMEOUT_MS = 5000;
const INFO_TIMEOUT_MS = 3000;
const TYPING_EMIT_EVERY_MS = 2000;
const TYPING_SHOW_MS = 3000;
const HISTORY_PAGE = 50;
const SERVER_DROP_RETRY_MS = 2000; // socket.io does not reconnect by itself after a server drop
/** Refusals that pass: socket.io gives up after them, so the page retries by itself. */
const PASSING_REFUSALS = new Set(['RATE_LIMITED', 'SHUTTING_DOWN']);
const PASSING_RETRY_MAX_MS = 30_000;
/** The sign-in, the open tabs and their recent messages, for a reload (this tab only). */
const SESSION_KEY = 'actor-chat.session';
const SESSION_SAVE_MS = 500;
const KEEP_PER_CONVERSATION = 200;
const FOLD_NAMES_SHOWN = 5;
const REACTION_CHOICES = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
const ROOM_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const narrow = matchMedia('(max-width: 720px)'); // keep in step with style.css

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

/** Length as the server counts it: Unicode code points. */
const codePoints = (text) => [...text].length;
const count = (n) => n.toLocaleString('en-US');

// ---- errors in words ----------------------------------------------------------------------

const SIGNIN_ERRORS = {
  UNAUTHORIZED: 'That token was not accepted: it is invalid or has expired. Get a new one.',
  INVALID_AUTH:
    'That user id or name is not allowed. A user id is 1-64 letters, digits, "_", "." or "-" (no spaces); a name is at most 32 characters.',
  TOO_MANY_SOCKETS: 'You are signed in from too many tabs or devices: close one and try again.',
};

/** What each contract code means to a person, by what they were doing. */
const PLAIN = {
  any: {
    INVALID_PAYLOAD: 'That was not accepted by the server.',
    TOO_LARGE: 'That is too long.',
    RATE_LIMITED: 'You’re going too fast — wait a moment.',
    NOT_FOUND: 'That room no longer exists.',
    FORBIDDEN: 'You’re not allowed to do that.',
    NOT_MEMBER: 'You’re not in that room any more: join it again.',
    ALREADY_EXISTS: 'That already exists.',
    USER_OFFLINE: 'They’re offline.',
    BUSY: 'The server is busy — try again in a moment.',
    INTERNAL: 'Something went wrong on the server — try again.',
    TIMEOUT: 'No answer from the server — check your connection and try again.',
  },
  join: {
    NOT_FOUND: 'That room no longer exists.',
    FORBIDDEN:
      'You can’t join that room: it’s private (ask its owner for an invitation), full, or you’re in too many rooms.',
    RATE_LIMITED: 'You’re joining and leaving too fast — wait a moment.',
  },
  create: {
    INVALID_PAYLOAD: 'A room id is 1-64 letters, digits, "_", "." or "-" (no spaces).',
    ALREADY_EXISTS: 'A room with that id already exists: join it from the list.',
    FORBIDDEN: 'You have too many rooms already: leave one first.',
    RATE_LIMITED: 'You’re creating rooms too fast — wait a moment.',
  },
  send: {
    INVALID_PAYLOAD: 'That message can’t be sent: it contains characters that aren’t allowed.',
    TOO_LARGE: () => `That message is too long: at most ${count(maxLength())} characters.`,
    RATE_LIMITED: 'You’re sending too fast — wait a moment.',
    NOT_FOUND: 'This room has been closed.',
    FORBIDDEN: (conv) =>
      conv?.kind === 'user'
        ? `${conv.title ?? conv.id} doesn’t take messages from you.`
        : 'You can’t post in this room right now: its owner has muted you.',
    NOT_MEMBER: 'You’re no longer in this room: join it again from the list to post.',
    USER_OFFLINE: (conv) =>
      `${conv.title ?? conv.id} is offline: tick “as memo” and send it again, they’ll get it when they’re back.`,
  },
  edit: {
    NOT_FOUND: 'That message is gone: deleted, or no longer kept.',
    FORBIDDEN:
      'You can only edit your own messages, for a while after sending them (and not while muted).',
    RATE_LIMITED: 'You’re going too fast — wait a moment.',
  },
  delete: {
    NOT_FOUND: 'That message is gone already.',
    FORBIDDEN: 'Only its sender or the room’s owner can delete a message.',
  },
  react: {
    NOT_FOUND: 'That message is gone: deleted, or no longer kept.',
    FORBIDDEN: 'You can’t react to that: it has too many different reactions, or you are muted.',
  },
  block: {
    INVALID_PAYLOAD: 'You can’t block yourself.',
  },
};

function plainError(reply, context, arg) {
  const code = reply.error.code;
  const text = PLAIN[context]?.[code] ?? PLAIN.any[code] ?? 'That didn’t work — try again.';
  return typeof text === 'function' ? text(arg) : text;
}

/** Shows a sentence in one of the page's error slots, beside the control it is about. */
function showError(slot, text, reply) {
  const node = $(slot);
  node.textContent = text;
  // The wire code for whoever debugs, never instead of the sentence.
  if (reply) node.title = `${reply.error.code}: ${reply.error.message}`;
  else node.removeAttribute('title');
}
const clearError = (slot) => showError(slot, '');

// ---- state ------------------------------------------------------------------------------

let socket; // undefined while signed out
let auth; // what we signed in with: { token } or { userId, name? }
let me; // { id, name }
let inChat = false; // the chat view is up (signed in, or restored after a reload)
let serverLeaving = false; // set by server:shutdown: its drop is worth retrying
let refusedRetries = 0; // retries after a passing refusal, for the back-off
let serverInfo; // GET /info: { auth, maxMessageLength, maxPacketBytes }, once known
const timers = new Set(); // pending timeouts, cancelled on sign-out
const convs = new Map(); // 'room:<id>' | 'user:<id>' -> conversation
const online = new Map(); // user id -> name
const messageOf = new WeakMap(); // message row -> the message it shows (for the session)
const blocked = new Set(); // user ids we block
let active; // key of the conversation shown
let editing; // { conv, seq } while the composer edits a message

const maxLength = () => serverInfo?.maxMessageLength;

function later(ms, fn) {
  const timer = setTimeout(() => {
    timers.delete(timer);
    fn();
  }, ms);
  timers.add(timer);
  return timer;
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

/** How this server signs people in and its limits; undefined when it does not say. */
async function loadInfo() {
  try {
    const res = await fetch('/info', { signal: AbortSignal.timeout(INFO_TIMEOUT_MS) });
    if (res.ok) serverInfo = await res.json();
  } catch {
    // an older server, or none: the form offers both ways and the server checks lengths
  }
  renderCounter();
}

// ---- the session (survives a reload of this tab) -----------------------------------------

function readSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return saved?.v === 1 && saved.auth && saved.me ? saved : undefined;
  } catch {
    return undefined;
  }
}

function saveSession() {
  if (!socket) return;
  const conversations = (keep) =>
    [...convs.values()].map((conv) => ({
      kind: conv.kind,
      id: conv.id,
      title: conv.title,
      left: Boolean(conv.left),
      lastSeq: conv.lastSeq,
      unread: conv.unread,
      owned: Boolean(conv.owned),
      messages: [...conv.list.children]
        .map((row) => messageOf.get(row))
        .filter(Boolean)
        .slice(-keep),
    }));
  // Too much for the quota: fewer messages, then only the tabs and where each room was.
  for (const keep of [KEEP_PER_CONVERSATION, 20, 0]) {
    try {
      const state = { v: 1, auth, me, active, convs: conversations(keep) };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(state));
      return;
    } catch {
      // QuotaExceededError: try smaller
    }
  }
}

let saveTimer;
/** Saves soon: one write for a burst of changes. */
function persist() {
  if (saveTimer || !socket) return;
  saveTimer = later(SESSION_SAVE_MS, () => {
    saveTimer = undefined;
    saveSession();
  });
}
// A reload or a closed tab: write what we have now.
addEventListener('pagehide', saveSession);
document.addEventListener('visibilitychange', () => document.hidden && saveSession());

/** Back after a reload: the same tabs and messages at once, then connect and catch up. */
function restore(saved) {
  auth = saved.auth;
  me = saved.me;
  fillSignInForm(auth);
  connect(auth);
  showChat();
  for (const c of saved.convs ?? []) {
    const conv = openConversation(c.kind, c.id, c.title);
    conv.left = c.left;
    for (const m of c.messages ?? []) addMessage(conv, m);
    conv.lastSeq = Math.max(conv.lastSeq, c.lastSeq ?? 0);
    if (conv.oldestSeq === Infinity && conv.lastSeq > 0) conv.oldestSeq = conv.lastSeq + 1;
    conv.unread = c.unread ?? 0;
    conv.owned = Boolean(c.owned);
  }
  if (convs.has(saved.active)) activate(saved.active);
  for (const conv of convs.values()) renderUnread(conv);
  renderMe();
}

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

/** The sign-in form asks only for what this server wants: a token (jwt) or a name (open). */
function showSignIn() {
  const mode = serverInfo?.auth;
  $('signin-open-fields').hidden = mode === 'jwt';
  $('signin-jwt-fields').hidden = mode === 'open';
  $('signin-either').hidden = mode !== undefined;
  $('signin-view').hidden = false;
}

function fillSignInForm(from) {
  const form = $('signin-form');
  form.elements.userId.value = from.userId ?? '';
  form.elements.name.value = from.name ?? '';
  form.elements.token.value = from.token ?? '';
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const field = (k) => String(form.get(k) ?? '').trim();
  const mode = serverInfo?.auth;
  const token = mode === 'open' ? '' : field('token');
  const userId = mode === 'jwt' ? '' : field('userId');
  const name = mode === 'jwt' ? '' : field('name');
  if (!token && !userId) {
    $('signin-error').textContent =
      mode === 'jwt' ? 'Paste your token to sign in.' : 'Enter a user id to sign in.';
    return;
  }
  // A sign-in while an earlier one is still retrying replaces it.
  if (socket) signOut();
  auth = token ? { token } : name ? { userId, name } : { userId };
  me = token ? { id: tokenSubject(token) ?? '?', name: '' } : { id: userId, name: name || userId };
  $('signin-error').textContent = 'Connecting…';
  connect(auth);
});

function connect(how) {
  socket = io({ auth: how });
  socket.on('connect', onConnect);
  socket.on('connect_error', onConnectError);
  socket.on('disconnect', onDisconnect);
  socket.on('message', onMessage);
  socket.on('typing', onTyping);
  socket.on('read', onReadReceipt);
  socket.on('chat:error', (e) =>
    showError('composer-error', plainError({ error: e }, 'any'), { error: e }),
  );
  // A server that is going away says so first: then its drop is worth retrying.
  socket.on('server:shutdown', () => (serverLeaving = true));
}

function showChat() {
  if (inChat) return;
  inChat = true;
  $('signin-view').hidden = true;
  $('chat-view').hidden = false;
  $('signin-error').textContent = '';
}

function signOut(reason = '') {
  sessionStorage.removeItem(SESSION_KEY);
  socket?.off();
  socket?.disconnect();
  socket = undefined;
  auth = undefined;
  inChat = false;
  refusedRetries = 0;
  timers.forEach(clearTimeout);
  timers.clear();
  roomsRefresh = false;
  saveTimer = undefined;
  for (const conv of convs.values()) conv.typing.forEach((t) => clearTimeout(t.timer));
  convs.clear();
  online.clear();
  blocked.clear();
  active = undefined;
  stopEditing();
  $('tabs').replaceChildren();
  $('message-lists').replaceChildren($('empty-state'));
  $('room-list').replaceChildren();
  $('user-list').replaceChildren();
  for (const slot of ['room-error', 'room-create-error', 'user-error', 'composer-error']) {
    clearError(slot);
  }
  $('reconnect-banner').hidden = true;
  setDrawer(false);
  document.title = 'actor-chat';
  $('chat-view').hidden = true;
  showSignIn();
  $('signin-error').textContent = reason;
}
$('signout').addEventListener('click', () => signOut());

async function onConnect() {
  refusedRetries = 0;
  showChat();
  // The rooms we are in (after a reload or a lost connection) again, with since = the last
  // seq seen: only what was missed comes back; addMessage drops anything already shown.
  const rejoins = [...convs.values()].filter(isJoinedRoom).map((conv) => joinRoom(conv));
  await Promise.all([refreshBlocks(), refreshUsers(), refreshRooms(), ...rejoins]);
  if (socket?.connected) $('reconnect-banner').hidden = true;
}

function onConnectError(error) {
  const code = error.message;
  if (PASSING_REFUSALS.has(code)) {
    // Many clients come back at once after a restart: spread the retries out.
    const delay =
      Math.min(PASSING_RETRY_MAX_MS, 1000 * 2 ** refusedRetries++) * (0.5 + Math.random());
    if (inChat) $('reconnect-banner').hidden = false;
    else
      $('signin-error').textContent =
        code === 'SHUTTING_DOWN'
          ? 'The server is restarting: trying again in a moment…'
          : 'The server is busy: trying again in a moment…';
    const refused = socket;
    later(delay, () => {
      if (socket === refused && !refused.connected && !refused.active) refused.connect();
    });
    return;
  }
  if (socket.active) {
    // A transient failure (network, server down): socket.io retries by itself.
    if (inChat) $('reconnect-banner').hidden = false;
    else $('signin-error').textContent = 'Cannot reach the server: trying again…';
    return;
  }
  signOut(SIGNIN_ERRORS[code] ?? 'Could not sign in: the server refused the connection.');
  $('signin-error').title = code;
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

// ---- the rooms and people drawer (narrow screens) ----------------------------------------

function setDrawer(open) {
  $('chat-view').classList.toggle('drawer-open', open);
  $('sidebar-toggle').setAttribute('aria-expanded', String(open));
  if (open) $('sidebar-close').focus();
}
$('sidebar-toggle').addEventListener('click', () => setDrawer(true));
$('sidebar-close').addEventListener('click', () => {
  setDrawer(false);
  $('sidebar-toggle').focus();
});
$('sidebar-backdrop').addEventListener('click', () => setDrawer(false));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && $('chat-view').classList.contains('drawer-open')) {
    setDrawer(false);
    $('sidebar-toggle').focus();
  }
});

// ---- conversations (tabs) ---------------------------------------------------------------

const isJoinedRoom = (conv) => conv.kind === 'room' && !conv.left;
const isChat = (m) =>
  m.type === 'room_chat' || m.type === 'private_chat' || m.type === 'instant_message';

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
  tab.append(
    el('span', { className: 'label' }),
    el('span', { testId: 'tab-unread', className: 'unread' }),
    close,
  );
  const conv = { key, kind, id, title, list, tab, ids: new Set(), seqs: new Set() };
  Object.assign(conv, { lastSeq: 0, oldestSeq: Infinity, unread: 0, typing: new Map() });
  Object.assign(conv, { readers: new Map(), readSent: 0, reading: false });
  Object.assign(conv, { replying: 0, held: [] }); // live changes held while a reply is due
  tab.addEventListener('click', (event) =>
    event.target === close ? closeConversation(conv) : activate(key),
  );
  list.addEventListener('scroll', () => {
    if (list.scrollTop < 40) void loadOlder(conv);
    if (atBottom(list)) markRead(conv);
  });
  convs.set(key, conv);
  $('tabs').append(tab);
  $('message-lists').append(list);
  renderTab(conv);
  if (!active) activate(key);
  persist();
  return conv;
}

function renderTab(conv) {
  conv.tab.querySelector('.label').textContent =
    (conv.kind === 'room' ? '#' : '@') + (conv.title ?? conv.id);
  renderUnread(conv);
}

/** The unread count of one conversation, wherever it shows, and the totals. */
function renderUnread(conv) {
  const text = conv.unread ? String(conv.unread) : '';
  conv.tab.querySelector('.unread').textContent = text;
  conv.tab.title = conv.unread ? `${conv.unread} unread` : '';
  const selector =
    conv.kind === 'room'
      ? `[data-testid="room-item"][data-room-id="${CSS.escape(conv.id)}"] .unread`
      : `[data-testid="user-item"][data-user-id="${CSS.escape(conv.id)}"] .unread`;
  const elsewhere = document.querySelector(selector);
  if (elsewhere) elsewhere.textContent = text;
  const total = [...convs.values()].reduce((sum, c) => sum + c.unread, 0);
  $('sidebar-unread').textContent = total ? String(total) : '';
  document.title = total ? `(${total}) actor-chat` : 'actor-chat';
}

function activate(key) {
  active = key;
  const conv = convs.get(key);
  for (const c of convs.values()) {
    c.list.hidden = c !== conv;
    c.tab.classList.toggle('active', c === conv);
    c.tab.setAttribute('aria-current', String(c === conv));
  }
  $('empty-state').hidden = Boolean(conv);
  $('composer-input').disabled = $('composer-send').disabled = !conv;
  $('composer-memo-label').hidden = conv?.kind !== 'user';
  clearError('composer-error');
  if (editing && editing.conv !== conv) stopEditing();
  if (conv) {
    conv.unread = 0;
    renderTab(conv);
    markRead(conv);
    conv.list.scrollTop = conv.list.scrollHeight;
    conv.tab.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (!narrow.matches) $('composer-input').focus(); // no keyboard popping up on a phone
  }
  renderTyping();
  persist();
}

function closeConversation(conv) {
  if (isJoinedRoom(conv)) void request('room:leave', { roomId: conv.id });
  conv.typing.forEach((t) => clearTimeout(t.timer));
  conv.tab.remove();
  conv.list.remove();
  convs.delete(conv.key);
  conv.unread = 0;
  renderUnread(conv);
  if (active === conv.key) activate(convs.keys().next().value);
  if (conv.kind === 'room') scheduleRoomRefresh();
  persist();
}

// ---- messages ---------------------------------------------------------------------------

/** v2 room events that change an earlier message: applied to it, never shown as rows. */
const isChange = (m) =>
  m.type === 'room_edit' || m.type === 'room_delete' || m.type === 'room_reaction';
const atBottom = (list) => list.scrollHeight - list.scrollTop - list.clientHeight < 40;
const rowOfSeq = (conv, seq) => conv.list.querySelector(`[data-seq="${seq}"]`);

const isPresence = (row) => row?.dataset.type === 'room_join' || row?.dataset.type === 'room_leave';

function renderMessage(m) {
  const mine = m.sender.id === me.id;
  const row = el('div', { testId: 'message', className: `msg ${m.type}` });
  row.dataset.type = m.type;
  if (m.seq !== undefined) row.dataset.seq = String(m.seq);
  if (m.user) row.dataset.userName = m.user.name;
  const time = el('time', {
    text: new Date(m.timestamp).toLocaleTimeString([], { timeStyle: 'short' }),
  });
  time.dateTime = time.title = m.timestamp;
  if (m.sender.id === 'system') {
    row.append(
      time,
      el('span', { testId: 'message-content', className: 'content', text: m.content }),
    );
    return row;
  }
  row.classList.add('bubble', mine ? 'mine' : 'theirs');
  const meta = el('div', { className: 'meta' });
  const sender = el('span', { testId: 'message-sender', className: 'sender', text: m.sender.name });
  sender.title = m.sender.id;
  meta.append(sender);
  if (mine) meta.append(el('span', { className: 'you', text: 'You' }));
  if (m.type === 'instant_message') meta.append(el('span', { className: 'badge', text: 'memo' }));
  meta.append(time);
  row.append(meta, el('div', { testId: 'message-content', className: 'content', text: m.content }));
  if (m.type === 'room_chat') renderState(row, m);
  return row;
}

/** A room message's state: edited, deleted, reactions, and what one can do with it. */
function renderState(row, m) {
  row.querySelector('.state')?.remove();
  row.querySelector('.reactions')?.remove();
  row.querySelector('.actions')?.remove();
  const content = row.querySelector('.content');
  row.classList.toggle('deleted', Boolean(m.deleted));
  if (m.deleted) {
    content.textContent = 'Message deleted';
    return;
  }
  content.textContent = m.content;
  if (m.edited) {
    const label = el('span', { testId: 'message-edited', className: 'state', text: '(edited)' });
    label.title = m.editedAt ? `edited ${new Date(m.editedAt).toLocaleString()}` : 'edited';
    row.querySelector('.meta').append(label);
  }
  const mine = new Set(m.myReactions ?? []);
  const chips = Object.entries(m.reactions ?? {}).map(([emoji, n]) => {
    const chip = el('button', { testId: 'reaction', className: 'chip', text: `${emoji} ${n}` });
    chip.type = 'button';
    chip.dataset.emoji = emoji;
    chip.classList.toggle('mine', mine.has(emoji));
    chip.setAttribute('aria-pressed', String(mine.has(emoji)));
    chip.title = mine.has(emoji) ? 'Take your reaction back' : 'React with this too';
    return chip;
  });
  if (chips.length > 0) {
    const bar = el('div', { testId: 'message-reactions', className: 'reactions' });
    bar.append(...chips);
    row.append(bar);
  }
  const actions = el('span', { className: 'actions' });
  const action = (testId, text, title) => {
    const button = el('button', { testId, className: 'icon', text });
    button.type = 'button';
    button.title = title;
    actions.append(button);
  };
  action('message-react', '☺+', 'React');
  if (m.sender.id === me.id) action('message-edit', '✎', 'Edit (or arrow up in an empty box)');
  if (m.sender.id === me.id || convs.get(`room:${m.roomId}`)?.owned) {
    action('message-delete', '🗑', 'Delete');
  }
  row.querySelector('.meta').append(actions);
}

/** Applies a live or recovered edit, deletion or reaction to the message it names. */
function applyChange(conv, e) {
  const row = rowOfSeq(conv, e.target);
  const m = row && messageOf.get(row);
  // Not shown (a history page brings it with its state), or its state already has this event.
  if (!m || e.seq <= (m.asOf ?? m.seq)) return;
  m.asOf = e.seq;
  if (e.type === 'room_edit') {
    Object.assign(m, { content: e.content, edited: true, editedAt: e.timestamp });
  } else if (e.type === 'room_delete') {
    Object.assign(m, { content: '', deleted: true });
    for (const key of ['edited', 'editedAt', 'reactions', 'myReactions']) delete m[key];
  } else {
    // A Map, then own properties: any emoji is fine, `__proto__` included.
    const reactions = new Map(Object.entries(m.reactions ?? {}));
    const count = (reactions.get(e.emoji) ?? 0) + (e.on ? 1 : -1);
    if (count > 0) reactions.set(e.emoji, count);
    else reactions.delete(e.emoji);
    m.reactions = Object.fromEntries(reactions);
    if (e.user?.id === me.id) {
      const mine = new Set(m.myReactions ?? []);
      if (e.on) mine.add(e.emoji);
      else mine.delete(e.emoji);
      m.myReactions = [...mine];
    }
  }
  renderState(row, m);
  persist();
}

/** Adds a message once (by id, and by seq in rooms), keeping room events in seq order. */
function addMessage(conv, m, asOf) {
  if (conv.ids.has(m.id) || (m.seq !== undefined && conv.seqs.has(m.seq))) {
    // Shown already: a reply's newer state replaces the one shown.
    const row = m.seq === undefined ? undefined : rowOfSeq(conv, m.seq);
    const shown = row && messageOf.get(row);
    if (shown && m.type === 'room_chat' && asOf !== undefined && asOf > (shown.asOf ?? 0)) {
      for (const key of ['edited', 'editedAt', 'deleted', 'reactions', 'myReactions']) {
        delete shown[key];
      }
      Object.assign(shown, m, { asOf });
      renderState(row, shown);
    }
    return false;
  }
  if (isChange(m) && conv.replying > 0 && asOf === undefined) {
    // A live change while a join or history reply is due: applied after the reply, in seq
    // order, so the reply's state (as of its asOf) never hides an earlier change.
    conv.held.push(m);
    return false;
  }
  conv.ids.add(m.id);
  if (isChange(m)) {
    conv.seqs.add(m.seq);
    conv.lastSeq = Math.max(conv.lastSeq, m.seq);
    conv.oldestSeq = Math.min(conv.oldestSeq, m.seq);
    applyChange(conv, m);
    return false;
  }
  // A message's state is as of the reply that brought it, or of itself when live.
  if (m.type === 'room_chat') m.asOf = Math.max(asOf ?? m.seq, m.asOf ?? 0);
  const row = renderMessage(m);
  messageOf.set(row, m);
  if (m.seq === undefined) {
    conv.list.append(row);
  } else {
    conv.seqs.add(m.seq);
    conv.lastSeq = Math.max(conv.lastSeq, m.seq);
    conv.oldestSeq = Math.min(conv.oldestSeq, m.seq);
    let before = null; // history pages and recovered events may arrive after newer live ones
    for (let n = conv.list.lastElementChild; n && Number(n.dataset.seq) > m.seq;) {
      before = n;
      n = n.previousElementSibling;
    }
    conv.list.insertBefore(row, before);
  }
  refoldAround(row);
  persist();
  return true;
}

/**
 * Runs of consecutive joins and leaves read as one quiet line ("Ann, Bo joined · Cy left"):
 * the first row of a run shows the summary, the others are hidden. Called for each new row,
 * it redoes the runs it touches (a row may join two runs, or split one).
 */
function refoldAround(row) {
  const heads = new Set();
  for (const r of [row.previousElementSibling, row, row.nextElementSibling]) {
    if (!isPresence(r)) continue;
    let head = r;
    while (isPresence(head.previousElementSibling)) head = head.previousElementSibling;
    heads.add(head);
  }
  heads.forEach(refold);
}

function refold(head) {
  const run = [];
  for (let r = head; isPresence(r); r = r.nextElementSibling) run.push(r);
  for (const r of run) {
    r.classList.remove('fold-head', 'folded');
    r.querySelector('.fold')?.remove();
  }
  if (run.length < 2) return;
  // Consecutive joins (or leaves) share one verb; each name once per group.
  const groups = [];
  for (const r of run) {
    const verb = r.dataset.type === 'room_join' ? 'joined' : 'left';
    if (groups.at(-1)?.verb !== verb) groups.push({ verb, names: new Set() });
    groups.at(-1).names.add(r.dataset.userName);
  }
  const summary = groups
    .map(({ verb, names }) => {
      const list = [...names];
      const shown = list.slice(0, FOLD_NAMES_SHOWN).join(', ');
      const more = list.length - FOLD_NAMES_SHOWN;
      return `${shown}${more > 0 ? ` and ${more} more` : ''} ${verb}`;
    })
    .join(' · ');
  head.classList.add('fold-head');
  const fold = el('span', { testId: 'message-fold', className: 'fold', text: summary });
  fold.title = run.map((r) => r.querySelector('.content').textContent).join('\n');
  head.append(fold);
  run.slice(1).forEach((r) => r.classList.add('folded'));
}

function addNote(conv, text) {
  conv.list.append(el('div', { testId: 'note', className: 'msg note', text }));
}

/** A message as it happens: shown, scrolled into view if the reader was at the bottom. */
function showLive(conv, m) {
  const list = conv.list;
  const wasAtBottom = atBottom(list);
  if (!addMessage(conv, m)) return;
  const mine = m.sender.id === me.id;
  if (wasAtBottom || mine) list.scrollTop = list.scrollHeight;
  if (conv.key === active && (wasAtBottom || mine)) markRead(conv);
  // Counted here, in the page: other people's messages in a conversation not on screen.
  if (conv.key !== active && isChat(m) && !mine) {
    conv.unread += 1;
    renderUnread(conv);
  }
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
  if (!reply.ok) return showError('room-error', plainError(reply, 'any'), reply);
  $('room-list').replaceChildren(
    ...reply.rooms.map((room) => {
      const item = el('li', { testId: 'room-item', className: 'room' });
      item.dataset.roomId = room.id;
      const name = el('span', { testId: 'room-name', className: 'name', text: room.name });
      name.title = room.id;
      if (room.private) name.append(el('span', { className: 'badge', text: 'private' }));
      const conv = convs.get(`room:${room.id}`);
      // The server's read state for rooms we are in, unless this page has marked more read
      // than it knows yet (the room in view stays at 0).
      if (conv && conv.key !== active && conv.readSent <= room.lastRead) {
        conv.unread = room.unread;
        renderTab(conv);
      }
      const unread = el('span', {
        testId: 'room-unread',
        className: 'unread',
        text: conv?.unread ? String(conv.unread) : '',
      });
      unread.title = 'unread';
      const members = el('span', {
        testId: 'room-members',
        className: 'count',
        text: String(room.members),
      });
      members.title = `${room.members} members`;
      const joined = conv !== undefined && isJoinedRoom(conv);
      const button = el('button', { testId: 'room-join', text: joined ? 'Open' : 'Join' });
      button.type = 'button';
      button.addEventListener('click', () => joinRoom({ id: room.id, title: room.name }, true));
      item.append(name, unread, members, button);
      return item;
    }),
  );
}
$('room-refresh').addEventListener('click', () => {
  clearError('room-error');
  void refreshRooms();
});

/** Joins (or re-joins with since, recovering missed events) and shows the room's messages. */
async function joinRoom({ id, title }, show = false) {
  const key = `room:${id}`;
  const known = convs.get(key);
  if (show) clearError('room-error');
  if (known && isJoinedRoom(known) && show && known.lastSeq > 0 && socket?.connected) {
    setDrawer(false);
    return activate(key); // already in it and up to date
  }
  const conv = known ?? openConversation('room', id, title);
  conv.replying++;
  try {
    return await joinInto(conv, { id, title, key, known, show });
  } finally {
    replied(conv);
  }
}

/** After a reply: the live changes held meanwhile, in seq order. */
function replied(conv) {
  if (--conv.replying > 0) return;
  const held = conv.held.splice(0).sort((a, b) => a.seq - b.seq);
  held.forEach((m) => addMessage(conv, m));
}

async function joinInto(conv, { id, title, key, known, show }) {
  let reply = await request(
    'room:join',
    conv.lastSeq > 0 ? { roomId: id, since: conv.lastSeq } : { roomId: id },
  );
  if (!reply.ok) {
    if (!known) closeConversation(conv);
    // Beside the rooms list: on a phone the drawer stays open so it can be read.
    return showError('room-error', `${title ?? id}: ${plainError(reply, 'join')}`, reply);
  }
  conv.left = false;
  conv.title = reply.room.name;
  if (!reply.complete) addNote(conv, 'Some older messages are no longer kept on the server.');
  reply.messages.forEach((m) => addMessage(conv, m, reply.asOf));
  if (key !== active && !show) conv.unread = reply.unread;
  conv.readSent = Math.max(conv.readSent, reply.lastRead);
  // A long absence comes back in pages: go on from the last one until nothing more is missing.
  while (reply.ok && reply.more) {
    const since = reply.messages.at(-1)?.seq ?? conv.lastSeq;
    reply = await request('room:join', { roomId: id, since });
    if (reply.ok) reply.messages.forEach((m) => addMessage(conv, m, reply.asOf));
  }
  renderTab(conv);
  if (key === active) markRead(conv);
  if (show) {
    setDrawer(false);
    activate(key);
  } else if (key === active) conv.list.scrollTop = conv.list.scrollHeight;
  scheduleRoomRefresh();
}

/** Scrolled to the top: the page of events before the oldest shown. */
async function loadOlder(conv) {
  const before = conv.oldestSeq; // Infinity with no room event shown (and in private chats)
  if (conv.loading || conv.exhausted || before <= 1 || before === Infinity) return;
  conv.loading = true;
  conv.replying++;
  try {
    const reply = await request('room:history', { roomId: conv.id, before, limit: HISTORY_PAGE });
    if (!reply.ok) return addNote(conv, `Older messages: ${plainError(reply, 'any')}`);
    if (reply.messages.length < HISTORY_PAGE) conv.exhausted = true;
    const fromBottom = conv.list.scrollHeight - conv.list.scrollTop;
    reply.messages.forEach((m) => addMessage(conv, m, reply.asOf));
    conv.list.scrollTop = conv.list.scrollHeight - fromBottom; // keep the reader's place
  } finally {
    conv.loading = false;
    replied(conv); // the changes held meanwhile come after the reply
  }
}

$('room-create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const roomId = $('room-create-id').value.trim();
  if (!ROOM_ID.test(roomId)) {
    return showError('room-create-error', PLAIN.create.INVALID_PAYLOAD);
  }
  clearError('room-create-error');
  const reply = await request('room:create', { roomId, private: $('room-create-private').checked });
  if (!reply.ok) return showError('room-create-error', plainError(reply, 'create'), reply);
  event.target.reset();
  await joinRoom({ id: reply.room.id, title: reply.room.name }, true);
  const created = convs.get(`room:${reply.room.id}`);
  if (created) created.owned = true; // the creator owns it: it may delete any message
});

// ---- people -----------------------------------------------------------------------------

async function refreshUsers() {
  const reply = await request('user:list', {});
  if (!reply.ok) return showError('user-error', plainError(reply, 'any'), reply);
  clearError('user-error');
  online.clear();
  for (const user of reply.users) online.set(user.id, user.name);
  renderUsers();
}

function renderMe() {
  $('current-user').textContent = me.name ? `${me.name} (${me.id})` : me.id;
  $('current-user').title = $('current-user').textContent;
}

function renderUsers() {
  if (online.has(me.id) && me.name !== online.get(me.id)) {
    me.name = online.get(me.id); // the server's word on our name
    persist();
  }
  renderMe();
  const users = [...online].sort(([, a], [, b]) => a.localeCompare(b));
  $('user-list').replaceChildren(
    ...users.map(([id, name]) => {
      const item = el('li');
      const button = el('button', { testId: 'user-item' });
      button.append(el('span', { className: 'name', text: id === me.id ? `${name} (you)` : name }));
      const unread = convs.get(`user:${id}`)?.unread;
      button.append(el('span', { className: 'unread', text: unread ? String(unread) : '' }));
      button.type = 'button';
      button.dataset.userId = id;
      button.title = id;
      button.disabled = id === me.id;
      button.addEventListener('click', () => {
        const conv = convs.get(`user:${id}`) ?? openConversation('user', id, name);
        setDrawer(false);
        activate(conv.key);
      });
      item.append(button);
      if (id !== me.id) {
        const isBlocked = blocked.has(id);
        const block = el('button', {
          testId: 'user-block',
          className: 'icon block',
          text: isBlocked ? 'Unblock' : 'Block',
        });
        block.type = 'button';
        block.dataset.userId = id;
        block.title = isBlocked
          ? `Take private messages and memos from ${name} again`
          : `Refuse private messages and memos from ${name}`;
        block.addEventListener('click', () => setBlocked(id, !isBlocked));
        item.append(block);
      }
      return item;
    }),
  );
}

async function refreshBlocks() {
  const reply = await request('user:blocks', {});
  if (!reply.ok) return;
  blocked.clear();
  reply.users.forEach((id) => blocked.add(id));
  renderUsers();
}

async function setBlocked(userId, on) {
  const reply = await request(on ? 'user:block' : 'user:unblock', { userId });
  if (!reply.ok) return showError('user-error', plainError(reply, 'block'), reply);
  clearError('user-error');
  if (on) blocked.add(userId);
  else blocked.delete(userId);
  renderUsers();
}

// ---- read state and receipts ---------------------------------------------------------------

/** Tells the server what this page has shown of a room (one request at a time). */
function markRead(conv) {
  if (conv.kind !== 'room' || conv.left || !socket?.connected || document.hidden) return;
  if (conv.key !== active || conv.reading || conv.lastSeq <= conv.readSent) return;
  conv.reading = true;
  const seq = conv.lastSeq;
  void request('room:read', { roomId: conv.id, seq }).then((reply) => {
    conv.reading = false;
    if (!reply.ok) return;
    // The server may cap the mark at its latest seq: never ask again for what was asked.
    conv.readSent = Math.max(conv.readSent, reply.lastRead, seq);
    markRead(conv); // more came meanwhile
  });
}
document.addEventListener('visibilitychange', () => {
  const conv = convs.get(active);
  if (!document.hidden && conv) markRead(conv);
});

/** Small rooms say who read up to where: shown under the last message each one has read. */
function onReadReceipt({ roomId, user, seq }) {
  const conv = convs.get(`room:${roomId}`);
  if (!conv || user.id === me.id) return;
  conv.readers.set(user.id, { name: user.name, seq });
  renderReceipts(conv);
}

function renderReceipts(conv) {
  conv.list.querySelectorAll('.seen').forEach((node) => node.remove());
  const chats = [...conv.list.querySelectorAll('[data-type="room_chat"]')];
  const names = new Map(); // row -> names
  for (const { name, seq } of conv.readers.values()) {
    const row = chats.findLast((r) => Number(r.dataset.seq) <= seq);
    if (row) names.set(row, [...(names.get(row) ?? []), name]);
  }
  for (const [row, who] of names) {
    row.append(
      el('div', { testId: 'message-seen', className: 'seen', text: `Seen by ${who.join(', ')}` }),
    );
  }
}

// ---- edit, delete, react ------------------------------------------------------------------

$('message-lists').addEventListener('click', async (event) => {
  const button = event.target.closest('button');
  const row = button?.closest('[data-testid="message"]');
  const m = row && messageOf.get(row);
  const conv = convs.get(`room:${m?.roomId}`);
  if (!m || !conv || m.type !== 'room_chat') return;
  const roomId = conv.id;
  const seq = m.seq;
  switch (button.dataset.testid) {
    case 'message-edit':
      return startEditing(conv, m);
    case 'message-delete': {
      if (!confirm('Delete this message for everyone?')) return;
      const reply = await request('room:delete', { roomId, seq });
      if (!reply.ok) return showError('composer-error', plainError(reply, 'delete'), reply);
      return applyChange(conv, reply.message);
    }
    case 'message-react':
      return togglePicker(row, conv, m);
    case 'emoji-option':
    case 'reaction': {
      const emoji = button.dataset.emoji;
      const on = !(m.myReactions ?? []).includes(emoji);
      row.querySelector('.picker')?.remove();
      const reply = await request('room:react', { roomId, seq, emoji, on });
      if (!reply.ok) return showError('composer-error', plainError(reply, 'react'), reply);
      clearError('composer-error');
      if (reply.message) applyChange(conv, reply.message);
      return;
    }
  }
});

/** A small emoji picker under the message; a second click closes it. */
function togglePicker(row, conv, m) {
  const open = row.querySelector('.picker');
  document.querySelectorAll('.picker').forEach((node) => node.remove());
  if (open) return;
  const picker = el('div', { testId: 'emoji-picker', className: 'picker' });
  for (const emoji of REACTION_CHOICES) {
    const option = el('button', { testId: 'emoji-option', className: 'chip', text: emoji });
    option.type = 'button';
    option.dataset.emoji = emoji;
    option.classList.toggle('mine', (m.myReactions ?? []).includes(emoji));
    picker.append(option);
  }
  row.append(picker);
}

function startEditing(conv, m) {
  editing = { conv, seq: m.seq };
  const input = $('composer-input');
  input.value = m.content;
  input.placeholder = 'Edit your message — Enter saves, Escape cancels';
  $('composer').classList.add('editing');
  $('composer-send').textContent = 'Save';
  renderCounter();
  input.focus();
}

function stopEditing() {
  editing = undefined;
  const input = $('composer-input');
  input.placeholder = 'Write a message';
  $('composer').classList.remove('editing');
  $('composer-send').textContent = 'Send';
}

$('composer-input').addEventListener('keydown', (event) => {
  const input = $('composer-input');
  if (event.key === 'Escape' && editing) {
    stopEditing();
    input.value = '';
    renderCounter();
    return;
  }
  if (event.key !== 'ArrowUp' || input.value !== '' || editing) return;
  // Arrow up in an empty box edits one's last message in the room.
  const conv = convs.get(active);
  if (conv?.kind !== 'room') return;
  const last = [...conv.list.querySelectorAll('[data-type="room_chat"].mine:not(.deleted)')].at(-1);
  const m = last && messageOf.get(last);
  if (!m) return;
  event.preventDefault();
  startEditing(conv, m);
});

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
  renderCounter();
  const conv = convs.get(active);
  if (conv?.kind !== 'room' || !socket?.connected || !$('composer-input').value.trim()) return;
  if (Date.now() - (conv.typingSentAt ?? 0) < TYPING_EMIT_EVERY_MS) return;
  conv.typingSentAt = Date.now();
  socket.emit('typing', { roomId: conv.id }, () => {}); // an ack, so errors stay quiet
});

// ---- sending ----------------------------------------------------------------------------

/** "1,987 / 2,000" once a message nears the server's limit; red past it. */
function renderCounter() {
  const max = maxLength();
  const length = max ? codePoints($('composer-input').value) : 0;
  const counter = $('composer-counter');
  counter.textContent = max && length > max * 0.8 ? `${count(length)} / ${count(max)}` : '';
  counter.classList.toggle('over', Boolean(max) && length > max);
}

$('composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('composer-input');
  const content = input.value;
  const conv = convs.get(active);
  if (!conv || !content.trim()) return;
  const length = codePoints(content);
  const max = maxLength();
  if (max && length > max) {
    // Not sent: the server would refuse it. The text stays, to be shortened.
    return showError(
      'composer-error',
      `That message is ${count(length)} characters long; the limit is ${count(max)}. Shorten it by ${count(length - max)}.`,
    );
  }
  input.value = '';
  renderCounter();
  if (editing) {
    const { seq } = editing;
    const editConv = editing.conv;
    stopEditing();
    const reply = await request('room:edit', { roomId: editConv.id, seq, content }, { send: true });
    if (!reply.ok) {
      if (!input.value) input.value = content;
      renderCounter();
      return showError('composer-error', plainError(reply, 'edit'), reply);
    }
    clearError('composer-error');
    return applyChange(editConv, reply.message);
  }
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
    renderCounter();
    return showError('composer-error', plainError(reply, 'send', conv), reply);
  }
  clearError('composer-error');
  showLive(conv, reply.message);
  if (memo && !reply.delivered) addNote(conv, `${conv.title} is offline: the memo waits for them.`);
});

// ---- start ------------------------------------------------------------------------------

const saved = readSession();
if (saved) {
  restore(saved); // connect at once: a reload is back before the server's presence grace ends
  void loadInfo();
} else {
  await loadInfo();
  showSignIn();
}
