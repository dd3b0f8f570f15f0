/**
 * The network the DApp signs in to: the devnet's description, which the UI server serves from `.devnet/network.json`
 * at `/network.json`. A real DApp would read the node set from the NodeList contract (`networkFromNodeList`); a
 * devnet's description also names its identity provider.
 */
import { networkFromDescription, type Network, type NetworkDescription } from "@torus-threshold-network/sdk";

import { SignInError } from "./id-token.ts";

export interface DevnetDescription extends NetworkDescription {
  epoch: NetworkDescription["epoch"] & { n: number; k: number };
  oidc: { issuer: string; clientId: string; verifier: string };
}

export interface Devnet {
  description: DevnetDescription;
  network: Network;
}

export async function loadDevnet(): Promise<Devnet> {
  let response: Response;
  try {
    response = await fetch("/network.json", { cache: "no-store", signal: AbortSignal.timeout(5000) });
  } catch (error) {
    throw new SignInError(
      "The UI server does not answer",
      `Reading /network.json failed (${(error as Error).message}). Is npm start still running?`,
    );
  }
  const body = (await response.json().catch(() => undefined)) as (DevnetDescription & { error?: string }) | undefined;
  if (!response.ok || !body)
    throw new SignInError(
      "The network description is not available yet",
      `The UI server answered HTTP ${response.status}${body?.error ? `: ${body.error}` : ""}.`,
    );
  const complete =
    typeof body.oidc?.issuer === "string" &&
    typeof body.oidc.clientId === "string" &&
    typeof body.oidc.verifier === "string" &&
    Array.isArray(body.nodes) &&
    body.nodes.length > 0 &&
    typeof body.epoch?.id === "number";
  if (!complete)
    throw new SignInError(
      "The network description is incomplete",
      "/network.json lacks its nodes, its epoch or its identity provider (oidc.issuer, oidc.clientId).",
    );
  return { description: body, network: networkFromDescription(body) };
}
