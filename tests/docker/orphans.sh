#!/bin/sh
# Leaves orphans behind: each subshell exits at once, so its sleep is reparented to PID 1
# and becomes a zombie there when it ends. Only a reaping PID 1 clears them.
i=0
while [ $i -lt 20 ]; do
    (sleep 0.$((i % 5 + 1)) &)
    i=$((i + 1))
done
# Also a grandchild that outlives an exec'd parent.
sh -c 'sleep 0.3 & exec true'
exec sleep 100000
