//! Named fault-injection points, for tests of the fail-safe paths.
//!
//! Production code calls [`hit`] at a few places where a bug could strike
//! (inside a guard, for instance). Nothing is armed unless a test arms it
//! through [`arm`] in the same process, and an unarmed check is one relaxed
//! atomic load. This is how the tests show that a panicking guard leaves the
//! check run `neutral` and the server serving, without shipping a bug.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// What an armed point does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `panic!` with this message.
    Panic(String),
    /// `panic!` with this message once, then disarm (for a point on a path
    /// other tests in the process also run).
    PanicOnce(String),
}

static ARMED: AtomicBool = AtomicBool::new(false);

fn points() -> &'static Mutex<HashMap<String, Action>> {
    static POINTS: OnceLock<Mutex<HashMap<String, Action>>> = OnceLock::new();
    POINTS.get_or_init(Default::default)
}

/// Arms `name` (tests only).
pub fn arm(name: &str, action: Action) {
    points()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_owned(), action);
    ARMED.store(true, Ordering::Release);
}

/// Disarms `name`.
pub fn disarm(name: &str) {
    let mut points = points().lock().unwrap_or_else(|p| p.into_inner());
    points.remove(name);
    if points.is_empty() {
        ARMED.store(false, Ordering::Release);
    }
}

/// Runs the action armed at `name`, if any.
pub fn hit(name: &str) {
    if !ARMED.load(Ordering::Relaxed) {
        return;
    }
    let action = {
        let mut points = points().lock().unwrap_or_else(|p| p.into_inner());
        let action = points.get(name).cloned();
        if matches!(action, Some(Action::PanicOnce(_))) {
            points.remove(name);
            if points.is_empty() {
                ARMED.store(false, Ordering::Release);
            }
        }
        action
    };
    match action {
        Some(Action::Panic(message) | Action::PanicOnce(message)) => panic!("{message}"),
        None => {}
    }
}
