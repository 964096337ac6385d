#!/bin/bash
# Store micro (storemicro.mjs), A = /work/wt-base, B = /work/wt-s2store-m, ABBA x4 in ONE exclusive hold (~30 s).
cd /work/coord/s2store-data
flock /work/coord/quiet.lock bash -c 'for r in 1 2 3 4; do if [ $((r%2)) = 1 ]; then o="A B B A"; else o="B A A B"; fi; for s in $o; do t=/work/wt-base; [ $s = B ] && t=/work/wt-s2store-m; echo -n "r$r $s "; node storemicro.mjs $t 300000; done; done'
