//! Why the program died (SPEC §9): an exit code, a signal, or the kernel's OOM killer.
//!
//! The OOM killer's SIGKILL looks like any other; what tells them apart is the `oom_kill`
//! count of drinit's memory cgroup (cgroup v2 `memory.events`, v1 `memory.oom_control`),
//! read when the program starts and again when it dies of SIGKILL. The file is found once,
//! right after the program's first start, through /proc/self/cgroup: at the usual mount
//! point, else at the cgroup mount /proc/self/mountinfo names; reading it works on the
//! read-only cgroup filesystem Docker gives a container.

use crate::log;
use crate::proto::ExitReason;
use crate::sys::{self, ExitStatus};
use crate::text::{has_item, join, Fields};

pub struct Death {
    /// The counter file, NUL-terminated; empty when there is none (no cgroup, no /proc).
    counter: [u8; 256],
    at_start: Option<u64>,
    /// The program's last death was the OOM killer's.
    oom: bool,
    pub oom_kills: u32,
}

impl Death {
    /// No counter file (yet).
    pub fn none() -> Death {
        Death { counter: [0; 256], at_start: None, oom: false, oom_kills: 0 }
    }

    /// Finds the counter file of drinit's memory cgroup (the program's too): first where
    /// Docker, podman and systemd mount the hierarchy (`/sys/fs/cgroup`, v1's `memory`
    /// under it), through the mount table only when it is not there. Reading
    /// /proc/self/mountinfo took ~25 µs of every start here (1,500 interleaved starts were
    /// ~0.1 ms faster without it). The file's name says it is a memory cgroup's.
    pub fn find() -> Death {
        let mut death = Death::none();
        let mut cgroup = [0u8; 4096];
        let cgroup = read(c"/proc/self/cgroup", &mut cgroup);
        let Some((path, v2)) = memory_cgroup(cgroup) else { return death };
        let standard: &[u8] = if v2 { b"/sys/fs/cgroup" } else { b"/sys/fs/cgroup/memory" };
        let file = counter_file(v2);
        // The cgroup's directory under the mount; else the mount itself (Docker mounts the
        // container's own cgroup there while /proc/self/cgroup may name the host's path).
        let found = death.counts_in(&[standard, path, file]) || death.counts_in(&[standard, file]) || {
            // At start-up only, and a container has a few dozen mounts; should a long
            // table be cut, the cgroup mounts come early in it.
            let mut mounts = [0u8; 16384];
            location(path, v2, read(c"/proc/self/mountinfo", &mut mounts))
                .is_some_and(|at| death.counts_in(&[at.mount_point, at.directory, file]) || death.counts_in(&[at.mount_point, file]))
        };
        if !found {
            death.counter[0] = 0;
        } else {
            log::info().text(b"OOM kills counted in ").text(sys::cstr_until_nul(&death.counter).to_bytes()).emit();
        }
        death
    }

    /// Takes the file joined from `parts` as the counter if it has one.
    #[inline(never)] // four calls at start-up (size budget)
    fn counts_in(&mut self, parts: &[&[u8]]) -> bool {
        join(&mut self.counter, parts);
        self.count().is_some()
    }

    fn count(&self) -> Option<u64> {
        if self.counter[0] == 0 {
            return None;
        }
        let mut buf = [0u8; 512];
        oom_kill_count(read(sys::cstr_until_nul(&self.counter), &mut buf))
    }

    pub fn program_started(&mut self) {
        self.at_start = self.count();
    }

    /// The program `pid` ended with `status`: was it the OOM killer?
    pub fn program_exited(&mut self, pid: i32, status: ExitStatus) {
        let before = self.at_start.take();
        self.oom = status == ExitStatus::Signaled(9) && matches!((before, self.count()), (Some(a), Some(b)) if b > a);
        if self.oom {
            self.oom_kills = self.oom_kills.saturating_add(1);
            log::error().text(b"program pid ").num(pid as i64).text(b" was killed by the kernel's OOM killer").emit();
        }
    }

    /// `last_exit_reason` for the program's last end (a failed start is an exit too).
    pub fn reason(&self, last: Option<ExitStatus>) -> ExitReason {
        match last {
            None => ExitReason::None,
            Some(ExitStatus::Signaled(9)) if self.oom => ExitReason::Oom,
            Some(ExitStatus::Exited(_)) => ExitReason::Exit,
            Some(ExitStatus::Signaled(_)) => ExitReason::Signal,
        }
    }
}

fn read<'a>(path: &core::ffi::CStr, buf: &'a mut [u8]) -> &'a [u8] {
    let len = sys::read_small_file(path, buf).unwrap_or(0);
    buf.get(..len).unwrap_or(&[])
}

/// The `oom_kill N` line of `memory.events` (v2) or `memory.oom_control` (v1).
fn oom_kill_count(file: &[u8]) -> Option<u64> {
    let mut lines = Fields(file);
    while !lines.is_empty() {
        let mut line = Fields(lines.next(b'\n'));
        if line.next(b' ') == b"oom_kill" && !line.is_empty() {
            let mut n: u64 = 0;
            for &c in line.0 {
                n = n.checked_mul(10)?.checked_add(c.checked_sub(b'0').filter(|d| *d < 10)? as u64)?;
            }
            return Some(n);
        }
    }
    None
}

/// Where the counter file should be: mount point + directory (+ `counter_file`).
#[derive(Debug, PartialEq, Eq)]
struct Location<'a> {
    mount_point: &'a [u8],
    directory: &'a [u8],
}

/// The file with the `oom_kill` count in a memory cgroup's directory.
fn counter_file(v2: bool) -> &'static [u8] {
    if v2 { b"/memory.events" } else { b"/memory.oom_control" }
}

/// The memory cgroup's path in `/proc/self/cgroup`: v1's `memory` controller, else v2's
/// unified hierarchy (`true`).
fn memory_cgroup(cgroup: &[u8]) -> Option<(&[u8], bool)> {
    let mut found = None;
    let mut lines = Fields(cgroup);
    while !lines.is_empty() {
        // ID:CONTROLLERS:PATH; v2 is `0::PATH`.
        let mut line = Fields(lines.next(b'\n'));
        let id = line.next(b':');
        let controllers = line.next(b':');
        if has_item(controllers, b"memory") {
            return Some((line.0, false));
        }
        if id == b"0" && controllers.is_empty() {
            found = Some((line.0, true));
        }
    }
    found
}

/// The mount of the memory cgroup at `path` (v2: the unified hierarchy) in
/// `/proc/self/mountinfo`.
fn location<'a>(path: &'a [u8], v2: bool, mountinfo: &'a [u8]) -> Option<Location<'a>> {
    let mut lines = Fields(mountinfo);
    while !lines.is_empty() {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER_OPTIONS
        let mut line = Fields(lines.next(b'\n'));
        let mut root = &b""[..];
        for _ in 0..4 {
            root = line.next(b' ');
        }
        let mount_point = line.next(b' ');
        while !line.is_empty() && line.next(b' ') != b"-" {}
        let fstype = line.next(b' ');
        line.next(b' ');
        let ours = if v2 { fstype == b"cgroup2" } else { fstype == b"cgroup" && has_item(line.0, b"memory") };
        if ours {
            // The mount shows the cgroup at ROOT: the path below it is the directory.
            let directory = if root == b"/" { path } else { path.strip_prefix(root).unwrap_or(path) };
            return Some(Location { mount_point, directory });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mount point, directory and counter file, as `find` joins them.
    fn location<'a>(cgroup: &'a [u8], mountinfo: &'a [u8]) -> Option<(&'a [u8], &'a [u8], &'static [u8])> {
        let (path, v2) = memory_cgroup(cgroup)?;
        super::location(path, v2, mountinfo).map(|at| (at.mount_point, at.directory, counter_file(v2)))
    }

    fn at<'a>(mount_point: &'a str, directory: &'a str, file: &'static str) -> Option<(&'a [u8], &'a [u8], &'static [u8])> {
        Some((mount_point.as_bytes(), directory.as_bytes(), file.as_bytes()))
    }

    #[test]
    fn counts_in_v1_and_v2_files() {
        let v1 = b"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(oom_kill_count(v1), Some(3));
        let v2 = b"low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(v2), Some(2));
        // Kernels before 4.13 have no count in v1: nothing to compare, never "oom".
        assert_eq!(oom_kill_count(b"oom_kill_disable 0\nunder_oom 0\n"), None);
        assert_eq!(oom_kill_count(b"oom_kill \noom_kill x1\n"), None);
        assert_eq!(oom_kill_count(b"oom_kill 18446744073709551616\n"), None, "overflow");
        assert_eq!(oom_kill_count(b""), None);
    }

    // This machine: cgroup v1 with a unified hierarchy beside it (no controllers there).
    const HYBRID_CGROUP: &[u8] = b"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/f9f7\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    const HYBRID_MOUNTS: &[u8] = b"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_memory_controller_wins_on_a_hybrid_host() {
        assert_eq!(location(HYBRID_CGROUP, HYBRID_MOUNTS), at("/sys/fs/cgroup/memory", "/process_api/f9f7", "/memory.oom_control"));
    }

    #[test]
    fn docker_on_v1_mounts_the_containers_cgroup_as_the_root() {
        // Docker with the host's cgroup namespace: /proc/self/cgroup names the host path,
        // the read-only mount shows that same cgroup at /sys/fs/cgroup/memory.
        let cgroup = b"12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/system.slice/containerd.service\n";
        let mounts = b"700 690 0:63 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:20 - cgroup cgroup rw,memory\n";
        assert_eq!(location(cgroup, mounts), at("/sys/fs/cgroup/memory", "", "/memory.oom_control"));
        // Controllers joined in one hierarchy are found too.
        let joined = b"700 690 0:63 / /sys/fs/cgroup/memory,blkio ro - cgroup cgroup rw,blkio,memory\n";
        assert_eq!(location(b"5:blkio,memory:/x\n", joined), at("/sys/fs/cgroup/memory,blkio", "/x", "/memory.oom_control"));
    }

    #[test]
    fn docker_on_v2_with_its_own_cgroup_namespace() {
        let mounts = b"28 27 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup ro,nsdelegate\n";
        assert_eq!(location(b"0::/\n", mounts), at("/sys/fs/cgroup", "/", "/memory.events"));
        // A host path the mount does not show (the caller then tries the mount itself).
        assert_eq!(location(b"0::/system.slice/docker-1.scope\n", mounts), at("/sys/fs/cgroup", "/system.slice/docker-1.scope", "/memory.events"));
    }

    #[test]
    fn nothing_found_is_none() {
        assert_eq!(location(b"", HYBRID_MOUNTS), None);
        assert_eq!(location(HYBRID_CGROUP, b""), None);
        assert_eq!(location(b"4:memory:/x\n", b"41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"), None);
        assert_eq!(location(b"garbage\n::\n", b"short line\n- - -\n"), None);
    }

    #[test]
    fn only_a_sigkill_with_a_risen_count_is_the_oom_killer() {
        let mut d = Death { counter: [0; 256], at_start: None, oom: true, oom_kills: 0 };
        assert_eq!(d.reason(Some(ExitStatus::Signaled(9))), ExitReason::Oom);
        assert_eq!(d.reason(Some(ExitStatus::Exited(126))), ExitReason::Exit, "a failed start after an OOM kill");
        d.program_exited(5, ExitStatus::Signaled(9));
        assert!(!d.oom, "no counter: never oom");
        assert_eq!(d.reason(Some(ExitStatus::Signaled(9))), ExitReason::Signal);
        assert_eq!(d.reason(None), ExitReason::None);
    }
}
