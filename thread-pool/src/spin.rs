//! Whether looking a little longer before sleeping has been paying off lately.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

/// The CPUs this process may run on (its affinity and cgroup quota), as first asked; 0: not
/// asked yet.
static CPUS: AtomicUsize = AtomicUsize::new(0);

/// The CPUs this process may run on, asked once (the first call reads the affinity mask and
/// the cgroup's quota, and allocates; later ones only load it). Pool::new asks.
pub fn cpus() -> usize {
    match CPUS.load(Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            CPUS.store(n, Relaxed);
            n
        }
        n => n,
    }
}

/// A spin-before-sleep heuristic's memory, shared by every place in rtaio that looks for work
/// or a completion before it sleeps (a pool worker, the io_uring submitter, `aio_suspend`).
///
/// A score in `0..=max`: a look that finds something raises it by one, one that finds nothing
/// lowers it by `penalty`. At 0 only one look in `probe` is taken, so a pattern in which
/// looking never pays (waits for the device, short tasks that come one at a time between them)
/// costs no core of spinning, and a change back is still noticed. Updates are plain loads and
/// stores: one budget may be shared by threads, and a lost update only shifts the score by one
/// step.
///
/// With one CPU to run on, nothing is looked for: what a spinning thread waits for (a
/// submitter, a worker) would need the very CPU it spins on. (Known once [`cpus`] was asked:
/// async-signal-safe here.)
pub struct SpinBudget {
    score: AtomicU32,
    probes: AtomicU32,
    max: u32,
    probe: u32,
    penalty: u32,
}

impl SpinBudget {
    /// A budget at `start` (at most `max`); `probe` > 0.
    pub const fn new(start: u32, max: u32, probe: u32, penalty: u32) -> SpinBudget {
        let start = if start < max { start } else { max };
        SpinBudget { score: AtomicU32::new(start), probes: AtomicU32::new(0), max, probe, penalty }
    }

    /// Look this time?
    pub fn worth_it(&self) -> bool {
        CPUS.load(Relaxed) != 1 && self.scored()
    }

    /// What the score alone says (a probe counts).
    fn scored(&self) -> bool {
        self.score.load(Relaxed) > 0 || self.probes.fetch_add(1, Relaxed).is_multiple_of(self.probe)
    }

    /// A look found something.
    pub fn found(&self) {
        let s = self.score.load(Relaxed);
        if s < self.max {
            self.score.store(s + 1, Relaxed);
        }
    }

    /// A look found nothing.
    pub fn missed(&self) {
        let s = self.score.load(Relaxed);
        self.score.store(s.saturating_sub(self.penalty), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinBudget;

    #[test]
    fn stops_looking_when_it_does_not_pay_and_probes_now_and_then() {
        let b = SpinBudget::new(2, 4, 8, 2);
        assert!(b.scored());
        b.missed();
        assert!(b.scored());
        b.missed(); // 0: one look in 8
        let looks = (0..64).filter(|_| b.scored()).count();
        assert_eq!(looks, 8);
        b.found();
        assert!(b.scored());
        for _ in 0..10 {
            b.found();
        }
        // at most `max`: two misses of `penalty` 2 bring it back to 0
        b.missed();
        b.missed();
        let looks = (0..16).filter(|_| b.scored()).count();
        assert_eq!(looks, 2);
    }
}
