//! `Mailbox`: how the coordinator hands the record's writer its writes. A channel wakes the
//! receiving thread at every send, and the coordinator sends once a turn of its loop (about
//! once a task): on 2 cores that wake, and the writer going back to sleep, cost as much as the
//! writes themselves. The writer gathers writes for a while before each commit anyway, so the
//! mailbox wakes it only when it waits for the first write of a commit, when a commit is asked
//! for (`urgent`), when the mailbox holds a full batch, or when it is closed. Writes posted
//! while the writer gathers are added without a wake.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Writes handed from one thread to another, taken in the order they were posted.
#[derive(Debug)]
pub(super) struct Mailbox<T> {
    mail: Mutex<Mail<T>>,
    bell: Condvar,
    /// The most items the taker takes at once; reaching it wakes the taker.
    full: usize,
}

#[derive(Debug)]
struct Mail<T> {
    items: Vec<T>,
    /// A commit was asked for: the taker stops gathering.
    urgent: bool,
    /// Nothing more will be posted.
    closed: bool,
    /// The taker waits for the first item: the next post wakes it.
    idle: bool,
}

impl<T> Mailbox<T> {
    /// An empty mailbox whose taker takes at most `full` items at once.
    pub(super) fn new(full: usize) -> Self {
        Self {
            mail: Mutex::new(Mail {
                items: Vec::new(),
                urgent: false,
                closed: false,
                idle: false,
            }),
            bell: Condvar::new(),
            full: full.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mail<T>> {
        self.mail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves `items` into the mailbox (leaving `items` empty, its allocation kept); `urgent`
    /// ends the taker's gathering at once.
    pub(super) fn post(&self, items: &mut Vec<T>, urgent: bool) {
        let wake = {
            let mut mail = self.lock();
            mail.items.append(items);
            mail.urgent |= urgent;
            let wake = mail.idle || urgent || mail.items.len() >= self.full;
            if wake {
                mail.idle = false;
            }
            wake
        };
        if wake {
            self.bell.notify_one();
        }
    }

    /// Nothing more will be posted: the taker takes what is left and then gets `None`.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.bell.notify_one();
    }

    /// Waits for the first item, then gathers for up to `gather` (less if a post is urgent,
    /// the mailbox fills or is closed) and takes every item, at most `full`. `None` once the
    /// mailbox is closed and empty.
    pub(super) fn take(&self, gather: Duration) -> Option<Vec<T>> {
        let mut mail = self.lock();
        while mail.items.is_empty() && !mail.closed {
            mail.idle = true;
            mail = self.bell.wait(mail).unwrap_or_else(PoisonError::into_inner);
        }
        mail.idle = false;
        if mail.items.is_empty() {
            return None;
        }
        let until = Instant::now() + gather;
        while !mail.urgent && !mail.closed && mail.items.len() < self.full {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            mail = self
                .bell
                .wait_timeout(mail, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let count = mail.items.len().min(self.full);
        let rest = mail.items.split_off(count);
        let taken = std::mem::replace(&mut mail.items, rest);
        // What is left over (past a full batch) is taken at once by the next call.
        mail.urgent = mail.urgent && !mail.items.is_empty();
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::mpsc::Receiver;

    /// Takes from `mailbox` on a thread of its own, gathering for `gather`. What it took and
    /// how long it waited come back through a channel, so that a take that never returns
    /// fails the test instead of hanging it.
    fn taker(
        mailbox: &Arc<Mailbox<i32>>,
        gather: Duration,
    ) -> Receiver<(Option<Vec<i32>>, Duration)> {
        let (answer, answered) = std::sync::mpsc::channel();
        let mailbox = Arc::clone(mailbox);
        std::thread::spawn(move || {
            let started = Instant::now();
            let taken = mailbox.take(gather);
            let _ = answer.send((taken, started.elapsed()));
        });
        answered
    }

    #[test]
    fn items_come_out_in_the_order_they_went_in_and_none_once_closed_and_empty() {
        let mailbox = Mailbox::new(100);
        mailbox.post(&mut vec![1, 2], false);
        let mut more = vec![3];
        mailbox.post(&mut more, false);
        assert!(more.is_empty());
        mailbox.close();
        assert_eq!(mailbox.take(Duration::from_secs(60)), Some(vec![1, 2, 3]));
        assert_eq!(mailbox.take(Duration::from_secs(60)), None);
    }

    #[test]
    fn an_urgent_post_ends_the_gathering_at_once() {
        let mailbox = Arc::new(Mailbox::new(100));
        let answered = taker(&mailbox, Duration::from_secs(600));
        mailbox.post(&mut vec![1], false);
        // Most likely the taker gathers by now: the urgent post must wake it.
        std::thread::sleep(Duration::from_millis(20));
        mailbox.post(&mut vec![2], true);
        let (taken, waited) = answered
            .recv_timeout(Duration::from_secs(300))
            .expect("taken before the gathering's end");
        let taken = taken.expect("taken");
        // The first post may be taken alone only if the gathering had ended, which it cannot
        // have before ten minutes: both are taken together, well before the gathering's end.
        assert_eq!(taken, vec![1, 2]);
        assert!(waited < Duration::from_secs(300), "waited {waited:?}");
    }

    #[test]
    fn the_gathering_ends_when_its_time_is_up() {
        let mailbox = Mailbox::new(100);
        mailbox.post(&mut vec![7], false);
        assert_eq!(mailbox.take(Duration::from_millis(1)), Some(vec![7]));
    }

    #[test]
    fn a_full_mailbox_is_taken_one_batch_at_a_time() {
        let mailbox = Mailbox::new(2);
        mailbox.post(&mut vec![1, 2, 3, 4, 5], false);
        assert_eq!(mailbox.take(Duration::from_secs(600)), Some(vec![1, 2]));
        assert_eq!(mailbox.take(Duration::from_secs(600)), Some(vec![3, 4]));
        mailbox.close();
        assert_eq!(mailbox.take(Duration::from_secs(600)), Some(vec![5]));
        assert_eq!(mailbox.take(Duration::from_secs(600)), None);
    }

    #[test]
    fn a_post_wakes_a_taker_waiting_for_the_first_item() {
        let mailbox = Arc::new(Mailbox::new(100));
        let answered = taker(&mailbox, Duration::ZERO);
        // Whether the taker waits already or not, it gets the item.
        std::thread::sleep(Duration::from_millis(20));
        mailbox.post(&mut vec![9], false);
        let (taken, _) = answered
            .recv_timeout(Duration::from_secs(60))
            .expect("the taker was woken");
        assert_eq!(taken, Some(vec![9]));
    }
}
