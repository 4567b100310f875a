/**
 * `--retry-errors`: make the failed rows of an earlier session pending again. Every record of a
 * failed root row (its error record, the outputs of the nodes it passed, fan-out siblings) goes,
 * and the ledger forgets the root (see `forget-roots.ts`): the run then does it again.
 */
import type { Ledger } from "./ledger.js";
import { forgetRoots, rootRanges, type ForgetReport } from "./forget-roots.js";

export function forgetFailedRows(outDir: string, ledger: Ledger, maxLinesPerFile: number): ForgetReport {
  const roots = rootRanges(ledger.failures().map((failure) => failure.root));
  return forgetRoots(outDir, ledger, { roots, maxLinesPerFile });
}
