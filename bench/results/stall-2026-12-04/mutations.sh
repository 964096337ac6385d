#!/bin/bash
# Each guard test must fail with the behaviour it guards removed: apply one mutation to the sources, run the test, restore.
cd /work/wt-stall
run() { # name file sed-expr test-filter
  echo "== mutation $1: $2: $3"
  sed -i "$3" "$2"; git diff --stat -- "$2" | tail -1
  flock -s /work/coord/quiet.lock npx vitest run packages/client/test/paused-peer.test.ts -t "$4" 2>&1 | grep -E "✓|×|Error|Tests " | head -8
  git checkout -- "$2"
}
run drain-no-redeliver packages/broker/src/connection.ts 's/^    this.consumers.drainQueues();$/    \/\/ mutated/' 'a consumer'
run confirm-no-pump packages/client/src/publisher.ts 's/^    if (this.queueHead < this.queue.length) this.pump();$/    if (false) this.pump();/' 'a producer that stops reading'
run no-window packages/client/src/publisher.ts 's/ \&\& this.unconfirmed < this.window \&\& / \&\& /' 'a producer that stops reading'
run no-drain-wait packages/client/src/publisher.ts 's/^      t.onceDrained(this.pumpBound);$/      \/\/ mutated/' 'a producer the broker stops reading'
run no-high-water packages/client/src/publisher.ts 's/ \&\& !t.overHighWater;$/;/' 'a producer the broker stops reading'
