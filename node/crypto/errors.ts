/**
 * Errors of the crypto core. Every refusal at a public boundary is a CryptoError with a stable `code`, so callers
 * (and the JSON-RPC error table) can tell an attack or a bad input apart without parsing messages.
 */
export type CryptoErrorCode =
  | "INVALID_SCALAR"
  | "INVALID_INDEX"
  | "DUPLICATE_INDEX"
  | "INVALID_POINT"
  | "INVALID_LENGTH"
  | "ZERO_SECRET"
  | "INVALID_SIGNATURE"
  | "INVALID_ENCODING"
  | "DECRYPTION_FAILED"
  | "VERIFICATION_FAILED";

export class CryptoError extends Error {
  override readonly name = "CryptoError";
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
