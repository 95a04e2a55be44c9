/**
 * The type engine: Flyte literals ↔ JavaScript values, compatible with the Python SDK (flyte-sdk).
 *
 * Value mapping (decode → encode accepts the same):
 * - int ↔ `number` when |v| ≤ 2^53 - 1, else `bigint` (encode takes an integral number or a bigint)
 * - float ↔ `number`; str ↔ `string`; bool ↔ `boolean`; none ↔ `null`
 * - datetime ↔ {@link FlyteDatetime}, a `Date` that keeps the nanoseconds (exact; encode also takes a plain
 *   `Date`, to the millisecond); timedelta ↔ {@link Duration} (exact)
 * - inside untyped dicts a whole float (`2.0`) decodes to the number 2 and is written back as a float
 *   when the same object is encoded again; {@link Float64} forces a float; dataclass / pydantic fields whose
 *   schema says `number` are always written as floats, and their `required` fields are checked both ways
 * - list ↔ array; dict[str, T] ↔ plain object; untyped dict / dataclass / pydantic (STRUCT) ↔ plain object
 * - enum ↔ `string` (checked against the members); union ↔ the chosen variant's value
 * - File ↔ {@link FlyteFile}; Dir ↔ {@link FlyteDir}; DataFrame ↔ {@link DataFrame}
 * Python pickles cannot be read: they fail with a TypeConversionError naming the variable.
 */
export { DataFrame, type DataFrameColumn, Duration, Float64, FlyteDatetime, FlyteDir, FlyteFile, type BlobStorageOptions, type UploadOptions } from "./native.js";
export { type Infer, type InferShape, type TypeSpec, types, variableMap } from "./spec.js";
export { describeType } from "./describe.js";
export { checkRequired as checkRequiredFields, SchemaMismatch } from "./json-schema.js";
export { LocalFileStorage, RemoteOnlyStorage, isStorage, type LiteralStorage } from "./storage.js";
export type { ConvertOptions } from "./context.js";
export {
  type DeclaredTypes,
  decodeInputs,
  decodeLiteral,
  decodeOutputs,
  decodeTaskInputs,
  encodeInputs,
  encodeLiteral,
  encodeOutputs,
} from "./convert.js";
