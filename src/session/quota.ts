// user_quota (Decisions 8): off when the setting is false; otherwise the auth module's quota="KB" for
// this user, else the setting's default (true alone = 0 = no default limit).

import type { Settings } from '../config/settings.js';
import type { AuthUser } from '../auth/types.js';

/** Quota in kbytes, or undefined for none. */
export function quotaFor(settings: Pick<Settings, 'user_quota'>, user: Pick<AuthUser, 'quotaKb'>): number | undefined {
  const q = settings.user_quota;
  if (q === false || q === undefined) return undefined;
  if (user.quotaKb !== undefined && user.quotaKb > 0) return user.quotaKb;
  return q > 0 ? q : undefined;
}
