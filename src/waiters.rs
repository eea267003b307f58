//! Control clients waiting for a stop or a start to finish. Each waiter is tied to the
//! request that created it, so a later request that changes the outcome (a `stop`
//! overtaking a `restart`) answers it at once instead of leaving it to time out.

use crate::proto::{Outcome, Request, Verb};
use crate::sys::UnixAddr;

/// What a waiting client will be answered on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Awaiting {
    /// The program and what was left of its tree are gone (`stop`).
    Stopped,
    /// The program runs again (`start`, `restart`).
    Running,
}

#[derive(Clone, Copy)]
pub struct Waiter {
    pub to: UnixAddr,
    pub verb: Verb,
    pub seq: u32,
    pub awaiting: Awaiting,
}

const SLOTS: usize = 8;

pub struct Waiters([Option<Waiter>; SLOTS]);

impl Waiters {
    pub fn new() -> Waiters {
        Waiters([None; SLOTS])
    }

    /// Keeps the client of `request` waiting; `Busy` when every slot is taken.
    pub fn add(&mut self, to: UnixAddr, request: &Request, awaiting: Awaiting) -> Outcome {
        match self.0.iter_mut().find(|w| w.is_none()) {
            Some(slot) => {
                *slot = Some(Waiter { to, verb: request.verb, seq: request.seq, awaiting });
                Outcome::InProgress
            }
            None => Outcome::Busy,
        }
    }

    /// Removes every waiter for `settled` and hands each to `answer`.
    pub fn settle(&mut self, settled: Awaiting, mut answer: impl FnMut(&Waiter)) {
        for slot in self.0.iter_mut() {
            if let Some(waiter) = slot.filter(|w| w.awaiting == settled) {
                *slot = None;
                answer(&waiter);
            }
        }
    }
}
