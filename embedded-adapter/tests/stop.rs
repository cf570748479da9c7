//! `Stop` with more waiting tasks than it keeps wakers for ([`MAX_WAITING_TASKS`]), as with
//! `Server::run_slot` and a task per slot: the tasks settle (no task is woken over and over
//! before the stop), and every one of them sees the stop.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use embassy_executor::Executor;
use wsgiref_embassy::{MAX_WAITING_TASKS, Stop};

const TASKS: usize = MAX_WAITING_TASKS + 4;

static STOP: Stop = Stop::new();
static POLLS: AtomicUsize = AtomicUsize::new(0);
static DONE: AtomicUsize = AtomicUsize::new(0);

/// Counts the polls of the future it wraps.
struct Counted<F>(F);

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.0).poll(cx)
    }
}

#[embassy_executor::task(pool_size = TASKS)]
async fn waiter() {
    Counted(Box::pin(STOP.wait())).await;
    DONE.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn more_waiting_tasks_than_wakers_settle_and_all_see_the_stop() {
    std::thread::spawn(|| {
        let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
        executor.run(|spawner| {
            for _ in 0..TASKS {
                spawner.spawn(waiter().unwrap());
            }
        })
    });
    // Half a second of waiting: the tasks with a waker registered are polled once, the
    // others once every 100 ms (before, registering the ninth woke the first eight, which
    // registered again and woke the rest: millions of polls).
    std::thread::sleep(Duration::from_millis(500));
    let polls = POLLS.load(Ordering::SeqCst);
    assert!(
        polls <= TASKS + (TASKS - MAX_WAITING_TASKS) * 7,
        "{polls} polls in 500 ms"
    );
    assert_eq!(DONE.load(Ordering::SeqCst), 0);

    STOP.set();
    let deadline = Instant::now() + Duration::from_secs(2);
    while DONE.load(Ordering::SeqCst) < TASKS {
        assert!(
            Instant::now() < deadline,
            "{} of {TASKS} tasks saw the stop",
            DONE.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
