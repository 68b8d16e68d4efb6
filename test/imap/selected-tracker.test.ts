// Unit tests of the selected-mailbox tracker (src/imap/selected.ts): the untagged updates it derives from
// the store's successive states, including its shortcut when the state object did not change, the
// keyword announcements, VANISHED under QRESYNC, MODSEQ under CONDSTORE and when it acknowledges.
import { describe, expect, it } from 'vitest';
import { Selected } from '../../src/imap/selected.js';
import type { Mailbox, MailboxState, MessageInfo } from '../../src/store/types.js';

function msg(uid: number, flags: string[] = [], recent = false, modseq = 1): MessageInfo {
  return { uid, flags: new Set(flags), size: 10, internalDate: new Date(0), recent, modseq };
}

type Fake = Mailbox & { set(m: MessageInfo[], highest?: number): void; acks: MailboxState[] };

function fakeMailbox(messages: MessageInfo[], keywords: string[] = []): Fake {
  let state: MailboxState = { uidValidity: 7, uidNext: 100, keywords, messages, highestModseq: 5 };
  const acks: MailboxState[] = [];
  return {
    name: 'INBOX',
    readOnly: false,
    acks,
    get state() { return state; },
    set(m: MessageInfo[], highest = state.highestModseq + 1) { state = { ...state, messages: m, highestModseq: highest }; },
    refresh: async () => state,
    read: async () => Buffer.alloc(0),
    stream: () => { throw new Error('unused'); },
    streamTransient: () => { throw new Error('unused'); },
    facts: () => { throw new Error('unused'); },
    factsAll: () => { throw new Error('unused'); },
    setFlags: async () => state,
    expunge: async () => [],
    acknowledge: (st: MailboxState) => { acks.push(st); },
    expungedSince: async () => ({ uids: [], complete: true }),
    watch: () => () => {},
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

  it('keeps vanished messages, with what the client knew of them, while EXPUNGE may not be sent', () => {
    const two = msg(2, ['\\Answered']);
    const mb = fakeMailbox([msg(1), two, msg(3)]);
    const sel = new Selected(mb, false, 'INBOX');
    mb.set([msg(1), msg(3)]);
    expect(sel.updates(false)).toEqual([]);
    expect(sel.view.map((e) => e.gone)).toEqual([false, true, false]);
    expect(sel.exists(1)).toBe(false);
    expect(sel.current(1)).toBe(two); // FETCH answers from the last info
    expect(sel.inStep).toBe(false);
    // Same state object as before: the pending EXPUNGE must still go out.
    expect(sel.updates(false)).toEqual([]);
    expect(sel.updates(true)).toEqual(['* 2 EXPUNGE']);
    expect(sel.uids).toEqual([1, 3]);
    expect(sel.updates(true)).toEqual([]);
  });

  it('acknowledges a state only once the client was told all of it, and once per state', () => {
    const mb = fakeMailbox([msg(1), msg(2)]);
    const sel = new Selected(mb, false, 'INBOX');
    mb.set([msg(2)]);
    sel.updates(false);
    sel.acknowledge();
    expect(mb.acks).toEqual([]); // EXPUNGE 1 not sent yet: the client may still FETCH it
    sel.updates(true);
    sel.acknowledge();
    sel.acknowledge();
    expect(mb.acks).toEqual([mb.state]);
    expect(sel.inStepModseq).toBe(mb.state.highestModseq);
  });

  it('does not repeat flags the client was told by FETCH', () => {
    const mb = fakeMailbox([msg(1), msg(2)]);
    const sel = new Selected(mb, false, 'INBOX');
    const seen = msg(2, ['\\Seen']);
    mb.set([msg(1), seen]);
    sel.told(1, seen);
    expect(sel.updates(true)).toEqual([]);
  });

  it('announces a keyword in FLAGS and PERMANENTFLAGS before the first FETCH that names it', () => {
    const mb = fakeMailbox([msg(1, ['$Old']), msg(2)], ['Listed']);
    const sel = new Selected(mb, false, 'INBOX');
    expect(sel.flagLines()[0]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen Listed $Old)');
    mb.set([msg(1, ['$Old']), msg(2, ['$Label1'])]);
    expect(sel.updates(true)).toEqual([
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen Listed $Old $Label1)',
      '* OK [PERMANENTFLAGS (\\* \\Answered \\Flagged \\Deleted \\Draft \\Seen Listed $Old $Label1)] Permanent flags',
      '* 2 FETCH (UID 2 FLAGS ($Label1))',
    ]);
    expect(sel.announce(['$Label1', '\\Seen'])).toEqual([]);
  });

  it('sends VANISHED instead of EXPUNGE under QRESYNC, and MODSEQ under CONDSTORE', () => {
    const mb = fakeMailbox([msg(1), msg(2), msg(3), msg(4)]);
    const sel = new Selected(mb, false, 'INBOX', { condstore: true, qresync: true });
    mb.set([msg(1, [], false, 1), msg(4, [], false, 9)]);
    // Flags unchanged but a new mod-sequence (set and cleared by someone): a CONDSTORE client hears it.
    expect(sel.updates(true)).toEqual(['* VANISHED 2:3', '* 2 FETCH (UID 4 FLAGS () MODSEQ (9))']);
  });
});

describe('QRESYNC when the change log was compacted', () => {
  it('reports every UID below UIDNEXT that is not there, above what sequence-match data proves', async () => {
    const { vanishedSince, matchedFloor } = await import('../../src/imap/qresync.js');
    const { parseSequenceSet } = await import('../../src/imap/sequence.js');
    const mb = fakeMailbox([msg(2), msg(3), msg(7), msg(40)]);
    mb.expungedSince = async () => ({ uids: [5], complete: false });
    const sel = new Selected(mb, false, 'INBOX');
    expect(await vanishedSince(sel, 1, null)).toBe('1,4:6,8:39,41:99');
    expect(await vanishedSince(sel, 1, parseSequenceSet('3:10,50:*'))).toBe('4:6,8:10,50:99');
    // The client's cache: seq 1 = UID 2, seq 2 = UID 3 (true), seq 3 = UID 6 (stale): floor is 3.
    const floor = matchedFloor(sel, parseSequenceSet('1:3'), parseSequenceSet('2,3,6'));
    expect(floor).toBe(3);
    expect(await vanishedSince(sel, 1, parseSequenceSet('1:10'), floor)).toBe('4:6,8:10');
    // A huge range costs no more than the mailbox is long.
    expect(matchedFloor(sel, parseSequenceSet('1:4294967295'), parseSequenceSet('2:4294967295'))).toBe(3);
    mb.expungedSince = async () => ({ uids: [1, 5, 60], complete: true });
    expect(await vanishedSince(sel, 1, parseSequenceSet('2:59'))).toBe('5');
  });
});
