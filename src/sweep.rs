//! Finding drinit's descendants through /proc, for the `--grace` sweep when drinit is a
//! subreaper and not PID 1 (where `kill(-1)` would reach processes it did not start).

use crate::log;
use crate::sys;

/// The most descendants one sweep handles; a container with more is rare, and the ones
/// left are reparented to drinit and swept by the kernel when drinit (PID 1) exits.
const MAX_FAMILY: usize = 1024;

/// Sends `signal` to every descendant of `root` that /proc shows. Without /proc it does
/// nothing (and says so with -v).
pub fn kill_descendants_of(root: i32, signal: i32) {
    let mut family = [0i32; MAX_FAMILY];
    family[0] = root;
    let mut len = 1;
    // Each pass finds one more generation; stop when a pass adds nobody.
    for _ in 0..16 {
        let before = len;
        let Ok(proc_dir) = sys::open_dir(c"/proc") else {
            log::info().text(b"no /proc: cannot find descendants to sweep").emit();
            return;
        };
        sys::for_each_dir_entry(&proc_dir, |name| {
            let Some(pid) = parse_pid(name) else { return };
            let known = family.get(..len).unwrap_or(&[]);
            if known.contains(&pid) {
                return;
            }
            if parent_of(pid).is_some_and(|parent| known.contains(&parent)) {
                if let Some(slot) = family.get_mut(len) {
                    *slot = pid;
                    len += 1;
                }
            }
        });
        if len == before {
            break;
        }
    }
    for &pid in family.get(1..len).unwrap_or(&[]) {
        // ESRCH: it ended on its own meanwhile.
        let _ = sys::kill_process(pid, signal);
    }
}

fn parse_pid(name: &[u8]) -> Option<i32> {
    crate::sig::parse_small_number(name).filter(|&p| p > 0)
}

/// The parent pid from `/proc/PID/stat` ("PID (COMM) STATE PPID ...", COMM may hold
/// spaces and parentheses, so parse after the last ')').
fn parent_of(pid: i32) -> Option<i32> {
    let mut path = [0u8; 32];
    let mut digits = [0u8; 20];
    let mut len = 0;
    for &b in b"/proc/".iter().chain(log::format_i64(pid as i64, &mut digits)).chain(b"/stat") {
        *path.get_mut(len)? = b;
        len += 1;
    }
    let path = sys::cstr_until_nul(&path);
    let mut stat = [0u8; 512];
    let n = sys::read_small_file(path, &mut stat).ok()?;
    parse_parent(stat.get(..n)?)
}

fn parse_parent(stat: &[u8]) -> Option<i32> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    let mut fields = stat.get(close + 1..)?.split(|&c| c == b' ').filter(|f| !f.is_empty());
    let _state = fields.next()?;
    crate::sig::parse_small_number(fields.next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_from_stat_lines() {
        assert_eq!(parse_parent(b"42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parse_parent(b"42 (a) b) (c) R 1 1 1"), Some(1));
        assert_eq!(parse_parent(b"garbage"), None);
    }

    #[test]
    fn finds_our_own_parent() {
        let me = std::process::id() as i32;
        let parent = std::os::unix::process::parent_id() as i32;
        assert_eq!(parent_of(me), Some(parent));
    }
}
