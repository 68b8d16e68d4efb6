// Test hook shared by every crash-safe writer of the store: SIGKILL ourselves at a named step
// (DMAIL_STORE_KILLPOINT=step[,step...]). Costs one environment lookup when unset.

export function killPoint(step: string): void {
  const want = process.env.DMAIL_STORE_KILLPOINT;
  if (want && want.split(',').includes(step)) process.kill(process.pid, 'SIGKILL');
}
