#!/bin/sh
# `make demo`: drinit as PID 1 of a fresh PID namespace, supervising a small shell program
# that sends drinit a forwarded signal, a trapped one (which runs a hook), leaves zombies
# for drinit to reap, and finally asks to be stopped. Works without root (user namespace).
set -eu
release=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$release:$PATH"
export DRINIT_SOCKET="drinit-demo-$$"

cat > "$work/hook.sh" <<'HOOK'
#!/bin/sh
echo "hook:    drinit trapped signal $1 (DRINIT_SIGNAL=$DRINIT_SIGNAL) and ran me; the program (pid $DRINIT_PID) was not signalled"
HOOK

cat > "$work/program.sh" <<'PROGRAM'
#!/bin/sh
trap 'echo "program: received SIGUSR1, forwarded by drinit"' USR1
trap 'echo "program: received SIGTERM, exiting with status 3"; exit 3' TERM
pause() { sleep "$1" & wait $! || true; }
echo "program: running as pid $$ under drinit (pid 1)"
echo "program: kill -USR1 1  (drinit forwards it)"
kill -USR1 1; pause 0.3
echo "program: kill -HUP 1   (trapped with -t HUP -r hook.sh)"
kill -HUP 1; pause 0.5
echo "program: starting 5 orphans that exit at once"
for i in 1 2 3 4 5; do ( sleep 0.1 & ) ; done
pause 0.5
zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)
echo "program: zombies left in the namespace: $zombies"
echo "program: drinitctl status says:"
drinitctl status | sed 's/^/           /'
echo "program: kill -TERM 1  (drinit forwards it; I exit 3)"
kill -TERM 1
while :; do pause 1; done
PROGRAM
chmod +x "$work/hook.sh" "$work/program.sh"

if [ "$(id -u)" = 0 ]; then ns="unshare --pid --fork --mount-proc"; else ns="unshare --user --map-root-user --pid --fork --mount-proc"; fi
echo "demo: $ns drinit -v -t HUP -r hook.sh -- program.sh"
status=0
$ns "$release/drinit" -v -t HUP -r "$work/hook.sh" -- "$work/program.sh" || status=$?
echo "demo: drinit exited with status $status (the program's)"
[ "$status" = 3 ]
