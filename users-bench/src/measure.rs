//! Timing: both sides of a workload, alternated, best round kept; and the printed lines.

use std::time::{Duration, Instant};

use crate::Result;

/// The best (shortest) round of each side.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub framework: Duration,
    pub hand: Duration,
}

/// Runs each side `rounds` times, alternating which goes first (framework first in even rounds,
/// hand-written first in odd ones), and keeps each side's fastest round. Alternation spreads
/// warm-up, caches and the neighbours' load over both sides; the minimum discards rounds that
/// other work on the machine slowed down. Each closure does its own untimed preparation and
/// returns the time of the part it measured.
pub fn best_of(
    rounds: usize,
    mut framework: impl FnMut() -> Result<Duration>,
    mut hand: impl FnMut() -> Result<Duration>,
) -> Result<Timing> {
    let mut best = Timing {
        framework: Duration::MAX,
        hand: Duration::MAX,
    };
    for round in 0..rounds.max(1) {
        let (f, h) = if round % 2 == 0 {
            let f = framework()?;
            (f, hand()?)
        } else {
            let h = hand()?;
            (framework()?, h)
        };
        best.framework = best.framework.min(f);
        best.hand = best.hand.min(h);
    }
    Ok(best)
}

/// How long `work` took.
pub fn timed(work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    work()?;
    Ok(start.elapsed())
}

/// How a line states its figures.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Operations per second.
    Throughput,
    /// Mean time of one operation.
    MeanTime,
}

/// One printed line: a workload on one backend.
pub struct Line {
    pub workload: String,
    pub ops: usize,
    pub timing: Timing,
    pub unit: Unit,
}

impl Line {
    /// A line in operations per second.
    pub fn throughput(workload: impl Into<String>, ops: usize, timing: Timing) -> Self {
        Line {
            workload: workload.into(),
            ops,
            timing,
            unit: Unit::Throughput,
        }
    }

    /// A line in mean time per operation.
    pub fn mean_time(workload: impl Into<String>, ops: usize, timing: Timing) -> Self {
        Line {
            workload: workload.into(),
            ops,
            timing,
            unit: Unit::MeanTime,
        }
    }

    /// Framework speed over hand-written speed: above 1 the framework is faster.
    pub fn ratio(&self) -> f64 {
        self.timing.hand.as_secs_f64() / self.timing.framework.as_secs_f64()
    }

    fn figure(&self, time: Duration) -> String {
        let ops = self.ops.max(1) as f64;
        match self.unit {
            Unit::Throughput => format!("{:.0} ops/s", ops / time.as_secs_f64()),
            Unit::MeanTime => format!("{:.2} ms", time.as_secs_f64() * 1e3 / ops),
        }
    }

    /// The line as a Markdown table row, so a run pastes into the README as it is.
    pub fn row(&self, backend: &str) -> String {
        format!(
            "| {backend:<8} | {:<38} | {:>13} | {:>13} | {:>5.2} |",
            self.workload,
            self.figure(self.timing.framework),
            self.figure(self.timing.hand),
            self.ratio()
        )
    }
}

/// The header of the table [`Line::row`] writes.
pub fn header() -> String {
    format!(
        "| {:<8} | {:<38} | {:>13} | {:>13} | {:>5} |\n|{}|{}|{}|{}|{}|",
        "backend",
        "workload",
        "framework",
        "hand-written",
        "ratio",
        "-".repeat(10),
        "-".repeat(40),
        "-".repeat(15),
        "-".repeat(15),
        "-".repeat(7),
    )
}
