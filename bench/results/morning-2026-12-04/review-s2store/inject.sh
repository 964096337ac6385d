#!/bin/bash
# Injects one faulty variant of 9ca1596 by hand, runs the review tests, restores the file.
# Usage: inject.sh F2|F3|F4|F5   (run from the worktree root)
set -u
F=packages/broker/src/storage/meta-cache.ts
cp $F /tmp/rs2-mc.ts
case "$1" in
  F2) # the same-object shortcut taken before the exchange/routingKey check
    perl -0pi -e 's/(  get\(exchange: string, routingKey: string, properties: MessageProperties \| null \| undefined\): Buffer \{\n)/$1    if (this.packed !== null && properties === this.same && properties !== null) return this.packed;\n/' $F ;;
  F3) # any object remembered as `same`, frozen or not
    perl -0pi -e 's/Object\.isFrozen\(props\) \? props : null/true ? props : null/' $F ;;
  F4) # the full-pack path leaves `same` alone when the new properties are not frozen
    perl -0pi -e 's/    this\.same = this\.packed === null \? null : frozenOrNull\(properties\);/    if (this.packed !== null \&\& frozenOrNull(properties) !== null) this.same = properties as object;/' $F ;;
  F5) # the splice path does not update `same`
    perl -0pi -e 's/(if \(out !== null\) \{\n)\s*this\.same = frozenOrNull\(properties\);\n/$1/' $F ;;
esac
git diff --stat -- $F
npx vitest run packages/broker/test/storage/last-used-caches-review.test.ts packages/broker/test/storage/last-used-caches.test.ts packages/broker/test/storage/meta-cache.test.ts 2>&1 | grep -E "×|Tests  " 
cp /tmp/rs2-mc.ts $F
git diff --stat -- $F
