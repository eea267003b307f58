#!/bin/sh
# drinit runs this as `./sigterm.sh SIGNUM` for every trapped signal; the signal itself is
# not forwarded. busybox and dash want `=` (the seed's `==` is a bash-ism).
if [ "$1" = 15 ] # sigterm
then
    ./drinitctl -c3 -r dosomething.sh
fi
