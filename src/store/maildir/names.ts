// IMAP wire names ↔ Maildir++ directories. Wire names arrive in modified UTF-7 with '/' as separator;
// on disk Dovecot keeps the same modified UTF-7 and uses '.' between levels: "Archive/2024" →
// "<root>/.Archive.2024". Like Dovecot's default (no storage escape character), a name containing '.'
// cannot be stored and is refused with Dovecot's own message.

import { join } from 'node:path';
import { StoreError } from '../types.js';

export const INBOX = 'INBOX';

export function validateName(name: string): void {
  if (name.toUpperCase() === INBOX) return;
  if (name.includes('.')) throw new StoreError('CANNOT', "Character not allowed in mailbox name: '.'");
  if (name === '' || name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    throw new StoreError('CANNOT', 'Invalid mailbox name');
  }
  if (/[\x00-\x1f\x7f]/.test(name)) throw new StoreError('CANNOT', 'Invalid mailbox name');
  if (name.length > 255) throw new StoreError('LIMIT', 'Mailbox name too long');
}

/** Directory of a mailbox; INBOX is the maildir root itself. */
export function mailboxDir(root: string, name: string): string {
  if (name.toUpperCase() === INBOX) return root;
  validateName(name);
  return join(root, `.${name.split('/').join('.')}`);
}

/** Wire name of a root entry, or undefined when the entry is not a Maildir++ folder. */
export function nameOfEntry(entry: string): string | undefined {
  if (!entry.startsWith('.') || entry === '.' || entry === '..') return undefined;
  const parts = entry.slice(1).split('.');
  if (parts.some((p) => p === '')) return undefined; // "..DOVECOT-TRASHED", "..dmail-deleted.*"
  return parts.join('/');
}
