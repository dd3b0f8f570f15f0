/**
 * What each JSON-RPC method accepts (torus-node-v0.10.4.md §2), as schemas checked by the dispatcher before the
 * method runs, each failure named with the string the node has always answered. Only the shape of the input is
 * checked here; what needs the node's state (is the verifier supported, is the temporary key a curve point, is the
 * user assigned) stays in the methods.
 */
import { COMMITMENT_PREFIX } from "../auth/commit-reveal.ts";
import { parseLegacyHex } from "../crypto/encoding.ts";
import { rpcError } from "./errors.ts";
import { fieldsCheck, MAX_UTF16_LENGTH, type FieldRule, type ParamsCheck } from "./params-check.ts";

/** Verifier names and verifier ids: longer ones are no one's. */
export const MAX_ID_CHARS = 512;
/** An ID token: far above any provider's, and the verifier refuses longer ones anyway. */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** A legacy hex integer here is a curve coordinate: at most 32 bytes. */
const HEX_BYTES = 32;

const invalid = (detail: string) => rpcError("INVALID_PARAM", detail);

function text(max = MAX_ID_CHARS): FieldRule<string> {
  return {
    schema: { type: "string", [MAX_UTF16_LENGTH]: max },
    refuse: (keyword, field) =>
      invalid(keyword === MAX_UTF16_LENGTH ? `${field} is too long` : `${field} must be a string`),
  };
}

/**
 * A legacy hex integer (no 0x, either case, leading zeros allowed). The schema decides; the message is the one the
 * parser the method uses would give, so the two can never tell a client different things.
 */
const hexInteger: FieldRule<string> = {
  schema: { type: "string", minLength: 1, maxLength: 2 * HEX_BYTES, pattern: "^[0-9a-fA-F]+$" },
  refuse: (_keyword, field, value) => {
    try {
      parseLegacyHex(value, field, { maxBytes: HEX_BYTES });
    } catch (error) {
      return invalid((error as Error).message);
    }
    return invalid(`${field} must be a hex string`);
  },
};

const messagePrefix: FieldRule<typeof COMMITMENT_PREFIX> = {
  schema: { const: COMMITMENT_PREFIX },
  refuse: () => rpcError("INCORRECT_PREFIX"),
};

/** keccak256 of the ID token, 64 hex digits in either case (up to 66 characters were read before the format). */
const tokenCommitment: FieldRule<string> = {
  schema: { type: "string", [MAX_UTF16_LENGTH]: 66, pattern: "^[0-9a-fA-F]{64}$" },
  refuse: (keyword, field) =>
    invalid(
      keyword === "pattern"
        ? `${field} must be 64 hex characters`
        : keyword === MAX_UTF16_LENGTH
          ? `${field} is too long`
          : `${field} must be a string`,
    ),
};

/** ShareRequest's `item`: torus.js sends one request per call, and one is all a node serves per call. */
const exactlyOneRequest: FieldRule<[Record<string, unknown>]> = {
  schema: { type: "array", minItems: 1, maxItems: 1, items: { type: "object" } },
  refuse: () => invalid("item must hold exactly one request"),
};

export const userParams = fieldsCheck({ verifier: text(), verifier_id: text() });

export const publicKeyParams = fieldsCheck({ pub_key_X: hexInteger, pub_key_Y: hexInteger });

export const commitmentParams = fieldsCheck({
  messageprefix: messagePrefix,
  tokencommitment: tokenCommitment,
  verifieridentifier: text(),
  temppubx: hexInteger,
  temppuby: hexInteger,
});

const shareRequestItem = fieldsCheck({
  idtoken: text(MAX_TOKEN_CHARS),
  verifieridentifier: text(),
  verifier_id: text(),
});

export interface ShareRequestParams {
  item: [
    {
      idtoken: string;
      verifieridentifier: string;
      verifier_id: string;
      /** CommitmentRequest answers, nulls for nodes that failed; anything else counts as none (torus.js sends this). */
      nodesignatures?: unknown;
    },
  ];
}

const itemShape = fieldsCheck({ item: exactlyOneRequest });

/** The item's shape first, then its fields. */
export const shareRequestParams: ParamsCheck<ShareRequestParams> = (params) => {
  const shape = itemShape(params);
  if ("refused" in shape) return shape;
  const fields = shareRequestItem(shape.params.item[0]);
  return "refused" in fields ? fields : { params: params as unknown as ShareRequestParams };
};

/** Ping takes anything (torus.js sends `{}`; the Torus node echoed nothing of it). */
export const anyParams = fieldsCheck({});
