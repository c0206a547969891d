//! A mailbox in process: a queue of messages waiting for a consumer, the deliveries in
//! flight with their ack deadlines, and the dead letters.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::lock;
use crate::bus::{BusError, BusLimits, Consumer, DeadLetter, Delivery, Failure, Message, Name};

#[derive(Debug)]
pub(super) struct Mailbox {
    name: Name,
    limits: BusLimits,
    state: Mutex<State>,
    /// Consumers waiting for a message.
    waiting: Notify,
    /// Room for messages: a send takes a permit, an ack or a dead letter gives it back, so
    /// waiting and in-flight messages together never exceed the capacity.
    room: Semaphore,
}

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<Mail>,
    in_flight: HashMap<u64, InFlight>,
    /// The in-flight deliveries by deadline, soonest first.
    deadlines: BTreeSet<(Instant, u64)>,
    dead: VecDeque<DeadLetter>,
    next_id: u64,
    /// The bus is gone: nothing new will be sent.
    closed: bool,
}

#[derive(Debug)]
struct Mail {
    id: u64,
    message: Message,
    /// How many times it has been delivered.
    deliveries: u32,
}

#[derive(Debug)]
struct InFlight {
    mail: Mail,
    deadline: Instant,
}

impl Mailbox {
    pub(super) fn new(name: Name, limits: BusLimits) -> Self {
        Mailbox {
            name,
            limits,
            state: Mutex::default(),
            waiting: Notify::new(),
            room: Semaphore::new(limits.capacity),
        }
    }

    pub(super) async fn send(&self, message: Message) -> Result<(), BusError> {
        // Nothing closes the semaphore; were it closed, the sender would hear of it.
        let permit = self.room.acquire().await.map_err(|_| BusError::Closed {
            subject: self.name.to_string(),
        })?;
        permit.forget();
        let mut state = lock(&self.state);
        let id = state.next_id;
        state.next_id += 1;
        state.waiting.push_back(Mail {
            id,
            message,
            deliveries: 0,
        });
        self.waiting.notify_one();
        Ok(())
    }

    pub(super) fn close(&self) {
        lock(&self.state).closed = true;
        self.waiting.notify_waiters();
    }

    /// Takes the next message for a consumer, waiting for one: a new one, one whose delivery
    /// failed, or one whose ack deadline passes while it waits.
    async fn recv(self: &Arc<Self>) -> Result<InMemoryDelivery, BusError> {
        loop {
            // Registered before the state is read, so a send in between still wakes it.
            let mut woken = pin!(self.waiting.notified());
            woken.as_mut().enable();
            let next_deadline = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                self.expire(&mut state, now);
                if let Some(mut mail) = state.waiting.pop_front() {
                    mail.deliveries += 1;
                    let deadline = now + self.limits.ack_deadline;
                    let delivery = InMemoryDelivery {
                        mailbox: Arc::clone(self),
                        id: mail.id,
                        attempt: mail.deliveries,
                        message: mail.message.clone(),
                        settled: false,
                    };
                    state.deadlines.insert((deadline, mail.id));
                    state.in_flight.insert(mail.id, InFlight { mail, deadline });
                    return Ok(delivery);
                }
                if state.closed && state.in_flight.is_empty() {
                    return Err(BusError::Closed {
                        subject: self.name.to_string(),
                    });
                }
                state.deadlines.first().map(|&(deadline, _)| deadline)
            };
            match next_deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = woken => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    /// Fails every delivery whose deadline is at or before `now`.
    fn expire(&self, state: &mut State, now: Instant) {
        while let Some(&(deadline, id)) = state.deadlines.first() {
            if deadline > now {
                break;
            }
            state.deadlines.pop_first();
            if let Some(in_flight) = state.in_flight.remove(&id) {
                self.fail(state, in_flight.mail, Failure::Expired);
            }
        }
    }

    /// A delivery of `mail` failed: it goes back to the front of the queue, or to the dead
    /// letters if that was its last delivery.
    fn fail(&self, state: &mut State, mail: Mail, failure: Failure) {
        if mail.deliveries >= self.limits.max_deliveries {
            state.dead.push_back(DeadLetter {
                message: mail.message,
                deliveries: mail.deliveries,
                failure,
            });
            self.room.add_permits(1);
        } else {
            state.waiting.push_front(mail);
            self.waiting.notify_one();
        }
    }

    /// Settles delivery `attempt` of message `id`: acked (`None`) or failed. A delivery
    /// whose deadline has passed and whose message is queued again settles nothing.
    fn settle(&self, id: u64, attempt: u32, failure: Option<Failure>) {
        let mut state = lock(&self.state);
        if let Entry::Occupied(entry) = state.in_flight.entry(id)
            && entry.get().mail.deliveries == attempt
        {
            let in_flight = entry.remove();
            state.deadlines.remove(&(in_flight.deadline, id));
            match failure {
                None => self.room.add_permits(1),
                Some(failure) => self.fail(&mut state, in_flight.mail, failure),
            }
            // The last delivery of a closed bus is settled: its waiting consumers are done.
            if state.closed && state.in_flight.is_empty() && state.waiting.is_empty() {
                self.waiting.notify_waiters();
            }
        }
    }

    pub(super) fn dead_letters(&self) -> Vec<DeadLetter> {
        let mut state = lock(&self.state);
        self.expire(&mut state, Instant::now());
        state.dead.iter().cloned().collect()
    }

    /// Moves the dead letters back into the queue, oldest first, each as room frees up.
    pub(super) async fn replay(&self) -> usize {
        let mut replayed = 0;
        while !lock(&self.state).dead.is_empty() {
            let Ok(permit) = self.room.acquire().await else {
                break;
            };
            let mut state = lock(&self.state);
            // Another replay may have taken the last one while this one waited for room.
            let Some(letter) = state.dead.pop_front() else {
                break;
            };
            permit.forget();
            let id = state.next_id;
            state.next_id += 1;
            state.waiting.push_back(Mail {
                id,
                message: letter.message,
                deliveries: 0,
            });
            self.waiting.notify_one();
            replayed += 1;
        }
        replayed
    }
}

/// A consumer of a mailbox of a [`InMemory`](super::InMemory) bus.
#[derive(Debug)]
pub struct InMemoryConsumer {
    mailbox: Arc<Mailbox>,
}

impl InMemoryConsumer {
    pub(super) fn new(mailbox: Arc<Mailbox>) -> Self {
        InMemoryConsumer { mailbox }
    }
}

impl Consumer for InMemoryConsumer {
    type Delivery = InMemoryDelivery;

    /// Cancel-safe: a `recv` dropped before it returns takes no message.
    async fn recv(&mut self) -> Result<InMemoryDelivery, BusError> {
        self.mailbox.recv().await
    }
}

/// A delivery from a [`InMemory`](super::InMemory) bus's mailbox.
#[derive(Debug)]
pub struct InMemoryDelivery {
    mailbox: Arc<Mailbox>,
    id: u64,
    attempt: u32,
    message: Message,
    settled: bool,
}

impl InMemoryDelivery {
    fn settle(mut self, failure: Option<Failure>) {
        self.settled = true;
        self.mailbox.settle(self.id, self.attempt, failure);
    }
}

impl Delivery for InMemoryDelivery {
    fn message(&self) -> &Message {
        &self.message
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn ack(self) -> Result<(), BusError> {
        self.settle(None);
        Ok(())
    }

    async fn nack(self) -> Result<(), BusError> {
        self.settle(Some(Failure::Nacked));
        Ok(())
    }
}

impl Drop for InMemoryDelivery {
    fn drop(&mut self) {
        if !self.settled {
            self.mailbox
                .settle(self.id, self.attempt, Some(Failure::Dropped));
        }
    }
}
