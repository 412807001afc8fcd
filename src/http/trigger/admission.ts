/**
 * What one process lets clients hold at once: runs per token (`MM_MAX_RUNS_PER_TOKEN`) and child
 * processes of `command` pipelines (`MM_MAX_CHILDREN`). A slot is taken when a request is admitted
 * (before its body is read) and given back exactly once when the request ends, however it ends.
 */
export class Admission {
  private readonly runsByToken = new Map<string, number>();
  private children = 0;

  constructor(
    readonly maxRunsPerToken: number,
    readonly maxChildren: number,
  ) {}

  /** Takes a run slot for `tokenId`; false when the token already has its maximum. */
  takeRun(tokenId: string): boolean {
    const running = this.runsByToken.get(tokenId) ?? 0;
    if (running >= this.maxRunsPerToken) return false;
    this.runsByToken.set(tokenId, running + 1);
    return true;
  }

  releaseRun(tokenId: string): void {
    const running = this.runsByToken.get(tokenId) ?? 0;
    if (running <= 1) this.runsByToken.delete(tokenId);
    else this.runsByToken.set(tokenId, running - 1);
  }

  /** Takes a child-process slot; false when the maximum of children is running. */
  takeChild(): boolean {
    if (this.children >= this.maxChildren) return false;
    this.children++;
    return true;
  }

  releaseChild(): void {
    if (this.children > 0) this.children--;
  }

  get childCount(): number {
    return this.children;
  }
}
