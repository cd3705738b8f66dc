#!/usr/bin/env bash
# A bounded fuzz campaign, as CI runs it: fails on any non-pyscep exception
# (a crash) or on any single input taking over 1 second.
#   fuzz/run_campaign.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
python="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d)"
keep_crashes() {
  # Keep what the fuzzer found (crash-*, timeout-*) where a person can replay it.
  if compgen -G "$work/artifacts/*" > /dev/null; then
    mkdir -p fuzz/crashes && cp "$work"/artifacts/* fuzz/crashes/
    echo "fuzz campaign: findings kept in fuzz/crashes/" >&2
  fi
  rm -rf "$work"
}
trap keep_crashes EXIT
"$python" fuzz/make_corpus.py "$work/corpus"
mkdir -p "$work/artifacts"
"$python" fuzz/fuzz_pyscep.py "$work/corpus" \
  -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1
echo "fuzz campaign: ${seconds}s, no crash, no input over 1s"
