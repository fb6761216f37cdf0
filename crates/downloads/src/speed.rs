//! `getCurrentBytesPerSecond()`: Chromium's rate estimator, a moving window
//! of one-second buckets.

use std::time::{Duration, Instant};

/// How many one-second buckets the window holds, as in Chromium.
const BUCKETS: usize = 10;

/// Bytes per second over the last ten seconds (fewer at the start).
#[derive(Debug, Clone)]
pub struct RateEstimator {
    buckets: [u64; BUCKETS],
    /// The start of the oldest bucket in use.
    oldest: Instant,
    /// Where the oldest bucket is in `buckets`.
    oldest_index: usize,
    /// Buckets in use, from the oldest to the current one.
    in_use: usize,
}

impl RateEstimator {
    /// An estimator whose first bucket starts at `now`.
    pub fn new(now: Instant) -> Self {
        RateEstimator {
            buckets: [0; BUCKETS],
            oldest: now,
            oldest_index: 0,
            in_use: 1,
        }
    }

    /// Counts `bytes` received at `now`.
    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.advance(now);
        let index = (self.oldest_index + self.in_use - 1) % BUCKETS;
        self.buckets[index] = self.buckets[index].saturating_add(bytes);
    }

    /// The rate at `now`: the bytes in the window over its length in
    /// whole seconds.
    pub fn bytes_per_second(&mut self, now: Instant) -> u64 {
        self.advance(now);
        let total: u64 = (0..self.in_use)
            .map(|i| self.buckets[(self.oldest_index + i) % BUCKETS])
            .sum();
        total / self.in_use as u64
    }

    /// Opens the buckets up to the one holding `now`, dropping the oldest
    /// beyond the window.
    fn advance(&mut self, now: Instant) {
        let second = Duration::from_secs(1);
        let elapsed = now.saturating_duration_since(self.oldest);
        let needed = (elapsed.as_secs() as usize).saturating_add(1);
        if needed <= self.in_use {
            return;
        }
        let extra = needed - self.in_use;
        if extra >= BUCKETS {
            // Everything is older than the window.
            self.buckets = [0; BUCKETS];
            self.oldest_index = 0;
            self.in_use = 1;
            self.oldest += Duration::from_secs(elapsed.as_secs());
            return;
        }
        for _ in 0..extra {
            if self.in_use == BUCKETS {
                self.buckets[self.oldest_index] = 0;
                self.oldest_index = (self.oldest_index + 1) % BUCKETS;
                self.oldest += second;
            } else {
                self.in_use += 1;
            }
            let newest = (self.oldest_index + self.in_use - 1) % BUCKETS;
            self.buckets[newest] = 0;
        }
    }
}
