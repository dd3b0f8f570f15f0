import { readJsonIfPresent } from "./atomic-json.ts";

/** Why a node refuses a data directory (or an epoch directory in it) that is not its own. */
export type DataBindingErrorCode =
  /** The directory holds another deployment's data (chain id, NodeList address or deployment block differ). */
  | "OTHER_DEPLOYMENT"
  /** The directory holds the data of another node key of the same deployment. */
  | "OTHER_NODE_KEY"
  /** The directory holds files but no binding: written by an older version, or by something else. */
  | "UNBOUND"
  /** The binding file is not one this node wrote (not JSON, or fields missing). */
  | "BAD_BINDING"
  /** An epoch directory bound to another epoch, or to a later transition attempt than the chain's. */
  | "OTHER_EPOCH"
  /** An epoch directory whose epoch retired: erased but for its RETIRED marker and block store, never served again. */
  | "RETIRED";

export class DataBindingError extends Error {
  override readonly name = "DataBindingError";

  constructor(
    readonly code: DataBindingErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What an operator does about a refused directory; the node itself never moves or deletes it. */
export function remedy(dir: string): string {
  return (
    `This node read nothing else in it. Move that directory away (mv ${dir} ${dir}.old) or point dataDir ` +
    `(TORUS_DATA_DIR) at a new directory for this deployment and key.`
  );
}

/** A binding file's parsed JSON, or undefined when there is none; one that is not JSON is refused as BAD_BINDING. */
export async function readBindingFile(file: string, dir: string): Promise<unknown> {
  try {
    return await readJsonIfPresent(file);
  } catch (error) {
    throw new DataBindingError(
      "BAD_BINDING",
      `${file} is not a binding this node wrote (${(error as Error).message}). ${remedy(dir)}`,
    );
  }
}
