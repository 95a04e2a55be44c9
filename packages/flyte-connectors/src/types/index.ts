/**
 * The type engine: Flyte literals ↔ JavaScript values, compatible with the Python SDK (flyte-sdk).
 *
 * Value mapping (decode → encode accepts the same):
 * - int ↔ `number` when |v| ≤ 2^53 - 1, else `bigint` (encode takes an integral number or a bigint)
 * - float ↔ `number`; str ↔ `string`; bool ↔ `boolean`; none ↔ `null`
 * - datetime ↔ `Date` (decoding drops sub-millisecond precision); timedelta ↔ {@link Duration} (exact)
 * - list ↔ array; dict[str, T] ↔ plain object; untyped dict / dataclass / pydantic (STRUCT) ↔ plain object
 * - enum ↔ `string` (checked against the members); union ↔ the chosen variant's value
 * - File ↔ {@link FlyteFile}; Dir ↔ {@link FlyteDir}; DataFrame ↔ {@link DataFrame}
 * Python pickles cannot be read: they fail with a TypeConversionError naming the variable.
 */
export { DataFrame, type DataFrameColumn, Duration, FlyteDir, FlyteFile } from "./native.js";
export { type Infer, type InferShape, type TypeSpec, types, variableMap } from "./spec.js";
export { describeType } from "./describe.js";
export { LocalFileStorage, type LiteralStorage } from "./storage.js";
export type { ConvertOptions } from "./context.js";
export {
  type DeclaredTypes,
  decodeInputs,
  decodeLiteral,
  decodeOutputs,
  encodeInputs,
  encodeLiteral,
  encodeOutputs,
} from "./convert.js";
