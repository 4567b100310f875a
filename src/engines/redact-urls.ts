/**
 * Credentials inside any URL of a text (a command-line argument such as
 * `--endpoint fast=https://user:secret@host/v1?api-key=...`, or a whole stored command line)
 * replaced by `REDACTED`, URL by URL, with `displayUrl`. A URL with no user info and no query is
 * left exactly as written, so a text without credentials comes back unchanged. Applying it twice
 * changes nothing more.
 */
import { displayUrl } from "./display-url.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s"'<>`]+/gi;

export function redactUrls(text: string): string {
  return text.replace(URL_PATTERN, (url) => (mayHoldCredentials(url) ? displayUrl(url) : url));
}

function mayHoldCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== "" || parsed.password !== "" || parsed.search !== "";
  } catch {
    return url.includes("@") || url.includes("?");
  }
}
