import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Inputs, InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { AsyncConnector, type CreateRequest, type Resource, type ResourceRequest } from "../connector.js";
import { Phase } from "../phase.js";
import { ResourceMeta } from "../resource-meta.js";
import { encodeInputs } from "../types/index.js";

/** The inputs themselves, as base64 `task.Inputs` bytes: the job needs no state outside its meta. */
export class EchoMeta extends ResourceMeta.define({ inputs: "string" }) {
  /** The `task.Inputs` message the meta carries. @throws Error when `inputs` is not base64 of one. */
  literals(): Inputs {
    if (!BASE64.test(this.inputs)) throw new Error('field "inputs" is not base64');
    try {
      return fromBinary(InputsSchema, Buffer.from(this.inputs, "base64"));
    } catch (cause) {
      throw new Error(`field "inputs" is not a serialized flyteidl2.task.Inputs (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    }
  }

  /** A meta whose payload is not readable is the caller's error (INVALID_ARGUMENT), found on decode. */
  override validate(): void {
    this.literals();
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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
    const inputs = resourceMeta.literals();
    const outputs = Object.fromEntries(inputs.literals.map((named) => [named.name, named.value]));
    return { phase: Phase.SUCCEEDED, outputs };
  }

  async delete(): Promise<void> {}
}
