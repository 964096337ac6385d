#!/bin/bash
# usage: pauser.sh <role-regex: producer|consumer|producer|consumer> <logfile>
# Every cycle: SIGSTOP the matching bench worker.ts processes (of this worktree) for a random 300-700 ms, SIGCONT, then 700 ms running.
ROLE=${1:-producer|consumer}; LOG=${2:-/dev/stdout}
trap 'for p in $PIDS; do kill -CONT $p 2>/dev/null; done; exit 0' TERM INT
while true; do
  PIDS=$(pgrep -f "wt-stall/bench/e2e/worker.ts" | while read p; do tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -qE "\"role\":\"($ROLE)\"" && echo $p; done)
  if [ -n "$PIDS" ]; then
    d=$(( 300 + RANDOM % 401 ))
    for p in $PIDS; do kill -STOP $p 2>/dev/null; done
    echo "$(date +%T.%3N) stop $PIDS ${d}ms" >> $LOG
    sleep $(printf '0.%03d' $d)
    for p in $PIDS; do kill -CONT $p 2>/dev/null; done
  fi
  sleep 0.7
done
