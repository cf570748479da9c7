//! The stop flag of a [`crate::Server`]: set once, seen by every connection slot.

use core::cell::RefCell;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Poll, Waker};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_time::{Duration, Timer};

/// Tasks [`Stop`] wakes when it is set (its waiters: tasks, not futures; [`Server::run`] is
/// one task for all its slots, [`Server::run_slot`] one per slot); more look every 100 ms.
///
/// [`Server::run`]: crate::Server::run
/// [`Server::run_slot`]: crate::Server::run_slot
pub const MAX_WAITING_TASKS: usize = 8;

/// How often a task beyond [`MAX_WAITING_TASKS`] looks at the signal.
const OVERFLOW_LOOK: Duration = Duration::from_millis(100);

/// The wakers of the tasks waiting, one per task: a task that waits again (its accept
/// returned, then it listens again) finds its own. Kept until the signal is set.
struct Waiters {
    wakers: heapless::Vec<Waker, MAX_WAITING_TASKS>,
}

impl Waiters {
    /// Registers `waker` unless its task is in already; false if there is no room. (Not
    /// `MultiWakerRegistration`, which wakes every task when full: each of them registers
    /// again when polled, the next one to find it full wakes them all again, and with more
    /// tasks than room they never settle.)
    fn register(&mut self, waker: &Waker) -> bool {
        self.wakers.iter().any(|w| w.will_wake(waker)) || self.wakers.push(waker.clone()).is_ok()
    }

    fn wake_all(&mut self) {
        while let Some(waker) = self.wakers.pop() {
            waker.wake();
        }
    }
}

/// A one-way stop signal that any number of tasks can wait for. Setting it is safe from an
/// interrupt or another thread.
///
/// ```
/// # use embassy_executor as _; // the timer queue of `wait`'s fallback
/// use wsgiref_embassy::Stop;
///
/// let stop = Stop::new();
/// assert!(!stop.is_set());
/// stop.set();
/// assert!(stop.is_set());
/// // Waiting on a set signal returns at once.
/// embassy_futures::block_on(stop.wait());
/// ```
pub struct Stop {
    set: AtomicBool,
    waiters: Mutex<CriticalSectionRawMutex, RefCell<Waiters>>,
}

impl core::fmt::Debug for Stop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stop")
            .field("set", &self.is_set())
            .finish_non_exhaustive()
    }
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    /// A signal that is not set.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            waiters: Mutex::new(RefCell::new(Waiters {
                wakers: heapless::Vec::new(),
            })),
        }
    }

    /// Sets the signal and wakes every waiter.
    pub fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.waiters.lock(|w| w.borrow_mut().wake_all());
    }

    /// Has the signal been set?
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Waits until the signal is set. Up to [`MAX_WAITING_TASKS`] tasks are woken when it
    /// is; any more look every 100 ms.
    pub async fn wait(&self) {
        loop {
            let done = poll_fn(|cx| {
                if self.is_set() {
                    return Poll::Ready(true);
                }
                let registered = self.waiters.lock(|w| w.borrow_mut().register(cx.waker()));
                // Set between the check and the registration: do not sleep through it.
                if self.is_set() {
                    Poll::Ready(true)
                } else if registered {
                    Poll::Pending
                } else {
                    Poll::Ready(false)
                }
            })
            .await;
            if done {
                return;
            }
            Timer::after(OVERFLOW_LOOK).await;
        }
    }
}
