import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { AsyncConnector, type CreateRequest, type Resource, type ResourceRequest } from "../connector.js";
import { Phase } from "../phase.js";
import { ResourceMeta } from "../resource-meta.js";
import { encodeInputs } from "../types/index.js";

/** The inputs themselves, as base64 `task.Inputs` bytes: the job needs no state outside its meta. */
export class EchoMeta extends ResourceMeta.define({ inputs: "string" }) {}

/**
 * Task type `echo`, version 0: succeeds on the first poll with outputs equal to its inputs (same names,
 * same literals). Needs no credentials; for demos and tests of the service. The inputs travel in the resource
 * meta, so they are limited to about 750 KiB (the meta's 1 MiB limit, base64).
 */
export class EchoConnector extends AsyncConnector<EchoMeta> {
  readonly name = "Echo Connector";
  readonly taskTypeName = "echo";
  readonly metadataType = EchoMeta;

  async create({ inputs, taskTemplate, signal }: CreateRequest): Promise<EchoMeta> {
    // Re-encode with the declared input types so the outputs are the literals the caller sent.
    const literals = await encodeInputs(inputs, taskTemplate.interface?.inputs, { signal });
    return new EchoMeta({ inputs: Buffer.from(toBinary(InputsSchema, literals)).toString("base64") });
  }

  async get({ resourceMeta }: ResourceRequest<EchoMeta>): Promise<Resource> {
    const inputs = fromBinary(InputsSchema, Buffer.from(resourceMeta.inputs, "base64"));
    const outputs = Object.fromEntries(inputs.literals.map((named) => [named.name, named.value]));
    return { phase: Phase.SUCCEEDED, outputs };
  }

  async delete(): Promise<void> {}
}
