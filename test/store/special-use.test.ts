// The rules of the per-user special-use file (src/store/special-use.ts), shared by both stores.
import { describe, expect, it } from 'vitest';
import { afterCreate, afterDelete, afterRename, formatUses, normalUses, parseUses } from '../../src/store/special-use.js';
import { StoreError } from '../../src/store/types.js';

const map = (o: Record<string, string[]>) => new Map(Object.entries(o));
const obj = (m: ReadonlyMap<string, readonly string[]> | null) => (m ? Object.fromEntries(m) : null);

describe('special-use file', () => {
  it('round-trips, ignores lines it cannot read and files of another format', () => {
    const m = map({ Drafts: ['\\Drafts'], 'Archive/2024': ['\\Archive', '\\Sent'] });
    const text = formatUses(m);
    expect(text).toBe('dmail-special-use 1\nArchive/2024\t\\Archive \\Sent\nDrafts\t\\Drafts\n');
    expect(obj(parseUses(text))).toEqual(obj(m));
    expect(obj(parseUses(`${text}garbage\n\tx\nJunk\t\\All \\junk\n`))).toEqual({ ...obj(m), Junk: ['\\Junk'] });
    expect(parseUses('something else\nDrafts\t\\Drafts\n').size).toBe(0);
    expect(parseUses('').size).toBe(0);
  });

  it('keeps only uses a store can keep, in their spelling, once', () => {
    expect(normalUses(['\\drafts', '\\SENT', '\\Drafts'])).toEqual(['\\Drafts', '\\Sent']);
    for (const bad of ['\\All', '\\Flagged', '\\Important', 'Drafts']) expect(() => normalUses([bad])).toThrow(StoreError);
    expect(normalUses(['\\All', '\\Trash'], false)).toEqual(['\\Trash']);
  });

  it('CREATE sets or clears a name; nothing changes: null', () => {
    const m = map({ Old: ['\\Trash'] });
    expect(obj(afterCreate(m, 'New', ['\\Drafts']))).toEqual({ Old: ['\\Trash'], New: ['\\Drafts'] });
    expect(obj(afterCreate(m, 'Old', []))).toEqual({});
    expect(afterCreate(m, 'Old', ['\\Trash'])).toBeNull();
    expect(afterCreate(m, 'Other', [])).toBeNull();
  });

  it('DELETE drops the name only; RENAME moves the name and what is under it, not look-alikes', () => {
    const m = map({ A: ['\\Sent'], 'A/b': ['\\Drafts'], AB: ['\\Junk'], C: ['\\Trash'] });
    expect(obj(afterDelete(m, 'A'))).toEqual({ 'A/b': ['\\Drafts'], AB: ['\\Junk'], C: ['\\Trash'] });
    expect(afterDelete(m, 'Z')).toBeNull();
    expect(obj(afterRename(m, 'A', 'X/Y'))).toEqual({ 'X/Y': ['\\Sent'], 'X/Y/b': ['\\Drafts'], AB: ['\\Junk'], C: ['\\Trash'] });
    // Entries left under the new name by a crash are replaced, not merged.
    expect(obj(afterRename(m, 'AB', 'C'))).toEqual({ A: ['\\Sent'], 'A/b': ['\\Drafts'], C: ['\\Junk'] });
    expect(afterRename(m, 'Q', 'R')).toBeNull();
  });
});
