/** `summary.json`: what a run did, cumulative over every session that worked on the OUTDIR. */
import type { Ledger } from "../durability/ledger.js";
import type { RunStatus } from "../pipeline/events.js";

/** Said with a resume command whose URLs lost their credentials: as printed, it cannot run. */
export const REDACTED_NOTE = "credentials in URLs were replaced by REDACTED: give those arguments (e.g. --endpoint NAME=URL) again as first typed";

export interface RunSummary {
  chain: string;
  /** This session's end: `complete` (every input row has an output or an error record), `stopped` (a signal), `failed`. */
  status: RunStatus;
  /**
   * Every input row is done. A script tells a clean run (`complete && rows.failed === 0`) from one
   * that completed with failed rows (`complete && rows.failed > 0`); both exit 0.
   */
  complete: boolean;
  /** Why this session did not complete (`CIRCUIT_OPEN: ...`, `stopped by Ctrl-C`, ...); null when it did. */
  reason: string | null;
  /** Rows done over every session (`in`), and how they ended; `failed` rows have a record in errors/. */
  rows: { in: number; ok: number; failed: number; filtered: number };
  /** The input's row count (after `--limit`), when known: a Parquet/Arrow source, a counted JSONL file, or a complete run. */
  input_rows: number | null;
  tokens: { input: number; output: number };
  /** What the response cache saved over every session: replies reused, requests and tokens not spent again. */
  cache: CacheSavings;
  wall_ms: number;
  rows_per_second: number;
  sessions: number;
  nodes: Record<string, { ok: number; failed: number; filtered: number; input_tokens: number; output_tokens: number; latency_ms: { p50: number; p90: number; p99: number } }>;
  /** The command that resumes the run, with credentials in URLs redacted. */
  resume_command: string;
  /** Set when `resume_command` was redacted, saying what to give again; `null` otherwise. */
  resume_note: string | null;
  updated_at: string;
}

export function buildSummary(ledger: Ledger, fields: { chain: string; status: RunStatus; complete: boolean; reason?: string | null; inputRows?: number | undefined; resumeCommand: string; resumeNote?: string | undefined; sessionWallMs: number; sessionRows: number }): RunSummary {
  const counters = ledger.counters();
  const sessions = ledger.sessions();
  const pastWall = sessions.reduce((sum, session) => sum + session.wall_ms, 0);
  const nodes: RunSummary["nodes"] = {};
  for (const [node, stats] of ledger.nodeStats()) {
    if (node === "" || node === "input") continue;
    nodes[node] = {
      ok: stats.ok, failed: stats.failed, filtered: stats.filtered, input_tokens: stats.inputTokens, output_tokens: stats.outputTokens,
      latency_ms: { p50: stats.latency.quantile(0.5), p90: stats.latency.quantile(0.9), p99: stats.latency.quantile(0.99) },
    };
  }
  const wallMs = pastWall + fields.sessionWallMs;
  return {
    chain: fields.chain,
    status: fields.status,
    complete: fields.complete,
    reason: fields.reason ?? null,
    rows: { in: counters.rows_in ?? 0, ok: counters.ok ?? 0, failed: counters.failed ?? 0, filtered: counters.filtered ?? 0 },
    input_rows: fields.complete ? (counters.rows_in ?? 0) : (fields.inputRows ?? null),
    tokens: { input: counters.input_tokens ?? 0, output: counters.output_tokens ?? 0 },
    cache: cacheSavings(counters),
    wall_ms: Math.round(wallMs),
    rows_per_second: fields.sessionWallMs > 0 ? Math.round((fields.sessionRows / fields.sessionWallMs) * 1000 * 10) / 10 : 0,
    sessions: sessions.length,
    nodes,
    resume_command: fields.resumeCommand,
    resume_note: fields.resumeNote ?? null,
    updated_at: new Date().toISOString(),
  };
}

export interface CacheSavings {
  hits: number;
  requests_saved: number;
  input_tokens_saved: number;
  output_tokens_saved: number;
}

/** The response cache's savings, from the ledger's counters (tallied with the rows, at commit). */
export function cacheSavings(counters: Readonly<Record<string, number>>): CacheSavings {
  return {
    hits: counters.cache_hits ?? 0,
    requests_saved: counters.requests_saved ?? 0,
    input_tokens_saved: counters.input_tokens_saved ?? 0,
    output_tokens_saved: counters.output_tokens_saved ?? 0,
  };
}

/** One line for the savings, or undefined when the cache saved nothing. */
export function cacheSavingsText(savings: CacheSavings, count: (value: number) => string): string | undefined {
  if (savings.hits === 0) return undefined;
  return `response cache: ${count(savings.hits)} replies reused, ${count(savings.requests_saved)} requests and ${count(savings.input_tokens_saved)} in / ${count(savings.output_tokens_saved)} out tokens saved`;
}
