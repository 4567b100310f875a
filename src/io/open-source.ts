/**
 * `openSource(input, options)`: the one entry point from a CLI input argument to a Source. Finds
 * the format (see detect-format.ts), opens the reader for it, checks `--columns` against the
 * schema where there is one, and wraps `--columns` and `--limit` around the rows.
 */
import { ChainetteError } from "../errors.js";
import { checkColumns, SelectedSource } from "./column-selection.js";
import { detectFormat, type InputLayout } from "./detect-format.js";
import { JsonlSource } from "./jsonl-source.js";
import type { OpenSourceOptions, Source } from "./source.js";

interface OpenedSource {
  source: Source;
  /** True when the format has a schema and the columns were checked against it. */
  schemaChecked: boolean;
}

export async function openSource(input: string, options: OpenSourceOptions = {}): Promise<Source> {
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new ChainetteError("USAGE", `Expected \`limit\` to be an integer >= 0, got \`${options.limit}\``);
  }
  const layout = await detectFormat(input, options.split);
  const opened = await openLayout(input, layout, options);
  if (options.columns === undefined && options.limit === undefined) return opened.source;
  return new SelectedSource(opened.source, {
    columns: options.columns,
    limit: options.limit,
    schemaChecked: opened.schemaChecked,
    path: input,
  });
}

/** Each reader loads on demand: a JSONL run never loads apache-arrow or hyparquet. */
async function openLayout(input: string, layout: InputLayout, options: OpenSourceOptions): Promise<OpenedSource> {
  switch (layout.format) {
    case "jsonl":
      return {
        source: new JsonlSource(layout.path, { gzip: layout.gzip, ...(options.stdin ? { stdin: options.stdin } : {}) }),
        schemaChecked: false,
      };
    case "json": {
      const { JsonArraySource } = await import("./json-array-source.js");
      return { source: new JsonArraySource(layout.path, layout.gzip), schemaChecked: false };
    }
    case "csv": {
      const { CsvSource } = await import("./csv-source.js");
      // CSV checks the columns against its header, before the first row
      return { source: new CsvSource(layout.path, layout.gzip, options.columns), schemaChecked: true };
    }
    case "parquet":
    case "arrow": {
      const wanted = options.columns?.map((column) => column.from);
      const source =
        layout.format === "parquet"
          ? await (await import("./parquet-source.js")).ParquetSource.open(input, layout.files, wanted)
          : await (await import("./arrow-source.js")).ArrowSource.open(input, layout.files, wanted);
      if (options.columns !== undefined) checkColumns(options.columns, source.columnNames(), input);
      return { source, schemaChecked: true };
    }
  }
}
