/**
 * The optional signer check on KeyAssign (torus-node-v0.10.4.md §2, `authMiddleware`): when the operator configures a
 * signer public key, every KeyAssign must carry `torus-signature`, `torus-nonce` and `torus-timestamp`, as headers or,
 * as torus.js sends them, merged into the top level of the JSON body. The signer signed, for this node only,
 *
 *   keccak256({"body":base64(body ␜ timestamp ␜ nonce),"pubkey_x":<node x>,"pubkey_y":<node y>})
 *
 * where body is the request without the three fields, x and y are lowercase hex without leading zeros, and the
 * signature is the 65-byte r‖s‖v Torus signature in base64. A signature is accepted once, within 60 s of its
 * timestamp, so a captured request cannot be replayed to drain the key buffer.
 */
import { toLegacyHex } from "../crypto/encoding.ts";
import type { Point } from "../crypto/point.ts";
import { createTorusVerifier, signTorus } from "../crypto/signature.ts";

export const SIGNER_FIELDS = ["torus-signature", "torus-nonce", "torus-timestamp"] as const;
export const SIGNATURE_WINDOW_SECONDS = 60;
const D1 = "\x1c";
const MAX_REMEMBERED = 100_000;

export type Headers = Record<string, string | string[] | undefined>;

/** What the signer signs for one node: exported so that a signer (and the tests' stub signer) builds the same bytes. */
export function keyAssignSignedMessage(body: string, timestamp: string, nonce: string, node: Point): string {
  const encoded = Buffer.from(body + D1 + timestamp + D1 + nonce, "utf8").toString("base64");
  return JSON.stringify({ body: encoded, pubkey_x: toLegacyHex(node.x), pubkey_y: toLegacyHex(node.y) });
}

/** The signer's side: the three fields for a KeyAssign `body` sent to `node` (a signer service, or a test's stub). */
export function signKeyAssign(
  signerKey: bigint,
  body: string,
  node: Point,
  nonce: string,
  timestamp = String(Math.floor(Date.now() / 1000)),
): Record<(typeof SIGNER_FIELDS)[number], string> {
  const signature = signTorus(signerKey, keyAssignSignedMessage(body, timestamp, nonce, node));
  return {
    "torus-signature": Buffer.from(signature, "hex").toString("base64"),
    "torus-nonce": nonce,
    "torus-timestamp": timestamp,
  };
}

export class KeyAssignAuth {
  readonly #verify: ReturnType<typeof createTorusVerifier>;
  /** Signatures already accepted, with the time (ms) after which they fall out of the window anyway. */
  readonly #seen = new Map<string, number>();
  #lastSweep = 0;

  constructor(
    signer: Point,
    private readonly node: Point,
    private readonly now: () => number = Date.now,
  ) {
    this.#verify = createTorusVerifier(signer);
  }

  /**
   * Checks one HTTP request: undefined when it holds no KeyAssign or a valid, fresh, unused signature; otherwise
   * why it is refused. Only an accepted signature is remembered, so a refused request changes nothing.
   */
  check(rawBody: string, parsed: unknown, headers: Headers): string | undefined {
    const requests = Array.isArray(parsed) ? parsed : [parsed];
    const assigns = requests.some((r) => typeof r === "object" && r !== null && (r as Json).method === "KeyAssign");
    if (!assigns) return undefined;
    // One signature covers one HTTP body; a batch would let it authorise several assignments.
    if (Array.isArray(parsed)) return "KeyAssign cannot be batched on a node that requires a signer";
    const request = parsed as Json;
    const fromHeaders = headers["torus-signature"] !== undefined;
    const field = (name: string) => (fromHeaders ? headers[name] : request[name]);
    const [signature, nonce, timestamp] = SIGNER_FIELDS.map(field);
    if (typeof signature !== "string" || typeof nonce !== "string" || typeof timestamp !== "string")
      return "torus-signature, torus-nonce and torus-timestamp are required";
    if (nonce.length > 256) return "torus-nonce is too long";
    if (!/^\d{1,12}$/.test(timestamp)) return "torus-timestamp must be unix seconds";
    const nowSeconds = Math.floor(this.now() / 1000);
    if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_WINDOW_SECONDS)
      return `torus-timestamp is more than ${SIGNATURE_WINDOW_SECONDS} s away from this node's clock`;
    if (!/^[A-Za-z0-9+/]{86,88}={0,2}$/.test(signature)) return "torus-signature must be 65 bytes in base64";
    const signatureBytes = Buffer.from(signature, "base64");
    if (signatureBytes.length !== 65) return "torus-signature must be 65 bytes in base64";
    const signatureHex = signatureBytes.toString("hex");
    this.#sweep();
    if (this.#seen.has(signatureHex)) return "torus-signature was already used";
    const body = fromHeaders ? rawBody : JSON.stringify(withoutSignerFields(request));
    if (!this.#verify(keyAssignSignedMessage(body, timestamp, nonce, this.node), signatureHex))
      return "torus-signature is not the configured signer's signature of this request for this node";
    if (this.#seen.size >= MAX_REMEMBERED) return "too many recent key assignments; retry later";
    this.#seen.set(signatureHex, (Number(timestamp) + SIGNATURE_WINDOW_SECONDS + 1) * 1000);
    return undefined;
  }

  #sweep(): void {
    const now = this.now();
    if (now - this.#lastSweep < 1000) return;
    this.#lastSweep = now;
    for (const [signature, until] of this.#seen) if (until < now) this.#seen.delete(signature);
  }
}

type Json = Record<string, unknown>;

/** The body as the signer saw it: torus.js signs JSON.stringify(request) and then merges the three fields in. */
function withoutSignerFields(request: Json): Json {
  const rest: Json = {};
  for (const [key, value] of Object.entries(request))
    if (!(SIGNER_FIELDS as readonly string[]).includes(key)) rest[key] = value;
  return rest;
}
