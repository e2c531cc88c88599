// A scrape waits a bounded time for what it reads from the database: a dead
// or locked database must not hang /metrics.

/** `work`, or what `otherwise` gives (or throws) once `ms` have passed without it; the timer never keeps the process up. */
export async function within<T, F>(work: Promise<T>, ms: number, otherwise: () => F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(otherwise());
      } catch (error) {
        reject(error);
      }
    }, ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
