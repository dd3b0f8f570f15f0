/** Names of the contract's `INodeList.EpochState` and `PssStatus` values, in declaration order. */
export const EPOCH_STATES = [
  "None",
  "Registering",
  "Ready",
  "Current",
  "Transitioning",
  "Retired",
  "Cancelled",
] as const;
export type EpochStateName = (typeof EPOCH_STATES)[number];

export const EpochState = Object.fromEntries(EPOCH_STATES.map((name, i) => [name, i])) as Record<
  EpochStateName,
  number
>;

export const PSS_STATUSES = ["None", "Running", "Completed", "Aborted"] as const;
export type PssStatusName = (typeof PSS_STATUSES)[number];

export const PssStatus = Object.fromEntries(PSS_STATUSES.map((name, i) => [name, i])) as Record<PssStatusName, number>;

export function epochStateName(value: bigint | number): EpochStateName | `Unknown(${string})` {
  return EPOCH_STATES[Number(value)] ?? `Unknown(${value})`;
}

export function pssStatusName(value: bigint | number): PssStatusName | `Unknown(${string})` {
  return PSS_STATUSES[Number(value)] ?? `Unknown(${value})`;
}
