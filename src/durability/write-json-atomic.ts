import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { crashPoint } from "../crash-points.js";
import { traceDurable, tracingDurable } from "../durable-trace.js";

/** Writes JSON to `path` through a temporary file and a rename: readers never see half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  crashPoint("json-temp-written");
  renameSync(temporary, path);
  if (tracingDurable) traceDurable({ op: "rename", from: temporary, file: path });
}
