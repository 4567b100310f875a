/** Runs a command as a child process under GNU time: wall seconds and peak RSS (MB) of that process alone. */
import { spawnSync } from "node:child_process";

export interface Measurement {
  seconds: number;
  peakRssMb: number;
  /** The command's stderr, GNU time's line removed. */
  stderr: string;
}

export function measure(command: string, args: readonly string[], env: Record<string, string> = {}): Measurement {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %M", command, ...args], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stderr.slice(-2000)}`);
  const lines = result.stderr.trim().split("\n");
  const last = lines.at(-1) ?? "";
  const [seconds, kilobytes] = last.split(" ").map(Number);
  return { seconds: seconds ?? Number.NaN, peakRssMb: (kilobytes ?? Number.NaN) / 1024, stderr: lines.slice(0, -1).join("\n") };
}

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const line = (row: readonly string[]): string => `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(cells[0] ?? []), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}
