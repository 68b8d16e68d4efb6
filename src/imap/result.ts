// What a command handler returns: the tagged status, sent by the dispatcher after the untagged updates.

export interface Result {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
}

export const ok = (text: string): Result => ({ status: 'OK', text });
export const no = (text: string): Result => ({ status: 'NO', text });
export const bad = (text: string): Result => ({ status: 'BAD', text });
