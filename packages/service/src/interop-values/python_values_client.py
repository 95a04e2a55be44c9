# Calls the service from Python grpcio with values built as flyte-sdk builds them (Timestamp.FromDatetime with
# microseconds; msgpack float64 written by Python's msgpack), using the flyteidl2 descriptors of this repo
# (argv[1]: a FileDescriptorSet; argv[2]: host:port). Prints one JSON object per step; values.test.ts asserts on them.
import datetime
import json
import struct
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

fds = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read())
pool = descriptor_pool.DescriptorPool()
for file in fds.file:
    pool.AddSerializedFile(file.SerializeToString())
factory = message_factory.MessageFactory(pool)


def M(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


core = lambda n: M("flyteidl2.core." + n)
connector = lambda n: M("flyteidl2.connector." + n)
channel = grpc.insecure_channel(sys.argv[2])
ASYNC = "/flyteidl2.connector.AsyncConnectorService/"
SIMPLE = pool.FindEnumTypeByName("flyteidl2.core.SimpleType").values_by_name


def call(method, request, response):
    stub = channel.unary_unary(ASYNC + method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response.FromString)
    return stub(request, timeout=10.0)


def out(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def failure(step, error):
    out(step, code=error.code().name, details=error.details())


# flyte-sdk: datetime → Timestamp.FromDatetime (microseconds × 1000 nanos).
sent_when = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)
ts = timestamp_pb2.Timestamp()
ts.FromDatetime(sent_when)
when = core("Literal")()
when.scalar.primitive.datetime.ParseFromString(ts.SerializeToString())
# msgpack.packb({"ratio": 2.0, "count": 2}): a float64 (0xcb) and a positive fixint.
packed = b"\x82\xa5ratio\xcb" + struct.pack(">d", 2.0) + b"\xa5count\x02"
config = core("Literal")()
config.scalar.binary.value = packed
config.scalar.binary.tag = "msgpack"


def template(task_type, types):
    t = core("TaskTemplate")(type=task_type)
    for name, simple in types.items():
        entry = t.interface.inputs.variables.add()
        entry.key = name
        entry.value.type.simple = SIMPLE[simple].number
    return t


def create_request(task_type, types, literals):
    request = connector("CreateTaskRequest")(template=template(task_type, types), output_prefix="s3://bucket/run/a0/1")
    for name, literal in literals.items():
        named = request.inputs.literals.add()
        named.name = name
        named.value.CopyFrom(literal)
    return request


def get_request(task_type, meta):
    return connector("GetTaskRequest")(task_category=connector("TaskCategory")(name=task_type, version=0), resource_meta=meta)


# 1. Echo round trip: the outputs are the literals sent, byte for byte.
created = call("CreateTask", create_request("echo", {"when": "DATETIME", "config": "STRUCT"}, {"when": when, "config": config}), connector("CreateTaskResponse"))
got = call("GetTask", get_request("echo", created.resource_meta), connector("GetTaskResponse"))
outputs = {named.name: named.value for named in got.resource.outputs.literals}
back = timestamp_pb2.Timestamp()
back.ParseFromString(outputs["when"].scalar.primitive.datetime.SerializeToString())
out(
    "echo",
    phase=got.resource.phase,
    same_when=outputs["when"].SerializeToString() == when.SerializeToString(),
    same_config=outputs["config"].SerializeToString() == config.SerializeToString(),
    when=back.ToDatetime(tzinfo=datetime.timezone.utc).isoformat(),
    config_hex=outputs["config"].scalar.binary.value.hex(),
)

# 2. A declared input without a value, and an undeclared one.
for step, types, literals in [("missing", {"when": "DATETIME", "n": "INTEGER"}, {"when": when}), ("extra", {"when": "DATETIME"}, {"when": when, "other": config})]:
    try:
        call("CreateTask", create_request("echo", types, literals), connector("CreateTaskResponse"))
        out(step, code="OK")
    except grpc.RpcError as error:
        failure(step, error)

# 3. Echo GetTask with a corrupt inner payload; 4. an unknown task type.
for step, request in [("corrupt", get_request("echo", b'{"inputs":"/w=="}')), ("unknown", get_request("no_such_type", b"{}"))]:
    try:
        call("GetTask", request, connector("GetTaskResponse"))
        out(step, code="OK")
    except grpc.RpcError as error:
        failure(step, error)
out("done")
