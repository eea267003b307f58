#!/bin/sh
# drinitctl execs this after the cycle has finished, so the new program already runs.
echo "dosomething.sh: cycled, program pid now $(./drinitctl status --json | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')"
