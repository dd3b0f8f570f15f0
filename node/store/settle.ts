/**
 * Runs a synchronous engine call behind the storage interface's promises: a throw becomes a rejection, so that
 * `store.get(k).catch(…)` catches bad input exactly as it would an engine that really is asynchronous.
 */
export function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
