#!/bin/bash
# F1: PendingQueues.drop forgets to clear `last` (a settlement goes to a list flushPending never sees). Run from the worktree root.
set -u
F=packages/broker/src/storage/message-store.ts
cp $F /tmp/rs2-ms.ts
sed -i 's/    if (this.last === p) this.last = null;/    \/\/ FAULT F1/' $F
git diff --stat -- $F
npx vitest run packages/broker/test/storage/last-used-caches-review.test.ts packages/broker/test/storage/last-used-caches.test.ts 2>&1 | grep -E "×|✓|Tests  "
cp /tmp/rs2-ms.ts $F
git diff --stat -- $F
