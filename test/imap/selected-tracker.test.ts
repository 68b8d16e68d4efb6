// Unit tests of the selected-mailbox tracker (src/imap/selected.ts): the untagged updates it derives from
// the store's successive states, including its shortcut when the state object did not change.
import { describe, expect, it } from 'vitest';
import { Selected } from '../../src/imap/selected.js';
import type { Mailbox, MailboxState, MessageInfo } from '../../src/store/types.js';

function msg(uid: number, flags: string[] = [], recent = false): MessageInfo {
  return { uid, flags: new Set(flags), size: 10, internalDate: new Date(0), recent };
}

function fakeMailbox(messages: MessageInfo[]): Mailbox & { set(m: MessageInfo[]): void } {
  let state: MailboxState = { uidValidity: 7, uidNext: 100, keywords: [], messages };
  return {
    name: 'INBOX',
    readOnly: false,
    get state() { return state; },
    set(m: MessageInfo[]) { state = { ...state, messages: m }; },
    refresh: async () => state,
    read: async () => Buffer.alloc(0),
    stream: () => { throw new Error('unused'); },
    setFlags: async () => state,
    expunge: async () => [],
    close: async () => {},
  };
}

describe('selected mailbox tracker', () => {
  it('has nothing to announce right after SELECT, and looks up infos by UID', () => {
    const mb = fakeMailbox([msg(1), msg(3, ['\\Seen']), msg(8, [], true)]);
    const sel = new Selected(mb, false, 'INBOX');
    expect(sel.updates(true)).toEqual([]);
    expect(sel.uids).toEqual([1, 3, 8]);
    expect(sel.info(3)?.flags.has('\\Seen')).toBe(true);
    expect(sel.info(2)).toBeUndefined();
    expect(sel.info(9)).toBeUndefined();
  });

  it('reports expunges high-to-low, flag changes, new mail and RECENT', () => {
    const mb = fakeMailbox([msg(1), msg(2), msg(3), msg(4)]);
    const sel = new Selected(mb, false, 'INBOX');
    mb.set([msg(1), msg(3, ['\\Flagged']), msg(5, [], true)]);
    expect(sel.updates(true)).toEqual([
      '* 4 EXPUNGE',
      '* 2 EXPUNGE',
      '* 2 FETCH (UID 3 FLAGS (\\Flagged))',
      '* 3 EXISTS',
      '* 1 RECENT',
    ]);
    expect(sel.uids).toEqual([1, 3, 5]);
    expect(sel.updates(true)).toEqual([]);
  });

  it('keeps vanished messages while EXPUNGE may not be sent, and announces them later without a new state', () => {
    const mb = fakeMailbox([msg(1), msg(2), msg(3)]);
    const sel = new Selected(mb, false, 'INBOX');
    mb.set([msg(1), msg(3)]);
    expect(sel.updates(false)).toEqual([]);
    expect(sel.view.map((e) => e.gone)).toEqual([false, true, false]);
    // Same state object as before: the pending EXPUNGE must still go out.
    expect(sel.updates(false)).toEqual([]);
    expect(sel.updates(true)).toEqual(['* 2 EXPUNGE']);
    expect(sel.uids).toEqual([1, 3]);
    expect(sel.updates(true)).toEqual([]);
  });

  it('does not repeat flags the client was told by FETCH', () => {
    const mb = fakeMailbox([msg(1), msg(2)]);
    const sel = new Selected(mb, false, 'INBOX');
    const seen = msg(2, ['\\Seen']);
    mb.set([msg(1), seen]);
    sel.told(1, seen.flags);
    expect(sel.updates(true)).toEqual([]);
  });
});
