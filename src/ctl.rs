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

    pub fn push(&mut self, bytes: &[u8]) {
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
    /// Replies leave from a socket of their own. A unix datagram stays charged to its
    /// sender's send buffer until the receiver reads it, so clients that never read
    /// (hoarders) could fill a shared buffer and starve every other client's answer.
    /// When a send finds this buffer full, the socket is replaced by a fresh one and the
    /// reply sent again; the hoarded replies stay with the old one (and the hoarders)
    /// until they read or go away. The receive socket never sends, so it never fills.
    replies: Fd,
    pub own_uid: u32,
    /// Datagrams dropped: malformed, oversized, unknown, with hostile ancillary data, or
    /// from outside our PID namespace.
    pub rejected: u32,
}

/// A request that passed authentication and decoding, with where to send the answer.
pub enum Received {
    Request(Incoming),
    Dropped,
    Empty,
}

pub struct Incoming {
    pub request: Request,
    pub from: UnixAddr,
    /// The sender's uid may not do this (SPEC §3): answer `Outcome::Refused` at once.
    pub refused: bool,
}

impl Server {
    pub fn bind(name: &[u8]) -> Result<Server, sys::Errno> {
        let addr = UnixAddr::abstract_name(name).ok_or(sys::Errno(libc::ENAMETOOLONG))?;
        let fd = sys::unix_dgram_socket(true)?;
        sys::enable_passcred(&fd)?;
        // Before bind: a request cannot arrive unsignalled.
        sys::signal_when_ready(&fd)?;
        sys::bind(&fd, &addr)?;
        Ok(Server { fd, replies: sys::unix_dgram_socket(true)?, own_uid: sys::geteuid(), rejected: 0 })
    }

    /// The next datagram: a request, one dropped (counted; it still counts towards the
    /// caller's bound, or a flood of garbage would keep drinit here for good), or none.
    pub fn receive(&mut self) -> Received {
        // One byte more than a frame, so an oversized datagram shows as too long.
        let mut buf = [0u8; proto::REQUEST_LEN + 1];
        let received = match sys::receive_datagram(&self.fd, &mut buf) {
            Ok(r) => r,
            Err(sys::Errno::INTR) => return Received::Dropped,
            // EAGAIN: queue empty. Anything else is logged once and waited out.
            Err(e) => {
                if e != sys::Errno::AGAIN {
                    log::error().text(b"control socket receive failed").errno(e).emit();
                }
                return Received::Empty;
            }
        };
        let frame = buf.get(..received.len).unwrap_or(&[]);
        // pid 0: the sender is outside our PID namespace, not one of the container's.
        let sender = received.credentials.filter(|c| c.pid != 0 && received.is_plain());
        match (sender, proto::decode_request(frame)) {
            (Some(c), Ok(request)) => {
                let refused = !request.verb.is_read_only() && c.uid != 0 && c.uid != self.own_uid;
                Received::Request(Incoming { request, from: received.from, refused })
            }
            _ => {
                self.rejected = self.rejected.saturating_add(1);
                log::debug().text(b"control request dropped").emit();
                Received::Dropped
            }
        }
    }

    /// Sends a reply without blocking; a client that went away, or whose own queue is
    /// full, is not our problem.
    pub fn reply(&self, to: &UnixAddr, reply: &Reply) {
        let frame = proto::encode_reply(reply);
        let mut result = sys::send_to(&self.replies, &frame, to);
        if result == Err(sys::Errno::AGAIN) {
            // Our send buffer is full of hoarded replies (or the client's queue is full:
            // then the second try fails too, at the cost of one socket).
            result = sys::unix_dgram_socket(true)
                .and_then(|fresh| sys::replace_fd(&self.replies, fresh))
                .and_then(|()| sys::send_to(&self.replies, &frame, to));
        }
        if let Err(e) = result {
            log::debug().text(b"control reply not delivered").errno(e).emit();
        }
    }
}

/// drinit's PROGRAM is drinit itself (an engine's `--init` is drinit and so is the
/// image's ENTRYPOINT): the outer one leaves the socket name to the inner one, which
/// runs the user's program with the user's options.
pub fn runs_drinit(program: Option<&CStr>) -> bool {
    program.is_some_and(|p| {
        let path = p.to_bytes();
        path == b"drinit" || path.ends_with(b"/drinit") || sys::same_file(p, c"/proc/self/exe")
    })
}

/// `DRINIT_SOCKET` as the client and server both read it.
pub fn configured_name() -> Option<&'static [u8]> {
    sys::getenv(c"DRINIT_SOCKET").map(CStr::to_bytes).filter(|n| !n.is_empty())
}
