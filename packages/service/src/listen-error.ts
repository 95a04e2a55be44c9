/** Which service option a listening socket came from (the CLI maps it to its flag). */
export type ListenOption = "port" | "prometheusPort" | "connectPort";

/** The CLI flag of each listening option. */
export const LISTEN_FLAGS: Readonly<Record<ListenOption, string>> = {
  port: "--port",
  prometheusPort: "--prometheus-port",
  connectPort: "--connect-port",
};

/**
 * A port that could not be listened on (in use, not permitted, out of range) or a host that is not an address of
 * this machine: a configuration mistake, reported as one line naming the option and the value, never a stack.
 */
export class ListenError extends Error {
  readonly option: ListenOption;
  readonly port: number;
  readonly host: string;
  /** The socket error code (EADDRINUSE, EACCES, ERR_SOCKET_BAD_PORT, EADDRNOTAVAIL, ENOTFOUND, …). */
  readonly code: string | undefined;

  constructor(option: ListenOption, port: number, host: string, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(describe(LISTEN_FLAGS[option], port, host, typeof code === "string" ? code : undefined, cause), { cause });
    this.option = option;
    this.port = port;
    this.host = host;
    this.code = typeof code === "string" ? code : undefined;
  }

  override get name(): string {
    return "ListenError";
  }
}

function describe(flag: string, port: number, host: string, code: string | undefined, cause: unknown): string {
  switch (code) {
    case "EADDRINUSE":
      return `${flag} ${port}: ${host}:${port} is already in use (EADDRINUSE); stop what listens there or choose another port`;
    case "EACCES":
      return `${flag} ${port}: not permitted to listen on ${host}:${port} (EACCES; ports below 1024 need privileges)`;
    case "ERR_SOCKET_BAD_PORT":
      return `${flag} ${port}: not a port (0 to 65535)`;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `--host ${host}: not an address of this machine (${code}), so ${flag} ${port} cannot be listened on`;
    default:
      return `${flag} ${port}: cannot listen on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}

/** Runs `listen`, turning its failure into a {@link ListenError} naming `option`. */
export async function listenOn<T>(option: ListenOption, port: number, host: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    throw new ListenError(option, port, host, error);
  }
}
