// CPU time of the processes a case runs on (Linux /proc; elsewhere none), so that the api part can
// say where the time of a call goes: the server, this load generator, or PostgreSQL.
import { readdirSync, readFileSync } from 'node:fs';

/** Cumulative CPU ms (user + system) per named group of processes. */
export type CpuSample = Record<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuMsOf(pid: string | number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0; // gone meanwhile
  }
}

/** Sum over every process called `postgres` (its backends come and go with connections). */
function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd() === 'postgres') total += cpuMsOf(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/**
 * A sampler of the server's process, this process and PostgreSQL's, or null where /proc is not
 * there. PostgreSQL counts only when it runs on this machine (a remote DATABASE_URL shows ~0).
 */
export function cpuSampler(serverPid: number): (() => CpuSample) | null {
  try {
    readFileSync(`/proc/${process.pid}/stat`);
  } catch {
    return null;
  }
  return () => ({ server: cpuMsOf(serverPid), client: cpuMsOf(process.pid), postgres: postgresCpuMs() });
}
