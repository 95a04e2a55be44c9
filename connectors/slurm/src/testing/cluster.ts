/**
 * A REAL single-node Slurm cluster behind a REAL sshd, on loopback, for the Slurm connector's tests.
 *
 * Debian's daemons, each started by this harness in a fresh directory under {@link BASE_DIR}, none through systemd:
 * munged (own key and socket), MariaDB (own datadir, socket only, no TCP), slurmdbd (so `sacct` answers for finished
 * jobs), slurmctld, slurmd (one node: the machine's real CPUs and memory) and sshd (fresh host key, public-key login
 * of the unprivileged user {@link USERNAME} with a fresh key). Every port is picked free on 127.0.0.1. The sshd
 * session gets `SLURM_CONF` (so plain `sbatch`/`squeue`/`sacct`/`scancel` use this cluster) and a PATH whose first
 * entry holds the FAKE `apptainer` and the FAKE Pyxis `srun` of ./fakes.ts (Apptainer and Pyxis are not in Debian).
 *
 * Not exported from the package: tests import it by relative path. Needs root (daemons, useradd) and the Debian
 * packages listed in {@link slurmClusterUnavailable}; `.ci/run` installs them.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { FAKE_APPTAINER, FAKE_PYXIS_SRUN } from "./fakes.js";

export interface SlurmTestCluster {
  /** "127.0.0.1" */
  host: string;
  /** sshd port */
  port: number;
  /** Unprivileged login user the jobs run as. */
  username: string;
  /** OpenSSH private key (ed25519) of that user, generated for this cluster. */
  privateKey: string;
  /** known_hosts line for `[127.0.0.1]:port` with this cluster's fresh host key. */
  knownHosts: string;
  /** The user's home (same filesystem as the tests). Shared by every cluster: it is not removed by stop(). */
  homeDir: string;
  /** Run a shell command (bash -c) as the user, with the cluster's Slurm environment, in the user's home. */
  exec(command: string): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Kill the per-connection sshd processes: open client connections drop, the listener stays. */
  dropSshConnections(): Promise<void>;
  /** Stop every daemon (and every job), remove the cluster's directory. Idempotent. */
  stop(): Promise<void>;

  // Additions beyond the first API (documented in README of this folder's test).
  /** Path of this cluster's slurm.conf (what `SLURM_CONF` holds in SSH sessions). */
  slurmConf: string;
  /** The default partition's name. */
  partition: string;
  /** Seconds startSlurmCluster took (measured). */
  startSeconds: number;
  /**
   * Make a RUNNING job end in state TIMEOUT: sets its time limit to 0 (`scontrol update JobId=N TimeLimit=0`).
   * slurmctld enforces time limits on a fixed 30 s period (not configurable in 22.05), so the job reaches TIMEOUT
   * 0–30 s later (measured ~15 s on average). Resolves once the limit is set; use {@link waitForJobState} to wait.
   */
  timeOutJob(jobId: string): Promise<void>;
  /**
   * Make a RUNNING job end in state PREEMPTED (takes ~1 s): submits a root job to the high-priority partition
   * `flyte-preempt` that needs the whole node, so Slurm cancels (PreemptMode=CANCEL) the running jobs of the default
   * partition — every running job of that partition, not only this one. Resolves when the job is PREEMPTED.
   */
  preemptJob(jobId: string, timeoutMs?: number): Promise<void>;
  /** Poll `squeue -t all` until the job's state is one of `states`; resolves with that state (default 60 s). */
  waitForJobState(jobId: string, states: readonly string[], timeoutMs?: number): Promise<string>;
}

export interface StartSlurmClusterOptions {
  /** Seconds finished jobs stay in slurmctld (visible to `squeue -t all`); Slurm's minimum is 2. Default 300. */
  minJobAge?: number;
}

/** Root of every cluster directory. Not under /tmp: sshd's StrictModes rejects key files below a world-writable dir. */
export const BASE_DIR = "/var/lib/flyte-slurm-test";
/** The dedicated unprivileged user (created with `useradd` when missing). */
export const USERNAME = "flyteslurm";
const NODE_NAME = "flyte-node";
const CLUSTER_NAME = "flytetest";
const PARTITION = "debug";
const PREEMPT_PARTITION = "flyte-preempt";
/** Every daemon and SSH session carries this variable: stop() and the stale-run cleanup find processes by it. */
const MARKER = "FLYTE_SLURM_TEST_DIR";
const DAEMON_START_TIMEOUT_MS = 30_000;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Executables the cluster needs, with the Debian package that ships each. */
const REQUIRED_BINARIES: ReadonlyArray<readonly [string, string]> = [
  ["slurmctld", "slurmctld"],
  ["slurmd", "slurmd"],
  ["slurmstepd", "slurmd"],
  ["slurmdbd", "slurmdbd"],
  ["sbatch", "slurm-client"],
  ["squeue", "slurm-client"],
  ["sacct", "slurm-client"],
  ["scancel", "slurm-client"],
  ["scontrol", "slurm-client"],
  ["sinfo", "slurm-client"],
  ["srun", "slurm-client"],
  ["munged", "munge"],
  ["mariadbd", "mariadb-server"],
  ["mariadb-install-db", "mariadb-server"],
  ["mariadb-admin", "mariadb-client"],
  ["sshd", "openssh-server"],
  ["ssh-keygen", "openssh-client"],
  ["useradd", "passwd"],
];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(":"), ...SYSTEM_PATH.split(":")];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function binary(name: string): string {
  const found = findBinary(name);
  if (!found) throw new Error(`Slurm test cluster: ${name} not found (${slurmClusterUnavailable() ?? ""})`);
  return found;
}

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
}

function passwdEntry(user: string): PasswdEntry | undefined {
  for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
    const fields = line.split(":");
    if (fields[0] === user && fields.length >= 7) {
      return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? "" };
    }
  }
  return undefined;
}

/** Why a cluster cannot start on this machine (missing binaries, not root), or undefined when it can. */
export function slurmClusterUnavailable(): string | undefined {
  if (process.platform !== "linux") return `the Slurm test cluster needs Linux (this is ${process.platform})`;
  const missing = REQUIRED_BINARIES.filter(([name]) => !findBinary(name));
  const problems: string[] = [];
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    problems.push(
      `missing ${missing.map(([name]) => name).join(", ")} (Debian: apt-get install ${packages.join(" ")})`,
    );
  }
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    problems.push("needs root (it starts slurmd/sshd and creates the user " + USERNAME + ")");
  }
  if (missing.every(([, pkg]) => pkg !== "munge") && !passwdEntry("munge")) {
    problems.push("the munge user is missing (Debian's munge package creates it)");
  }
  return problems.length > 0 ? `Slurm test cluster unavailable: ${problems.join("; ")}` : undefined;
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? { PATH: SYSTEM_PATH, LANG: "C.UTF-8" },
        uid: options.uid,
        gid: options.gid,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ stdout, stderr: error && !stderr ? String(error.message) : stderr, code });
      },
    );
  });
}

async function runOrThrow(what: string, file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(file, args, { env });
  if (result.code !== 0) {
    throw new Error(`Slurm test cluster: ${what} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tail(file: string, lines = 20): string {
  try {
    const text = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return text.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** /proc/<pid>/stat fields after the command name: [state, ppid, pgrp, session, ...]. */
function procStat(pid: number): { state: string; ppid: number; session: number; startTime: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "", ppid: Number(rest[1]), session: Number(rest[3]), startTime: rest[19] ?? "" };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/**
 * Processes belonging to a cluster directory: its daemons' sessions, every process carrying its marker (daemons, SSH
 * sessions, jobs submitted from them) or this cluster's SLURM_CONF (slurmstepd sets it in every job, also under
 * `--export=NONE`) or naming the directory on its command line, and their descendants.
 */
function clusterPids(dir: string, sessions: ReadonlySet<number>): number[] {
  const markers = [Buffer.from(`${MARKER}=${dir}\0`), Buffer.from(`SLURM_CONF=${dir}/slurm.conf\0`)];
  const found = new Set<number>();
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const stat = procStat(pid);
    if (!stat || stat.state === "Z") continue;
    if (sessions.has(stat.session)) {
      found.add(pid);
      continue;
    }
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`);
      // sshd overwrites its environment with its process title: its command line names the directory.
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`);
      if (markers.some((marker) => environ.includes(marker)) || cmdline.includes(`${dir}/`)) found.add(pid);
    } catch {
      // gone, or a kernel thread
    }
  }
  for (const pid of [...found]) for (const child of descendants(pid)) found.add(child);
  found.delete(process.pid);
  return [...found];
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = procStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const result: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    result.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return result;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(25);
}

interface OwnerRecord {
  pid: number;
  startTime: string;
}

/** Remove directories of earlier runs whose owning process is gone (crashed or killed): kill their processes first. */
async function cleanStaleClusters(): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(BASE_DIR);
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(BASE_DIR, entry);
    let owner: OwnerRecord | undefined;
    try {
      owner = JSON.parse(await fsp.readFile(path.join(dir, "owner.json"), "utf8")) as OwnerRecord;
    } catch {
      owner = undefined;
    }
    if (owner) {
      const stat = procStat(owner.pid);
      if (stat && stat.state !== "Z" && stat.startTime === owner.startTime) continue; // another live test process
    } else {
      // No owner record yet: a cluster being created right now, unless it is old.
      const stats = await fsp.stat(dir).catch(() => undefined);
      if (stats && Date.now() - stats.mtimeMs < 120_000) continue;
    }
    const pids = clusterPids(dir, new Set());
    killAll(pids);
    await waitGone(pids, 5000);
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function ensureUser(): Promise<PasswdEntry> {
  let entry = passwdEntry(USERNAME);
  if (!entry) {
    const result = await run(binary("useradd"), ["--create-home", "--shell", "/bin/bash", "--user-group", USERNAME]);
    entry = passwdEntry(USERNAME);
    if (!entry) throw new Error(`Slurm test cluster: useradd ${USERNAME} failed: ${result.stderr.trim()}`);
  }
  // sshd without PAM refuses accounts whose password field marks them locked ("!"): '*' = no password, not locked.
  const shadow = await fsp.readFile("/etc/shadow", "utf8").catch(() => "");
  const password = shadow.split("\n").find((line) => line.startsWith(`${USERNAME}:`))?.split(":")[1] ?? "";
  if (password.startsWith("!")) await runOrThrow(`usermod -p '*' ${USERNAME}`, binary("usermod"), ["-p", "*", USERNAME]);
  await fsp.mkdir(entry.home, { recursive: true });
  const homeStat = await fsp.stat(entry.home);
  if (homeStat.uid !== entry.uid) await fsp.chown(entry.home, entry.uid, entry.gid);
  // StrictModes: the home may not be group/world-writable.
  if ((homeStat.mode & 0o022) !== 0) await fsp.chmod(entry.home, 0o755);
  return entry;
}

interface Daemon {
  name: string;
  child: ChildProcess;
  logs: string[];
  exit?: string;
}

class Cluster implements SlurmTestCluster {
  readonly host = "127.0.0.1";
  readonly username = USERNAME;
  readonly partition = PARTITION;
  port = 0;
  privateKey = "";
  knownHosts = "";
  homeDir: string;
  slurmConf: string;
  startSeconds = 0;
  private readonly daemons: Daemon[] = [];
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly binDir: string;

  constructor(
    readonly dir: string,
    private readonly user: PasswdEntry,
  ) {
    this.homeDir = user.home;
    this.slurmConf = path.join(dir, "slurm.conf");
    this.binDir = path.join(dir, "bin");
  }

  /** Environment of the user's sessions (SSH: through sshd's SetEnv; exec(): directly). */
  userEnv(): NodeJS.ProcessEnv {
    return {
      PATH: `${this.binDir}:/usr/local/bin:/usr/bin:/bin`,
      SLURM_CONF: this.slurmConf,
      [MARKER]: this.dir,
      HOME: this.user.home,
      USER: USERNAME,
      LOGNAME: USERNAME,
      SHELL: "/bin/bash",
      LANG: "C.UTF-8",
    };
  }

  daemonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: SYSTEM_PATH, LANG: "C.UTF-8", SLURM_CONF: this.slurmConf, [MARKER]: this.dir, ...extra };
  }

  spawnDaemon(
    name: string,
    file: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; logs?: string[] } = {},
  ): Daemon {
    const out = path.join(this.dir, "log", `${name}.out`);
    const fd = fs.openSync(out, "a");
    // Detached: its own session, so a terminal's Ctrl-C does not reach it first and stop() finds it by session id.
    const child = spawn(file, args, {
      env: options.env ?? this.daemonEnv(),
      uid: options.uid,
      gid: options.gid,
      cwd: this.dir,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    fs.closeSync(fd);
    child.unref();
    const daemon: Daemon = { name, child, logs: [out, ...(options.logs ?? [])] };
    child.on("error", (error) => {
      daemon.exit = `could not start: ${error.message}`;
    });
    child.on("exit", (code, signal) => {
      daemon.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
    });
    this.daemons.push(daemon);
    return daemon;
  }

  async waitFor(daemon: Daemon, what: string, ready: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
    for (;;) {
      if (await ready()) return;
      if (daemon.exit !== undefined || Date.now() > deadline) {
        const why = daemon.exit ?? `did not ${what} within ${DAEMON_START_TIMEOUT_MS / 1000} s`;
        const logs = daemon.logs.map((file) => `--- tail of ${file}:\n${tail(file)}`).join("\n");
        throw new Error(`Slurm test cluster: ${daemon.name} ${why}\n${logs}`);
      }
      await sleep(50);
    }
  }

  exec(command: string): Promise<RunResult> {
    return run("/bin/bash", ["-c", command], {
      env: this.userEnv(),
      uid: this.user.uid,
      gid: this.user.gid,
      cwd: this.user.home,
      timeoutMs: 120_000,
    });
  }

  /** A Slurm command as root (SlurmUser) against this cluster. */
  admin(file: string, args: readonly string[]): Promise<RunResult> {
    return run(binary(file), args, { env: this.daemonEnv(), timeoutMs: 30_000 });
  }

  async dropSshConnections(): Promise<void> {
    const listener = this.daemons.find((daemon) => daemon.name === "sshd")?.child.pid;
    if (listener === undefined) return;
    const pids = descendants(listener);
    killAll(pids);
    await waitGone(pids, 5000);
  }

  async timeOutJob(jobId: string): Promise<void> {
    assertJobId(jobId);
    const result = await this.admin("scontrol", ["update", `JobId=${jobId}`, "TimeLimit=0"]);
    if (result.code !== 0) throw new Error(`scontrol update JobId=${jobId} TimeLimit=0 failed: ${result.stderr.trim()}`);
  }

  async jobState(jobId: string): Promise<string> {
    const result = await this.admin("squeue", ["-h", "-t", "all", "-j", jobId, "-o", "%T"]);
    return result.stdout.trim();
  }

  async waitForJobState(jobId: string, states: readonly string[], timeoutMs = 60_000): Promise<string> {
    assertJobId(jobId);
    const deadline = Date.now() + timeoutMs;
    let state = "";
    while (Date.now() < deadline) {
      state = await this.jobState(jobId);
      if (states.includes(state)) return state;
      await sleep(200);
    }
    throw new Error(`job ${jobId} did not reach ${states.join("/")} within ${timeoutMs / 1000} s (state: ${state || "unknown"})`);
  }

  async preemptJob(jobId: string, timeoutMs = 30_000): Promise<void> {
    assertJobId(jobId);
    const state = await this.jobState(jobId);
    if (state !== "RUNNING") throw new Error(`preemptJob: job ${jobId} is ${state || "unknown"}, not RUNNING`);
    const submitted = await this.admin("sbatch", [
      "--parsable",
      `--partition=${PREEMPT_PARTITION}`,
      "--exclusive",
      "--job-name=flyte-test-preemptor",
      "--output=/dev/null",
      "--wrap=true",
    ]);
    if (submitted.code !== 0) throw new Error(`preemptJob: sbatch of the preemptor failed: ${submitted.stderr.trim()}`);
    await this.waitForJobState(jobId, ["PREEMPTED"], timeoutMs);
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAsync();
    return this.stopping;
  }

  private sessions(): Set<number> {
    return new Set(this.daemons.map((daemon) => daemon.child.pid).filter((pid): pid is number => pid !== undefined));
  }

  private async stopAsync(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    unregister(this);
    // SIGKILL, no graceful shutdown: the state is thrown away, and kill -9 is fast and cannot hang.
    for (let round = 0; round < 3; round++) {
      const pids = clusterPids(this.dir, this.sessions());
      if (pids.length === 0) break;
      killAll(pids);
      await waitGone(pids, 5000);
    }
    await fsp.rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  /** For process exit and signals: synchronous, best effort. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    killAll(clusterPids(this.dir, this.sessions()));
    try {
      fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch {
      // the next start cleans stale directories
    }
  }
}

function assertJobId(jobId: string): void {
  if (!/^\d+(_\d+)?$/.test(jobId)) throw new Error(`not a Slurm job id: ${JSON.stringify(jobId)}`);
}

// --- process-wide registry: one running cluster per process, cleaned up on exit and on SIGINT/SIGTERM ---

const live = new Set<Cluster>();
let hooksInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const cluster of live) cluster.stopSync();
  process.removeListener(signal, onSignal);
  // Keep the default behaviour (terminate) unless someone else handles the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function register(cluster: Cluster): void {
  live.add(cluster);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const cluster of live) cluster.stopSync();
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function unregister(cluster: Cluster): void {
  live.delete(cluster);
}

let current: { key: string; cluster: Cluster } | undefined;
/** Starts are serialized: concurrent calls in one process share one cluster. */
let startQueue: Promise<unknown> = Promise.resolve();

/**
 * Start a cluster, or return the one this process already runs with the same options (idempotent per process;
 * other options stop the running one first). Throws with the daemon's name and the tail of its log when a daemon does
 * not come up; call {@link slurmClusterUnavailable} first to skip (or, under CI=true, fail) on unfit machines.
 */
export function startSlurmCluster(options: StartSlurmClusterOptions = {}): Promise<SlurmTestCluster> {
  const result = startQueue.then(() => startOrReuse(options));
  startQueue = result.catch(() => undefined);
  return result;
}

async function startOrReuse(options: StartSlurmClusterOptions): Promise<Cluster> {
  const minJobAge = options.minJobAge ?? 300;
  if (!Number.isInteger(minJobAge) || minJobAge < 2) {
    throw new Error(`startSlurmCluster: minJobAge must be an integer >= 2 (Slurm's minimum), got ${minJobAge}`);
  }
  const key = JSON.stringify({ minJobAge });
  if (current && live.has(current.cluster)) {
    if (current.key === key) return current.cluster;
    await current.cluster.stop();
  }
  current = undefined;
  const cluster = await startCluster(minJobAge);
  current = { key, cluster };
  return cluster;
}

async function startCluster(minJobAge: number): Promise<Cluster> {
  const unavailable = slurmClusterUnavailable();
  if (unavailable) throw new Error(unavailable);
  const started = performance.now();
  await fsp.mkdir(BASE_DIR, { recursive: true, mode: 0o755 });
  await fsp.chmod(BASE_DIR, 0o755);
  await cleanStaleClusters();
  const user = await ensureUser();
  const munge = passwdEntry("munge") as PasswdEntry;
  const dir = await fsp.mkdtemp(path.join(BASE_DIR, "cluster-"));
  const cluster = new Cluster(dir, user);
  register(cluster);
  try {
    await fsp.chmod(dir, 0o755); // the user's sbatch/sacct read slurm.conf and reach the munge socket
    const ownerStat = procStat(process.pid);
    await fsp.writeFile(path.join(dir, "owner.json"), JSON.stringify({ pid: process.pid, startTime: ownerStat?.startTime ?? "" }));
    for (const sub of ["log", "state", "spool", "ssh", "bin", "mysql", "munge"]) await fsp.mkdir(path.join(dir, sub));
    await fsp.chmod(path.join(dir, "mysql"), 0o700);
    await fsp.chmod(path.join(dir, "munge"), 0o755);
    await fsp.chown(path.join(dir, "munge"), munge.uid, munge.gid);
    await fsp.mkdir("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory

    const { ctldPort, slurmdPort, dbdPort, sshPort } = await distinctFreePorts();
    cluster.port = sshPort;
    const mungeSocket = path.join(dir, "munge", "munge.sock");
    const mysqlSocket = path.join(dir, "mysql.sock");

    // Keys, fakes, MariaDB's datadir and the node's hardware, in parallel.
    const hostKey = path.join(dir, "ssh", "host_key");
    const userKey = path.join(dir, "ssh", "user_key");
    const [, , , hardware] = await Promise.all([
      runOrThrow("ssh-keygen (host key)", binary("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", hostKey]),
      runOrThrow("ssh-keygen (user key)", binary("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", USERNAME, "-f", userKey]),
      runOrThrow("mariadb-install-db", binary("mariadb-install-db"), [
        "--no-defaults",
        `--datadir=${path.join(dir, "mysql")}`,
        "--user=root",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--innodb-log-file-size=8M", // 26 MB instead of 114 MB per cluster
      ]),
      runOrThrow("slurmd -C", binary("slurmd"), ["-C"], { PATH: SYSTEM_PATH, SLURM_CONF: "/nonexistent" }),
      fsp.writeFile(path.join(dir, "munge", "munge.key"), randomBytes(1024), { mode: 0o400 }),
      fsp.writeFile(path.join(dir, "bin", "apptainer"), FAKE_APPTAINER, { mode: 0o755 }),
      fsp.writeFile(path.join(dir, "bin", "srun"), FAKE_PYXIS_SRUN, { mode: 0o755 }),
    ]);
    await fsp.chown(path.join(dir, "munge", "munge.key"), munge.uid, munge.gid);
    await fsp.copyFile(`${userKey}.pub`, path.join(dir, "ssh", "authorized_keys"));
    await fsp.chmod(path.join(dir, "ssh", "authorized_keys"), 0o644);
    cluster.privateKey = await fsp.readFile(userKey, "utf8");
    const hostPublic = (await fsp.readFile(`${hostKey}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
    cluster.knownHosts = `[127.0.0.1]:${sshPort} ${hostPublic}\n`;

    await fsp.writeFile(cluster.slurmConf, slurmConf({ dir, ctldPort, slurmdPort, dbdPort, mungeSocket, minJobAge, hardware }));
    await fsp.writeFile(path.join(dir, "slurmdbd.conf"), slurmdbdConf({ dir, dbdPort, mungeSocket }), { mode: 0o600 });
    await fsp.writeFile(path.join(dir, "ssh", "sshd_config"), sshdConfig(cluster, sshPort, hostKey));

    const munged = cluster.spawnDaemon(
      "munged",
      binary("munged"),
      ["--foreground", `--key-file=${path.join(dir, "munge", "munge.key")}`, `--socket=${mungeSocket}`,
        `--pid-file=${path.join(dir, "munge", "munged.pid")}`, `--seed-file=${path.join(dir, "munge", "seed")}`,
        `--log-file=${path.join(dir, "munge", "munged.log")}`],
      { uid: munge.uid, gid: munge.gid, logs: [path.join(dir, "munge", "munged.log")] },
    );
    const mariadb = cluster.spawnDaemon(
      "mariadbd",
      binary("mariadbd"),
      ["--no-defaults", `--datadir=${path.join(dir, "mysql")}`, `--socket=${mysqlSocket}`, "--skip-networking",
        "--user=root", `--pid-file=${path.join(dir, "mysql.pid")}`, "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0", "--skip-name-resolve"],
    );
    await Promise.all([
      cluster.waitFor(munged, "create its socket", () => fs.existsSync(mungeSocket)),
      cluster.waitFor(mariadb, "answer on its socket", async () =>
        fs.existsSync(mysqlSocket) &&
        (await run(binary("mariadb-admin"), ["--no-defaults", `--socket=${mysqlSocket}`, "-uroot", "ping"])).code === 0),
    ]);
    // slurmdbd reads slurmdbd.conf next to $SLURM_CONF; StorageHost=localhost + MYSQL_UNIX_PORT = MariaDB's socket.
    const slurmdbd = cluster.spawnDaemon("slurmdbd", binary("slurmdbd"), ["-D"], {
      env: cluster.daemonEnv({ MYSQL_UNIX_PORT: mysqlSocket }),
      logs: [path.join(dir, "log", "slurmdbd.log")],
    });
    const sshd = cluster.spawnDaemon("sshd", binary("sshd"), ["-D", "-e", "-f", path.join(dir, "ssh", "sshd_config")]);
    await cluster.waitFor(slurmdbd, "listen on its port", () => portAccepts(dbdPort));
    const slurmctld = cluster.spawnDaemon("slurmctld", binary("slurmctld"), ["-D", "-i", "-f", cluster.slurmConf], {
      logs: [path.join(dir, "log", "slurmctld.log")],
    });
    await cluster.waitFor(slurmctld, "listen on its port", () => portAccepts(ctldPort));
    const slurmd = cluster.spawnDaemon("slurmd", binary("slurmd"), ["-D", "-N", NODE_NAME, "-f", cluster.slurmConf], {
      logs: [path.join(dir, "log", "slurmd.log")],
    });
    await Promise.all([
      cluster.waitFor(slurmd, "register its node as idle", async () => {
        const result = await cluster.admin("sinfo", ["-h", "-n", NODE_NAME, "-o", "%t"]);
        return result.code === 0 && result.stdout.trim().split("\n").every((state) => state === "idle");
      }),
      cluster.waitFor(sshd, "listen on its port", () => portAccepts(sshPort)),
      // slurmctld's main scheduler first runs ~4 s after it starts (it logs its SchedulerParameters then); a job
      // submitted before waits for that pass, so wait here and every job starts within a second of sbatch.
      waitForLogLine(path.join(dir, "log", "slurmctld.log"), "SchedulerParameters=", 10_000),
    ]);
    cluster.startSeconds = (performance.now() - started) / 1000;
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Best effort: resolves when the line appears or after `timeoutMs`. */
async function waitForLogLine(file: string, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const content = await fsp.readFile(file, "utf8").catch(() => "");
    if (content.includes(text)) return;
    await sleep(100);
  }
}

async function distinctFreePorts(): Promise<{ ctldPort: number; slurmdPort: number; dbdPort: number; sshPort: number }> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [ctldPort = 0, slurmdPort = 0, dbdPort = 0, sshPort = 0] = [...ports];
  return { ctldPort, slurmdPort, dbdPort, sshPort };
}

function slurmConf(c: {
  dir: string;
  ctldPort: number;
  slurmdPort: number;
  dbdPort: number;
  mungeSocket: string;
  minJobAge: number;
  hardware: string;
}): string {
  // The node's real hardware as slurmd detects it: a larger config would drain the node.
  const hw = (key: string): string => {
    const match = new RegExp(`\\b${key}=(\\d+)`).exec(c.hardware);
    if (!match?.[1]) throw new Error(`Slurm test cluster: slurmd -C did not report ${key}: ${c.hardware}`);
    return match[1];
  };
  const dir = c.dir;
  return `# Written by the Slurm connector's test harness (connectors/slurm/src/testing/cluster.ts).
ClusterName=${CLUSTER_NAME}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=${c.ctldPort}
SlurmdPort=${c.slurmdPort}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=${c.mungeSocket}
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
# A container without cgroups.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# slurmdbd so that sacct answers for finished jobs; AccountingStoragePass names the munge socket for that link.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=${c.dbdPort}
AccountingStoragePass=${c.mungeSocket}
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Schedule at once (a job starts well under a second after sbatch) and end jobs quickly.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=100000
MinJobAge=${c.minJobAge}
KillWait=1
OverTimeLimit=0
ReturnToService=2
InactiveLimit=0
# preemptJob(): a job of the high-tier partition cancels the default partition's running jobs (state PREEMPTED).
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
NodeName=${NODE_NAME} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=${hw("CPUs")} Boards=${hw("Boards")} SocketsPerBoard=${hw("SocketsPerBoard")} CoresPerSocket=${hw("CoresPerSocket")} ThreadsPerCore=${hw("ThreadsPerCore")} RealMemory=${hw("RealMemory")} State=UNKNOWN
# OverSubscribe=FORCE: up to 8 jobs share each CPU, so tests on a small machine do not queue behind each other.
PartitionName=${PARTITION} Nodes=${NODE_NAME} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8 PriorityTier=1
PartitionName=${PREEMPT_PARTITION} Nodes=${NODE_NAME} MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE PriorityTier=2 PreemptMode=OFF
`;
}

function slurmdbdConf(c: { dir: string; dbdPort: number; mungeSocket: string }): string {
  return `# Written by the Slurm connector's test harness (connectors/slurm/src/testing/cluster.ts).
AuthType=auth/munge
AuthInfo=socket=${c.mungeSocket}
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=${c.dbdPort}
SlurmUser=root
LogFile=${c.dir}/log/slurmdbd.log
PidFile=${c.dir}/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
`;
}

function sshdConfig(cluster: Cluster, port: number, hostKey: string): string {
  const env = cluster.userEnv();
  // SetEnv gives non-login sessions this cluster's Slurm and the fakes; a login shell (bash -l) would reset PATH
  // through Debian's /etc/profile (SLURM_CONF stays).
  return `# Written by the Slurm connector's test harness (connectors/slurm/src/testing/cluster.ts).
ListenAddress 127.0.0.1
Port ${port}
HostKey ${hostKey}
PidFile ${cluster.dir}/ssh/sshd.pid
AuthorizedKeysFile ${cluster.dir}/ssh/authorized_keys
AllowUsers ${USERNAME}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitRootLogin no
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
Subsystem sftp internal-sftp
SetEnv SLURM_CONF=${env["SLURM_CONF"]} PATH=${env["PATH"]} ${MARKER}=${cluster.dir}
`;
}
