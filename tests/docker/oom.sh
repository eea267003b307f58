# The kernel's OOM killer, told apart from other SIGKILLs (SPEC §9): sourced by run.sh,
# whose helpers (run_c, json_str, ...) it uses, and runs its scenario at once.
#
# A memory hog under a 32 MiB limit (no swap to escape to) is SIGKILLed by the kernel;
# drinit's --restart on-failure keeps the container up, the next program only sleeps, and
# `drinitctl status --json` says what happened.
s_oom() {
    local out bad=
    out=$(d run -d --label "$LABEL" --name "$PREFIX-oom" --network none --memory 32m --memory-swap 32m \
        --entrypoint /drinit "$PREFIX-base" --restart on-failure -- \
        sh -c '[ -e /tmp/hogged ] && exec sleep 100000; touch /tmp/hogged; exec dd if=/dev/zero of=/dev/null bs=64M count=1' 2>&1)
    if [ $? != 0 ]; then
        case $out in
            *emory*) echo "SKIP oom: this engine cannot limit memory: $(echo "$out" | tail -1 | cut -c1-200)";;
            *) fail oom "run failed: $(echo "$out" | tail -1 | cut -c1-200)";;
        esac
        return
    fi
    oom_told() { [ "$(json_str oom last_exit_reason)" = oom ]; }
    if ! wait_until 30 oom_told; then
        fail oom "no \"last_exit_reason\":\"oom\" 30 s after the hog started: $(ctl oom status --json 2>&1 | cut -c1-400) logs: $(logs_tail oom)"
        return
    fi
    [ "$(json_num oom oom_kills)" = 1 ] || bad="$bad oom_kills is '$(json_num oom oom_kills)', want 1;"
    # Into a variable first: `grep -q` closing the pipe early fails `docker logs` under pipefail.
    local log
    log=$(d logs "$(cname oom)" 2>&1)
    case $log in *"was killed by the kernel's OOM killer"*) ;; *) bad="$bad no OOM line in the log: $(logs_tail oom);" ;; esac
    is_running oom || bad="$bad the container exited ($(exit_code oom));"
    [ "$(json_str oom state)" = running ] || bad="$bad state $(json_str oom state) after the restart;"
    if [ -z "$bad" ]; then
        pass oom
        echo "  ($(d logs "$(cname oom)" 2>&1 | grep -m1 'OOM killer'))"
    else
        fail oom "$bad"
    fi
}
s_oom
