//! The coordinator's inbox: a bounded channel that other threads (script workers, the signal
//! handler) send to, with a doorbell that wakes the coordinator while it sleeps in epoll
//! waiting for its process tasks.
//!
//! Process tasks are watched on the coordinator's own thread, so a process ending wakes one
//! thread, not a watcher thread and then the coordinator. Messages from other threads must
//! then wake an epoll wait: the doorbell is an eventfd in the same epoll set. Senders ring it
//! only while the coordinator says it sleeps, so a run of scripts costs no extra system call.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rustix::event::{EventfdFlags, eventfd};

use super::Message;

/// An eventfd and whether the coordinator sleeps on it.
#[derive(Debug)]
pub struct Doorbell {
    fd: OwnedFd,
    sleeping: AtomicBool,
}

impl Doorbell {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            fd: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
            sleeping: AtomicBool::new(false),
        })
    }

    /// Wakes the coordinator if it sleeps.
    fn ring(&self) {
        // Pairs with the fence in `Inbox::prepare_sleep`: either the coordinator sees the
        // message in the channel, or this sees it sleeping.
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
        }
    }

    /// Resets the eventfd after it woke an epoll wait.
    pub fn clear(&self) {
        let mut count = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut count);
    }

    /// The eventfd, to put in an epoll set.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The sending side: cheap to clone, one per thread that reports to the coordinator.
#[derive(Debug, Clone)]
pub struct Outbox {
    sender: Sender<Message>,
    doorbell: Arc<Doorbell>,
}

impl Outbox {
    /// Sends `message`, waiting while the inbox is full. Returns false once the coordinator is
    /// gone.
    pub fn send(&self, message: Message) -> bool {
        let sent = self.sender.send(message).is_ok();
        self.doorbell.ring();
        sent
    }
}

/// The receiving side, owned by the executor the coordinator waits on.
#[derive(Debug)]
pub struct Inbox {
    receiver: Receiver<Message>,
    doorbell: Arc<Doorbell>,
}

impl Inbox {
    /// An inbox holding at most `capacity` messages; senders wait when it is full.
    ///
    /// # Errors
    /// When the eventfd cannot be created.
    pub fn new(capacity: usize) -> std::io::Result<(Outbox, Self)> {
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let doorbell = Arc::new(Doorbell::new()?);
        let outbox = Outbox {
            sender,
            doorbell: Arc::clone(&doorbell),
        };
        Ok((outbox, Self { receiver, doorbell }))
    }

    /// The doorbell, for the epoll set the coordinator sleeps on.
    pub fn doorbell(&self) -> &Arc<Doorbell> {
        &self.doorbell
    }

    /// Moves up to `limit` waiting messages into `out`; returns how many.
    pub fn drain(&self, out: &mut Vec<Message>, limit: usize) -> usize {
        let mut moved = 0;
        while moved < limit {
            let Ok(message) = self.receiver.try_recv() else {
                break;
            };
            out.push(message);
            moved += 1;
        }
        moved
    }

    /// Waits for one message until `deadline` (forever without one) and moves it into `out`.
    /// Used when no process is watched, so nothing else can happen meanwhile.
    pub fn recv(&self, deadline: Option<Instant>, out: &mut Vec<Message>) {
        let received = match deadline {
            Some(deadline) => self.receiver.recv_deadline(deadline),
            None => self
                .receiver
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        if let Ok(message) = received {
            out.push(message);
        }
    }

    /// Says the coordinator is about to sleep in epoll. Returns false if a message is already
    /// waiting: then it must not sleep.
    pub fn prepare_sleep(&self) -> bool {
        self.doorbell.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.receiver.is_empty() {
            return true;
        }
        self.doorbell.sleeping.store(false, Ordering::SeqCst);
        false
    }

    /// Says the coordinator is awake again.
    pub fn woke(&self) {
        self.doorbell.sleeping.store(false, Ordering::SeqCst);
    }
}
