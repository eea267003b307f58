//! The program's process tree (SPEC §6): the program and everything it started, in any
//! process group or session, found as drinit's descendants less its own hooks and probes.
//!
//! Found through /proc, and only through a /proc of drinit's own PID namespace (one
//! mounted for another namespace shows other processes under the same numbers). Each
//! process is pinned with a pidfd before it is signalled, and its identity checked again
//! after pinning, so a pid that was reused meanwhile is never hit. No cap: the walk keeps
//! nothing but the process at hand, so it needs no table of the tree.

use crate::log;
use crate::sig::{parse_small_number, Signal};
use crate::sys::{self, Errno};
use crate::text::join;

/// The longest parent chain followed; deeper trees do not exist on Linux in practice
/// (and a chain that changes while it is read ends the walk, not drinit).
const MAX_DEPTH: usize = 4096;

pub struct Tree {
    own_pid: i32,
    /// /proc shows drinit's own PID namespace: its pids and parentage can be trusted.
    proc_is_ours: bool,
}

/// One process as `/proc/PID/stat` shows it.
struct Stat {
    parent: i32,
    /// The start time in clock ticks, as text: with the pid, who the process is.
    started: [u8; 24],
}

impl Tree {
    pub fn new(own_pid: i32) -> Tree {
        let proc_is_ours = sys::proc_self_pid() == Some(own_pid);
        if !proc_is_ours {
            log::info().text(b"/proc is not this PID namespace's: the program's leftovers are reached through its process group only").emit();
        }
        Tree { own_pid, proc_is_ours }
    }

    pub fn proc_is_ours(&self) -> bool {
        self.proc_is_ours
    }

    /// Sends `signal` (then SIGCONT, so a stopped process can act on it) to every process of
    /// the tree: drinit's descendants except `helpers` and theirs. Returns how many.
    pub fn signal_all(&self, signal: Signal, helpers: &[i32]) -> u32 {
        if !self.proc_is_ours {
            return 0;
        }
        let Ok(proc_dir) = sys::open_dir(c"/proc") else { return 0 };
        let mut signalled = 0u32;
        sys::for_each_dir_entry(&proc_dir, |name| {
            let Some(pid) = parse_small_number(name).filter(|&p| p > 0 && p != self.own_pid) else { return };
            if !helpers.contains(&pid) && self.signal_if_member(pid, signal, helpers) {
                signalled += 1;
            }
        });
        signalled
    }

    /// Whether `pid` (a sender the kernel vouched for in our namespace) is of the tree.
    /// Without a /proc of our own namespace that cannot be told: any such sender counts.
    /// Nor for a sender already gone (a notifier that sends and exits, reaped before drinit
    /// reads the datagram): it counts too, or READY=1 from one would be lost at random.
    pub fn contains(&self, pid: i32, helpers: &[i32]) -> bool {
        if !self.proc_is_ours {
            return pid > 0;
        }
        pid > 0 && pid != self.own_pid && !helpers.contains(&pid) && stat_of(pid).is_none_or(|s| self.descends_from_us(s.parent, helpers))
    }

    /// Pins `pid`, makes sure it is the process that was walked, and signals it.
    fn signal_if_member(&self, pid: i32, signal: Signal, helpers: &[i32]) -> bool {
        let Some(before) = stat_of(pid) else { return false };
        if !self.descends_from_us(before.parent, helpers) {
            return false;
        }
        let pinned = sys::pidfd_open(pid);
        // Still the same process after pinning: the pidfd holds the one that was walked.
        let same = stat_of(pid).is_some_and(|after| after.started == before.started);
        match (pinned, same) {
            (Ok(pidfd), true) => {
                let _ = sys::pidfd_signal(&pidfd, signal.number());
                // ESRCH: it ended in between; nothing else can be reached through a pidfd.
                let _ = sys::pidfd_signal(&pidfd, libc::SIGCONT);
                true
            }
            // Kernels before 5.3: the identity check just above is the pin (a window of
            // one system call remains; the README says so).
            (Err(Errno::NOSYS), true) => {
                let _ = sys::kill_process(pid, signal.number());
                let _ = sys::kill_process(pid, libc::SIGCONT);
                true
            }
            _ => false,
        }
    }

    /// Whether a process whose parent is `parent` belongs to the tree.
    fn descends_from_us(&self, mut parent: i32, helpers: &[i32]) -> bool {
        for _ in 0..MAX_DEPTH {
            if parent == self.own_pid {
                return true;
            }
            if parent <= 1 || helpers.contains(&parent) {
                return false;
            }
            match stat_of(parent) {
                Some(stat) => parent = stat.parent,
                // The ancestor ended: its children now belong to drinit (the subreaper or
                // PID 1); the caller's next sweep sees them as direct children.
                None => return true,
            }
        }
        false
    }

    /// Whether drinit has children other than `helpers`: `None` when /proc cannot say.
    pub fn has_children_besides(&self, helpers: &[i32]) -> Option<bool> {
        if !self.proc_is_ours {
            return None;
        }
        let mut path = [0u8; 48];
        let mut digits = [0u8; 20];
        let pid = log::format_i64(self.own_pid as i64, &mut digits);
        let len = join(&mut path, &[b"/proc/", pid, b"/task/", pid, b"/children"]);
        let mut list = [0u8; 256];
        let n = sys::read_small_file(sys::cstr_until_nul(path.get(..=len)?), &mut list).ok()?;
        // A full buffer lists more children than there can be helpers (and may end mid-number).
        if n >= list.len() {
            return Some(true);
        }
        let mut children = list.get(..n)?.split(|&c| c == b' ' || c == b'\n').filter(|p| !p.is_empty());
        Some(children.any(|p| parse_small_number(p).is_none_or(|pid| !helpers.contains(&pid))))
    }
}

/// `/proc/PID/stat`'s parent and start time; `None` once PID is gone. A process caught
/// being reaped (its stat opened, its pid already released) names parent 0 for an
/// instant, as does a live one entered from outside the namespace (`nsenter`, `docker
/// exec`): a second read tells them apart, for the pid of a released process is gone
/// for good by then.
fn stat_of(pid: i32) -> Option<Stat> {
    let stat = read_stat(pid)?;
    if stat.parent == 0 && read_stat(pid).is_none() {
        return None;
    }
    Some(stat)
}

fn read_stat(pid: i32) -> Option<Stat> {
    let mut path = [0u8; 32];
    let mut digits = [0u8; 20];
    let len = join(&mut path, &[b"/proc/", log::format_i64(pid as i64, &mut digits), b"/stat"]);
    let mut stat = [0u8; 512];
    let n = sys::read_small_file(sys::cstr_until_nul(path.get(..=len)?), &mut stat).ok()?;
    parse_stat(stat.get(..n)?)
}

/// "PID (COMM) STATE PPID ..." — COMM may hold spaces and parentheses, so the fields are
/// counted after the last ')'. The start time is field 22 (the 20th after COMM).
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    let mut fields = stat.get(close + 1..)?.split(|&c| c == b' ').filter(|f| !f.is_empty());
    let parent = parse_small_number(fields.nth(1)?)?;
    let started_text = fields.nth(17)?;
    let mut started = [0u8; 24];
    for (dst, &src) in started.iter_mut().zip(started_text) {
        *dst = src;
    }
    Some(Stat { parent, started })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_and_start_time_from_stat_lines() {
        let line = b"42 (a) b) (c) S 7 42 42 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0 123456789012 2269184 130";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.parent, 7);
        assert_eq!(&stat.started[..12], b"123456789012");
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"1 (x) S 0").is_none(), "too short for a start time");
    }

    #[test]
    fn finds_our_own_parent() {
        let me = std::process::id() as i32;
        let parent = std::os::unix::process::parent_id() as i32;
        assert_eq!(stat_of(me).map(|s| s.parent), Some(parent));
    }
}
