#!/usr/bin/env bash
# The live view as a person sees it: runs examples/qa over fixtures/questions.jsonl (3,000 rows,
# against the bundled simulator at real-time H100 timings) in tmux panes 60, 80 and 160 columns
# wide, and in one that shrinks from 160 to 60 columns halfway, then prints each final screen and
# counts what a redraw must not leave: status lines of earlier frames (stale copies) and lines
# wider than the pane (wrapped). A check to run by hand (it needs tmux and a build):
#
#   npm run build && bash scripts/tmux-live-view.sh            # CLI=path/to/main.js to try another build
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cli="${CLI:-$root/dist/cli/main.js}"
socket="live-view-$$"
tmux() { command tmux -L "$socket" "$@"; }  # a server of its own: other tmux sessions stay untouched
command -v tmux >/dev/null || { echo "tmux is not installed (apt-get install -y tmux)" >&2; exit 2; }
work="$(mktemp -d)"
sim_log="$work/sim.log"
node "$root/dist/cli/main.js" sim --port 0 --model meta-llama/Llama-3.1-8B-Instruct >"$sim_log" 2>&1 &
sim_pid=$!
sessions=()
cleanup() {
  for session in "${sessions[@]}"; do tmux kill-session -t "$session" 2>/dev/null || true; done
  kill "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "listening" "$sim_log" && break; sleep 0.1; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$sim_log" | head -1)"

# start NAME WIDTH: the run in a detached tmux session of that width; the pane stays after it ends.
start() {
  local name="$1" width="$2"
  sessions+=("$name")
  tmux new-session -d -s "$name" -x "$width" -y 30 \
    "cd '$root' && node '$cli' run examples/qa/chain.ts -i fixtures/questions.jsonl -o '$work/$name' --fresh --endpoint llama3=$url/v1; echo EXIT=\$?; sleep 600"
}
finished() { tmux capture-pane -p -t "$1" | grep -q '^EXIT='; }

for width in 60 80 160; do start "view-$width" "$width"; done
start "view-resize" 160
sleep 3
tmux resize-window -t "view-resize" -x 60
for session in "${sessions[@]}"; do
  for _ in $(seq 1 600); do finished "$session" && break; sleep 0.2; done
done

status=0
for session in "${sessions[@]}"; do
  width="$(tmux display -p -t "$session" '#{pane_width}')"
  screen="$(tmux capture-pane -p -J -t "$session")"
  # A frame's status line is "simple-qa: N/3,000 ..."; the summary's is "simple-qa: complete — ...".
  frames="$(grep -cE '^simple-qa: [0-9.,kM]+/' <<<"$screen" || true)"
  # The view's lines (not the summary printed after it): the status line and "  qa ..."/"  keep ...".
  # (Counted in characters, not bytes: the bars are 3-byte characters.)
  wide="$(grep -E '^(simple-qa: [0-9.,kM]+/|  (qa|keep) )' <<<"$screen" | node -e '
    const lines = require("node:fs").readFileSync(0, "utf8").split("\n").filter((line) => line !== "");
    console.log(lines.filter((line) => [...line.trimEnd()].length >= Number(process.argv[1])).length)' "$width")"
  echo "=== $session (pane $width columns): status lines on screen $frames (1 = no stale copy), lines wider than the pane $wide"
  sed 's/[[:space:]]*$//' <<<"$screen" | grep -v '^$'
  if [ "$frames" != 1 ] || [ "$wide" != 0 ]; then status=1; fi
done
exit "$status"
