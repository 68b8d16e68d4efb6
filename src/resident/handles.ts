// Raw socket handles between processes. A socket is passed as its libuv handle (child_process 'net.Native'),
// not as a net.Socket: a net.Socket built on receipt starts reading at once, and a byte the master read on
// the way would be lost to the session. Only the final owner wraps the handle into a net.Socket.

import { Socket } from 'node:net';

export type RawHandle = object & { close?: (cb?: () => void) => void; readStop?: () => number; reading?: boolean };

/** The handle under a net.Socket (which must not be reading). */
export function handleOf(sock: Socket): RawHandle | undefined {
  return (sock as unknown as { _handle?: RawHandle | null })._handle ?? undefined;
}

/** A net.Socket owning a received handle; it starts reading (unless `paused`). */
export function socketFromHandle(handle: unknown, paused = false): Socket {
  // allowHalfOpen: a client that half-closes still gets every answer to what it sent (as inetd mode does).
  const s = new Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as unknown as ConstructorParameters<typeof Socket>[0]);
  if (paused) {
    s.pause();
    const h = handleOf(s);
    if (h?.readStop) { h.reading = false; h.readStop(); }
  }
  return s;
}

/** Close a handle received but not wrapped (after it was sent on, or when it cannot be served). */
export function closeHandle(handle: unknown): void {
  try { (handle as RawHandle | undefined)?.close?.(); } catch { /* already closed */ }
}
