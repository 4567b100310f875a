/** The ledger's versioned schema. Bump `SCHEMA_VERSION` and add a migration when it changes. */
export const SCHEMA_VERSION = 5;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- Each shard file and the prefix of it that is committed: a resume cuts the file back to bytes.
CREATE TABLE IF NOT EXISTS shards (
  dir    TEXT    NOT NULL,
  seq    INTEGER NOT NULL,
  lines  INTEGER NOT NULL,
  bytes  INTEGER NOT NULL,
  crc    INTEGER NOT NULL,
  sealed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (dir, seq)
) WITHOUT ROWID;
-- Root rows done above the watermark, as half-open ranges [start, end).
CREATE TABLE IF NOT EXISTS done_ranges (
  start      INTEGER PRIMARY KEY,
  end        INTEGER NOT NULL,
  end_offset INTEGER
);
CREATE TABLE IF NOT EXISTS progress (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  watermark_row    INTEGER NOT NULL,
  watermark_offset INTEGER,
  commits          INTEGER NOT NULL
);
-- One row per failed row (fan-out children included): what failed, where, and how often it was tried.
CREATE TABLE IF NOT EXISTS failures (
  row_id   TEXT PRIMARY KEY,
  root     INTEGER NOT NULL,
  node     TEXT NOT NULL,
  type     TEXT NOT NULL,
  message  TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  status   INTEGER
);
-- v2. Filtered leaves of root rows that also have a failed leaf (only a fan-out makes both):
-- --retry-errors redoes the whole root, so these leave the counts with it. From v3, the filtered
-- leaves of every root that fanned out (--repair redoes any root).
CREATE TABLE IF NOT EXISTS filtered_siblings (
  root  INTEGER NOT NULL,
  node  TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (root, node)
) WITHOUT ROWID;
-- v3. Which root rows each shard holds lines of, as half-open ranges [start, end), appended at each
-- commit: --repair forgets exactly the roots of a damaged or missing shard.
CREATE TABLE IF NOT EXISTS shard_roots (
  dir   TEXT    NOT NULL,
  seq   INTEGER NOT NULL,
  start INTEGER NOT NULL,
  end   INTEGER NOT NULL,
  PRIMARY KEY (dir, seq, start)
) WITHOUT ROWID;
-- v3. Root rows [start, end) that did not fan out and whose one leaf node filtered (rows arrive
-- nearly in order, so these are ranges): --retry-errors and --repair take them out of the counts.
CREATE TABLE IF NOT EXISTS filtered_ranges (
  node  TEXT    NOT NULL,
  start INTEGER NOT NULL,
  end   INTEGER NOT NULL,
  PRIMARY KEY (node, start)
) WITHOUT ROWID;
-- v3. Forgetting roots (--retry-errors, --repair) deletes their failures by root range.
CREATE INDEX IF NOT EXISTS failures_root ON failures (root);
CREATE TABLE IF NOT EXISTS counters (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_stats (
  node          TEXT PRIMARY KEY,
  ok            INTEGER NOT NULL,
  failed        INTEGER NOT NULL,
  filtered      INTEGER NOT NULL,
  input_tokens  INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  latency       TEXT NOT NULL
);
-- Each invocation (first run and every resume). A session still 'running' with no ended_at whose
-- process is gone was killed or crashed. v4: \`reason\`, why it ended when it did not complete (the
-- error code and message, or the signal that stopped it); a v1-v3 ledger gains the column.
CREATE TABLE IF NOT EXISTS sessions (
  id         INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  ended_at   TEXT,
  status     TEXT NOT NULL,
  rows       INTEGER NOT NULL DEFAULT 0,
  wall_ms    INTEGER NOT NULL DEFAULT 0,
  reason     TEXT
);
-- v5. What each 10 s of the run did, written with the commits that did it (\`bucket\`: the
-- bucket's start, ms since the epoch): node '' is the whole run (leaf outcomes, requests, retries),
-- any other node its own outcomes; \`latency\` is that bucket's LatencyHistogram. The viewer's charts
-- read it. History, not counts: --retry-errors and --repair leave it as it is.
CREATE TABLE IF NOT EXISTS rollups (
  bucket        INTEGER NOT NULL,
  node          TEXT    NOT NULL,
  rows          INTEGER NOT NULL DEFAULT 0,
  ok            INTEGER NOT NULL DEFAULT 0,
  failed        INTEGER NOT NULL DEFAULT 0,
  filtered      INTEGER NOT NULL DEFAULT 0,
  requests      INTEGER NOT NULL DEFAULT 0,
  retries       INTEGER NOT NULL DEFAULT 0,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  latency       TEXT    NOT NULL DEFAULT '[]',
  PRIMARY KEY (bucket, node)
) WITHOUT ROWID;
`;
