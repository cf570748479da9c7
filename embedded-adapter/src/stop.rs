//! The stop flag of a [`crate::Server`]: set once, seen by every connection slot.

use core::cell::RefCell;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::Poll;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::waitqueue::MultiWakerRegistration;

/// A one-way stop signal that any number of tasks can wait for. Setting it is safe from an
/// interrupt or another thread.
///
/// ```
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
    // More waiters than slots is fine: the registration then wakes them all, and each
    // registers again.
    wakers: Mutex<CriticalSectionRawMutex, RefCell<MultiWakerRegistration<4>>>,
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
            wakers: Mutex::new(RefCell::new(MultiWakerRegistration::new())),
        }
    }

    /// Sets the signal and wakes every waiter.
    pub fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.wakers.lock(|w| w.borrow_mut().wake());
    }

    /// Has the signal been set?
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Waits until the signal is set.
    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.is_set() {
                return Poll::Ready(());
            }
            self.wakers.lock(|w| w.borrow_mut().register(cx.waker()));
            // Set between the check and the registration: do not sleep through it.
            if self.is_set() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}
