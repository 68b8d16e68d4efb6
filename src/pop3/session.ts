// One POP3 conversation (RFC 1939): AUTHORIZATION → TRANSACTION → UPDATE. Commands are pulled from
// the LineQueue one at a time and answered in order, which is what makes PIPELINING (RFC 2449) safe.
// Authentication commands live here; maildrop commands in transaction.ts.

import type { ServerContext } from '../session/context.js';
import type { Connection } from '../transport/types.js';
import type { ClientInfo } from '../auth/types.js';
import type { Logger } from '../log/types.js';
import type { Mailbox } from '../store/types.js';
import type { GrantResult, UserSession } from '../session/login.js';
import type { LoginStop, ServeOptions } from '../session/handoff.js';
import type { InputLine, LineQueue } from './line-queue.js';
import { Maildrop } from './maildrop.js';
import { lockMaildrop, type MaildropLock } from './maildrop-lock.js';
import { capabilities, err, multiline, ok } from './responses.js';
import { clientText, decodeBase64, encodeBase64, isSaslMechanism, parsePlain, SASL_MECHANISMS } from './sasl.js';
import { transactionCommand, type Pop3State, type TransactionSession } from './transaction.js';

export type { Pop3State };

/** Lines longer than this break RFC 2449's limit; we still accept them up to max_line_length. */
const RFC_LINE_LIMIT = 255 - 2;

export class Pop3Session implements TransactionSession {
  state: Pop3State = 'AUTHORIZATION';
  log: Logger;
  /** Name given by USER, waiting for PASS. */
  private pendingUser: string | undefined;
  private failures = 0;
  user: UserSession | undefined;
  mailbox: Mailbox | undefined;
  maildrop: Maildrop | undefined;
  private lock: MaildropLock | undefined;
  /** Login name as the client typed it (for replies). */
  loginName = '';
  /** The login was handed over (ServeOptions.stopAtLogin): the connection is no longer ours. */
  handedOff = false;

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
    readonly input: LineQueue,
    readonly timestamp: string,
    readonly serve: ServeOptions = {},
  ) {
    this.log = ctx.log;
  }

  /** Queue a reply. False when the connection is being dropped for not reading its output. */
  send(text: string): boolean {
    return this.conn.write(text);
  }

  /** Runs commands until QUIT or the client goes away. Never throws. */
  async run(): Promise<void> {
    try {
      if (this.serve.resume) await this.resumeLogin(this.serve.resume);
      for (;;) {
        if (this.state === 'CLOSED') return;
        const line = await this.nextLine();
        if (!line) return;
        await this.handle(line);
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'pop3 session failed');
      this.send(err('[SYS/TEMP] internal error, closing connection'));
      this.state = 'CLOSED';
    } finally {
      await this.cleanup();
    }
  }

  /** Waits for the client's next line with the idle timer running; the timer is off while we work on
   *  a command (a slow login or expunge is not client idleness). */
  async nextLine(): Promise<InputLine | null> {
    this.armIdleTimer();
    const line = await this.input.next();
    this.conn.setIdleTimeout(0, () => undefined);
    return line;
  }

  armIdleTimer(): void {
    const seconds = this.ctx.settings.pop_timeout || 600;
    this.conn.setIdleTimeout(seconds, () => {
      this.log.info({ seconds }, 'idle timeout; nothing deleted');
      this.send(err('Disconnected for inactivity'));
    });
  }

  /** A dropped connection or a timeout changes nothing: no UPDATE, just let go of everything. */
  async cleanup(): Promise<void> {
    this.state = 'CLOSED';
    await this.releaseMaildrop();
    await this.user?.close().catch((e: Error) => this.log.warn({ err: e.message }, 'closing session failed'));
    this.user = undefined;
  }

  private async releaseMaildrop(): Promise<void> {
    const mailbox = this.mailbox;
    this.mailbox = undefined;
    await mailbox?.close().catch((e: Error) => this.log.warn({ err: e.message }, 'closing INBOX failed'));
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }

  private async handle(line: InputLine): Promise<void> {
    if (line.tooLong) {
      this.log.warn({ length: line.length }, 'command line too long');
      this.send(err('Command line too long'));
      return;
    }
    if (line.length > RFC_LINE_LIMIT) this.log.debug('command line longer than RFC 2449 allows'); // no length: it may be a PASS line
    this.user?.activity('INBOX'); // for dmailctl who (a POP3 session works on the maildrop)
    const text = clientText(line.bytes);
    const space = text.indexOf(' ');
    const keyword = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : text.slice(space + 1);
    // Arguments are logged only for commands that cannot carry a secret; a confused client may well send
    // its password as a line of its own.
    // Not even the length of the rest: for PASS it is the password's length.
    this.log.debug(LOGGABLE_ARGS.has(keyword) ? { cmd: keyword, args: rest.slice(0, 100) }
      : { cmd: KNOWN_COMMANDS.has(keyword) ? keyword : '(unknown)' }, 'command');

    if (keyword === '') {
      this.send(err('Empty command'));
      return;
    }
    if (keyword === 'QUIT') return this.quit();
    if (keyword === 'CAPA') return void this.send(multiline('Capability list follows', capabilities(this.capaOptions())));
    if (keyword === 'NOOP' && this.state === 'TRANSACTION') return void this.send(ok(''));

    if (this.state === 'AUTHORIZATION') {
      switch (keyword) {
        case 'USER': return this.userCommand(rest);
        case 'PASS': return this.passCommand(rest);
        case 'APOP': return this.apopCommand(rest);
        case 'AUTH': return this.authCommand(rest);
        case 'STLS': return this.stlsCommand(rest);
      }
      if (TRANSACTION_COMMANDS.has(keyword)) return void this.send(err('Not logged in'));
      return void this.send(err('Unknown command'));
    }
    if (this.state === 'TRANSACTION') {
      if (await transactionCommand(this, keyword, rest)) return;
      if (AUTH_COMMANDS.has(keyword)) return void this.send(err('Already logged in'));
      return void this.send(err('Unknown command'));
    }
  }

  private capaOptions() {
    const authenticated = this.state !== 'AUTHORIZATION';
    return {
      plaintextAllowed: this.plaintextAllowed(),
      stls: !authenticated && this.conn.tlsAvailable && !this.conn.secure,
      authenticated,
    };
  }

  private plaintextAllowed(): boolean {
    return this.conn.secure || !this.ctx.settings.login_disabled;
  }

  private refusePlaintext(): boolean {
    if (this.plaintextAllowed()) return false;
    this.send(err('[AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first'));
    return true;
  }

  private clientInfo(): ClientInfo {
    const c = this.conn;
    return { remoteAddress: c.remoteAddress, remotePort: c.remotePort, localAddress: c.localAddress, localPort: c.localPort, tls: c.secure };
  }

  private userCommand(rest: string): void {
    if (this.refusePlaintext()) return;
    const name = rest.trim();
    if (!name) return void this.send(err('USER needs a user name'));
    this.pendingUser = name;
    // DPOP's words (dmail-reference §3.2).
    this.send(ok(`${name} nice to hear from you - password required`));
  }

  private async passCommand(rest: string): Promise<void> {
    if (this.refusePlaintext()) return;
    const name = this.pendingUser;
    this.pendingUser = undefined;
    if (name === undefined) return void this.send(err('No user name given; send USER first'));
    // The whole rest of the line: passwords may contain spaces (RFC 1939 §7 note).
    const { login } = await import('../session/login.js');
    await this.finishLogin(name, await login(this.ctx, this.clientInfo(), name, rest, this.loginOptions()));
  }

  private async apopCommand(rest: string): Promise<void> {
    const { apopAvailable, loginApop } = await import('../session/login.js');
    if (!apopAvailable(this.ctx)) return void this.send(err('APOP is not enabled on this server'));
    const m = /^(\S+) ([0-9a-fA-F]{32})$/.exec(rest.trim());
    if (!m) return void this.send(err('Syntax: APOP name digest'));
    this.pendingUser = undefined;
    await this.finishLogin(m[1]!, await loginApop(this.ctx, this.clientInfo(), m[1]!, this.timestamp, m[2]!.toLowerCase(), this.loginOptions()));
  }

  /** RFC 5034. A bare AUTH lists the mechanisms (old Outlook asks that way). */
  private async authCommand(rest: string): Promise<void> {
    const [mechArg = '', initial, extra] = rest.trim().split(/ +/);
    const mech = mechArg.toUpperCase();
    if (!mech) return void this.send(multiline('Supported SASL mechanisms follow', this.plaintextAllowed() ? [...SASL_MECHANISMS] : []));
    if (this.refusePlaintext()) return;
    if (!isSaslMechanism(mech)) return void this.send(err(`Unsupported authentication mechanism ${mechArg}`));
    if (extra !== undefined) return void this.send(err('Syntax: AUTH mechanism [initial-response]'));

    let creds: { name: string; password: string } | { error: string } | null;
    if (mech === 'PLAIN') {
      const response = initial === undefined ? await this.challenge('') : initial === '=' ? '' : initial;
      if (response === null) return;
      const decoded = decodeBase64(response);
      creds = decoded ? parsePlain(decoded) : { error: 'invalid base64' };
    } else {
      const nameB64 = initial ?? (await this.challenge('Username:'));
      if (nameB64 === null) return;
      const nameBytes = nameB64 === '=' ? Buffer.alloc(0) : decodeBase64(nameB64);
      if (!nameBytes) {
        creds = { error: 'invalid base64' };
      } else {
        const passB64 = await this.challenge('Password:');
        if (passB64 === null) return;
        const passBytes = decodeBase64(passB64);
        creds = passBytes ? { name: clientText(nameBytes), password: clientText(passBytes) } : { error: 'invalid base64' };
      }
    }
    if ('error' in creds) {
      await this.countFailure();
      if (this.state === 'AUTHORIZATION') this.send(err(`[AUTH] ${creds.error}`));
      return;
    }
    if (!creds.name) return void this.send(err('[AUTH] empty user name'));
    const { login } = await import('../session/login.js');
    await this.finishLogin(creds.name, await login(this.ctx, this.clientInfo(), creds.name, creds.password, this.loginOptions()));
  }

  /** Sends a SASL challenge and reads the answer; null when the client cancelled ('*') or left. */
  private async challenge(prompt: string): Promise<string | null> {
    this.send(`+ ${prompt ? encodeBase64(prompt) : ''}\r\n`);
    const line = await this.nextLine();
    if (!line) {
      this.state = 'CLOSED';
      return null;
    }
    if (line.tooLong) {
      this.send(err('[AUTH] response too long'));
      return null;
    }
    const text = line.bytes.toString('latin1').trim();
    if (text === '*') {
      this.send(err('Authentication cancelled'));
      return null;
    }
    return text;
  }

  private async stlsCommand(rest: string): Promise<void> {
    if (rest.trim()) return void this.send(err('STLS takes no arguments'));
    if (this.conn.secure) return void this.send(err('TLS is already active'));
    if (!this.conn.tlsAvailable) return void this.send(err('STLS is not available on this server'));
    this.send(ok('Begin TLS negotiation'));
    // Anything pipelined after STLS was sent in the clear and must not be obeyed (CVE-2011-0411 class).
    this.input.clear();
    this.pendingUser = undefined;
    try {
      await this.conn.startTls();
      this.input.clear();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'TLS negotiation failed');
      this.state = 'CLOSED';
    }
  }

  /** Counts a failed login; at auth_max_failures the connection is closed. Returns true if closed. */
  private async countFailure(): Promise<boolean> {
    this.failures++;
    const max = this.ctx.settings.auth_max_failures;
    if (max > 0 && this.failures >= max) {
      this.log.info({ failures: this.failures }, 'too many failed logins; disconnecting');
      this.send(err('[AUTH] Too many authentication failures, closing connection'));
      this.state = 'CLOSED';
      return true;
    }
    return false;
  }

  private loginOptions(): { grantOnly: boolean } {
    return { grantOnly: this.serve.stopAtLogin !== undefined };
  }

  private async finishLogin(name: string, result: GrantResult): Promise<void> {
    if (result.ok === 'granted') {
      // Served elsewhere: input stops, what the client pipelined goes along, nothing is answered here.
      this.conn.pause();
      const input = this.input.takeAll();
      this.handedOff = true;
      this.state = 'CLOSED';
      // Earlier answers (USER's +OK) must reach the socket before the descriptor changes hands.
      await this.conn.drain();
      await this.serve.stopAtLogin!({ grant: result.grant, loginName: name, input, enabled: [] });
      return;
    }
    if (!result.ok) {
      if (await this.countFailure()) return;
      this.send(err(`${result.temporary ? '[SYS/TEMP]' : '[AUTH]'} ${result.message}`));
      return;
    }
    await this.enterTransaction(name, result.session);
  }

  /** A login made elsewhere: open it and answer it (the +OK of PASS/APOP/AUTH). */
  private async resumeLogin(stop: LoginStop): Promise<void> {
    const { openSession } = await import('../session/login.js');
    const r = await openSession(this.ctx, this.clientInfo(), stop.grant);
    if (!r.ok) {
      this.send(err(`[SYS/TEMP] ${r.message}`));
      this.state = 'CLOSED';
      return;
    }
    await this.enterTransaction(stop.loginName, r.session);
  }

  private async enterTransaction(name: string, session: UserSession): Promise<void> {
    this.user = session;
    session.activity('INBOX');
    this.loginName = name;
    this.log = session.log;

    const locked = await lockMaildrop(session.paths.indexDir);
    if (!locked.ok) {
      this.log.info({ reason: locked.message }, 'maildrop not available');
      this.send(err(`${locked.inUse ? '[IN-USE]' : '[SYS/TEMP]'} ${locked.message}`));
      // The process may already run as the user (setuid), so no other login can follow: close.
      this.state = 'CLOSED';
      return;
    }
    this.lock = locked.lock;
    let mailbox: Mailbox;
    try {
      mailbox = await session.store.open('INBOX');
      this.mailbox = mailbox;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot open INBOX');
      this.send(err('[SYS/TEMP] Cannot open maildrop, try again later'));
      this.state = 'CLOSED';
      return;
    }
    const state = mailbox.state;
    this.maildrop = new Maildrop(state.uidValidity, state.messages);
    this.state = 'TRANSACTION';
    this.conn.setDeadline(0, () => {}); // login_lifetime bounds only the AUTHORIZATION state
    const { count, octets } = this.maildrop.stat();
    this.log.info({ messages: count, octets }, 'pop3 login');
    const quota = session.quotaKb ? `, quota ${session.quotaKb} KB` : '';
    // DPOP answered "+OK burst ok test has 1 msgs"; we keep its "<user> has N msgs" wording.
    this.send(ok(`${name} has ${count} msgs (${octets} octets)${quota}`));
  }

  private async quit(): Promise<void> {
    if (this.state !== 'TRANSACTION' || !this.maildrop || !this.mailbox) {
      this.send(ok(`${this.ctx.hostname} DPOP signing off`));
      this.state = 'CLOSED';
      return;
    }
    this.state = 'UPDATE';
    const drop = this.maildrop;
    const mailbox = this.mailbox;
    let failed = false;
    const seen = this.ctx.settings.add_status ? drop.seenUids() : [];
    if (seen.length) {
      try {
        await mailbox.setFlags(seen, 'add', ['\\Seen']);
      } catch (e) {
        // Marking read is a courtesy; deletions below matter more, so go on.
        this.log.warn({ err: (e as Error).message }, 'add_status: could not mark messages seen');
      }
    }
    const toDelete = drop.deletedUids();
    let removed: number[] = [];
    if (toDelete.length) {
      try {
        removed = await mailbox.expunge(toDelete);
      } catch (e) {
        failed = true;
        this.log.error({ err: (e as Error).message, uids: toDelete.length }, 'expunge at QUIT failed');
      }
    }
    // Re-read so the count includes mail delivered during the session (kept for the next one).
    const left = (await mailbox.refresh().catch(() => mailbox.state)).messages.length;
    this.log.info({ deleted: removed.length, requested: toDelete.length, seen: seen.length, left }, 'pop3 update');
    // Free the maildrop before answering: a client that reconnects the moment it reads our +OK
    // (fetchmail, getmail, mpop in a loop) must not find it still locked and get [IN-USE].
    await this.releaseMaildrop();
    this.send(failed
      ? err('[SYS/TEMP] Some deleted messages not removed')
      : ok(`${this.ctx.hostname} DPOP signing off (${left ? `${left} messages left` : 'maildrop empty'})`));
    this.state = 'CLOSED';
  }
}

const LOGGABLE_ARGS = new Set(['USER', 'STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL', 'LAST', 'QUIT', 'CAPA', 'STLS']);
const TRANSACTION_COMMANDS = new Set(['STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL', 'LAST']);
const AUTH_COMMANDS = new Set(['USER', 'PASS', 'APOP', 'AUTH', 'STLS']);
const KNOWN_COMMANDS = new Set([...TRANSACTION_COMMANDS, ...AUTH_COMMANDS, 'QUIT', 'CAPA']);
