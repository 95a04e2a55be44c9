/** The public conversion API: single literals, and named Inputs / Outputs of a task. */
import { create, isMessage } from "@bufbuild/protobuf";
import { type VariableMap, VariableMapSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/interface_pb.js";
import type { Literal } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import {
  type Inputs,
  InputsSchema,
  type NamedLiteral,
  type Outputs,
  OutputsSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { TypeConversionError } from "../errors.js";
import { type ConvertOptions, guarded, makeCtx } from "./context.js";
import { decode } from "./decode.js";
import { describeType } from "./describe.js";
import { acceptsNone, encode } from "./encode.js";
import { literalTypeOf, type TypeSpec } from "./spec.js";
import { isPlainObject } from "./values.js";

/** Declared types of named values: a `core.VariableMap`, or a record of specs / LiteralTypes. */
export type DeclaredTypes = VariableMap | Readonly<Record<string, TypeSpec<unknown> | LiteralType>>;

/**
 * Decodes one literal to a JavaScript value, guided by `type` when given (else by the literal's shape).
 * Offloaded literals are read through `opts.storage`.
 */
export function decodeLiteral(literal: Literal, type: LiteralType | undefined, opts?: ConvertOptions): Promise<unknown> {
  const ctx = makeCtx("decode", "value", type, opts);
  return guarded(ctx, () => decode(literal, type, ctx, ""));
}

/**
 * Encodes a JavaScript value as a literal of `type`; without a type, the type is inferred from the
 * value (an integral number becomes an int: declare a float type to send 2.0 as a float).
 * A `flyteidl2.core.Literal` message passes through unchanged.
 */
export function encodeLiteral(value: unknown, type: LiteralType | undefined, opts?: ConvertOptions): Promise<Literal> {
  const ctx = makeCtx("encode", "value", type, opts);
  return guarded(ctx, () => encode(value, type, ctx, ""));
}

/**
 * Decodes task inputs by name. Literals may come in any order; one without a declared type is decoded
 * from its own shape; a declared input that is absent is absent from the result.
 */
export function decodeInputs(inputs: Inputs | undefined, variables?: DeclaredTypes, opts?: ConvertOptions): Promise<Record<string, unknown>> {
  return decodeNamed(inputs?.literals ?? [], variables, "input", opts);
}

/**
 * Decodes the inputs of a task call strictly against the task's interface, as Python's conversion does:
 * every declared input needs a literal (an absent optional one, a union with None, decodes to `null`) and
 * no undeclared input may come.
 * @throws TypeConversionError (INVALID_ARGUMENT) naming the missing or unexpected input.
 */
export function decodeTaskInputs(inputs: Inputs | undefined, variables: DeclaredTypes, opts?: ConvertOptions): Promise<Record<string, unknown>> {
  const typesByName = declaredTypes(variables)!;
  const literals = inputs?.literals ?? [];
  const known = () => [...typesByName.keys()].join(", ") || "none";
  const unexpected = literals.find(({ name }) => !typesByName.has(name));
  if (unexpected) {
    throw new TypeConversionError(`unexpected input: the task's interface does not declare it (declared inputs: ${known()})`, { variable: unexpected.name });
  }
  const given = new Set(literals.map(({ name }) => name));
  const absent = [...typesByName].filter(([name]) => !given.has(name));
  const missing = absent.find(([, type]) => !acceptsNone(type));
  if (missing) {
    const [name, type] = missing;
    const what = type && type.type.case !== undefined ? ` of type ${describeType(type)}` : "";
    throw new TypeConversionError(`missing input${what}: the task's interface declares it and the request has no value for it`, { variable: name });
  }
  return decodeNamed(literals, variables, "input", opts).then((values) => ({ ...values, ...Object.fromEntries(absent.map(([name]) => [name, null])) }));
}

/** Decodes task outputs by name (same rules as {@link decodeInputs}). */
export function decodeOutputs(outputs: Outputs | undefined, variables?: DeclaredTypes, opts?: ConvertOptions): Promise<Record<string, unknown>> {
  return decodeNamed(outputs?.literals ?? [], variables, "output", opts);
}

/**
 * Encodes task outputs. With declared types, every value must be declared and every declared output
 * needs a value (`undefined` counts as none only for none / optional types). Literals follow the
 * declared order; without types, the order of `values`.
 */
export async function encodeOutputs(values: Readonly<Record<string, unknown>>, types?: DeclaredTypes, opts?: ConvertOptions): Promise<Outputs> {
  return create(OutputsSchema, { literals: await encodeNamed(values, types, "output", opts) });
}

/** Encodes task inputs (same rules as {@link encodeOutputs}). */
export async function encodeInputs(values: Readonly<Record<string, unknown>>, types?: DeclaredTypes, opts?: ConvertOptions): Promise<Inputs> {
  return create(InputsSchema, { literals: await encodeNamed(values, types, "input", opts) });
}

function declaredTypes(declared: DeclaredTypes | undefined): Map<string, LiteralType | undefined> | undefined {
  if (declared === undefined) return undefined;
  if (isMessage(declared, VariableMapSchema)) return new Map(declared.variables.map((v) => [v.key, v.value?.type]));
  return new Map(Object.entries(declared).map(([k, t]) => [k, literalTypeOf(t)]));
}

async function decodeNamed(
  literals: readonly NamedLiteral[],
  declared: DeclaredTypes | undefined,
  role: string,
  opts: ConvertOptions | undefined,
): Promise<Record<string, unknown>> {
  const typesByName = declaredTypes(declared);
  const seen = new Set<string>();
  const entries = literals.map(async ({ name, value }): Promise<[string, unknown]> => {
    if (seen.has(name)) throw new TypeConversionError(`${role} appears more than once`, { variable: name });
    seen.add(name);
    if (value === undefined) throw new TypeConversionError(`${role} has no literal value`, { variable: name });
    const type = typesByName?.get(name);
    const ctx = makeCtx("decode", role, type, { ...opts, variable: name });
    return [name, await guarded(ctx, () => decode(value, type, ctx, ""))];
  });
  // fromEntries, not assignment: a variable named "__proto__" must stay a plain key.
  return Object.fromEntries(await Promise.all(entries));
}

async function encodeNamed(
  values: Readonly<Record<string, unknown>>,
  declared: DeclaredTypes | undefined,
  role: string,
  opts: ConvertOptions | undefined,
): Promise<{ name: string; value: Literal }[]> {
  if (!isPlainObject(values)) throw new TypeConversionError(`${role}s must be a plain object of values by name`);
  const typesByName = declaredTypes(declared);
  const given = Object.keys(values).filter((k) => values[k] !== undefined);
  if (typesByName) {
    const undeclared = given.filter((k) => !typesByName.has(k));
    if (undeclared.length > 0) {
      const known = [...typesByName.keys()].join(", ") || "none";
      throw new TypeConversionError(`${role} is not declared (declared ${role}s: ${known})`, { variable: undeclared[0] });
    }
  }
  const names = typesByName ? [...typesByName.keys()] : given;
  return Promise.all(
    names.map(async (name) => {
      const type = typesByName?.get(name);
      const ctx = makeCtx("encode", role, type, { ...opts, variable: name });
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (value === undefined && typesByName && !acceptsNone(type)) {
        const what = type && type.type.case !== undefined ? ` of type ${describeType(type)}` : "";
        throw new TypeConversionError(`missing ${role}${what}: it is declared and has no value`, { variable: name });
      }
      return { name, value: await guarded(ctx, () => encode(value, type, ctx, "")) };
    }),
  );
}
