/**
 * Many waits on one signal (a job's, through every call of a client view made by `withSignal`) each
 * register a callback here instead of a listener of their own: one 'abort' listener per signal runs
 * them all when it fires, and a wait that ends only leaves a Set. An EventTarget listener is costly to
 * add and to remove (options parsed, a Listener object, a list searched on removal), and every
 * Proxmox call and every pause between polls took one.
 */
const watched = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Runs `callback` once when `signal` fires; the function returned stops watching. A signal that has
 * already fired never fires again: check it first (`throwIfAborted`).
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = watched.get(signal);
  if (!callbacks) {
    const all = new Set<() => void>();
    signal.addEventListener(
      'abort',
      () => {
        for (const run of [...all]) run();
        all.clear();
      },
      { once: true },
    );
    watched.set(signal, all);
    callbacks = all;
  }
  const own = callbacks;
  own.add(callback);
  return () => {
    own.delete(callback);
  };
}
