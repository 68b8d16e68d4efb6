// Password checks through PAM (authenticate-pam, loaded lazily). The product's PAM service (pam_service,
// default `dmail`) should use `pam_unix.so nodelay` so PAM's own failure delay does not add to
// auth_fail_delay; when a site's stack does delay, login() answers at max(PAM's delay, ours), not the sum.

import { importNative } from './passwd.js';

interface PamModule {
  authenticate(user: string, pass: string, cb: (err?: string | Error) => void, opts?: { serviceName?: string; remoteHost?: string }): void;
}

export type PamResult = 'ok' | 'fail' | 'unavailable';

let pam: Promise<PamModule | undefined> | undefined;
function loadPam(): Promise<PamModule | undefined> {
  pam ??= importNative<PamModule>('authenticate-pam').catch(() => undefined);
  return pam;
}

/** True once authenticate-pam could be loaded. */
export async function pamPresent(): Promise<boolean> {
  return (await loadPam()) !== undefined;
}

// Error texts from pam_strerror() that mean "these credentials are wrong", as opposed to "PAM could not
// decide" (missing service, unreadable shadow, module error), where a fallback or a temporary failure fits.
const CREDENTIAL_ERRORS = [/authentication failure/i, /user not known/i, /user account has expired/i, /maximum number of tries/i];

export async function pamAuthenticate(service: string, user: string, pass: string, remoteHost: string): Promise<{ result: PamResult; detail?: string }> {
  const mod = await loadPam();
  if (!mod) return { result: 'unavailable', detail: 'authenticate-pam is not installed' };
  return new Promise((resolve) => {
    try {
      mod.authenticate(user, pass, (err) => {
        if (!err) { resolve({ result: 'ok' }); return; }
        const text = typeof err === 'string' ? err : err.message;
        resolve({ result: CREDENTIAL_ERRORS.some((re) => re.test(text)) ? 'fail' : 'unavailable', detail: text });
      }, { serviceName: service, remoteHost });
    } catch (e) {
      resolve({ result: 'unavailable', detail: (e as Error).message });
    }
  });
}
