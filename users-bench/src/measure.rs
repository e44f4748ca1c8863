//! Timing: both sides of a workload, interleaved slice by slice, best round kept; and the
//! printed lines.

use std::time::{Duration, Instant};

use crate::Result;

/// The best (shortest) round of each side, and the page faults each side took.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub framework: Duration,
    pub hand: Duration,
    /// Minor page faults of (framework, hand-written) over all rounds, where the system reports
    /// them: memory the allocator had to map afresh, e.g. argon2's matrix.
    pub faults: Option<(u64, u64)>,
    /// The rounds run.
    pub rounds: usize,
}

/// Measures both sides of a workload split into `slices` slices, interleaved.
///
/// Each round first calls `prepare` (not timed), then runs slice 0 of one side and slice 0 of
/// the other, slice 1 of both, and so on, switching which side goes first at every slice.
/// Interleaving at this grain puts both sides under the same load from whatever else the
/// machine is doing, and spreads warm-up and caches evenly. Every round does the same work
/// from the same state, so each slice's time is the fastest of its `rounds` runs, which drops
/// the runs that another process interrupted; a side's time is the sum over its slices.
pub fn interleaved<B>(
    bench: &mut B,
    rounds: usize,
    slices: usize,
    mut prepare: impl FnMut(&mut B) -> Result<()>,
    mut framework: impl FnMut(&mut B, usize) -> Result<()>,
    mut hand: impl FnMut(&mut B, usize) -> Result<()>,
) -> Result<Timing> {
    let mut fastest = vec![(Duration::MAX, Duration::MAX); slices];
    let mut faults = Some((0, 0));
    for round in 0..rounds.max(1) {
        prepare(bench)?;
        for (slice, (best_framework, best_hand)) in fastest.iter_mut().enumerate() {
            let ((f, f_faults), (h, h_faults)) = if (round + slice) % 2 == 0 {
                let f = timed(|| framework(bench, slice))?;
                (f, timed(|| hand(bench, slice))?)
            } else {
                let h = timed(|| hand(bench, slice))?;
                (timed(|| framework(bench, slice))?, h)
            };
            *best_framework = (*best_framework).min(f);
            *best_hand = (*best_hand).min(h);
            faults = faults
                .zip(f_faults.zip(h_faults))
                .map(|((f_sum, h_sum), (f, h))| (f_sum + f, h_sum + h));
        }
    }
    Ok(Timing {
        framework: fastest.iter().map(|(f, _)| *f).sum(),
        hand: fastest.iter().map(|(_, h)| *h).sum(),
        faults,
        rounds: rounds.max(1),
    })
}

/// The indices of slice `slice` of `slices` over `0..count`.
pub fn slice_of(count: usize, slices: usize, slice: usize) -> std::ops::Range<usize> {
    count * slice / slices..count * (slice + 1) / slices
}

/// How many slices to cut `count` operations of about a millisecond or less into: enough to
/// interleave finely, few enough that reading the clock costs nothing.
pub fn slices_for(count: usize) -> usize {
    count.clamp(1, 100)
}

/// How long `work` took, and how many minor page faults it caused.
fn timed(work: impl FnOnce() -> Result<()>) -> Result<(Duration, Option<u64>)> {
    let faults = minor_faults();
    let start = Instant::now();
    work()?;
    let elapsed = start.elapsed();
    Ok((
        elapsed,
        minor_faults().zip(faults).map(|(end, start)| end - start),
    ))
}

/// This process's minor page faults so far: field 10 of `/proc/self/stat`, so Linux only.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 2, the command name in parentheses, may hold spaces: count from its end.
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(7)?.parse().ok()
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
    /// Whether a note with the page faults per operation follows the line.
    pub faults: bool,
}

impl Line {
    /// A line in operations per second.
    pub fn throughput(workload: impl Into<String>, ops: usize, timing: Timing) -> Self {
        Line {
            workload: workload.into(),
            ops,
            timing,
            unit: Unit::Throughput,
            faults: false,
        }
    }

    /// A line in mean time per operation.
    pub fn mean_time(workload: impl Into<String>, ops: usize, timing: Timing) -> Self {
        Line {
            workload: workload.into(),
            ops,
            timing,
            unit: Unit::MeanTime,
            faults: false,
        }
    }

    /// The line, followed by a note with each side's page faults per operation.
    pub fn with_faults(self) -> Self {
        Line {
            faults: true,
            ..self
        }
    }

    /// The page faults note, if asked for, the system reports page faults and there were any.
    pub fn faults_note(&self) -> Option<String> {
        let (framework, hand) = self.timing.faults.filter(|_| self.faults)?;
        if framework + hand == 0 {
            return None;
        }
        let (runs, ops) = (self.timing.rounds as f64, self.ops.max(1) as f64);
        let per_op = |faults: u64| faults as f64 / runs / ops;
        Some(format!(
            "page faults per operation (the line above): framework {:.0}, hand-written {:.0}",
            per_op(framework),
            per_op(hand)
        ))
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
