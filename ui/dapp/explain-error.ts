/**
 * What the page tells a person when a sign-in fails: a headline in words and what to do, with the SDK's own message
 * (which names what the nodes answered) as the detail. Never a stack trace.
 */
import { LoginError } from "@torus-threshold-network/sdk";

import { SignInError } from "./id-token.ts";

export interface Explanation {
  headline: string;
  detail: string;
}

const OTHER_EPOCH = /issued before this epoch took over|log in at the next epoch|handing over to epoch/;

export function explain(error: unknown): Explanation {
  if (error instanceof SignInError) return { headline: error.headline, detail: error.message };
  if (error instanceof LoginError) {
    const said = `The network said: ${error.message}`;
    switch (error.code) {
      case "TOO_FEW_SIGNATURES":
        return {
          headline: "Too few nodes signed this sign-in",
          detail: `Your ID token was not revealed to any node. Sign in again once more nodes answer. ${said}`,
        };
      case "WRONG_DEPLOYMENT":
        return {
          headline: "The nodes serve another deployment or epoch than this page knows",
          detail: `Your ID token was not revealed. Reload the page to read the network again, then sign in. ${said}`,
        };
      case "NO_MAJORITY":
        return OTHER_EPOCH.test(error.message)
          ? {
              headline: "This ID token is for another epoch of the network",
              detail: `The network changed its node set around the time the token was issued. Sign in again. ${said}`,
            }
          : { headline: "The nodes refused the sign-in", detail: said };
      case "TOO_FEW_SHARES":
        return { headline: "Too few key shares arrived to rebuild your key", detail: `Sign in again. ${said}` };
      case "KEY_MISMATCH":
        return { headline: "The key shares the nodes sent do not fit together", detail: said };
      case "NOT_ASSIGNED":
        return { headline: "No key could be assigned to you yet", detail: `Try again in a minute. ${said}` };
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return { headline: "Something went wrong", detail: message };
}
