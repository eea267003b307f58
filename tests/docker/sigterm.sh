#!/bin/sh
# Hook for the trap image: drinit runs it as `sigterm.sh SIGNUM` instead of forwarding TERM.
if [ "$1" = 15 ]; then
    /drinitctl -c 3
fi
