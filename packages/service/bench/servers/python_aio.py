"""Python grpc.aio baseline for the benchmark, modelled on flyte-sdk's connector server
(src/flyte/connectors/_server.py and utils._start_grpc_server): a `grpc.aio.server` created with
`futures.ThreadPoolExecutor(max_workers=10)` (flyte-sdk's `--worker` default; grpc.aio runs `async def` handlers on
the event loop, the pool only serves sync handlers), async servicer methods that decode the request with the
generated protobuf classes, JSON-decode the resource meta, await the connector and encode the response.

The flyteidl2 message classes are built at start from a FileDescriptorSet that run.mjs writes from the
@flyteorg/flyteidl2 descriptors (so no generated Python package is needed); Debian's python3-grpcio and
python3-protobuf (C++ implementation) do the work. Not modelled: prometheus_client metrics and flyte-sdk's type
engine (literal → Python value conversion of CreateTask inputs), so this baseline does less per call than
flyte-sdk does.

Connectors (task types): "trivial" (get → SUCCEEDED) and "vendor": get makes an HTTP GET to the fake vendor API
(VENDOR_URL) with aiohttp (Debian python3-aiohttp; the client flytekit's HTTP connectors use), one shared
session, and reads the JSON job state. CreateTask of any type returns a small resource meta.

Usage: /usr/bin/python3 python_aio.py <descriptor-set file>   (env PORT, VENDOR_URL). Prints {"port": N} on stdout.
Event-loop delay: a task sleeping 10 ms records how late it wakes; "stats" on stdin prints its p99 (ms).
"""

import asyncio
import json
import os
import sys
import time
from concurrent import futures

import aiohttp
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_fds = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read())
_pool = descriptor_pool.DescriptorPool()
for _file in _fds.file:
    _pool.Add(_file)


def _message(name):
    descriptor = _pool.FindMessageTypeByName(name)
    # protobuf ≥ 4.22 has GetMessageClass; Debian 12's 4.21 has MessageFactory.GetPrototype.
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(_pool).GetPrototype(descriptor)


GetTaskRequest = _message("flyteidl2.connector.GetTaskRequest")
GetTaskResponse = _message("flyteidl2.connector.GetTaskResponse")
CreateTaskRequest = _message("flyteidl2.connector.CreateTaskRequest")
CreateTaskResponse = _message("flyteidl2.connector.CreateTaskResponse")
SUCCEEDED = 3
RUNNING = 2


class Vendor:
    """The fake vendor API through one shared aiohttp ClientSession (keep-alive pool), as a connector keeps one.
    `limit=0`: no cap on connections, like undici's (Node fetch's) default pool; aiohttp's own default (100) would
    cap the baseline at 100 vendor calls in flight."""

    def __init__(self, url):
        self.url = url
        self.session = None

    async def get_json(self, path):
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with self.session.get(self.url + path) as response:
            return await response.json()


vendor = Vendor(os.environ["VENDOR_URL"]) if os.environ.get("VENDOR_URL") else None


failures = 0


class AsyncConnectorService:
    async def GetTask(self, request, context):
        global failures
        try:
            return await self._get_task(request, context)
        except Exception:
            failures += 1
            raise

    async def _get_task(self, request, context):
        task_type = request.task_category.name
        meta = json.loads(request.resource_meta)
        if task_type == "vendor" and vendor is None:
            # No vendor server: a 200 ms sleep stands in for the call (the gRPC and scheduling cost alone).
            await asyncio.sleep(0.2)
            phase = SUCCEEDED
        elif task_type == "vendor":
            job = await vendor.get_json(f"/jobs/{meta['id']}")
            phase = SUCCEEDED if job["state"] == "succeeded" else RUNNING
        elif task_type in ("trivial", "echo"):
            phase = SUCCEEDED
        else:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Cannot find connector for task type: {task_type}.")
        return GetTaskResponse(resource={"phase": phase})

    async def CreateTask(self, request, context):
        # flyte-sdk observes the inputs' size for its metrics and converts them with its type engine (not modelled).
        request.inputs.ByteSize()
        return CreateTaskResponse(resource_meta=json.dumps({"id": "job-1"}).encode())


def _handlers(servicer):
    def unary(fn, req, resp):
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString)

    return grpc.method_handlers_generic_handler(
        "flyteidl2.connector.AsyncConnectorService",
        {
            "GetTask": unary(servicer.GetTask, GetTaskRequest, GetTaskResponse),
            "CreateTask": unary(servicer.CreateTask, CreateTaskRequest, CreateTaskResponse),
        },
    )


lags = []


async def watch_loop():
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append((time.perf_counter() - t0 - 0.01) * 1000)


async def control():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = line.decode().strip()
        if command == "reset":
            lags.clear()
            print(json.dumps({"reset": True}), flush=True)
        elif command == "stats":
            ordered = sorted(lags)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
            print(json.dumps({"eldP99Ms": p99, "eldMaxMs": ordered[-1] if ordered else float("nan"), "errors": failures}), flush=True)


def _quiet_client_gone(loop, context):
    # Calls the load generator abandons when it stops fail to send their answer: not worth a traceback each.
    if type(context.get("exception")).__name__ == "ExecuteBatchError":
        return
    loop.default_exception_handler(context)


async def main():
    asyncio.get_running_loop().set_exception_handler(_quiet_client_gone)
    server = grpc.aio.server(futures.ThreadPoolExecutor(max_workers=10))
    server.add_generic_rpc_handlers((_handlers(AsyncConnectorService()),))
    port = server.add_insecure_port(f"127.0.0.1:{os.environ.get('PORT', '0')}")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    asyncio.ensure_future(watch_loop())
    await control()
    await server.stop(None)


asyncio.run(main())
