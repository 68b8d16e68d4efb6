// Shared by the MULTIAPPEND kill test and its worker: the batches the worker appends.

export const BATCH = 5;

export function batchMessage(batch: string, i: number): string {
  // Message 2 is over 1 MB, so an mbox tail write takes several chunks (mid-write is really mid-way).
  const big = i === 2 ? `${'y'.repeat(76)}\r\n`.repeat(15000) : '';
  return `Subject: batch ${batch} part ${i}\r\nMessage-ID: <b-${batch}-${i}@x>\r\n\r\nbody ${i}\r\n${big}end\r\n`;
}

