// grpc-js service definitions for protobuf-es services: what the tests' grpc-js client uses.
import { fromBinary, toBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A grpc-js service definition for a protobuf-es service: paths `/<package.Service>/<Method>`, handler keys
 * the methods' local names (createTask, getTask, …), protobuf-es binary codec.
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const input: DescMessage = method.input;
    const output: DescMessage = method.output;
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (message) => toBuffer(toBinary(input, message as never)),
      requestDeserialize: (bytes) => fromBinary(input, bytes),
      responseSerialize: (message) => toBuffer(toBinary(output, message as never)),
      responseDeserialize: (bytes) => fromBinary(output, bytes),
      originalName: method.localName,
    };
  }
  return definition as ServiceDefinition;
}
