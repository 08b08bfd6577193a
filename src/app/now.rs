//! The present instant, as the use-cases see it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where every use-case, the scheduler and the weekly table's memory of settled days read
/// the present from (epoch milliseconds UTC, the way instants are stored). A use-case
/// reads it once at its start and hands that instant down to the store, so one action
/// writes one time everywhere.
///
/// A served application runs on the system's time. Tests run on a shifted clock and move
/// it forward to let time pass (a session goes idle, a promise is missed, a week ends)
/// instead of waiting or rewriting stored instants. It stays the system's time plus an
/// offset rather than a frozen instant, so that successive writes keep their order.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system's time.
    #[default]
    System,
    /// The system's time moved by an offset in milliseconds, which [`Clock::advance`] changes.
    Shifted(Arc<AtomicI64>),
}

impl Clock {
    /// A clock that starts at the system's time and can be moved.
    pub fn shifted() -> Clock {
        Clock::Shifted(Arc::default())
    }

    /// Now, in epoch milliseconds UTC.
    pub fn now(&self) -> i64 {
        let system = chrono::Utc::now().timestamp_millis();
        match self {
            Clock::System => system,
            Clock::Shifted(offset) => system + offset.load(Ordering::Acquire),
        }
    }

    /// Move a shifted clock by `ms` milliseconds (backwards when negative), for every
    /// holder of a clone of it.
    ///
    /// # Panics
    /// On the system clock, which nothing may move.
    pub fn advance(&self, ms: i64) {
        match self {
            Clock::System => panic!("the system clock cannot be moved"),
            Clock::Shifted(offset) => {
                offset.fetch_add(ms, Ordering::AcqRel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_shifted_clock_moves_for_every_clone() {
        let clock = Clock::shifted();
        let other = clock.clone();
        let before = other.now();
        clock.advance(3_600_000);
        let after = other.now();
        assert!(after - before >= 3_600_000 && after - before < 3_660_000, "{}", after - before);
        clock.advance(-7_200_000);
        assert!(other.now() < before);
    }

    #[test]
    #[should_panic(expected = "cannot be moved")]
    fn the_system_clock_does_not_move() {
        Clock::System.advance(1);
    }
}
