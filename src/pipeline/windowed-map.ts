/**
 * The stage primitive: maps batches of items through `fn` with up to `window` items in flight and
 * yields results in completion order as soon as they exist — no barrier waiting for the slowest item
 * of a batch. Pulls its source only while the window has room, so backpressure reaches the reader.
 * A synchronous `fn` costs no promise per item (a whole batch maps in one go).
 */
export async function* windowedMap<In, Out>(
  source: AsyncIterable<In[]>,
  fn: (item: In) => Out[] | Promise<Out[]>,
  window: number,
): AsyncGenerator<Out[]> {
  const iterator = source[Symbol.asyncIterator]();
  let pulling = false;
  let arrived: IteratorResult<In[]> | undefined;
  let exhausted = false;
  let inFlight = 0;
  let ready: Out[] = [];
  let waiting: In[] = [];
  let waitingAt = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;

  const wakeUp = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const pull = (): void => {
    pulling = true;
    iterator.next().then(
      (result) => {
        pulling = false;
        arrived = result;
        wakeUp();
      },
      (error: unknown) => {
        pulling = false;
        failure ??= { error };
        wakeUp();
      },
    );
  };
  const start = (item: In): void => {
    const result = fn(item);
    if (!(result instanceof Promise)) {
      for (const out of result) ready.push(out);
      return;
    }
    inFlight++;
    result.then(
      (outs) => {
        inFlight--;
        for (const out of outs) ready.push(out);
        wakeUp();
      },
      (error: unknown) => {
        inFlight--;
        failure ??= { error };
        wakeUp();
      },
    );
  };

  try {
    for (;;) {
      if (failure) throw failure.error;
      if (arrived !== undefined) {
        if (arrived.done) exhausted = true;
        else {
          waiting = arrived.value;
          waitingAt = 0;
        }
        arrived = undefined;
      }
      while (waitingAt < waiting.length && inFlight < window) start(waiting[waitingAt++] as In);
      if (ready.length > 0) {
        const out = ready;
        ready = [];
        yield out;
        continue;
      }
      const hasWaiting = waitingAt < waiting.length;
      if (exhausted && inFlight === 0 && !hasWaiting && !pulling) return;
      if (!exhausted && !pulling && !hasWaiting && inFlight < window) pull();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!exhausted && !pulling) await iterator.return?.();
  }
}
