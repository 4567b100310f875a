/**
 * A fixed log-bucket latency histogram (about 5% resolution from 0.1 ms to ~28 h): small enough to
 * store per node in the ledger, mergeable across resumes, good enough for p50/p90/p99.
 */
const FACTOR = 1.05;
const MIN_MS = 0.1;
const BUCKETS = 500;
const LOG_FACTOR = Math.log(FACTOR);

export class LatencyHistogram {
  readonly counts: number[];
  total = 0;

  constructor(counts?: readonly number[]) {
    this.counts = counts ? [...counts] : [];
    this.total = this.counts.reduce((sum, count) => sum + (count ?? 0), 0);
  }

  record(ms: number): void {
    const bucket = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_FACTOR));
    while (this.counts.length <= bucket) this.counts.push(0);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.total++;
  }

  merge(other: LatencyHistogram): void {
    other.counts.forEach((count, bucket) => {
      while (this.counts.length <= bucket) this.counts.push(0);
      this.counts[bucket] = (this.counts[bucket] ?? 0) + count;
    });
    this.total += other.total;
  }

  /** The latency (ms, upper bucket bound) below which `q` of the samples fall; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const target = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket] ?? 0;
      if (seen >= target) return Math.round(MIN_MS * FACTOR ** bucket * 10) / 10;
    }
    return Math.round(MIN_MS * FACTOR ** (this.counts.length - 1) * 10) / 10;
  }

  toJSON(): number[] {
    return this.counts;
  }
}
