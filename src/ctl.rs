//! The control server inside drinit: an abstract-namespace datagram socket, every request
//! authenticated by the kernel's credentials, decoded into a `Request`, answered with a
//! fixed-size `Reply`. Nothing received is ever executed or allocated for.

use crate::log;
use crate::proto::{self, Reply, Request};
use crate::sys::{self, Fd, UnixAddr};
use core::ffi::CStr;

/// The name used when /proc is not mounted (no namespace inodes to derive one from).
const FALLBACK_NAME: &[u8] = b"drinit";

/// The socket name: `DRINIT_SOCKET`, or `drinit.<pidns inode>.<mntns inode>` so that
/// containers sharing a network namespace never see each other's drinit while
/// `docker exec` into the same container computes the same name.
pub struct SocketName {
    buf: [u8; 108],
    len: usize,
    pub derived_from_namespaces: bool,
}

impl SocketName {
    pub fn resolve(configured: Option<&[u8]>) -> SocketName {
        let mut name = SocketName { buf: [0; 108], len: 0, derived_from_namespaces: false };
        if let Some(configured) = configured {
            name.push(configured);
            return name;
        }
        let pid_ns = sys::namespace_inode(c"/proc/self/ns/pid");
        let mnt_ns = sys::namespace_inode(c"/proc/self/ns/mnt");
        match (pid_ns, mnt_ns) {
            (Some(pid), Some(mnt)) => {
                name.push(b"drinit.");
                name.push_number(pid);
                name.push(b".");
                name.push_number(mnt);
                name.derived_from_namespaces = true;
            }
            _ => name.push(FALLBACK_NAME),
        }
        name
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_number(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.push(log::format_i64(n, &mut digits));
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

pub struct Server {
    fd: Fd,
    own_uid: u32,
    /// Datagrams dropped: malformed, oversized, unknown, or not authenticated.
    pub rejected: u32,
}

/// A request that passed authentication and decoding, with where to send the answer.
pub struct Incoming {
    pub request: Request,
    pub from: UnixAddr,
}

impl Server {
    pub fn bind(name: &[u8]) -> Result<Server, sys::Errno> {
        let addr = UnixAddr::abstract_name(name).ok_or(sys::Errno(libc::ENAMETOOLONG))?;
        let fd = sys::unix_dgram_socket()?;
        sys::enable_passcred(&fd)?;
        sys::bind(&fd, &addr)?;
        Ok(Server { fd, own_uid: sys::geteuid(), rejected: 0 })
    }

    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    /// The next acceptable request, or `None` when nothing more is queued. Everything
    /// else that was queued before it is counted and dropped.
    pub fn receive(&mut self) -> Option<Incoming> {
        // One byte more than a frame, so an oversized datagram shows as too long.
        let mut buf = [0u8; proto::REQUEST_LEN + 1];
        loop {
            let received = match sys::recv_with_credentials(&self.fd, &mut buf) {
                Ok(r) => r,
                Err(sys::Errno::INTR) => continue,
                // EAGAIN: queue empty. Anything else is logged once and waited out.
                Err(e) => {
                    if e != sys::Errno::AGAIN {
                        log::error().text(b"control socket receive failed").errno(e).emit();
                    }
                    return None;
                }
            };
            let frame = buf.get(..received.len).unwrap_or(&[]);
            let authentic = received.credentials.is_some_and(|c| c.pid != 0 && (c.uid == 0 || c.uid == self.own_uid));
            match (authentic, received.truncated, proto::decode_request(frame)) {
                (true, false, Ok(request)) => return Some(Incoming { request, from: received.from }),
                _ => {
                    self.rejected = self.rejected.saturating_add(1);
                    log::debug().text(b"control request dropped (malformed or not authenticated)").emit();
                }
            }
        }
    }

    /// Sends a reply without blocking; a client that went away is not our problem.
    pub fn reply(&self, to: &UnixAddr, reply: &Reply) {
        let frame = proto::encode_reply(reply);
        if let Err(e) = sys::send_to(&self.fd, &frame, to) {
            log::debug().text(b"control reply not delivered").errno(e).emit();
        }
    }
}

/// `DRINIT_SOCKET` as the client and server both read it.
pub fn configured_name() -> Option<&'static [u8]> {
    sys::getenv(c"DRINIT_SOCKET").map(CStr::to_bytes).filter(|n| !n.is_empty())
}
