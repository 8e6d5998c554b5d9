// How many times PostgreSQL was fenced in this run, whoever fenced it (a decision's fence action,
// the fence timer at the lease deadline): the status snapshot and the metrics report it. Handed to
// each fencer as a port, so none of them calls back up into the loop.
export class FenceCount {
  private n = 0;

  add(): void {
    this.n++;
  }

  total(): number {
    return this.n;
  }
}
