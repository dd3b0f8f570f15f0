/**
 * Checks a method's params against a JSON schema (ajv 8) before the method runs, and turns the first failure into the
 * named error the hand-written checks used to give, so clients see the same strings. The validator never coerces,
 * removes or defaults a field: the KeyAssign signer's signature covers the body as the client sent it, and a method
 * must see exactly that. This file owns the schema machinery only; what each method accepts is in params.ts.
 */
import { Ajv } from "ajv";

import { rpcError, type RpcError } from "./errors.ts";

const ajv = new Ajv({
  allErrors: false, // stop at the first failure: a bad request costs no more than that
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  strict: true,
});

/**
 * `maxUtf16Length`: at most that many UTF-16 code units, as `string.length` counts — what the checks before the schemas
 * counted, and what bounds memory. (ajv's maxLength counts code points, which lets non-BMP text be twice as long.)
 */
export const MAX_UTF16_LENGTH = "maxUtf16Length";
ajv.addKeyword({
  keyword: MAX_UTF16_LENGTH,
  type: "string",
  schemaType: "number",
  before: "pattern", // a length is cheap to check, a regular expression over a long string is not
  validate: (max: number, data: string) => data.length <= max,
  errors: false,
});

/** The error for a field that failed `keyword` ("required" when it is missing), given the value sent. */
export type Refusal = (keyword: string, field: string, value: unknown) => RpcError;

/** One field's schema and how its failures are named; `V` is the type a value that passes has. */
export interface FieldRule<V> {
  schema: Record<string, unknown>;
  refuse: Refusal;
  /** Type-level only: what a passing value is. */
  readonly passes?: V;
}

export type ParamsOf<F> = { [K in keyof F]: F[K] extends FieldRule<infer V> ? V : never };

/** The params as a P when they pass, else the error to answer. */
export type ParamsCheck<P> = (params: Record<string, unknown>) => { params: P } | { refused: RpcError };

/**
 * A check of an object's fields, in the order given: the first field that fails is the one reported, as the
 * hand-written checks reported the first bad field they met. Fields not named are let through untouched (torus.js
 * sends more than a method reads, e.g. ShareRequest's `encrypted`).
 */
export function fieldsCheck<F extends Record<string, FieldRule<unknown>>>(fields: F): ParamsCheck<ParamsOf<F>> {
  const names = Object.keys(fields);
  const validate = ajv.compile({
    type: "object",
    // One subschema per field: allOf is evaluated in order and stops at the first failure.
    ...(names.length === 0
      ? {}
      : {
          allOf: names.map((name) => ({
            type: "object",
            required: [name],
            properties: { [name]: fields[name]!.schema },
          })),
        }),
  });
  return (params) => {
    if (validate(params)) return { params: params as ParamsOf<F> };
    const error = validate.errors![0]!;
    const missing = error.keyword === "required" ? (error.params as { missingProperty: string }).missingProperty : "";
    if (!missing && error.instancePath === "") return { refused: rpcError("PARAMS_NOT_OBJECT") };
    // Field names hold no "/" or "~", so the JSON pointer's first segment is the name as sent.
    const field = missing || error.instancePath.split("/")[1]!;
    const rule = fields[field];
    if (!rule) throw new Error(`params schema failed outside its fields: ${error.instancePath} ${error.keyword}`);
    return { refused: rule.refuse(error.keyword, field, params[field]) };
  };
}
