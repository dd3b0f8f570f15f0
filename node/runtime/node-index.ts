/**
 * The two ways the runtime numbers an epoch's nodes, as distinct types so that one cannot be passed for the other.
 * The AVSS, handover and key-mapping cores, the API and the contract number nodes 1..n (a node's index is its
 * evaluation point x_i, never 0); the BFT core numbers its validators 0..n−1 (array positions in its vote sets).
 * Convert only through the two functions below: they are the one place where the offset of one is written.
 */

/** A node's 1-based position in its epoch's node list: its share index and the index the API reports. */
export type NodeIndex = number & { readonly __brand: "NodeIndex" };

/** A node's 0-based position among the BFT validators of its epoch (and in the app's `validator` fields). */
export type ValidatorIndex = number & { readonly __brand: "ValidatorIndex" };

export const nodeIndex = (index: number): NodeIndex => index as NodeIndex;

export const validatorIndex = (index: number): ValidatorIndex => index as ValidatorIndex;

export const validatorOf = (node: NodeIndex): ValidatorIndex => (node - 1) as ValidatorIndex;

export const nodeOf = (validator: ValidatorIndex): NodeIndex => (validator + 1) as NodeIndex;
