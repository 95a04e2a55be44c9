// SSH to a login node with ssh2: one connection per (user, host, port, key, known hosts), reused across calls,
// a bound on concurrent channels (sshd's MaxSessions), reconnection after faults, host keys verified.
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import ssh2 from "ssh2";
import type { ClientChannel, ConnectConfig, SFTPWrapper, Stats } from "ssh2";
import { ConnectorError, Redactor, type StatusName } from "flyte-connectors";
import { KnownHosts, hostLookupName, keyTypeOf } from "./known-hosts.js";

const { Client, utils } = ssh2;

/** ssh2's host key algorithms, strongest first (its defaults). */
const HOST_KEY_ALGORITHMS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/** Retries of a channel the server refused to open (its session slots free a moment after a close). */
const CHANNEL_OPEN_RETRIES = 6;

/** Runs a close/end call that may throw on a connection that just dropped (in an event handler that would crash). */
function quietly(close: () => unknown): void {
  try {
    close();
  } catch {
    // the channel or connection is gone already
  }
}

/** A failure talking to the login node. `transient` faults (network, timeouts, a dropped connection) may pass. */
export class SshError extends ConnectorError {
  readonly transient: boolean;
  constructor(code: StatusName, message: string, transient: boolean, options?: { cause?: unknown }) {
    super(code, message, options);
    this.transient = transient;
  }
}

/** Where and as whom to connect. */
export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** OpenSSH or PEM private key text. Never logged, never in errors. */
  privateKey: string;
  /** known_hosts content the host key is checked against; `"skip"` disables the check (deployment-only setting). */
  knownHosts: string | "skip";
  /** Where `knownHosts` came from, named in errors (e.g. "secret known_hosts_data"). */
  knownHostsSource: string;
}

export interface SshOptions {
  /** Longest wait for TCP connect + SSH handshake + authentication, in ms. Default: 15 000. */
  connectTimeout?: number;
  /** Default deadline of one remote command, in ms (a call's signal can end it sooner). Default: 60 000. */
  commandTimeout?: number;
  /**
   * Most channels (commands, SFTP sessions) open at once on one connection; further ones wait in order. Keep it
   * below the server's `MaxSessions` (OpenSSH default 10). Default: 8.
   */
  maxChannels?: number;
  /**
   * TCP keepalive delay of the connection in ms. A command that times out while nothing else arrived on the
   * connection since it started drops the connection (the next call reconnects). Default: 15 000.
   */
  keepaliveInterval?: number;
  /** A connection with no channel open for this long (ms) is closed; the next call reconnects. Default: 300 000. */
  idleTimeout?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; -1 when the command ended without one (killed by a signal). */
  code: number;
}

/** A FIFO counting semaphore. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const index = this.#waiting.indexOf(grant);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal!.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(grant);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

function abortError(signal: AbortSignal, what: string): ConnectorError {
  return ConnectorError.fromAbort(signal, what);
}

type Client = InstanceType<typeof Client>;

/** One SSH connection to a login node, opened on first use and again after it drops. */
export class SshConnection {
  readonly target: SshTarget;
  readonly #options: Required<SshOptions>;
  readonly #slots: Slots;
  readonly #redactor: Redactor;
  #client: Client | undefined;
  #socket: Socket | undefined;
  /** When data or a channel close last arrived on the connection. */
  #lastActivity = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<Client> | undefined;
  #home: string | undefined;
  #open = 0;
  #peakOpen = 0;
  #connects = 0;

  constructor(target: SshTarget, options: SshOptions = {}) {
    this.target = target;
    this.#options = { connectTimeout: 15_000, commandTimeout: 60_000, maxChannels: 8, keepaliveInterval: 15_000, idleTimeout: 300_000, ...options };
    if (!(this.#options.maxChannels >= 1)) throw new RangeError("maxChannels must be at least 1");
    this.#slots = new Slots(this.#options.maxChannels);
    this.#redactor = Redactor.for([target.privateKey]);
  }

  get #where(): string {
    return `${this.target.username}@${hostLookupName(this.target.host, this.target.port)}`;
  }

  /** Channels open at most at once so far, and connections made so far (for tests and metrics). */
  get stats(): { peakChannels: number; connects: number; openChannels: number } {
    return { peakChannels: this.#peakOpen, connects: this.#connects, openChannels: this.#open };
  }

  #connect(signal?: AbortSignal): Promise<Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#dial().finally(() => {
      this.#connecting = undefined;
    });
    if (!signal) return this.#connecting;
    // A caller that gives up stops waiting; the connection attempt goes on for the next caller.
    return new Promise<Client>((resolve, reject) => {
      const onAbort = () => reject(abortError(signal, `the SSH connection to ${this.#where}`));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#connecting!.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  #dial(): Promise<Client> {
    const { host, port, username, privateKey, knownHosts, knownHostsSource } = this.target;
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) {
      // ssh2's parse message names the format problem, never key material; redacted anyway.
      return Promise.reject(new SshError("FAILED_PRECONDITION", `The SSH private key for ${this.#where} cannot be used: ${this.#redactor.redact(parsed.message)}.`, false));
    }
    let verdict: string | undefined;
    const config: ConnectConfig = {
      host,
      port,
      username,
      privateKey,
      readyTimeout: this.#options.connectTimeout,
      // No SSH-level keepalive: its interval timer would keep a local run's process alive after the run. The socket
      // is ours instead: TCP keepalive, and unref'd while no channel is open.
      keepaliveInterval: 0,
    };
    if (knownHosts !== "skip") {
      const entries = new KnownHosts(knownHosts);
      const algorithms = entries.preferredAlgorithms(host, port, HOST_KEY_ALGORITHMS);
      if (algorithms) config.algorithms = { serverHostKey: algorithms as never };
      config.hostVerifier = (key: Buffer) => {
        verdict = entries.verify(host, port, key);
        if (verdict !== "match") verdict = `${verdict}:${keyTypeOf(key) ?? "unknown type"}:SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
        return verdict === "match";
      };
    }
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, this.#options.keepaliveInterval);
      config.sock = socket;
      // One "close" listener per open channel, plus the connection's own.
      client.setMaxListeners(this.#options.maxChannels + 10);
      let ready = false;
      // The handshake timeout of ssh2 covers the handshake; this covers a TCP connect that never answers too.
      const timer = setTimeout(() => {
        fail(new SshError("UNAVAILABLE", `Timed out after ${this.#options.connectTimeout / 1000} s connecting to ${this.#where}.`, true));
        client.destroy();
      }, this.#options.connectTimeout + 1000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (!ready) reject(error);
      };
      client.on("ready", () => {
        clearTimeout(timer);
        ready = true;
        this.#client = client;
        this.#socket = socket;
        this.#lastActivity = Date.now();
        if (this.#open === 0) socket.unref();
        this.#home = undefined;
        this.#connects++;
        resolve(client);
      });
      client.on("error", (error: Error & { level?: string; code?: string }) => {
        if (ready) return; // a fault on an open connection: "close" follows and the next call reconnects
        fail(this.#connectError(error, verdict));
      });
      client.on("close", () => {
        clearTimeout(timer);
        if (this.#client === client) {
          this.#client = undefined;
          this.#socket = undefined;
        }
        if (!ready) reject(new SshError("UNAVAILABLE", `The SSH connection to ${this.#where} closed during the handshake.`, true));
      });
      try {
        client.connect(config);
      } catch (error) {
        fail(new SshError("FAILED_PRECONDITION", `Cannot connect to ${this.#where}: ${this.#redactor.redact((error as Error).message)}`, false, { cause: error }));
      }
    }).catch((error: unknown) => {
      if (error instanceof SshError && error.message.includes("host key")) throw error;
      if (verdict && verdict !== "match" && knownHosts !== "skip") throw this.#hostKeyError(verdict, knownHostsSource);
      throw error;
    });
  }

  #hostKeyError(verdict: string, source: string): SshError {
    const [kind, type, ...fingerprint] = verdict.split(":");
    const shown = `${type} key ${fingerprint.join(":")}`;
    const name = hostLookupName(this.target.host, this.target.port);
    const text =
      kind === "revoked"
        ? `The host key of ${name} (${shown}) is marked @revoked in the known hosts (${source}); refusing to connect.`
        : kind === "unknown"
          ? `The known hosts (${source}) have no entry for ${name}; refusing to connect to a host whose key (${shown}) cannot be verified. Add the login node's key (ssh-keyscan -p ${this.target.port} ${this.target.host}).`
          : `The host key of ${name} (${shown}) does not match the known hosts (${source}); refusing to connect (the key changed, or someone is intercepting the connection).`;
    return new SshError("FAILED_PRECONDITION", text, false);
  }

  #connectError(error: Error & { level?: string; code?: string }, verdict: string | undefined): Error {
    const message = this.#redactor.redact(error.message);
    if (verdict && verdict !== "match") return this.#hostKeyError(verdict, this.target.knownHostsSource);
    if (error.level === "client-authentication") {
      return new SshError("FAILED_PRECONDITION", `SSH authentication as ${this.target.username} on ${hostLookupName(this.target.host, this.target.port)} failed: the server refused the private key.`, false, { cause: error });
    }
    if (error.level === "client-timeout") return new SshError("UNAVAILABLE", `Timed out connecting to ${this.#where}: ${message}.`, true, { cause: error });
    if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") {
      return new SshError("UNAVAILABLE", `Cannot resolve the Slurm login host ${JSON.stringify(this.target.host)} (${error.code}).`, error.code === "EAI_AGAIN", { cause: error });
    }
    return new SshError("UNAVAILABLE", `Cannot connect to ${this.#where}: ${message}${error.code && !message.includes(error.code) ? ` (${error.code})` : ""}.`, true, { cause: error });
  }

  /** Holds a channel slot (and a live connection) while `use` runs; one retry on a fresh connection if it dropped. */
  async #withChannel<T>(what: string, signal: AbortSignal | undefined, use: (client: Client) => Promise<T>, retryOnDrop: boolean): Promise<T> {
    const release = await this.#slots.acquire(signal).catch((reason: unknown) => {
      throw signal ? abortError(signal, what) : reason;
    });
    this.#channelOpened();
    try {
      for (let attempt = 0; ; attempt++) {
        const client = await this.#connect(signal);
        try {
          return await use(client);
        } catch (error) {
          const dropped = error instanceof SshError && error.transient && this.#client !== client;
          if (retryOnDrop && dropped && attempt === 0 && !signal?.aborted) continue;
          throw error;
        }
      }
    } finally {
      this.#channelClosed();
      release();
    }
  }

  #channelOpened(): void {
    this.#open++;
    this.#peakOpen = Math.max(this.#peakOpen, this.#open);
    if (this.#open === 1) this.#socket?.ref();
    clearTimeout(this.#idleTimer);
  }

  #channelClosed(): void {
    this.#open--;
    this.#lastActivity = Date.now();
    if (this.#open === 0) {
      this.#socket?.unref();
      // Connections of task-supplied keys would otherwise pile up on a long-running service.
      this.#idleTimer = setTimeout(() => this.#open === 0 && this.close(), this.#options.idleTimeout).unref();
    }
  }

  /**
   * Runs `command` (a complete shell command line: quote every value with `shellQuote`) and collects its output.
   * Output beyond `maxOutput` bytes per stream is dropped (default 4 MiB).
   */
  exec(command: string, options: { signal?: AbortSignal; timeout?: number; idempotent?: boolean; maxOutput?: number } = {}): Promise<ExecResult> {
    const { timeout = this.#options.commandTimeout, idempotent = true, maxOutput = 4 << 20 } = options;
    const what = `a command on ${this.#where}`;
    return this.#withChannel(what, options.signal, (client) => new Promise<ExecResult>((resolve, reject) => {
      let stream: ClientChannel | undefined;
      let settled = false;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const sizes = [0, 0];
      let code = -1;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        client.removeListener("close", onClientClose);
        if (error) {
          quietly(() => stream?.close());
          reject(error);
        } else {
          resolve({ stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"), code });
        }
      };
      const started = Date.now();
      const timer = setTimeout(() => {
        // Nothing arrived on the connection since this command started: it is probably dead (no SSH keepalive here).
        if (this.#lastActivity < started && this.#client === client) client.destroy();
        finish(new SshError("UNAVAILABLE", `A command on ${this.#where} did not finish within ${timeout / 1000} s.`, true));
      }, timeout);
      const onAbort = () => finish(abortError(options.signal!, what));
      const onClientClose = () => finish(new SshError("UNAVAILABLE", `The SSH connection to ${this.#where} dropped during a command.`, true));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      client.once("close", onClientClose);
      const open = (attempt: number) => {
        client.exec(command, (error, channel) => {
          if (error) {
            // sshd frees a session slot a moment after the channel closes: a refusal right after a close is retried.
            if (/open failed/i.test(error.message) && attempt < CHANNEL_OPEN_RETRIES && !settled) return void setTimeout(() => !settled && guarded(() => open(attempt + 1)), 25 * 2 ** attempt);
            return finish(new SshError("UNAVAILABLE", `Cannot open a channel on ${this.#where}: ${error.message}.`, true, { cause: error }));
          }
          stream = channel;
          // Faults reach the caller through "close"/the timer; an "error" event without a listener would crash the process.
          channel.on("error", () => {});
          if (settled) return quietly(() => channel.close());
          const collect = (into: Buffer[], index: 0 | 1) => (chunk: Buffer) => {
            this.#lastActivity = Date.now();
            if (sizes[index]! >= maxOutput) return;
            into.push(chunk);
            sizes[index]! += chunk.length;
          };
          channel.on("data", collect(stdout, 0));
          channel.stderr.on("data", collect(stderr, 1));
          channel.on("exit", (status: number | null) => {
            code = typeof status === "number" ? status : -1;
          });
          channel.on("close", () => finish());
        });
      };
      const guarded = (run: () => void) => {
        try {
          run();
        } catch (error) {
          // ssh2 throws when the connection is no longer writable (it dropped between checks).
          finish(new SshError("UNAVAILABLE", `The SSH connection to ${this.#where} is not usable: ${(error as Error).message}.`, true, { cause: error }));
        }
      };
      guarded(() => open(0));
    }), idempotent);
  }

  /** Runs `use` with an SFTP session (holding one channel slot), closed afterwards; retried once if the connection dropped. */
  async sftp<T>(use: (sftp: SftpSession) => Promise<T>, options: { signal?: AbortSignal; timeout?: number } = {}): Promise<T> {
    const timeout = options.timeout ?? this.#options.commandTimeout;
    for (let attempt = 0; ; attempt++) {
      const lease = await this.openSftp(options.signal);
      let timer: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new SshError("UNAVAILABLE", `SFTP on ${this.#where} did not finish within ${timeout / 1000} s.`, true)), timeout);
        });
        return await Promise.race([use(lease.session), timedOut, lease.closed]);
      } catch (error) {
        if (attempt === 0 && error instanceof SshError && error.transient && lease.dropped && !options.signal?.aborted) continue;
        throw error;
      } finally {
        clearTimeout(timer);
        lease.done();
      }
    }
  }

  /**
   * An SFTP session holding one channel slot until `done()`. `closed` rejects when the connection drops or the
   * signal fires (pass it to a race); `dropped` tells whether the connection dropped.
   */
  async openSftp(signal?: AbortSignal): Promise<SftpLease> {
    const what = `an SFTP session on ${this.#where}`;
    const release = await this.#slots.acquire(signal).catch((reason: unknown) => {
      throw signal ? abortError(signal, what) : reason;
    });
    this.#channelOpened();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.#channelClosed();
      release();
    };
    try {
      const client = await this.#connect(signal);
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        const open = (attempt: number) => {
          try {
            client.sftp((error, session) => {
              // ssh2 emits "error" on a session whose connection drops (e.g. "No response from server"); every
              // operation's callback gets the fault too, so the event only needs a listener.
              if (!error) return resolve(session.on("error", () => {}));
              if (/open failed/i.test(error.message) && attempt < CHANNEL_OPEN_RETRIES && !signal?.aborted) return void setTimeout(() => open(attempt + 1), 25 * 2 ** attempt);
              reject(new SshError("UNAVAILABLE", `Cannot start SFTP on ${this.#where}: ${error.message}.`, true, { cause: error }));
            });
          } catch (error) {
            reject(new SshError("UNAVAILABLE", `The SSH connection to ${this.#where} is not usable: ${(error as Error).message}.`, true, { cause: error }));
          }
        };
        open(0);
      });
      let dropped = false;
      let rejectClosed!: (error: Error) => void;
      const closed = new Promise<never>((_resolve, reject) => (rejectClosed = reject));
      closed.catch(() => {});
      const onClose = () => {
        dropped = true;
        rejectClosed(new SshError("UNAVAILABLE", `The SSH connection to ${this.#where} dropped during SFTP.`, true));
      };
      const onAbort = () => rejectClosed(abortError(signal!, what));
      client.once("close", onClose);
      signal?.addEventListener("abort", onAbort, { once: true });
      return {
        session: new SftpSession(sftp, this.#where),
        closed,
        get dropped() {
          return dropped;
        },
        done: () => {
          client.removeListener("close", onClose);
          signal?.removeEventListener("abort", onAbort);
          quietly(() => sftp.end());
          finish();
        },
      };
    } catch (error) {
      finish();
      throw error;
    }
  }

  /** The login user's home directory (cached per connection). */
  async home(signal?: AbortSignal): Promise<string> {
    if (this.#home && this.#client) return this.#home;
    const home = await this.sftp((sftp) => sftp.realpath("."), signal ? { signal } : {});
    this.#home = home;
    return home;
  }

  /** Drops the connection (the next call opens a new one). */
  close(): void {
    const client = this.#client;
    if (client) quietly(() => client.end());
    this.#client = undefined;
    this.#socket = undefined;
  }
}

/** Promise wrappers of the SFTP calls the connector uses; errors name the path, never contents. */
export class SftpSession {
  readonly #sftp: SFTPWrapper;
  readonly #where: string;
  constructor(sftp: SFTPWrapper, where: string) {
    this.#sftp = sftp;
    this.#where = where;
  }

  #error(operation: string, path: string, error: Error & { code?: unknown }): ConnectorError {
    const code: StatusName = error.code === 2 ? "NOT_FOUND" : error.code === 3 ? "FAILED_PRECONDITION" : "UNAVAILABLE";
    return new SshError(code, `Cannot ${operation} ${JSON.stringify(path)} on ${this.#where}: ${error.message}.`, code === "UNAVAILABLE", { cause: error });
  }

  realpath(path: string): Promise<string> {
    return new Promise((resolve, reject) => this.#sftp.realpath(path, (error, resolved) => (error ? reject(this.#error("resolve", path, error)) : resolve(resolved))));
  }

  /** Writes `text` to `path` (created or truncated) with `mode`. */
  writeFile(path: string, text: string, mode: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#sftp.writeFile(path, text, { mode }, (error) => {
        if (error) return reject(this.#error("write", path, error));
        // writeFile's mode applies on creation only: set it on an existing file too.
        this.#sftp.chmod(path, mode, (chmodError) => (chmodError ? reject(this.#error("chmod", path, chmodError)) : resolve()));
      }),
    );
  }

  /** Stats of `path` (symlinks followed), or undefined when it does not exist. */
  stat(path: string): Promise<Stats | undefined> {
    return new Promise((resolve, reject) =>
      this.#sftp.stat(path, (error, stats) => {
        if (!error) return resolve(stats);
        if ((error as Error & { code?: unknown }).code === 2) return resolve(undefined);
        reject(this.#error("stat", path, error));
      }),
    );
  }

  /** Regular files under `dir`, recursively: paths relative to it and sizes. Symlinks are not followed. */
  async walk(dir: string): Promise<Array<{ path: string; size: number }>> {
    const files: Array<{ path: string; size: number }> = [];
    const visit = async (relative: string) => {
      const full = relative ? `${dir}/${relative}` : dir;
      const entries = await new Promise<ssh2.FileEntryWithStats[]>((resolve, reject) => this.#sftp.readdir(full, (error, list) => (error ? reject(this.#error("list", full, error)) : resolve(list))));
      for (const entry of entries.sort((a, b) => (a.filename < b.filename ? -1 : 1))) {
        if (entry.filename === "." || entry.filename === "..") continue;
        const path = relative ? `${relative}/${entry.filename}` : entry.filename;
        if (entry.attrs.isDirectory()) await visit(path);
        else if (entry.attrs.isFile()) files.push({ path, size: entry.attrs.size });
      }
    };
    await visit("");
    return files;
  }

  /** A stream of the file's bytes (SFTP reads, pipelined); `start`/`end` (inclusive) select a range. */
  readStream(path: string, range: { start?: number; end?: number } = {}): Readable {
    // A consumer that stopped reading (a failed upload) leaves the stream's later "error" unheard: not a crash.
    return this.#sftp.createReadStream(path, range).on("error", () => {});
  }
}

export type { Stats };

/** An open SFTP session (see {@link SshConnection.openSftp}). */
export interface SftpLease {
  session: SftpSession;
  /** Rejects when the connection drops or the signal fires. */
  closed: Promise<never>;
  readonly dropped: boolean;
  /** Ends the session and frees its channel slot. */
  done(): void;
}

/** Reuses one {@link SshConnection} per (user, host, port, key, known hosts). */
export class SshPool {
  readonly #connections = new Map<string, SshConnection>();
  readonly #options: SshOptions;
  constructor(options: SshOptions = {}) {
    this.#options = options;
  }

  get(target: SshTarget): SshConnection {
    // Digests, so the key never sits in a map key (or a heap snapshot's string table) twice.
    const digest = (text: string) => createHash("sha256").update(text).digest("base64url");
    const key = [target.username, target.host, target.port, digest(target.privateKey), target.knownHosts === "skip" ? "skip" : digest(target.knownHosts)].join("\u0000");
    let connection = this.#connections.get(key);
    if (!connection) {
      connection = new SshConnection(target, this.#options);
      this.#connections.set(key, connection);
    }
    return connection;
  }

  /** A connection already made to `username@host:port` (any key), if there is one. */
  find(username: string, host: string, port: number): SshConnection | undefined {
    for (const connection of this.#connections.values()) {
      const { target } = connection;
      if (target.username === username && target.host === host && target.port === port) return connection;
    }
    return undefined;
  }

  /** Closes every connection. */
  close(): void {
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
  }
}
