# A Flyte 1 client in Python grpcio, calling the service as flytekit's tools and propeller do, with flyteidl v1
# messages built from the descriptors of the @flyteorg/flyteidl .proto sources (argv[1]: a FileDescriptorSet).
# argv[2]: host:port. Prints one JSON object per step; flyte1.test.ts asserts on them.
import json
import sys
import threading

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

fds = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read())
pool = descriptor_pool.DescriptorPool()
for file in fds.file:
    pool.AddSerializedFile(file.SerializeToString())


def M(name):
    descriptor = pool.FindMessageTypeByName(name)
    # GetMessageClass from protobuf 4.22 on (GetPrototype is gone in 5.x); Debian bookworm has 4.21.
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return factory.GetPrototype(descriptor)


factory = message_factory.MessageFactory(pool)


admin = lambda n: M("flyteidl.admin." + n)
core = lambda n: M("flyteidl.core." + n)
channel = grpc.insecure_channel(sys.argv[2])
ASYNC = "/flyteidl.service.AsyncAgentService/"


def call(method, request, response, timeout=10.0):
    stub = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response.FromString)
    return stub(request, timeout=timeout)


def out(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def failure(step, error):
    out(step, code=error.code().name, details=error.details())


def template(task_type, inputs, custom=None):
    variables = {name: core("Variable")(type=core("LiteralType")(simple=simple)) for name, simple in inputs.items()}
    t = core("TaskTemplate")(type=task_type, interface=core("TypedInterface")(inputs=core("VariableMap")(variables=variables)))
    if custom is not None:
        t.custom.update(custom)
    return t


def literals(**values):
    m = core("LiteralMap")()
    for name, value in values.items():
        primitive = core("Primitive")(integer=value) if isinstance(value, int) else core("Primitive")(string_value=value)
        m.literals[name].CopyFrom(core("Literal")(scalar=core("Scalar")(primitive=primitive)))
    return m


def values(literal_map):
    return {name: json_format.MessageToDict(lit.scalar.primitive) for name, lit in literal_map.literals.items()}


INTEGER, STRING = 1, 3
step = sys.argv[3] if len(sys.argv) > 3 else "all"

# ListAgents / GetAgent
agents = call("/flyteidl.service.AgentMetadataService/ListAgents", admin("ListAgentsRequest")(), admin("ListAgentsResponse"))
out("list_agents", agents=[{"name": a.name, "is_sync": a.is_sync, "types": list(a.supported_task_types), "categories": [[c.name, c.version] for c in a.supported_task_categories]} for a in agents.agents])
try:
    call("/flyteidl.service.AgentMetadataService/GetAgent", admin("GetAgentRequest")(name="nobody"), admin("GetAgentResponse"))
except grpc.RpcError as e:
    failure("get_agent_unknown", e)

# create -> get -> delete (echo: outputs = inputs)
created = call(ASYNC + "CreateTask", admin("CreateTaskRequest")(template=template("echo", {"x": INTEGER, "s": STRING}), inputs=literals(x=42, s="hi"), output_prefix="s3://bucket/prefix/a/1"), admin("CreateTaskResponse"))
out("create", meta_len=len(created.resource_meta))
category = admin("TaskCategory")(name="echo", version=0)
got = call(ASYNC + "GetTask", admin("GetTaskRequest")(task_category=category, resource_meta=created.resource_meta), admin("GetTaskResponse"))
out("get", phase=got.resource.phase, outputs=values(got.resource.outputs), has_outputs=got.resource.HasField("outputs"))
# Older propellers and tools name only the deprecated task_type.
got = call(ASYNC + "GetTask", admin("GetTaskRequest")(task_type="echo", resource_meta=created.resource_meta), admin("GetTaskResponse"))
out("get_by_task_type", phase=got.resource.phase, outputs=values(got.resource.outputs))
call(ASYNC + "DeleteTask", admin("DeleteTaskRequest")(task_type="echo", task_category=category, resource_meta=created.resource_meta), admin("DeleteTaskResponse"))
out("delete", code="OK")
call(ASYNC + "DeleteTask", admin("DeleteTaskRequest")(task_category=admin("TaskCategory")(name="test"), resource_meta=b"\xff not json"), admin("DeleteTaskResponse"))
out("delete_undecodable", code="OK")

# errors
try:
    call(ASYNC + "CreateTask", admin("CreateTaskRequest")(template=template("nope", {})), admin("CreateTaskResponse"))
except grpc.RpcError as e:
    failure("create_unknown", e)
try:
    call(ASYNC + "GetTask", admin("GetTaskRequest")(resource_meta=b"{}"), admin("GetTaskResponse"))
except grpc.RpcError as e:
    failure("get_no_category", e)
try:
    call(ASYNC + "CreateTask", admin("CreateTaskRequest")(template=template("test", {}, {"mode": "invalid"})), admin("CreateTaskResponse"))
except grpc.RpcError as e:
    failure("create_invalid", e)
try:
    call(ASYNC + "CreateTask", admin("CreateTaskRequest")(template=template("test", {}, {"mode": "wait"})), admin("CreateTaskResponse"), timeout=0.5)
except grpc.RpcError as e:
    failure("create_deadline", e)

# 6 MiB request (propeller sends CreateTask requests above grpc's default 4 MiB)
big = "y" * (6 * 1024 * 1024)
created = call(ASYNC + "CreateTask", admin("CreateTaskRequest")(template=template("test", {"s": STRING}), inputs=literals(s=big)), admin("CreateTaskResponse"))
out("create_6mib", meta=created.resource_meta.decode())

# logs (server streaming) and metrics
logs_stub = channel.unary_stream(ASYNC + "GetTaskLogs", request_serializer=lambda m: m.SerializeToString(), response_deserializer=admin("GetTaskLogsResponse").FromString)
parts = []
for part in logs_stub(admin("GetTaskLogsRequest")(task_type="test", resource_meta=b'{"id":"j","ms":0}'), timeout=10):
    kind = part.WhichOneof("part")
    parts.append({"header": part.header.token} if kind == "header" else {"body": list(part.body.results)})
out("logs", parts=parts)
metrics = call(ASYNC + "GetTaskMetrics", admin("GetTaskMetricsRequest")(task_category=admin("TaskCategory")(name="test"), resource_meta=b'{"id":"j","ms":0}'), admin("GetTaskMetricsResponse"))
out("metrics", results=len(metrics.results))


# ExecuteTaskSync (bidi): header, inputs; the answer is a header with the resource, outputs inline.
def execute_sync(task_type, inputs, half_close):
    answered = threading.Event()

    def requests():
        yield admin("ExecuteTaskSyncRequest")(header=admin("CreateRequestHeader")(template=template(task_type, {"name": STRING}), output_prefix="s3://bucket/sync/1"))
        yield admin("ExecuteTaskSyncRequest")(inputs=inputs)
        if not half_close:
            # As older propellers: wait for the answer before closing the sending side.
            answered.wait(10)

    stub = channel.stream_stream("/flyteidl.service.SyncAgentService/ExecuteTaskSync", request_serializer=lambda m: m.SerializeToString(), response_deserializer=admin("ExecuteTaskSyncResponse").FromString)
    answers = []
    for answer in stub(requests(), timeout=5):
        answers.append(answer)
        answered.set()
    return answers


for half_close in (True, False):
    name = "sync" if half_close else "sync_no_half_close"
    try:
        answers = execute_sync("flyte1_greet", literals(name="Ada"), half_close)
        first = answers[0]
        out(name, count=len(answers), kind=first.WhichOneof("res"), phase=first.header.resource.phase, outputs=values(first.header.resource.outputs))
    except grpc.RpcError as e:
        failure(name, e)
try:
    execute_sync("echo", literals(name="Ada"), True)
except grpc.RpcError as e:
    failure("sync_async_connector", e)
try:
    execute_sync("nope", literals(name="Ada"), True)
except grpc.RpcError as e:
    failure("sync_unknown", e)
out("done")
