import { fromJson, toJson, type DescMessage, type JsonObject } from "@bufbuild/protobuf";

/**
 * The canonical JSON form of a message given as JSON: parsed against the schema (so a misspelt field fails
 * here, not in the backend) and written back with protobuf-es defaults — camelCase names, fields at their
 * default value left out — which is what Python's `MessageToDict` writes.
 */
export function canonicalJson(schema: DescMessage, json: JsonObject): JsonObject {
  return toJson(schema, fromJson(schema, json)) as JsonObject;
}
