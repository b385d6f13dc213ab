/**
 * A FIFO lock held across awaits. A Durable Object's input gate reopens whenever it
 * awaits anything but its own storage (D1, a Queue, another object), so two events for
 * one user could interleave; every mutating RPC and the alarm run inside `run` instead
 * (SPEC §1.2 "Serialisation is explicit").
 */
export class FifoLock {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // The next task waits for this one whether it succeeds or fails.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
