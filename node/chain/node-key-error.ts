/** Why a node could not load its key; the message names the file or variable and never holds the key. */
export type NodeKeyErrorCode =
  /** The configuration or the environment names more than one place for the key. */
  | "CONFLICTING_SOURCES"
  /** A key, keystore or password file cannot be read (missing, a directory, no permission). */
  | "UNREADABLE"
  /** A key, keystore or password file that group or others may read or write. */
  | "OPEN_PERMISSIONS"
  /** A plain key file that holds no 32-byte hex private key. */
  | "NOT_A_KEY"
  /** A keystore that is not an encrypted JSON keystore, or one that is damaged. */
  | "BAD_KEYSTORE"
  /** A keystore without a password (no password file, no TORUS_NODE_KEY_PASSWORD), or an empty password. */
  | "NO_PASSWORD"
  /** The password does not open the keystore. */
  | "WRONG_PASSWORD";

export class NodeKeyError extends Error {
  override readonly name = "NodeKeyError";

  constructor(
    readonly code: NodeKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
