/**
 * One base error class with a stable `code`. Messages say what was expected and what came.
 * A failed *row* is a value (`RowError`), not an exception: these classes are for failures that
 * stop something (a chain that does not validate, an engine that stays down, a full disk), and for
 * the row-level error values that engines produce before the run turns them into error records.
 */
export type ErrorCode =
  | "CHAIN_INVALID" // the chain fails validation before any request
  | "USAGE" // bad CLI usage or option value
  | "INPUT_UNREADABLE" // the input file cannot be opened or its format is unknown
  | "INPUT_ROW" // one input row is malformed (row-level)
  | "ENGINE_CONFIG" // an engine declaration is invalid
  | "ENGINE_REQUEST" // a request failed after its transport retries (row-level)
  | "PROMPT_TOO_LONG" // the prompt plus maxTokens cannot fit the model's context window; not sent (row-level)
  | "ENGINE_DOWN" // every endpoint of an engine stayed down past the deadline (infrastructure)
  | "SCHEMA_MISMATCH" // the model's reply never matched the schema within the re-asks (row-level)
  | "APPLY_FAILED" // an apply function threw (row-level)
  | "TEMPLATE" // a template could not be rendered for a row (row-level)
  | "LEDGER" // the checkpoint ledger cannot be opened or written (resumable once the cause is fixed)
  | "LEDGER_CORRUPT" // ledger.sqlite is damaged, or has no run identity beside shard files: not resumable as is
  | "LEDGER_FOREIGN" // ledger.sqlite is some other SQLite database: refused, never written to
  | "SHARD_DAMAGED" // a committed shard file was changed, cut short or removed: --repair or --fresh
  | "OUTDIR_LOCKED" // another live process holds the OUTDIR
  | "SHARDS_INCOMPLETE" // merge refused: a shard is missing, not complete, or not of the same job
  | "RUN_CHANGED" // resume refused: the chain or input changed
  | "CACHE" // the response cache cannot be opened (another application's file, unreadable)
  | "DISK" // the output disk failed (ENOSPC, EIO, ...)
  | "ERROR_RATE" // --max-error-rate passed
  | "CIRCUIT_OPEN" // the circuit breaker opened: most of the last rows failed (resumable)
  | "ABORTED"; // stopped by a signal

export class ChainetteError extends Error {
  readonly code: ErrorCode;
  override readonly name: string = "ChainetteError";

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isChainetteError(error: unknown, code?: ErrorCode): error is ChainetteError {
  return error instanceof ChainetteError && (code === undefined || error.code === code);
}
