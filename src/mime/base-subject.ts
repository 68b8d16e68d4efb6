// RFC 5256 §2.1 base subject extraction, step by step, on the subject already decoded from RFC 2047
// (the caller decodes; step 1's decoding is decodeHeaderValue). Used by SORT SUBJECT and by both THREAD
// algorithms. The result is compared with i;unicode-casemap (collation.ts), so case is kept here.
//
//   subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//   subj-blob    = "[" *BLOBCHAR "]" *WSP
//   subj-fwd-hdr = "[fwd:"        subj-fwd-trl = "]"
//   subj-leader  = (*subj-blob subj-refwd) / WSP
//   subj-trailer = "(fwd)" / WSP

import { unicodeCasemap } from './collation.js';

export interface BaseSubject {
  /** The base subject (case kept; compare it through unicodeCasemap). */
  base: string;
  /** The subject was a reply or forward: a subj-refwd leader, a "(fwd)" trailer or a "[fwd: ...]"
   *  wrapper was removed (THREAD=REFERENCES step 5 and ORDEREDSUBJECT use it). */
  replyOrForward: boolean;
}

const LEADER = /^(?:[ \t]|(?:\[[^[\]]*\][ \t]*)*(?:re|fwd?)[ \t]*(?:\[[^[\]]*\][ \t]*)?:)/i;
const BLOB = /^\[[^[\]]*\][ \t]*/;
const TRAILER = /(?:[ \t]|\(fwd\))$/i;
const TRAILER_FWD = /\(fwd\)$/i;

/** RFC 5256 §2.1 steps 1 (whitespace part) to 7. */
export function baseSubject(decoded: string): BaseSubject {
  let replyOrForward = false;
  // (1) Tabs and line breaks (continuations) become spaces; runs of spaces become one.
  let s = decoded.replace(/\r?\n|\r|\t/g, ' ').replace(/ {2,}/g, ' ');
  for (;;) {
    // (2) Remove trailing subj-trailers, repeatedly.
    for (let m = TRAILER.exec(s); m; m = TRAILER.exec(s)) {
      if (TRAILER_FWD.test(m[0])) replyOrForward = true;
      s = s.slice(0, s.length - m[0].length);
    }
    // (3)-(5) Remove subj-leaders, and a subj-blob when something is left after it, until neither
    // applies.
    for (let changed = true; changed; ) {
      changed = false;
      for (let m = LEADER.exec(s); m; m = LEADER.exec(s)) {
        if (m[0] !== ' ' && m[0] !== '\t') replyOrForward = true;
        s = s.slice(m[0].length);
        changed = true;
      }
      const b = BLOB.exec(s);
      if (b && b[0].length < s.length) {
        s = s.slice(b[0].length);
        changed = true;
      }
    }
    // (6) "[fwd: ... ]": unwrap and go again from step 2.
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      replyOrForward = true;
      continue;
    }
    // (7)
    return { base: s, replyOrForward };
  }
}

/** What SORT SUBJECT and THREAD compare: the i;unicode-casemap key of a decoded Subject's base subject
 *  ('' for none) and whether it was a reply or forward. The one place both the imap layer (sort-keys.ts)
 *  and the store's key columns (facts.ts, facts-keys.ts) work it out. */
export function subjectKey(subject: string | null): { key: string; replyOrForward: boolean } {
  if (subject === null) return { key: '', replyOrForward: false };
  const b = baseSubject(subject);
  return { key: unicodeCasemap(b.base), replyOrForward: b.replyOrForward };
}
