// Message-IDs as THREAD=REFERENCES reads them (RFC 5256 §2.2 with RFC 5322 msg-id): "<left@right>",
// comments and whitespace inside ignored. Linear in the input; bounded by the caller's field size.

/** Every valid msg-id in a field value, in order, without the angle brackets. */
export function messageIds(value: string, limit = Infinity): string[] {
  const out: string[] = [];
  const text = value.includes('(') ? value.replace(/\((?:[^()\\]|\\.)*\)/g, '') : value;
  let i = 0;
  while (out.length < limit) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    const gt = text.indexOf('>', lt + 1);
    if (gt < 0) break;
    const next = text.indexOf('<', lt + 1);
    if (next >= 0 && next < gt) {
      i = next; // "<junk <id@x>": start again at the inner '<'
      continue;
    }
    const id = text.slice(lt + 1, gt).replace(/[ \t\r\n]+/g, '');
    const at = id.indexOf('@');
    if (at > 0 && at < id.length - 1) out.push(id);
    i = gt + 1;
  }
  return out;
}
