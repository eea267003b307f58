# Sourced by run.sh: the program's tree and draining against a real engine (SPEC §6, §7).

# docker stop: the program exits on TERM and leaves a TERM-handling child; drinit TERMs
# that leftover and waits for it, so its cleanup runs before the container ends.
s_leftover_cleanup() {
    local bad=
    run_c leftover --entrypoint /drinit "$PREFIX-base" -- \
        sh -c 'sh -c "trap \"echo leftover-cleaned-up; exit 0\" TERM; while :; do sleep 1; done" & sleep 100000' \
        || { fail leftover-cleanup "run failed"; return; }
    wait_until 10 is_running leftover || { fail leftover-cleanup "never ran"; return; }
    sleep 1
    d stop "$(cname leftover)" >/dev/null
    local log
    log=$(d logs "$(cname leftover)" 2>&1)
    case $log in *leftover-cleaned-up*) ;; *) bad="$bad the leftover's TERM handler did not run: $(logs_tail leftover);" ;; esac
    [ "$(exit_code leftover)" = 143 ] || bad="$bad exit $(exit_code leftover), want 143 (the program's TERM);"
    [ -z "$bad" ] && pass leftover-cleanup || fail leftover-cleanup "$bad"
}

# --stop-delay: after the stop signal the container keeps serving (the program runs, its
# pid unchanged) while `drinitctl health` and `ready` fail, then stops.
s_stop_delay() {
    local bad= pid t0 t
    run_c drain --entrypoint /drinit "$PREFIX-base" --stop-delay 3 -- sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done' \
        || { fail stop-delay "run failed"; return; }
    wait_until 10 is_running drain && wait_until 10 pid_changed drain 0 || { fail stop-delay "never ran"; return; }
    pid=$(json_num drain pid)
    t0=$(now_ms)
    d kill -s TERM "$(cname drain)" >/dev/null
    sleep 1
    is_running drain || bad="$bad the container stopped during the delay;"
    [ "$(json_str drain state)" = draining ] || bad="$bad state '$(json_str drain state)', want draining;"
    [ "$(json_num drain pid)" = "$pid" ] || bad="$bad the program did not keep serving;"
    ctl drain health >/dev/null 2>&1 && bad="$bad health passed while draining;"
    ctl drain ready >/dev/null 2>&1 && bad="$bad ready passed while draining;"
    wait_until 15 is_exited drain || bad="$bad never stopped;"
    t=$(( $(now_ms) - t0 ))
    [ $t -ge 2500 ] || bad="$bad stopped after ${t} ms, before the delay;"
    [ "$(exit_code drain)" = 0 ] || bad="$bad exit $(exit_code drain), want 0;"
    [ -z "$bad" ] && pass stop-delay || fail stop-delay "$bad"
}

s_leftover_cleanup
s_stop_delay
