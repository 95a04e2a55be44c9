// A loopback TCP proxy that records HTTP/2 frames (test support).
import net from "node:net";

/**
 * A TCP proxy in front of `upstreamPort` on loopback that reads the HTTP/2 frames going through: connections, PINGs
 * each way (and which client PINGs are keepalives) and GOAWAYs. For tests of what a real client and the server
 * say to each other below the calls.
 */
export async function frameSpy(upstreamPort: number) {
  const started = Date.now();
  const seen = {
    connections: 0,
    clientPings: 0,
    /** ms after the spy started of each client PING with an all-zero payload (grpc-go's keepalive; its BDP pings carry a non-zero one). */
    keepalivePings: [] as number[],
    serverPings: 0,
    serverPingAcks: 0,
    goaways: [] as { from: string; code: number; debug: string }[],
  };
  const parser = (from: "client" | "server") => {
    let buf = Buffer.alloc(0);
    let preface = from === "client" ? 24 : 0;
    return (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (preface > 0) {
        const skip = Math.min(preface, buf.length);
        buf = buf.subarray(skip);
        preface -= skip;
      }
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) break;
        const type = buf[3];
        const flags = buf[4]!;
        const payload = buf.subarray(9, 9 + length);
        if (type === 0x6 && !(flags & 1)) {
          if (from === "server") seen.serverPings++;
          else {
            seen.clientPings++;
            if (payload.every((b) => b === 0)) seen.keepalivePings.push(Date.now() - started);
          }
        }
        if (type === 0x6 && from === "server" && flags & 1) seen.serverPingAcks++;
        if (type === 0x7) seen.goaways.push({ from, code: payload.readUInt32BE(4), debug: payload.subarray(8).toString() });
        buf = buf.subarray(9 + length);
      }
    };
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    seen.connections++;
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    sockets.add(downstream).add(upstream);
    const fromClient = parser("client");
    const fromServer = parser("server");
    downstream.on("data", (d: Buffer) => {
      fromClient(d);
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      fromServer(d);
      downstream.write(d);
    });
    const close = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
  return {
    port,
    seen,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
