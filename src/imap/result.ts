// What a command handler returns: the tagged status, sent by the dispatcher after the untagged updates.

export interface Result {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  /** Prefix the text with `[HIGHESTMODSEQ n]` of the selected mailbox once the untagged updates
   *  are sent (RFC 7162: EXPUNGE and CLOSE with QRESYNC). */
  highestModseq?: boolean;
}

export const ok = (text: string): Result => ({ status: 'OK', text });
export const no = (text: string): Result => ({ status: 'NO', text });
export const bad = (text: string): Result => ({ status: 'BAD', text });
