// CPU time of the processes a case runs on (Linux /proc; elsewhere none), so that the api part can
// say where the time of a call goes: the server, this load generator, or PostgreSQL.
import { readdirSync, readFileSync } from 'node:fs';

/** Starts measuring; the function returned gives the CPU ms used since, per group of processes. */
export type CpuMeter = () => () => Record<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** [ppid, CPU ms (user + system)] of a process, or null once it is gone. */
function statOf(pid: string | number): [number, number] | null {
  try {
    // Fields after the command name (which may hold spaces): ppid is the 2nd, utime and stime the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [Number(fields[1]), (Number(fields[11]) + Number(fields[12])) * TICK_MS];
  } catch {
    return null;
  }
}

/** CPU ms per pid of the postmaster and its children (backends come and go with connections). */
function clusterCpu(postmasterPid: number): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(entry);
    if (stat && (Number(entry) === postmasterPid || stat[0] === postmasterPid)) cpu.set(Number(entry), stat[1]);
  }
  return cpu;
}

/**
 * A meter of the server's process, this process and PostgreSQL's (the postmaster of
 * `backendPid`, and its children), or null where /proc is not there. PostgreSQL counts only when
 * its backend is visible here (not for a remote DATABASE_URL). A backend that exits during a case
 * takes the CPU it used in that case with it: the pools keep theirs open, so few do.
 */
export function cpuMeter(serverPid: number, backendPid: number | null): CpuMeter | null {
  if (!statOf(process.pid)) return null;
  const postmaster = backendPid === null ? null : (statOf(backendPid)?.[0] ?? null);
  return () => {
    const server = statOf(serverPid)?.[1] ?? 0;
    const client = statOf(process.pid)?.[1] ?? 0;
    const pgBefore = postmaster === null ? null : clusterCpu(postmaster);
    return () => {
      const used: Record<string, number> = { server: (statOf(serverPid)?.[1] ?? 0) - server, client: (statOf(process.pid)?.[1] ?? 0) - client };
      if (pgBefore && postmaster !== null) {
        let postgres = 0;
        for (const [pid, ms] of clusterCpu(postmaster)) postgres += ms - (pgBefore.get(pid) ?? 0);
        used.postgres = postgres;
      }
      return used;
    };
  };
}
