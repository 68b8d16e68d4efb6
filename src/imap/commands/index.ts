// The command table: which states allow each command and how its updates are sent.
import type { Command, ImapSession, ImapState } from '../session.js';
import type { Result } from '../result.js';
import { capability } from './capability.js';
import { noop } from './noop.js';
import { logout } from './logout.js';
import { id } from './id.js';
import { enable } from './enable.js';
import { namespace } from './namespace.js';
import { starttls } from './starttls.js';
import { loginCommand } from './login.js';
import { authenticate } from './authenticate.js';
import { select } from './select.js';
import { create } from './create.js';
import { deleteMailbox } from './delete.js';
import { rename } from './rename.js';
import { subscribe } from './subscribe.js';
import { list } from './list.js';
import { status } from './status.js';
import { append } from './append.js';
import { getquota, getquotaroot, setquota } from './quota.js';
import { idle } from './idle.js';
import { close } from './close.js';
import { expunge } from './expunge.js';
import { search } from './search.js';
import { sort } from './sort.js';
import { thread } from './thread.js';
import { cancelupdate } from './cancelupdate.js';
import { fetch } from './fetch.js';
import { store } from './store.js';
import { copy } from './copy.js';
import { compress } from './compress.js';
import { notify } from './notify.js';
import { genurlauth, resetkey, urlfetch } from './urlauth.js';

export interface CommandSpec {
  states: readonly ImapState[];
  run: (s: ImapSession, c: Command) => Promise<Result | null>;
  /** Re-read the mailbox before sending updates (false when the command just did). */
  refresh?: boolean;
  /** RFC 3501 §7.4.1: no EXPUNGE responses after FETCH, STORE, SEARCH (their UID forms are fine). */
  noExpunge?: boolean;
}

const ANY: ImapState[] = ['notauth', 'auth', 'selected'];
const NOTAUTH: ImapState[] = ['notauth'];
const AUTH: ImapState[] = ['auth', 'selected'];
const SELECTED: ImapState[] = ['selected'];

export const COMMANDS: Record<string, CommandSpec> = {
  CAPABILITY: { states: ANY, run: capability },
  NOOP: { states: ANY, run: noop },
  LOGOUT: { states: ANY, run: logout, refresh: false },
  ID: { states: ANY, run: id },
  STARTTLS: { states: NOTAUTH, run: starttls },
  COMPRESS: { states: ANY, run: compress },
  LOGIN: { states: NOTAUTH, run: loginCommand },
  AUTHENTICATE: { states: NOTAUTH, run: authenticate },
  ENABLE: { states: AUTH, run: enable },
  NAMESPACE: { states: AUTH, run: namespace },
  SELECT: { states: AUTH, run: select, refresh: false },
  EXAMINE: { states: AUTH, run: select, refresh: false },
  CREATE: { states: AUTH, run: create },
  DELETE: { states: AUTH, run: deleteMailbox },
  RENAME: { states: AUTH, run: rename },
  SUBSCRIBE: { states: AUTH, run: subscribe },
  UNSUBSCRIBE: { states: AUTH, run: subscribe },
  LIST: { states: AUTH, run: list },
  LSUB: { states: AUTH, run: list },
  STATUS: { states: AUTH, run: status },
  APPEND: { states: AUTH, run: append },
  GETQUOTAROOT: { states: AUTH, run: getquotaroot },
  GETQUOTA: { states: AUTH, run: getquota },
  SETQUOTA: { states: AUTH, run: setquota },
  IDLE: { states: AUTH, run: idle },
  NOTIFY: { states: AUTH, run: notify },
  GENURLAUTH: { states: AUTH, run: genurlauth },
  RESETKEY: { states: AUTH, run: resetkey },
  URLFETCH: { states: AUTH, run: urlfetch },
  CHECK: { states: SELECTED, run: noop },
  CLOSE: { states: SELECTED, run: close },
  UNSELECT: { states: SELECTED, run: close },
  EXPUNGE: { states: SELECTED, run: expunge },
  'UID EXPUNGE': { states: SELECTED, run: expunge },
  SEARCH: { states: SELECTED, run: search, noExpunge: true },
  'UID SEARCH': { states: SELECTED, run: search },
  SORT: { states: SELECTED, run: sort, noExpunge: true },
  'UID SORT': { states: SELECTED, run: sort },
  THREAD: { states: SELECTED, run: thread, noExpunge: true },
  'UID THREAD': { states: SELECTED, run: thread },
  CANCELUPDATE: { states: SELECTED, run: cancelupdate },
  FETCH: { states: SELECTED, run: fetch, noExpunge: true },
  'UID FETCH': { states: SELECTED, run: fetch },
  STORE: { states: SELECTED, run: store, noExpunge: true },
  'UID STORE': { states: SELECTED, run: store },
  COPY: { states: SELECTED, run: copy },
  'UID COPY': { states: SELECTED, run: copy },
  MOVE: { states: SELECTED, run: copy },
  'UID MOVE': { states: SELECTED, run: copy },
};
