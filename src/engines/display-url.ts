/**
 * A URL safe to show in events, logs, errors and graph.json: user info (`user:password@`) and query
 * values (`?api-key=...`, as Azure deployments use) are replaced by `REDACTED`.
 */
export function displayUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL: show only what cannot be a credential-bearing part.
    return url.replace(/\/\/[^/@]*@/, "//REDACTED@").replace(/\?.*$/, "?REDACTED");
  }
  if (parsed.username !== "" || parsed.password !== "") {
    parsed.username = "REDACTED";
    parsed.password = "";
  }
  for (const key of [...parsed.searchParams.keys()]) parsed.searchParams.set(key, "REDACTED");
  const shown = parsed.toString();
  // `new URL("http://h:1/v1").toString()` keeps the path as given; drop a trailing slash it added.
  return url.endsWith("/") ? shown : shown.replace(/\/$/, "");
}
