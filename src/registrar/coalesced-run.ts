/**
 * Runs `pass` one at a time. A request made while a pass runs does not start a second one: it makes
 * the current run go once more afterwards (with the latest request's argument), so any number of
 * requests during a pass cost one more pass. Every caller of a run gets that run's outcome — the
 * outcome of its last pass, the one that covers every request made before it began.
 */
export class CoalescedRun<T> {
  private running: Promise<boolean> | undefined;
  private again: { arg: T } | undefined;

  constructor(
    private readonly pass: (arg: T) => Promise<boolean>,
    /** When true, no further pass starts (the owner is closing). */
    private readonly stopped: () => boolean = () => false,
  ) {}

  request(arg: T): Promise<boolean> {
    if (this.running) {
      this.again = { arg };
      return this.running;
    }
    const run = (async () => {
      let next: { arg: T } | undefined = { arg };
      let ok = false;
      while (next && !this.stopped()) {
        this.again = undefined;
        ok = await this.pass(next.arg);
        next = this.again;
      }
      return ok;
    })().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
