// This machine's registry mirror serves only linux-x64 builds of platform-specific packages, so
// npm leaves the other platforms' optional packages out of package-lock.json, and `npm ci` then
// refuses the lock ("Missing: … from lock file", npm/cli#8320). This adds those entries, with the
// os/cpu/libc read from the package name, so npm ci skips them as the wrong platform everywhere
// they are not wanted. Run after any `npm install` that changed the lock:
//   node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const OS = ["darwin", "linux", "win32", "freebsd", "openbsd", "netbsd", "android", "sunos", "aix", "openharmony"];
const CPU = { x64: "x64", arm64: "arm64", arm: "arm", ia32: "ia32", ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x", loong64: "loong64", mips64el: "mips64el", wasm32: "wasm32" };

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const packages = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (packages[`node_modules/${name}`] || packages[`${path}/node_modules/${name}`]) continue;
    const parts = name.split("/").at(-1).split("-");
    const os = parts.find((part) => OS.includes(part));
    const cpu = parts.map((part) => CPU[part]).find(Boolean);
    if (os === undefined || cpu === undefined) continue;
    const record = { version, cpu: [cpu], os: [os] };
    if (parts.includes("musl")) record.libc = ["musl"];
    else if (parts.includes("gnu") || (os === "linux" && name.includes("duckdb"))) record.libc = ["glibc"];
    if (entry.dev) record.dev = true;
    record.optional = true;
    packages[`node_modules/${name}`] = record;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform packages to package-lock.json`);
