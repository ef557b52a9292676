//! A step's timings (`StepTimings`, Letta's `StepMetrics`): measured on the monotonic clock and
//! read from the wall clock once per step, so that stamping costs a few `Instant::now()` calls.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mneme_store::StepTimings;

/// What one step has measured so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct StepClock {
    started: Instant,
    /// `started` in nanoseconds since the Unix epoch: every instant of the step is placed on
    /// the wall clock from it, so that a wall-clock jump mid-step cannot reorder them.
    start_ns: i64,
    /// The model call whose answer the step kept: its start and wall time.
    model: Option<(Instant, Duration)>,
    /// The step's tool calls together.
    tools: Option<Duration>,
}

impl StepClock {
    pub(super) fn start() -> StepClock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        StepClock {
            started: Instant::now(),
            start_ns: nanos(since_epoch),
            model: None,
            tools: None,
        }
    }

    /// The model call that answered: from `started` until now (its last chunk arrived). A call
    /// tried again after a compaction replaces the one before.
    pub(super) fn model_answered(&mut self, started: Instant) {
        self.model = Some((started, started.elapsed()));
    }

    /// Tool calls that ran from `started` until now.
    pub(super) fn tools_ran(&mut self, started: Instant) {
        let took = started.elapsed();
        self.tools = Some(self.tools.map_or(took, |before| before + took));
    }

    /// The timings so far, the whole step's (`step_ns`) until now when the step is `done`.
    pub(super) fn timings(&self, done: bool) -> StepTimings {
        let at = |instant: Instant| {
            let offset = instant.saturating_duration_since(self.started);
            self.start_ns.saturating_add(nanos(offset))
        };
        StepTimings {
            step_start_ns: self.start_ns,
            llm_request_start_ns: self.model.map(|(started, _)| at(started)),
            llm_request_ns: self.model.map(|(_, took)| nanos(took)),
            tool_execution_ns: self.tools.map(nanos),
            step_ns: done.then(|| nanos(self.started.elapsed())),
        }
    }
}

/// A duration in nanoseconds, as Letta's metrics count them (saturating: 292 years).
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_nest_the_model_call_and_the_tools_inside_the_step() {
        let mut clock = StepClock::start();
        assert_eq!(clock.timings(true).llm_request_ns, None);
        let model = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        clock.model_answered(model);
        let pending = clock.timings(false);
        assert_eq!((pending.step_ns, pending.tool_execution_ns), (None, None));
        for _ in 0..2 {
            let tools = Instant::now();
            std::thread::sleep(Duration::from_millis(1));
            clock.tools_ran(tools);
        }
        let t = clock.timings(true);
        let (llm, tools, step) = (
            t.llm_request_ns.unwrap(),
            t.tool_execution_ns.unwrap(),
            t.step_ns.unwrap(),
        );
        assert!(llm >= 2_000_000 && tools >= 2_000_000, "{t:?}");
        assert!(step >= llm + tools, "{t:?}");
        let start = t.llm_request_start_ns.unwrap();
        assert!(t.step_start_ns <= start && start + llm <= t.step_start_ns + step);
    }
}
