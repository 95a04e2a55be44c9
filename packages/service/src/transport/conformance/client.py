"""The Python grpcio (C-core) client of the transport conformance suite.

Runs a batch of calls on one channel and prints what it saw as JSON (the same shape as the grpc-go client in
packages/service/interop/conformance/main.go), so the Node test asserts the same things for every client stack.
Raw bytes in and out: generic multi-callables with no serializers, so no generated code.

stdin:  {"target": "127.0.0.1:PORT", "keepaliveMs": 0, "maxReceiveBytes": 0, "calls": [call, ...]}
stdout: {"results": [result, ...]}
Run with Debian's interpreter (/usr/bin/python3, package python3-grpcio).
"""

import base64
import json
import sys
import threading
import time

import grpc

COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate, None: None}


def user_metadata(pairs):
    """The test's own keys (x-...), -bin values base64 again, so every client reports the same map."""
    out = {}
    for key, value in pairs or ():
        if not key.startswith("x-"):
            continue
        if key.endswith("-bin"):
            value = base64.b64encode(value).decode()
        out.setdefault(key, []).append(value)
    return out


def details_of(pairs):
    for key, value in pairs or ():
        if key == "grpc-status-details-bin":
            return base64.b64encode(value).decode()
    return None


def run(channel, c):
    if c.get("startAfterMs"):
        time.sleep(c["startAfterMs"] / 1000)
    request = base64.b64decode(c.get("request", ""))
    metadata = []
    for key, value in (c.get("metadata") or {}).items():
        metadata.append((key, base64.b64decode(value) if key.endswith("-bin") else value))
    timeout = c["timeoutMs"] / 1000 if c.get("timeoutMs") else None
    compression = COMPRESSION[c.get("compression")]
    kind = c.get("kind", "unary")
    bodies = []
    header, trailer = (), ()
    start = time.monotonic()
    call = None
    timer = None
    try:
        if kind == "server_streaming":
            call = channel.unary_stream(c["method"])(request, timeout=timeout, metadata=metadata, compression=compression)
            if c.get("cancelAfterMs"):
                timer = threading.Timer(c["cancelAfterMs"] / 1000, call.cancel)
                timer.start()
            for message in call:
                bodies.append(message)
                if len(bodies) == 1 and c.get("pauseAfterFirstMs"):
                    time.sleep(c["pauseAfterFirstMs"] / 1000)
        elif kind == "upload_cancel":
            # A client-streaming call on a unary method that never half-closes: cancelled while the server receives.
            hold = threading.Event()

            def requests():
                yield request
                hold.wait()

            call = channel.stream_unary(c["method"]).future(requests(), timeout=timeout, metadata=metadata, compression=compression)
            time.sleep(c.get("cancelAfterMs", 0) / 1000)
            call.cancel()
            hold.set()
            try:
                call.result()
            except grpc.FutureCancelledError:
                pass
        else:
            call = channel.unary_unary(c["method"]).future(request, timeout=timeout, metadata=metadata, compression=compression)
            if c.get("cancelAfterMs"):
                timer = threading.Timer(c["cancelAfterMs"] / 1000, call.cancel)
                timer.start()
            try:
                bodies.append(call.result())
            except grpc.FutureCancelledError:
                pass
    except grpc.RpcError:
        pass
    finally:
        if timer:
            timer.cancel()
    ms = (time.monotonic() - start) * 1000
    code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    if code is None:  # cancelled before it started
        code = grpc.StatusCode.CANCELLED
    try:
        header = call.initial_metadata() if code != grpc.StatusCode.CANCELLED else ()
    except Exception:  # noqa: BLE001 - a cancelled call may have none
        header = ()
    trailer = call.trailing_metadata() or ()
    result = {
        "code": code.value[0],
        "message": call.details() or "",
        "sizes": [len(b) for b in bodies],
        "responses": [] if c.get("discardBodies") else [base64.b64encode(b).decode() for b in bodies],
        "headers": user_metadata(header),
        "trailers": user_metadata(trailer),
        "ms": ms,
    }
    details = details_of(trailer)
    if details:
        result["details"] = details
    return result


def run_copies(channel, c, slot, results):
    n = c.get("parallel") or 1
    if n <= 1:
        results[slot] = run(channel, c)
        return
    every = [None] * n
    threads = [threading.Thread(target=lambda j=j: every.__setitem__(j, run(channel, c))) for j in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = dict(every[0])
    first["all"] = every
    results[slot] = first


def main():
    spec = json.load(sys.stdin)
    options = []
    if spec.get("keepaliveMs"):
        options += [
            ("grpc.keepalive_time_ms", spec["keepaliveMs"]),
            ("grpc.keepalive_timeout_ms", 5000),
            # C-core stops pinging after 2 pings without data by default; a long quiet call should keep pinging.
            ("grpc.http2.max_pings_without_data", 0),
        ]
    if spec.get("maxReceiveBytes"):
        options.append(("grpc.max_receive_message_length", spec["maxReceiveBytes"]))
    with grpc.insecure_channel(spec["target"], options=options) as channel:
        calls = spec["calls"]
        results = [None] * len(calls)
        threads = [threading.Thread(target=run_copies, args=(channel, c, i, results)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
