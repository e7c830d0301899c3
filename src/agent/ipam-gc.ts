// Finding and releasing leaked pod addresses. host-local keeps one file per reserved address in
// DATADIR/NETWORK/ (content: container ID and interface name); a pod removed without a CNI DEL leaves
// its file behind forever. Releasing an address is deleting that file, exactly what DEL does.
import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { containsIp, isIPv4, parseCidr, parseIp } from "../net/cidr.ts";

export interface Reservation {
  ip: string;
  containerId: string;
  /** Last modification, ms since the epoch: host-local writes the file at ADD. */
  mtimeMs: number;
}

/** Who is alive on this node. Kubernetes: pods bound to the node; testbed: a file. */
export interface LivePods {
  podIps(): Promise<ReadonlySet<string>>;
}

export function reservationDir(dataDir: string, network: string): string {
  return join(dataDir, network);
}

/** Reservations of addresses inside `blocks`; other files (lock, last_reserved_ip.*) are not addresses. */
export async function listReservations(dir: string, blocks: readonly string[]): Promise<Reservation[]> {
  const cidrs = blocks.map(parseCidr);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const reservations: Reservation[] = [];
  for (const name of names) {
    if (!isIPv4(name) || !cidrs.some((cidr) => containsIp(cidr, parseIp(name)))) continue;
    const reservation = await readReservation(dir, name);
    if (reservation) reservations.push(reservation);
  }
  return reservations;
}

async function readReservation(dir: string, ip: string): Promise<Reservation | undefined> {
  const path = join(dir, ip);
  try {
    const [content, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { ip, containerId: content.split(/\r?\n/)[0]!.trim(), mtimeMs: info.mtimeMs };
  } catch {
    return undefined; // released meanwhile
  }
}

/** Leaked: no live pod has the address, and the reservation is older than the grace period. */
export function findLeaks(
  reservations: readonly Reservation[],
  live: ReadonlySet<string>,
  graceSeconds: number,
  nowMs: number,
): Reservation[] {
  // The grace period covers a pod whose sandbox has its address but whose status does not show it yet.
  return reservations.filter((r) => !live.has(r.ip) && nowMs - r.mtimeMs >= graceSeconds * 1000);
}

/** Deletes each leaked reservation unless it changed since it was read (re-used by a new ADD). */
export async function release(dir: string, leaks: readonly Reservation[]): Promise<string[]> {
  const released: string[] = [];
  for (const leak of leaks) {
    const now = await readReservation(dir, leak.ip);
    if (!now || now.containerId !== leak.containerId || now.mtimeMs !== leak.mtimeMs) continue;
    await unlink(join(dir, leak.ip)).catch(() => undefined);
    released.push(leak.ip);
  }
  return released;
}

/** The testbed's LivePods: a file with one pod IP per line, re-read each time. */
export function livePodsFromFile(path: string): LivePods {
  return {
    async podIps() {
      const text = await readFile(path, "utf8");
      return new Set(
        text
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line && !line.startsWith("#")),
      );
    },
  };
}
