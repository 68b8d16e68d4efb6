// POP3 unique-ids (Decisions 9). A message's own X-UIDL header wins when it is a valid, unused unique-id
// (older POP servers wrote one, and clients that leave mail on the server remember those). Otherwise the
// id is derived from UIDVALIDITY and UID in Dovecot's default pop3_uidl_format `%08Xu%08Xv`, so ids
// survive flag changes and spool rewrites (the store keeps UIDs), and a site that moves to Dovecot on the
// same mail keeps them too.

/** RFC 1939: 1 to 70 characters in the range 0x21 to 0x7E. */
export function isValidUidl(s: string): boolean {
  return s.length >= 1 && s.length <= 70 && /^[\x21-\x7e]+$/.test(s);
}

export function derivedUidl(uidValidity: number, uid: number): string {
  const hex8 = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return hex8(uid) + hex8(uidValidity);
}

/** Unique-ids for a maildrop snapshot, in message order. */
export function assignUidls(uidValidity: number, messages: readonly { uid: number; uidl?: string }[]): string[] {
  const taken = new Set<string>();
  const out: (string | undefined)[] = messages.map((m) => {
    const own = m.uidl?.trim();
    if (own && isValidUidl(own) && !taken.has(own)) {
      taken.add(own);
      return own;
    }
    return undefined;
  });
  return out.map((id, i) => {
    if (id !== undefined) return id;
    const uid = messages[i]!.uid;
    let derived = derivedUidl(uidValidity, uid);
    // Only a hostile X-UIDL header could collide with a derived id; keep ids unique regardless.
    for (let n = 1; taken.has(derived); n++) derived = `${derivedUidl(uidValidity, uid)}-${n}`;
    taken.add(derived);
    return derived;
  });
}
