//! The replay window: per tenant, a create's fingerprint → the id of the
//! resource it made and the status it was answered with, kept for the
//! tenant's window. Only fingerprints, ids and statuses: no attribute
//! value, so nothing of the resource (PII) is held; a replay reads the
//! resource again by id (`stack::create_stage`).
//!
//! A create being sent upstream holds its fingerprint's slot
//! ([`Claim::Mine`]); the same create arriving meanwhile waits for it
//! ([`Claim::Wait`]) and then claims again: it finds the outcome
//! ([`Claim::Done`]), or, when the first failed, the slot free (a failed
//! create does not poison its retries).
//!
//! Bounded: at most the tenant's `replay_max_entries` (the oldest
//! finished entries are evicted first; creates in flight are never
//! evicted, and there are at most as many as the concurrency caps let
//! in). Expired entries are dropped when the tenant's next create looks.
use crate::tenant_id::TenantId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// SHA-256 of a create (`super::fingerprint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(pub(super) [u8; 32]);

/// The resource a create made, as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Created {
    pub id: String,
    /// The status its first answer had (201, or 200 for an existing one).
    pub status: u16,
}

/// Every tenant's window (kept across reloads, like the cache).
#[derive(Debug, Default)]
pub(crate) struct ReplayWindow {
    tenants: Mutex<HashMap<TenantId, Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    slots: HashMap<Fingerprint, Slot>,
    /// Fingerprints in the order their slots were taken, with the slot's
    /// generation (a stale pair is skipped).
    order: VecDeque<(Fingerprint, u64)>,
    next: u64,
}

#[derive(Debug)]
enum Slot {
    /// Being created; dropping the sender wakes the waiters.
    InFlight {
        generation: u64,
        _done: watch::Sender<()>,
        waiting: watch::Receiver<()>,
    },
    Done {
        generation: u64,
        at: Instant,
        created: Created,
    },
}

impl Slot {
    fn generation(&self) -> u64 {
        match self {
            Slot::InFlight { generation, .. } | Slot::Done { generation, .. } => *generation,
        }
    }
}

/// What a create finds in the window.
#[derive(Debug)]
pub(crate) enum Claim<'w> {
    /// Nobody has made it within the window: send it, then
    /// [`Guard::complete`] (or drop the guard: the slot is freed).
    Mine(Guard<'w>),
    /// The same create is in flight: wait for this, then claim again.
    Wait(watch::Receiver<()>),
    /// Made within the window: the replay's answer.
    Done(Created),
}

/// A claimed slot; freed on drop unless completed.
#[derive(Debug)]
pub(crate) struct Guard<'w> {
    window: &'w ReplayWindow,
    tenant: TenantId,
    fingerprint: Fingerprint,
    generation: u64,
    completed: bool,
}

impl ReplayWindow {
    pub(crate) fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Entries>> {
        // Nothing panics while the lock is held; a poisoned map is still
        // consistent.
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Looks `fingerprint` up in `tenant`'s window of `within`, taking its
    /// slot when it is free (at most `cap` entries kept).
    pub(crate) fn claim(
        &self,
        tenant: &TenantId,
        fingerprint: Fingerprint,
        within: Duration,
        cap: usize,
    ) -> Claim<'_> {
        let mut tenants = self.lock();
        let entries = tenants.entry(tenant.clone()).or_default();
        entries.expire(within);
        match entries.slots.get(&fingerprint) {
            Some(Slot::InFlight { waiting, .. }) => return Claim::Wait(waiting.clone()),
            Some(Slot::Done { at, created, .. }) if at.elapsed() < within => {
                return Claim::Done(created.clone())
            }
            _ => {}
        }
        entries.evict(cap.max(1));
        let generation = entries.next;
        entries.next += 1;
        let (done, waiting) = watch::channel(());
        entries.slots.insert(
            fingerprint,
            Slot::InFlight {
                generation,
                _done: done,
                waiting,
            },
        );
        entries.order.push_back((fingerprint, generation));
        Claim::Mine(Guard {
            window: self,
            tenant: tenant.clone(),
            fingerprint,
            generation,
            completed: false,
        })
    }

    /// Forgets a remembered create whose resource is gone (a replay found
    /// it deleted): the next identical create is sent upstream.
    pub(crate) fn forget(&self, tenant: &TenantId, fingerprint: Fingerprint, id: &str) {
        let mut tenants = self.lock();
        if let Some(entries) = tenants.get_mut(tenant) {
            if matches!(entries.slots.get(&fingerprint), Some(Slot::Done { created, .. }) if created.id == id)
            {
                entries.slots.remove(&fingerprint);
            }
        }
    }

    /// How many creates `tenant`'s window holds (for tests).
    #[cfg(test)]
    fn len(&self, tenant: &TenantId) -> usize {
        self.lock().get(tenant).map_or(0, |e| e.slots.len())
    }

    fn settle(&self, guard: &Guard<'_>, created: Option<Created>) {
        let mut tenants = self.lock();
        let Some(entries) = tenants.get_mut(&guard.tenant) else {
            return;
        };
        let mine = entries
            .slots
            .get(&guard.fingerprint)
            .is_some_and(|s| s.generation() == guard.generation);
        if !mine {
            return;
        }
        // Replacing or removing the in-flight slot drops its sender: the
        // waiters wake and claim again.
        match created {
            Some(created) => {
                let slot = Slot::Done {
                    generation: guard.generation,
                    at: Instant::now(),
                    created,
                };
                entries.slots.insert(guard.fingerprint, slot);
            }
            None => {
                entries.slots.remove(&guard.fingerprint);
            }
        }
    }
}

impl Entries {
    /// Drops the finished entries older than `within` from the front.
    fn expire(&mut self, within: Duration) {
        while let Some((fp, generation)) = self.order.front().copied() {
            match self.slots.get(&fp) {
                Some(Slot::Done {
                    generation: g, at, ..
                }) if *g == generation && at.elapsed() >= within => {
                    self.slots.remove(&fp);
                }
                // Still young (the ones behind it are younger), or in flight.
                Some(s) if s.generation() == generation => return,
                // Stale: its slot was freed or taken again.
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Makes room for one more: the oldest finished entries go first.
    fn evict(&mut self, cap: usize) {
        let mut rounds = self.order.len();
        while self.slots.len() >= cap && rounds > 0 {
            rounds -= 1;
            let Some((fp, generation)) = self.order.pop_front() else {
                return;
            };
            match self.slots.get(&fp) {
                Some(Slot::Done { generation: g, .. }) if *g == generation => {
                    self.slots.remove(&fp);
                }
                // In flight: kept, and looked at again last.
                Some(Slot::InFlight { generation: g, .. }) if *g == generation => {
                    self.order.push_back((fp, generation));
                }
                _ => {}
            }
        }
        // Stale pairs left by freed slots do not outgrow the slots.
        if self.order.len() > 2 * cap.max(self.slots.len()) {
            let slots = &self.slots;
            self.order
                .retain(|(fp, g)| slots.get(fp).is_some_and(|s| s.generation() == *g));
        }
    }
}

impl Guard<'_> {
    /// The create made (or found) `created`: identical creates within the
    /// window are answered with it.
    pub(crate) fn complete(mut self, created: Created) {
        self.completed = true;
        self.window.settle(&self, Some(created));
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.completed {
            self.window.settle(self, None);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn fp(n: u8) -> Fingerprint {
        Fingerprint([n; 32])
    }

    fn created(id: &str) -> Created {
        Created {
            id: id.to_string(),
            status: 201,
        }
    }

    const MIN: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_waiter_sees_the_outcome_and_a_failure_frees_the_slot() {
        let w = ReplayWindow::new();
        let t = TenantId::new("acme").unwrap();
        let Claim::Mine(first) = w.claim(&t, fp(1), MIN, 10) else {
            panic!("the first claim is the creator's");
        };
        let Claim::Wait(mut rx) = w.claim(&t, fp(1), MIN, 10) else {
            panic!("the second waits");
        };
        drop(first); // failed: nothing remembered
        let _ = rx.changed().await;
        let Claim::Mine(again) = w.claim(&t, fp(1), MIN, 10) else {
            panic!("a failed create does not poison its retry");
        };
        let Claim::Wait(mut rx) = w.claim(&t, fp(1), MIN, 10) else {
            panic!("waits again");
        };
        again.complete(created("42"));
        let _ = rx.changed().await;
        match w.claim(&t, fp(1), MIN, 10) {
            Claim::Done(c) => assert_eq!(c, created("42")),
            other => panic!("{other:?}"),
        }
        // Another tenant's identical fingerprint is its own.
        let b = TenantId::new("globex").unwrap();
        assert!(matches!(w.claim(&b, fp(1), MIN, 10), Claim::Mine(_)));
        // A resource found gone is forgotten.
        w.forget(&t, fp(1), "41");
        assert!(matches!(w.claim(&t, fp(1), MIN, 10), Claim::Done(_)));
        w.forget(&t, fp(1), "42");
        assert!(matches!(w.claim(&t, fp(1), MIN, 10), Claim::Mine(_)));
    }

    #[test]
    fn entries_expire_and_the_oldest_go_beyond_the_cap() {
        let w = ReplayWindow::new();
        let t = TenantId::new("acme").unwrap();
        for n in 0..5 {
            let Claim::Mine(g) = w.claim(&t, fp(n), MIN, 3) else {
                panic!("fresh");
            };
            g.complete(created(&n.to_string()));
        }
        assert_eq!(w.len(&t), 3);
        assert!(matches!(w.claim(&t, fp(4), MIN, 3), Claim::Done(_)));
        // 0 and 1 were evicted (claiming 0 again takes a slot, evicting 2).
        assert!(matches!(w.claim(&t, fp(0), MIN, 3), Claim::Mine(_)));
        // An in-flight slot is never evicted.
        let Claim::Mine(held) = w.claim(&t, fp(9), MIN, 1) else {
            panic!("fresh");
        };
        assert!(matches!(w.claim(&t, fp(9), MIN, 1), Claim::Wait(_)));
        drop(held);
        // A zero window remembers nothing past its instant.
        let Claim::Mine(g) = w.claim(&t, fp(7), Duration::ZERO, 3) else {
            panic!("fresh");
        };
        g.complete(created("7"));
        assert!(matches!(
            w.claim(&t, fp(7), Duration::ZERO, 3),
            Claim::Mine(_)
        ));
    }
}
