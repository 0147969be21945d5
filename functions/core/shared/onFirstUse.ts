/**
 * What loads on first use (a module a cold start should not parse, a client made from it): the
 * loader runs once, with the first call, and every later call shares its result; a load that
 * failed is forgotten, so the next call tries again instead of failing for the life of the
 * process.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => (loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  }));
}
