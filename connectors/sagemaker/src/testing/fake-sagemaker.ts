// A FAKE of Amazon SageMaker and SageMaker Runtime for tests, on 127.0.0.1. It is not AWS: it follows the shapes
// AWS documents for these APIs, and only as far as the tests need them.
// - SageMaker is an awsJson1_1 service: `POST /` with `X-Amz-Target: SageMaker.<Operation>`, a JSON body of the
//   operation's input members, a JSON reply; errors are HTTP 400 (500 for InternalFailure, 503 for
//   ServiceUnavailable) with `{"__type": "<ErrorCode>", "message": "…"}`. Covered: CreateModel, DescribeModel,
//   DeleteModel, CreateEndpointConfig, DescribeEndpointConfig, DeleteEndpointConfig, CreateEndpoint,
//   DescribeEndpoint, DeleteEndpoint, ListEndpoints. A missing endpoint is a ValidationException
//   "Could not find endpoint …", an existing one "Cannot create already existing endpoint "<arn>"." (as SageMaker says).
// - SageMaker Runtime is restJson1: `POST /endpoints/{EndpointName}/invocations` (the body as sent, the reply's body
//   raw with `Content-Type` and `x-Amzn-Invoked-Production-Variant`), `POST /endpoints/{EndpointName}/async-invocations`
//   (`X-Amzn-SageMaker-InputLocation` → 202 `{"InferenceId"}` with `X-Amzn-SageMaker-OutputLocation`); errors carry
//   `x-amzn-ErrorType` and `{"message"}`.
// Requests must be SigV4-signed by a known access key (the signature itself is not checked); the region is read
// from the credential scope. Endpoints are "Creating" for `creatingPolls` DescribeEndpoint calls, then InService,
// or Failed with a reason set by `failEndpoint`.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_ACCOUNT = "123456789012";

export interface SeenRequest {
  /** `SageMaker.CreateEndpoint`, or `runtime:/endpoints/x/invocations`. */
  target: string;
  region: string | undefined;
  accessKeyId: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: Record<string, unknown> | undefined;
}

interface Endpoint {
  name: string;
  configName: string;
  arn: string;
  region: string;
  status: string;
  polls: number;
  created: Date;
  failureReason?: string;
}

/** An error the fake answers with, once, for the next call of an operation. */
export interface InjectedFault {
  status: number;
  type: string;
  message: string;
}

class AwsFault extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

export class FakeSageMaker {
  readonly seen: SeenRequest[] = [];
  /** Access key id → secret; requests signed by another key fail with UnrecognizedClientException. */
  readonly keys = new Map<string, string>();
  readonly models = new Map<string, { arn: string; body: Record<string, unknown> }>();
  readonly endpointConfigs = new Map<string, { arn: string; body: Record<string, unknown> }>();
  readonly endpoints = new Map<string, Endpoint>();
  /** DescribeEndpoint calls that still see "Creating" after CreateEndpoint. */
  creatingPolls = 1;
  /** When set, AccessDenied messages echo the request's session token (a careless service; the connector must redact). */
  echoSessionToken = false;
  readonly #faults = new Map<string, InjectedFault[]>();
  readonly #failing = new Map<string, string>();
  #server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** The next `count` calls of `target` (`SageMaker.CreateEndpoint`, `runtime:invoke`) answer `fault`. */
  inject(target: string, fault: InjectedFault, count = 1): void {
    this.#faults.set(target, [...(this.#faults.get(target) ?? []), ...Array.from({ length: count }, () => fault)]);
  }

  /** Endpoints created with this endpoint config end Failed with `reason`. */
  failEndpoint(configName: string, reason: string): void {
    this.#failing.set(configName, reason);
  }

  /** Requests of one target. */
  calls(target: string): SeenRequest[] {
    return this.seen.filter((request) => request.target === target);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(request.headers.authorization ?? ""));
    const url = new URL(request.url ?? "/", "http://fake");
    const runtime = /^\/endpoints\/([^/]+)\/(invocations|async-invocations)$/.exec(url.pathname);
    const target = runtime ? `runtime:${runtime[2] === "invocations" ? "invoke" : "invoke-async"}` : String(request.headers["x-amz-target"] ?? "");
    let json: Record<string, unknown> | undefined;
    if (!runtime) {
      try {
        json = body.length ? (JSON.parse(body.toString("utf8")) as Record<string, unknown>) : {};
      } catch {
        json = undefined;
      }
    }
    const seen: SeenRequest = { target, region: scope?.[2], accessKeyId: scope?.[1], headers: request.headers, body, json };
    this.seen.push(seen);
    const requestId = randomUUID();
    try {
      if (!scope || !this.keys.has(scope[1]!)) throw new AwsFault(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
      const fault = this.#faults.get(target)?.shift();
      if (fault) {
        const token = String(request.headers["x-amz-security-token"] ?? "");
        throw new AwsFault(fault.status, fault.type, this.echoSessionToken && token ? `${fault.message} (session ${token})` : fault.message);
      }
      if (runtime) return this.#runtime(decodeURIComponent(runtime[1]!), runtime[2]!, seen, response, requestId);
      if (request.method !== "POST" || url.pathname !== "/" || !target.startsWith("SageMaker.")) throw new AwsFault(404, "UnknownOperationException", "Unknown operation");
      if (!String(request.headers["content-type"]).startsWith("application/x-amz-json-1.1")) throw new AwsFault(400, "SerializationException", "Unexpected content type");
      if (!json) throw new AwsFault(400, "SerializationException", "Invalid JSON body");
      const reply = this.#operation(target.slice("SageMaker.".length), json, seen.region ?? "us-east-1");
      response.writeHead(200, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId }).end(JSON.stringify(reply));
    } catch (error) {
      if (!(error instanceof AwsFault)) throw error;
      const headers = { "content-type": runtime ? "application/json" : "application/x-amz-json-1.1", "x-amzn-requestid": requestId, ...(runtime ? { "x-amzn-errortype": `${error.type}:http://internal.amazon.com/coral/com.amazon.coral.service/` } : {}) };
      response.writeHead(error.status, headers).end(JSON.stringify(runtime ? { message: error.message } : { __type: error.type, message: error.message }));
    }
  }

  #arn(region: string, kind: string, name: string): string {
    return `arn:aws:sagemaker:${region}:${FAKE_ACCOUNT}:${kind}/${name.toLowerCase()}`;
  }

  #operation(operation: string, input: Record<string, unknown>, region: string): Record<string, unknown> {
    const name = (key: string): string => {
      const value = input[key];
      if (typeof value !== "string" || !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(value)) {
        throw new AwsFault(400, "ValidationException", `1 validation error detected: Value '${String(value)}' at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`);
      }
      return value;
    };
    switch (operation) {
      case "CreateModel": {
        const model = name("ModelName");
        if (this.models.has(model)) throw new AwsFault(400, "ValidationException", `Cannot create already existing model "${this.#arn(region, "model", model)}".`);
        const arn = this.#arn(region, "model", model);
        this.models.set(model, { arn, body: input });
        return { ModelArn: arn };
      }
      case "DescribeModel": {
        const model = this.models.get(name("ModelName"));
        if (!model) throw new AwsFault(400, "ValidationException", `Could not find model "${this.#arn(region, "model", String(input["ModelName"]))}".`);
        return { ...model.body, ModelArn: model.arn, CreationTime: 1733300000.5 };
      }
      case "DeleteModel": {
        const model = name("ModelName");
        if (!this.models.delete(model)) throw new AwsFault(400, "ValidationException", `Could not find model "${this.#arn(region, "model", model)}".`);
        return {};
      }
      case "CreateEndpointConfig": {
        const config = name("EndpointConfigName");
        if (this.endpointConfigs.has(config)) {
          throw new AwsFault(400, "ValidationException", `Cannot create already existing endpoint configuration "${this.#arn(region, "endpoint-config", config)}".`);
        }
        for (const variant of (input["ProductionVariants"] as Array<{ ModelName?: string }> | undefined) ?? []) {
          if (!this.models.has(String(variant.ModelName))) throw new AwsFault(400, "ValidationException", `Could not find model "${this.#arn(region, "model", String(variant.ModelName))}".`);
        }
        const arn = this.#arn(region, "endpoint-config", config);
        this.endpointConfigs.set(config, { arn, body: input });
        return { EndpointConfigArn: arn };
      }
      case "DescribeEndpointConfig": {
        const config = this.endpointConfigs.get(name("EndpointConfigName"));
        if (!config) throw new AwsFault(400, "ValidationException", `Could not find endpoint configuration "${String(input["EndpointConfigName"])}".`);
        return { ...config.body, EndpointConfigArn: config.arn, CreationTime: 1733300000 };
      }
      case "DeleteEndpointConfig": {
        const config = name("EndpointConfigName");
        if (!this.endpointConfigs.delete(config)) throw new AwsFault(400, "ValidationException", `Could not find endpoint configuration "${config}".`);
        return {};
      }
      case "CreateEndpoint": {
        const endpoint = name("EndpointName");
        const configName = name("EndpointConfigName");
        const arn = this.#arn(region, "endpoint", endpoint);
        if (this.endpoints.has(endpoint)) throw new AwsFault(400, "ValidationException", `Cannot create already existing endpoint "${arn}".`);
        if (!this.endpointConfigs.has(configName)) throw new AwsFault(400, "ValidationException", `Could not find endpoint configuration "${this.#arn(region, "endpoint-config", configName)}".`);
        this.endpoints.set(endpoint, { name: endpoint, configName, arn, region, status: "Creating", polls: 0, created: new Date() });
        return { EndpointArn: arn };
      }
      case "DescribeEndpoint": {
        const endpoint = this.endpoints.get(name("EndpointName"));
        if (!endpoint || endpoint.region !== region) throw new AwsFault(400, "ValidationException", `Could not find endpoint "${String(input["EndpointName"])}".`);
        if (endpoint.status === "Creating" && ++endpoint.polls > this.creatingPolls) {
          const reason = this.#failing.get(endpoint.configName);
          endpoint.status = reason ? "Failed" : "InService";
          if (reason) endpoint.failureReason = reason;
        }
        return {
          EndpointName: endpoint.name,
          EndpointArn: endpoint.arn,
          EndpointConfigName: endpoint.configName,
          EndpointStatus: endpoint.status,
          CreationTime: endpoint.created.getTime() / 1000,
          LastModifiedTime: endpoint.created.getTime() / 1000,
          ...(endpoint.failureReason ? { FailureReason: endpoint.failureReason } : {}),
        };
      }
      case "DeleteEndpoint": {
        const endpoint = name("EndpointName");
        if (!this.endpoints.delete(endpoint)) throw new AwsFault(400, "ValidationException", `Could not find endpoint "${endpoint}".`);
        return {};
      }
      case "ListEndpoints":
        return { Endpoints: [...this.endpoints.values()].map((e) => ({ EndpointName: e.name, EndpointArn: e.arn, EndpointStatus: e.status, CreationTime: e.created.getTime() / 1000, LastModifiedTime: e.created.getTime() / 1000 })) };
      default:
        throw new AwsFault(400, "UnknownOperationException", `Unknown operation ${operation}`);
    }
  }

  /** An "echo" model: the reply is `{"endpoint": <name>, "received": <the request body as text>}`. */
  #runtime(endpointName: string, kind: string, seen: SeenRequest, response: ServerResponse, requestId: string): void {
    const endpoint = this.endpoints.get(endpointName);
    if (!endpoint || endpoint.status !== "InService") {
      throw new AwsFault(400, "ValidationException", `Endpoint ${endpointName} of account ${FAKE_ACCOUNT} not found.`);
    }
    if (kind === "invocations") {
      const reply = JSON.stringify({ endpoint: endpointName, received: seen.body.toString("utf8"), contentType: seen.headers["content-type"] ?? null });
      response.writeHead(200, { "content-type": "application/json", "x-amzn-invoked-production-variant": "AllTraffic", "x-amzn-requestid": requestId }).end(reply);
      return;
    }
    const input = String(seen.headers["x-amzn-sagemaker-inputlocation"] ?? "");
    if (!input.startsWith("s3://")) throw new AwsFault(400, "ValidationException", "InputLocation must be an S3 URI.");
    const id = randomUUID();
    response
      .writeHead(202, {
        "content-type": "application/json",
        "x-amzn-sagemaker-outputlocation": `s3://fake-bucket/async-out/${id}.out`,
        "x-amzn-sagemaker-failurelocation": `s3://fake-bucket/async-failures/${id}-error.out`,
        "x-amzn-requestid": requestId,
      })
      .end(JSON.stringify({ InferenceId: id }));
  }
}
