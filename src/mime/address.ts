// RFC 5322 address lists parsed the way Dovecot's message-address.c does (with FILL_MISSING, as its
// ENVELOPE uses), including obsolete routes, groups and its recovery from broken input.
import { NUL_REPLACEMENT, Rfc822Parser } from './rfc822-parser.js';

/** One ENVELOPE address. Group start: mailbox = group name, domain null; group end: both null. */
export interface Address {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
}

interface Ctx {
  p: Rfc822Parser;
  out: Address[];
  addr: Address;
  /** Dovecot's ctx->str: scratch buffer shared between steps (parse_addr_spec reuses it). */
  str: { v: string };
}

function emptyAddr(): Address {
  return { name: null, route: null, mailbox: null, domain: null };
}

function addAddress(ctx: Ctx): void {
  ctx.out.push(ctx.addr);
  ctx.addr = emptyAddr();
}

function parseLocalPart(ctx: Ctx): number {
  ctx.str.v = '';
  const ret = ctx.p.cur() === 0x22 ? ctx.p.parseQuotedString(ctx.str) : ctx.p.parseLocalDots(ctx.str);
  if (ret < 0) return -1;
  ctx.addr.mailbox = ctx.str.v;
  return ret;
}

function parseDomain(ctx: Ctx): number {
  ctx.str.v = '';
  const ret = ctx.p.parseDomain(ctx.str);
  if (ret < 0) return -1;
  ctx.addr.domain = ctx.str.v;
  return ret;
}

function parseDomainList(ctx: Ctx): number {
  const p = ctx.p;
  ctx.str.v = '';
  for (;;) {
    if (p.atEnd()) return 0;
    if (p.cur() !== 0x40) break;
    if (ctx.str.v.length > 0) ctx.str.v += ',';
    ctx.str.v += '@';
    const ret = p.parseDomain(ctx.str);
    if (ret <= 0) return ret;
    while (p.skipLwsp() > 0 && p.cur() === 0x2c) p.pos++;
  }
  ctx.addr.route = ctx.str.v;
  return 1;
}

function parseAngleAddr(ctx: Ctx): number {
  const p = ctx.p;
  p.pos++; // '<'
  if (p.skipLwsp() <= 0) return -1;
  if (p.cur() === 0x40) {
    if (parseDomainList(ctx) > 0 && p.cur() === 0x3a) {
      p.pos++;
    } else {
      ctx.addr.route = 'INVALID_ROUTE';
      if (p.atEnd()) return -1;
    }
    if (p.skipLwsp() <= 0) return -1;
  }
  if (p.cur() !== 0x3e) {
    if (parseLocalPart(ctx) <= 0) return -1;
    if (p.cur() === 0x40) {
      if (parseDomain(ctx) <= 0) return -1;
    }
  }
  if (p.cur() !== 0x3e) return -1;
  p.pos++;
  return p.skipLwsp();
}

function parseNameAddr(ctx: Ctx): number {
  const p = ctx.p;
  ctx.str.v = '';
  if (p.parsePhrase(ctx.str) <= 0 || p.cur() !== 0x3c) return -1;
  ctx.addr.name = ctx.str.v.length === 0 ? null : ctx.str.v;
  if (parseAngleAddr(ctx) < 0) {
    ctx.addr.domain = 'SYNTAX_ERROR';
  }
  return p.pos < p.end ? 1 : 0;
}

function parseAddrSpec(ctx: Ctx): number {
  const p = ctx.p;
  if (p.lastComment !== null) p.lastComment = '';
  const quoted = p.cur() === 0x22;
  let ret = parseLocalPart(ctx);
  let ret2 = -2;
  if (ret !== 0 && !p.atEnd() && p.cur() === 0x40) {
    ret2 = parseDomain(ctx);
    if (ret2 <= 0) ret = ret2;
  }
  if (p.lastComment !== null && p.lastComment.length > 0) {
    ctx.addr.name = p.lastComment;
  } else if (ret2 === -2) {
    // A lone "user" is a mailbox, but "user more words" was really a display name.
    ctx.str.v += ' ';
    const before = ctx.str.v.length;
    if (!p.atEnd()) p.parsePhrase(ctx.str);
    if (ctx.str.v.length !== before) {
      ctx.addr.mailbox = null;
      ctx.addr.name = ctx.str.v;
    } else if (quoted) {
      // A lone "quoted string" is taken as a display name (Dovecot 2.3).
      ctx.addr.name = ctx.addr.mailbox;
      ctx.addr.mailbox = null;
    } else {
      ctx.addr.domain = '';
    }
  }
  return ret;
}

function parseMailbox(ctx: Ctx): number {
  const p = ctx.p;
  const start = p.pos;
  if (parseNameAddr(ctx) < 0) {
    // Not name-addr: start again as addr-spec, dropping anything the failed attempt set.
    p.pos = start;
    ctx.addr = emptyAddr();
    parseAddrSpec(ctx);
  }
  // An empty quoted local part ("") stays empty; only a missing one is filled (Dovecot 2.3).
  if (ctx.addr.mailbox === null) ctx.addr.mailbox = 'MISSING_MAILBOX';
  if (ctx.addr.domain === null || ctx.addr.domain === '') ctx.addr.domain = 'MISSING_DOMAIN';
  addAddress(ctx);
  // A broken mailbox is recorded and parsing goes on while input remains (checked against
  // Dovecot 2.3: "g: @x, d@e.f;" keeps d@e.f inside the group).
  return p.pos < p.end ? 1 : 0;
}

function parseGroup(ctx: Ctx): number {
  const p = ctx.p;
  ctx.str.v = '';
  if (p.parsePhrase(ctx.str) <= 0 || p.cur() !== 0x3a) return -1;
  p.pos++;
  let ret = p.skipLwsp();
  ctx.addr.mailbox = ctx.str.v;
  addAddress(ctx);
  if (ret > 0 && p.cur() !== 0x3b) {
    for (;;) {
      if (parseMailbox(ctx) <= 0) {
        ret = -1;
        break;
      }
      if (p.cur() !== 0x2c) break;
      p.pos++;
      if (p.skipLwsp() <= 0) {
        ret = -1;
        break;
      }
    }
  }
  if (ret >= 0) {
    if (p.atEnd() || p.cur() !== 0x3b) ret = -1;
    else {
      p.pos++;
      ret = p.skipLwsp();
    }
  }
  addAddress(ctx); // group end marker
  return ret === 0 ? 0 : 1;
}

function parseAddress(ctx: Ctx): number {
  const start = ctx.p.pos;
  let ret = parseGroup(ctx);
  if (ret < 0) {
    ctx.p.pos = start;
    ctx.addr = emptyAddr();
    ret = parseMailbox(ctx);
  }
  return ret;
}

const MAX_ADDRESSES = 10000;

/** Parses an address header value (wire string). Empty → null (ENVELOPE NIL). */
export function parseAddressList(value: string): Address[] | null {
  const p = new Rfc822Parser(value, true, NUL_REPLACEMENT);
  if (p.skipLwsp() <= 0) return null;
  const ctx: Ctx = { p, out: [], addr: emptyAddr(), str: { v: '' } };
  // Each round consumes input or stops, but cap rounds anyway so hostile input stays bounded.
  for (let n = 0; n < MAX_ADDRESSES; n++) {
    const before = p.pos;
    if (parseAddress(ctx) === 0) break;
    if (p.cur() !== 0x2c) break;
    p.pos++;
    const ret = p.skipLwsp();
    if (ret <= 0) {
      // Ends with garbage such as an unterminated comment: one more (empty) address, as Dovecot.
      if (ret < 0) ctx.out.push({ name: null, route: null, mailbox: 'MISSING_MAILBOX', domain: 'MISSING_DOMAIN' });
      break;
    }
    if (p.pos === before) break;
  }
  return ctx.out.length > 0 ? ctx.out : null;
}

/** Header fields SEARCH also matches in normalised address form (addressSearchText). */
export const ADDRESS_SEARCH_FIELDS: ReadonlySet<string> = new Set(['from', 'to', 'cc', 'bcc', 'sender', 'reply-to']);

/**
 * An address header as SEARCH FROM/TO/CC/BCC sees it besides its text: every address rewritten in
 * plain form, `Display Name <local@domain>`, comments and folding gone (as Dovecot's address parser
 * normalises it), so `<user (comment)@ (comment) domain.org>` is found by `user@domain.org`.
 * `decode` turns a display name (wire string, maybe RFC 2047) into text. Fillers for missing parts
 * are left out; a group shows as its name and a colon.
 */
export function addressSearchText(value: string, decode: (wire: string) => string): string {
  const list = parseAddressList(value);
  if (!list) return '';
  const out: string[] = [];
  for (const a of list) {
    if (a.domain === null) {
      if (a.mailbox !== null) out.push(`${decode(a.mailbox)}:`);
      continue;
    }
    const mailbox = a.mailbox === 'MISSING_MAILBOX' || a.mailbox === null ? '' : a.mailbox;
    const domain = a.domain === 'MISSING_DOMAIN' ? '' : a.domain;
    const spec = domain ? `${mailbox}@${domain}` : mailbox;
    const name = a.name === null ? '' : decode(a.name);
    out.push(name ? `${name} <${spec}>` : `<${spec}>`);
  }
  return out.join(', ');
}
