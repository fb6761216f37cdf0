//! The moving-window speed of `getCurrentBytesPerSecond()`.

use std::time::{Duration, Instant};

use sesh_downloads::RateEstimator;

#[test]
fn the_rate_averages_the_seconds_in_the_window() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let mut rate = RateEstimator::new(t0);
    assert_eq!(rate.bytes_per_second(t0), 0);
    rate.record(t0, 1000);
    assert_eq!(rate.bytes_per_second(t0), 1000);
    rate.record(s(1), 3000);
    // Two seconds in the window: (1000 + 3000) / 2.
    assert_eq!(rate.bytes_per_second(s(1)), 2000);
    // A silent third second lowers the rate.
    assert_eq!(rate.bytes_per_second(s(2)), 4000 / 3);
    for n in 3..10 {
        rate.record(s(n), 1000);
    }
    assert_eq!(rate.bytes_per_second(s(9)), (4000 + 7 * 1000) / 10);
    // The first second leaves the ten-second window.
    rate.record(s(10), 0);
    assert_eq!(rate.bytes_per_second(s(10)), (3000 + 7 * 1000) / 10);
}

#[test]
fn a_long_silence_empties_the_window() {
    let t0 = Instant::now();
    let mut rate = RateEstimator::new(t0);
    rate.record(t0, 50_000);
    assert_eq!(rate.bytes_per_second(t0 + Duration::from_secs(60)), 0);
    rate.record(t0 + Duration::from_secs(61), 800);
    assert_eq!(rate.bytes_per_second(t0 + Duration::from_secs(61)), 400);
}
