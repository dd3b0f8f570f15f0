/**
 * Every error the JSON-RPC API answers, in one table: a stable name → the JSON-RPC code, message and data. The
 * strings are the Torus node's (torus-node-v0.10.4.md §2) where it had one — torus.js and the SDK match on them
 * ("Verifier + VerifierID has not yet been assigned", "Verifier not supported"), so they must stay byte for byte —
 * and otherwise say what the client did wrong or what to do. This file only names errors: it never decides when one
 * applies, and never changes how they reach the wire (always HTTP 200, see jrpc.ts).
 */

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;

/** A JSON-RPC error object as it goes on the wire. */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: string;
}

type Data = string | ((...args: never[]) => string) | undefined;

interface Entry {
  code: number;
  message: string;
  data: Data;
}

const entry = <D extends Data>(code: number, message: string, data: D) => ({ code, message, data });

export const API_ERRORS = {
  // The JSON-RPC envelope (jrpc.ts).
  PARSE_ERROR: entry(PARSE_ERROR, "Parse error", undefined),
  INVALID_REQUEST: entry(INVALID_REQUEST, "Invalid Request", undefined),
  NOT_JSON: entry(INVALID_REQUEST, "Invalid Request", "Content-Type must be application/json"),
  BATCH_SIZE: entry(INVALID_REQUEST, "Invalid Request", (max: number) => `a batch holds 1 to ${max} requests`),
  METHOD_NOT_FOUND: entry(METHOD_NOT_FOUND, "Method not found", undefined),
  PARAMS_NOT_OBJECT: entry(INVALID_PARAMS, "Invalid params", "params must be an object"),
  /** A parameter failed its schema; the detail names the field (params.ts). */
  INVALID_PARAM: entry(INVALID_PARAMS, "Invalid params", (detail: string) => detail),
  /** A method threw something that is not an RpcError: a bug, never the client's input. */
  UNEXPECTED: entry(INTERNAL_ERROR, "Internal error", "unexpected failure"),
  /** The whole HTTP request failed outside any method. */
  UNEXPECTED_REQUEST: entry(INTERNAL_ERROR, "Internal error", undefined),

  // Admission: the node serves no client now.
  NOT_SERVING: entry(INTERNAL_ERROR, "Internal error", (why: string) => `this node refuses to serve: ${why}`),
  HANDING_OVER: entry(
    INTERNAL_ERROR,
    "Internal error",
    (nextEpoch: number) => `the network is handing over to epoch ${nextEpoch}; retry after the handover`,
  ),

  // Users and keys.
  VERIFIER_NOT_SUPPORTED: entry(INVALID_PARAMS, "Input error", "Verifier not supported"),
  VERIFIER_ID_EMPTY: entry(INVALID_PARAMS, "Input error", "VerifierID is empty"),
  // "Input Error" with a capital E: torus.js compares the whole error object across nodes.
  NOT_ASSIGNED: entry(INVALID_PARAMS, "Input Error", "Verifier + VerifierID has not yet been assigned"),
  NO_LOG_OF_PUBLIC_KEY: entry(INVALID_PARAMS, "Input error", "no log of public key"),
  NO_ASSIGNMENT_FOR_PUBLIC_KEY: entry(INVALID_PARAMS, "Input error", "no key assignment found for public key"),
  TOO_MANY_ASSIGNMENTS: entry(INTERNAL_ERROR, "Internal error", "too many key assignments; retry later"),
  KEY_ASSIGN_NEEDS_SIGNER: entry(
    INTERNAL_ERROR,
    "Internal error",
    "KeyAssign needs a signer's signature and this node has none configured; a user gets a key at its first login",
  ),
  NO_FREE_KEY: entry(INTERNAL_ERROR, "Internal error", "no generated key is free yet; retry later"),
  BROADCAST_FAILED: entry(INTERNAL_ERROR, "Internal error", (why: string) => `Unable to broadcast: ${why}`),
  ASSIGN_TIMED_OUT: entry(INTERNAL_ERROR, "Internal error", "key assignment error: timed out"),
  ASSIGN_FAILED: entry(INTERNAL_ERROR, "Internal error", "key assignment failed"),

  // Commit–reveal.
  INCORRECT_PREFIX: entry(INTERNAL_ERROR, "Internal error", "Incorrect message prefix"),
  TEMP_KEY_NOT_A_POINT: entry(INVALID_PARAMS, "Invalid params", "temppubx, temppuby is not a point of secp256k1"),
  DUPLICATE_TOKEN: entry(INTERNAL_ERROR, "Internal error", "Duplicate token found"),
  TOO_MANY_COMMITMENTS: entry(INTERNAL_ERROR, "Internal error", "too many commitments; retry later"),
  COMMITMENTS_FULL: entry(INTERNAL_ERROR, "Internal error", "this node holds too many open commitments; retry later"),
  SOURCE_COMMITMENTS_FULL: entry(
    INTERNAL_ERROR,
    "Internal error",
    (quota: number) => `your address holds ${quota} open commitments, its quota; reveal or wait for them to expire`,
  ),
  TOO_MANY_FAILED_SHARE_REQUESTS: entry(
    INTERNAL_ERROR,
    "Internal error",
    "too many ShareRequests without valid signatures from your address; retry later",
  ),
  SIGNATURE_FETCHES_BUSY: entry(
    INTERNAL_ERROR,
    "Internal error",
    "too many signature fetches from peers under way; retry later with every signature you got",
  ),
  // Code -32602 with message "Internal error", as the Torus node answered it.
  TOO_FEW_SIGNATURES: entry(
    INVALID_PARAMS,
    "Internal error",
    (quorum: number) => `Not enough valid signatures on the same data: ${quorum} are needed`,
  ),
  /** Signatures that would have counted name another deployment or epoch, or none (an older node's old form). */
  SIGNATURES_OF_ANOTHER_DOMAIN: entry(
    INVALID_PARAMS,
    "Internal error",
    (count: number, quorum: number, domain: string) =>
      `Not enough valid signatures on the same data: ${quorum} are needed, and ${count} signature(s) name another ` +
      `deployment or epoch, or none (signed by an older node version); this network is ${domain}`,
  ),
  TOKEN_REFUSED: entry(
    INVALID_PARAMS,
    "Error occurred while verifying params",
    (code: string, why: string) => `${code}: ${why}`,
  ),
  /** The issuer's keys could not be fetched: the node's trouble, retryable, so not an input error. */
  TOKEN_KEYS_UNAVAILABLE: entry(
    INTERNAL_ERROR,
    "Error occurred while verifying params",
    (code: string, why: string) => `${code}: ${why}`,
  ),
  SHARE_MISSING: entry(INTERNAL_ERROR, "Internal error", "this node does not hold a share of the key yet; retry"),
} as const satisfies Record<string, Entry>;

export type ApiErrorName = keyof typeof API_ERRORS;

/** The arguments an error's data needs (none for a fixed string). */
type DataArgs<N extends ApiErrorName> = (typeof API_ERRORS)[N]["data"] extends (...args: infer A) => string ? A : [];

/** A JSON-RPC error with a stable name; thrown by methods, answered by the dispatcher as it is. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  constructor(
    readonly code: ApiErrorName,
    readonly json: JsonRpcErrorObject,
  ) {
    super(json.data === undefined ? json.message : `${json.message}: ${json.data}`);
  }
}

/** The error named `name`, its data filled in from `args`. */
export function rpcError<N extends ApiErrorName>(name: N, ...args: DataArgs<N>): RpcError {
  const { code, message, data } = API_ERRORS[name] as Entry;
  const text = typeof data === "function" ? (data as (...a: unknown[]) => string)(...args) : data;
  return new RpcError(name, { code, message, ...(text === undefined ? {} : { data: text }) });
}
