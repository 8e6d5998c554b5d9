#!/usr/bin/env bash
# Runs Patroni's own behave acceptance suite (features/*.feature, etcd3 DCS) against pg-ha-agent
# (this checkout's dist/) or against Patroni itself (the baseline). See docs/patroni-compat.md.
#
#   sudo PATRONI_REPO=<patroni git dir> bash compat/run.sh pgha|patroni [feature ...]
#
# One behave process per feature, one at a time, each in its own network namespace (the suite
# uses fixed ports), as RUN_USER (postgres), bounded by FEATURE_TIMEOUT seconds. The only change
# to Patroni's tree is compat/launcher.py's block in features/environment.py (pgha only).
# Knobs: PATRONI_REF (HEAD), FEATURE_TIMEOUT (900), WORK (/tmp/pgha-compat-AGENT), PG_BIN
# (/usr/lib/postgresql/15/bin), PYTHON (/usr/bin/python3 with behave, psycopg2, psutil, PyYAML,
# urllib3, python-etcd, click, prettytable, dateutil, ydiff, coverage), RUN_USER (postgres).
# Debian: apt-get install patroni python3-behave python3-coverage python3-pythonjsonlogger
set -u
AGENT=${1:-}; shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
case "$AGENT" in patroni|pgha) ;; *) echo "usage: compat/run.sh pgha|patroni [feature ...]" >&2; exit 2 ;; esac
: "${PATRONI_REPO:?set PATRONI_REPO to a git repository of Patroni (a bare mirror is fine)}"
[ "$(id -u)" = 0 ] || { echo "run as root: it uses unshare -n and runuser" >&2; exit 2; }
PATRONI_REF=${PATRONI_REF:-HEAD}
FEATURE_TIMEOUT=${FEATURE_TIMEOUT:-900}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-/usr/bin/python3}
RUN_USER=${RUN_USER:-postgres}
WORK=${WORK:-/tmp/pgha-compat-$AGENT}
SRC=$WORK/src RESULTS=$WORK/results AGENT_JS=""

rm -rf "$WORK"; mkdir -p "$SRC" "$WORK/home" "$WORK/tmp" "$RESULTS"
git -C "$PATRONI_REPO" archive "$PATRONI_REF" | tar -x -C "$SRC" || { echo "git archive of $PATRONI_REPO failed" >&2; exit 2; }
git -C "$PATRONI_REPO" rev-parse "$PATRONI_REF" > "$RESULTS/patroni-commit"
if [ "$AGENT" = pgha ]; then
  [ -f "$REPO/dist/bin/pg-ha-agent.js" ] || { echo "no dist/: run npm run build first" >&2; exit 2; }
  # A copy of the build, so that a rebuild during the (long) run does not change the agent under test.
  mkdir -p "$WORK/agent" && cp -r "$REPO/dist" "$REPO/package.json" "$WORK/agent/" && ln -s "$REPO/node_modules" "$WORK/agent/node_modules"
  git -C "$REPO" rev-parse HEAD > "$RESULTS/pgha-commit" 2>/dev/null
  AGENT_JS=$WORK/agent/dist/bin/pg-ha-agent.js
  "$PYTHON" "$HERE/launcher.py" "$SRC/features/environment.py" || exit 2
fi
chown -R "$RUN_USER" "$WORK"; chmod -R a+rX "$WORK/agent" 2>/dev/null

FEATURES=${*:-$(cd "$SRC/features" && ls ./*.feature | sed 's|^\./||; s/\.feature$//')}
ROOT_NS=$(readlink /proc/self/ns/net)
for name in $FEATURES; do
  rm -rf "$SRC/data" "$SRC/features/output" "${WORK:?}/tmp"/* 2>/dev/null
  nsfile=$RESULTS/$name.netns; : > "$nsfile"
  t0=$(date +%s)
  timeout -k 30 "$FEATURE_TIMEOUT" unshare -n bash -c '
    ip link set lo up || exit 3
    readlink /proc/self/ns/net > "$1"
    cd "$2" || exit 3
    exec runuser -u "$3" -- env -i PATH="$4:/usr/local/bin:/usr/bin:/bin" HOME="$5" TMPDIR="$6" LANG=C.UTF-8 \
      PYTHONUNBUFFERED=1 DCS=etcd3 PYTHONPATH="$2" PGHA_AGENT_JS="$7" \
      "$8" -m behave --no-color -f json -o "$9.json" -f plain "features/${10}.feature"
  ' bash "$nsfile" "$SRC" "$RUN_USER" "$PG_BIN" "$WORK/home" "$WORK/tmp" "$AGENT_JS" "$PYTHON" \
    "$RESULTS/$name" "$name" > "$RESULTS/$name.out" 2>&1
  rc=$?
  # Stop what the feature left running: only processes inside its own network namespace.
  ns=$(cat "$nsfile" 2>/dev/null)
  if [ -n "$ns" ] && [ "$ns" != "$ROOT_NS" ]; then
    for _ in 1 2 3; do
      left=""
      for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] && left="$left ${p#/proc/}"; done
      [ -z "$left" ] && break
      kill -9 $left 2>/dev/null; sleep 1
    done
  fi
  echo "rc=$rc seconds=$(( $(date +%s) - t0 ))" > "$RESULTS/$name.meta"
  [ -d "$SRC/features/output" ] && mv "$SRC/features/output" "$RESULTS/$name.logs"
  "$PYTHON" "$HERE/summarize.py" "$SRC/features/$name.feature" "$RESULTS/$name"
  echo "$name: $(grep -c '^passed' "$RESULTS/$name.scenarios.txt") of $(wc -l < "$RESULTS/$name.scenarios.txt") passed ($(cat "$RESULTS/$name.meta"))" >&2
done
rm -rf "$SRC/data" "$WORK/tmp"
"$PYTHON" "$HERE/summarize.py" --total "$RESULTS" | tee "$RESULTS/table.txt"
