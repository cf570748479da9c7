//! Every state of a connection and every transition between them, in one place.
//!
//! ```text
//!            bytes            head complete              finish()
//!   ┌──────► Head ─────────────────────────► Exchange ───────────────┐
//!   │         │ bad input / timeout              │ body error          │
//!   │         ▼                                  ▼ (via fail)          ▼
//!   │       Error ──(error response sent)──► Closed ◄── must close ── Drain
//!   │                                          ▲                      │
//!   └───────────── NextCycle (keep-alive) ─────┼──────────────────────┘
//!                                              └── EOF / idle timeout
//! ```
//!
//! * `Head`: receiving a request head (idle between requests included).
//! * `Exchange`: a head was parsed; the application reads the body and writes the response.
//! * `Drain`: the response is complete; unread body bytes are discarded (bounded) so the next
//!   request starts at the right byte.
//! * `Error`: the core wrote an error response into the transmit buffer; after it is handed
//!   out the connection closes. No byte after a rejected request is ever parsed.
//! * `Closed`: nothing more is read or written.
//!
//! The response side has its own small machine in [`crate::handler`] (`ResponsePhase`); the
//! two meet only in `State::response_finished`.

use crate::RemoteError;
use crate::time::Instant;

/// The phase of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Phase {
    /// Receiving a request head.
    Head,
    /// A request is being served.
    Exchange,
    /// Discarding the unread rest of a request body after its response.
    Drain,
    /// An error response of this many bytes is waiting to be sent; then the connection closes.
    Error {
        /// Length of the error response in the transmit buffer.
        len: usize,
        /// The error that caused it.
        error: RemoteError,
    },
    /// The connection is finished.
    Closed,
}

/// Which deadline is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TimerKind {
    /// Waiting for the first byte of the first request.
    FirstByte,
    /// Waiting for the first byte of a later request (idle keep-alive).
    KeepAlive,
    /// Receiving a request head (counted from its first byte: slow heads are cut off).
    Head,
    /// Waiting for request body bytes (counted from the last progress).
    Body,
}

/// The state of a connection apart from its buffers and the parsed head.
#[derive(Clone, Copy, Debug)]
pub(crate) struct State {
    pub(crate) phase: Phase,
    /// When the running timer started, if `anchored` ([`State::anchor`]); set by the first
    /// poll that sees the new situation. (Not an `Option<Instant>`: with the flag among the
    /// other flags this struct, in every connection's state, is 8 bytes smaller.)
    anchor: Instant,
    anchored: bool,
    /// Requests completed on this connection.
    pub(crate) served: u32,
    /// The peer will send nothing more.
    pub(crate) eof: bool,
    /// The head of the current request has started arriving.
    pub(crate) head_started: bool,
    /// The application is waiting for body bytes.
    pub(crate) waiting_body: bool,
    /// `100 Continue`: expected by the client, and whether it was sent.
    pub(crate) expect_continue: bool,
    pub(crate) continue_sent: bool,
    /// The application has asked for body bytes during this request and received some or
    /// waited for them (set where those happen: `body_progress`, `body_wait`; a `100
    /// Continue` it was sent is `continue_sent`). Read only before the response head goes
    /// out (`Exchange::announce_undrainable`): the drain's progress sets it too, later.
    pub(crate) body_asked: bool,
    /// A body error seen while the application was reading.
    pub(crate) body_error: Option<RemoteError>,
    /// Body octets discarded while draining.
    pub(crate) drained: u64,
}

impl State {
    pub(crate) const fn new() -> Self {
        Self {
            phase: Phase::Head,
            anchor: Instant::from_millis(0),
            anchored: false,
            served: 0,
            eof: false,
            head_started: false,
            waiting_body: false,
            expect_continue: false,
            continue_sent: false,
            body_asked: false,
            body_error: None,
            drained: 0,
        }
    }

    /// When the running timer started, if it did.
    pub(crate) fn anchor(&self) -> Option<Instant> {
        self.anchored.then_some(self.anchor)
    }

    /// The running timer starts at `now`.
    pub(crate) fn set_anchor(&mut self, now: Instant) {
        self.anchor = now;
        self.anchored = true;
    }

    /// The running timer, if any.
    pub(crate) fn timer(&self) -> Option<TimerKind> {
        match self.phase {
            Phase::Head if self.head_started => Some(TimerKind::Head),
            Phase::Head if self.served == 0 => Some(TimerKind::FirstByte),
            Phase::Head => Some(TimerKind::KeepAlive),
            Phase::Exchange if self.waiting_body && self.body_error.is_none() => {
                Some(TimerKind::Body)
            }
            Phase::Drain => Some(TimerKind::Body),
            Phase::Exchange | Phase::Error { .. } | Phase::Closed => None,
        }
    }

    /// Head → Head: the first byte of a request arrived; the head deadline starts.
    pub(crate) fn head_started(&mut self) {
        if !self.head_started {
            self.head_started = true;
            self.anchored = false;
        }
    }

    /// Head → Exchange.
    pub(crate) fn head_complete(&mut self, expect_continue: bool) {
        // `waiting_body`, `continue_sent`, `body_asked`, `body_error` and `drained` are reset
        // by `new` and `next_cycle`: nothing sets them while a head is received.
        self.phase = Phase::Exchange;
        self.anchored = false;
        self.expect_continue = expect_continue;
    }

    /// Any phase → Error: the core answers `error` itself and then closes.
    pub(crate) fn fail(&mut self, error: RemoteError, len: usize) {
        self.phase = Phase::Error { len, error };
        self.anchored = false;
    }

    /// Error → Closed, once the error response was handed out; or any phase → Closed.
    pub(crate) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.anchored = false;
    }

    /// Exchange → Drain / Closed: the response is complete. It closes if the response must,
    /// or if the client is still waiting to be told to send a body it announced.
    pub(crate) fn response_finished(&mut self, must_close: bool) {
        self.served = self.served.saturating_add(1);
        let unsent_body = self.expect_continue && !self.continue_sent;
        if must_close || unsent_body || self.body_error.is_some() {
            self.close();
        } else {
            self.phase = Phase::Drain;
            self.anchored = false;
        }
    }

    /// Drain → Head: the body is consumed; the next request may begin (`NextCycle`).
    pub(crate) fn next_cycle(&mut self) {
        self.phase = Phase::Head;
        self.anchored = false;
        self.head_started = false;
        self.waiting_body = false;
        self.expect_continue = false;
        self.continue_sent = false;
        self.body_asked = false;
        self.body_error = None;
        self.drained = 0;
    }

    /// Body progress resets the body deadline (anchored by the next poll).
    pub(crate) fn body_progress(&mut self) {
        self.body_asked = true;
        self.waiting_body = false;
        self.anchored = false;
    }

    /// The application waits for body bytes from `now`: the body deadline starts, anchored
    /// here. So in `Exchange` a running timer always has its anchor, and
    /// `Connection::poll_event` need not anchor one after a `Request`.
    pub(crate) fn body_wait(&mut self, now: Instant) {
        self.body_asked = true;
        self.waiting_body = true;
        self.set_anchor(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sequence of up to six transitions, each in the phases where the connection
    /// makes it, from a new connection: in `Exchange` a running timer is anchored (what
    /// `Connection::poll_event` relies on after a `Request`).
    #[test]
    fn an_exchange_timer_is_always_anchored() {
        const STEPS: usize = 11;
        fn apply(s: &mut State, step: usize) {
            let now = Instant::from_millis(7);
            match step {
                0 => s.head_started(),
                1 => s.head_complete(false),
                2 => s.head_complete(true),
                3 => s.body_wait(now),
                4 => s.body_progress(),
                5 => s.response_finished(false),
                6 => s.response_finished(true),
                7 => s.next_cycle(),
                8 => s.fail(RemoteError::Timeout, 0),
                // The timeouts of `Connection::handle_timeout` and `handle_timeout_now`.
                9 => {
                    s.body_error = Some(RemoteError::Timeout);
                    s.waiting_body = false;
                }
                _ => s.close(),
            }
        }
        fn walk(s: State, depth: usize) {
            if s.phase == Phase::Exchange && s.timer().is_some() {
                assert!(s.anchor().is_some(), "{s:?}");
            }
            if depth == 0 {
                return;
            }
            for step in 0..STEPS {
                let allowed = match step {
                    0..=2 => s.phase == Phase::Head,
                    3 | 5 | 6 | 9 => s.phase == Phase::Exchange,
                    4 => matches!(s.phase, Phase::Exchange | Phase::Drain),
                    7 => s.phase == Phase::Drain,
                    _ => true,
                };
                if !allowed {
                    continue;
                }
                let mut next = s;
                apply(&mut next, step);
                walk(next, depth - 1);
            }
        }
        walk(State::new(), 6);
    }
}
