//! Fault injection: canned answers, late changes to the world, and the
//! transport faults the front proxy applies.
//!
//! Every fault names a route the way a person reads it: `"PUT
//! /pulls/7/merge"`. A route matches a request when the method is the same
//! (`*` for any) and the path *ends with* the route's segments, so
//! `"GET /pulls/7"` is `/repos/acme/app/pulls/7` and neither
//! `/pulls/7/files` nor `/pulls/70`. A `*` segment matches any one segment
//! (`"GET /pulls/*/files"`); the route may also be spelled with a decoded
//! branch (`/branches/release/1.0/protection`).
//!
//! Rules are consulted in the order they were installed and each fires a
//! limited number of times (once by default), so installing several rules
//! for one route scripts a sequence of answers: two 405s, then the real
//! merge. A rule that fires "after acting" lets the fake really do the work
//! (the merge happens) and then replaces the answer (a 502): the ambiguous
//! failure that must never lead to a blind second merge.

use std::sync::Arc;
use std::time::Duration;

use super::fake_github::Shared;
use super::proxy::TransportFault;
use super::world::World;

/// A method and a path suffix, matched segment by segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFilter {
    method: Option<String>,
    segments: Vec<String>,
}

impl std::fmt::Display for RouteFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} /{}",
            self.method.as_deref().unwrap_or("*"),
            self.segments.join("/")
        )
    }
}

/// Percent-decodes `s` (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl RouteFilter {
    /// `"PUT /pulls/7/merge"`, `"* /check-runs"` or just `"/pulls/7"` (any
    /// method).
    pub fn parse(route: &str) -> Self {
        let route = route.trim();
        match route.split_once(' ') {
            Some((method, path)) => Self::new(method, path.trim()),
            None => Self::new("*", route),
        }
    }

    pub fn new(method: &str, path: &str) -> Self {
        let path = path.split('?').next().unwrap_or_default();
        Self {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return false;
        }
        let path = path.split('?').next().unwrap_or_default();
        let raw: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let decoded_path = percent_decode(path);
        let decoded: Vec<&str> = decoded_path.split('/').filter(|s| !s.is_empty()).collect();
        self.suffix_of(&raw) || self.suffix_of(&decoded)
    }

    fn suffix_of(&self, path: &[&str]) -> bool {
        if self.segments.len() > path.len() {
            return false;
        }
        let tail = &path[path.len() - self.segments.len()..];
        self.segments
            .iter()
            .zip(tail)
            .all(|(want, got)| want == "*" || want == got)
    }
}

/// A canned answer for a route.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub(crate) id: u64,
    pub(crate) filter: RouteFilter,
    /// Fires left; `None` is "every time".
    pub(crate) remaining: Option<usize>,
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    /// Let the fake act first (the merge happens), then answer this.
    pub(crate) after_acting: bool,
    pub(crate) delay: Option<Duration>,
    /// Matching requests to let through before the first fire.
    pub(crate) skip: usize,
    /// Times it fired.
    pub(crate) fired: usize,
    /// May end the test without firing (see [`Faults::unfired`]).
    pub(crate) optional: bool,
}

/// A transport fault for the proxy to apply to a route.
#[derive(Debug, Clone)]
pub struct TransportRule {
    pub(crate) id: u64,
    pub(crate) filter: RouteFilter,
    pub(crate) remaining: Option<usize>,
    pub(crate) fault: TransportFault,
    /// Drop the request before the fake sees it (GitHub never acted).
    pub(crate) before_github: bool,
    pub(crate) fired: usize,
    pub(crate) optional: bool,
}

pub(crate) enum Trigger {
    /// After this many more requests have been answered.
    AfterRequests(usize),
    /// Just before a request matching the route is answered, once `skip`
    /// earlier matching requests have been.
    Before(RouteFilter, usize),
}

pub(crate) struct Hook {
    pub(crate) id: u64,
    pub(crate) trigger: Trigger,
    pub(crate) action: Box<dyn FnOnce(&mut World) + Send>,
    /// What the test said it is for, for the message when it never ran.
    pub(crate) what: String,
    pub(crate) optional: bool,
}

/// The faults installed on a fake.
#[derive(Default)]
pub struct Faults {
    pub(crate) rules: Vec<FaultRule>,
    pub(crate) transport: Vec<TransportRule>,
    pub(crate) hooks: Vec<Hook>,
    next: u64,
}

impl Faults {
    pub(crate) fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub(crate) fn add_rule(&mut self, route: &str, status: u16, body: &[u8]) -> u64 {
        let id = self.id();
        self.rules.push(FaultRule {
            id,
            filter: RouteFilter::parse(route),
            remaining: Some(1),
            status,
            body: body.to_vec(),
            headers: Vec::new(),
            after_acting: false,
            delay: None,
            skip: 0,
            fired: 0,
            optional: false,
        });
        id
    }

    pub(crate) fn add_transport(&mut self, route: &str, fault: TransportFault) -> u64 {
        let id = self.id();
        self.transport.push(TransportRule {
            id,
            filter: RouteFilter::parse(route),
            remaining: Some(1),
            fault,
            before_github: false,
            fired: 0,
            optional: false,
        });
        id
    }

    /// The first live rule for this request, spending one of its fires.
    /// A rule still skipping lets this request through (and counts it).
    pub(crate) fn take_rule(&mut self, method: &str, path: &str) -> Option<FaultRule> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.remaining != Some(0) && r.filter.matches(method, path))?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        rule.fired += 1;
        Some(rule.clone())
    }

    pub(crate) fn take_transport(&mut self, method: &str, path: &str) -> Option<TransportRule> {
        let rule = self
            .transport
            .iter_mut()
            .find(|r| r.remaining != Some(0) && r.filter.matches(method, path))?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        rule.fired += 1;
        Some(rule.clone())
    }

    /// Hooks due before answering a request to this route.
    pub(crate) fn take_before(&mut self, method: &str, path: &str) -> Vec<Hook> {
        let mut due = Vec::new();
        for hook in std::mem::take(&mut self.hooks) {
            match hook.trigger {
                Trigger::Before(ref f, 0) if f.matches(method, path) => due.push(hook),
                Trigger::Before(f, skip) if f.matches(method, path) => self.hooks.push(Hook {
                    trigger: Trigger::Before(f, skip - 1),
                    ..hook
                }),
                _ => self.hooks.push(hook),
            }
        }
        due
    }

    /// Counts one answered request; hooks whose count ran out are due.
    pub(crate) fn take_after_request(&mut self) -> Vec<Hook> {
        for h in &mut self.hooks {
            if let Trigger::AfterRequests(n) = &mut h.trigger {
                *n = n.saturating_sub(1);
            }
        }
        let (due, keep) = std::mem::take(&mut self.hooks)
            .into_iter()
            .partition(|h| matches!(h.trigger, Trigger::AfterRequests(0)));
        self.hooks = keep;
        due
    }

    /// What the test scripted that never happened: canned answers and
    /// transport faults with fires left (an `always` one that never fired),
    /// and changes whose moment never came. Each is a test that did not
    /// exercise what it meant to, unless it was marked optional.
    pub fn unfired(&self) -> Vec<String> {
        let left = |remaining: Option<usize>, fired: usize| match remaining {
            Some(n) if n > 0 => Some(format!("{n} of {} fires left", n + fired)),
            None if fired == 0 => Some("never fired".to_owned()),
            _ => None,
        };
        let mut out: Vec<String> = self
            .rules
            .iter()
            .filter(|r| !r.optional)
            .filter_map(|r| {
                left(r.remaining, r.fired)
                    .map(|why| format!("a {} answer to {} ({why})", r.status, r.filter))
            })
            .collect();
        out.extend(
            self.transport
                .iter()
                .filter(|r| !r.optional)
                .filter_map(|r| {
                    left(r.remaining, r.fired)
                        .map(|why| format!("{:?} on {} ({why})", r.fault, r.filter))
                }),
        );
        out.extend(
            self.hooks
                .iter()
                .filter(|h| !h.optional)
                .map(|h| format!("{} (never ran)", h.what)),
        );
        out
    }

    /// Are any canned answers or transport faults still waiting to fire?
    pub fn pending(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.remaining.is_some_and(|n| n > 0))
            .map(|r| {
                format!(
                    "{:?} -> {} ({} left)",
                    r.filter,
                    r.status,
                    r.remaining.unwrap_or(0)
                )
            })
            .collect();
        out.extend(
            self.transport
                .iter()
                .filter(|r| r.remaining.is_some_and(|n| n > 0))
                .map(|r| format!("{:?} -> {:?}", r.filter, r.fault)),
        );
        out
    }
}

/// A canned answer just installed; refine it in place.
pub struct FaultHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
}

impl FaultHandle {
    fn edit(self, f: impl FnOnce(&mut FaultRule)) -> Self {
        {
            let mut world = self.shared.lock();
            let rule = world
                .faults
                .rules
                .iter_mut()
                .find(|r| r.id == self.id)
                .expect("fault rule exists");
            f(rule);
        }
        self
    }

    /// Fire `n` times instead of once.
    pub fn times(self, n: usize) -> Self {
        self.edit(|r| r.remaining = Some(n))
    }

    /// Fire on every matching request until the test ends.
    pub fn always(self) -> Self {
        self.edit(|r| r.remaining = None)
    }

    /// Add a header to the canned answer (e.g. `Retry-After: 1`).
    pub fn header(self, name: &str, value: &str) -> Self {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.edit(|r| r.headers.push((name, value)))
    }

    /// Let the fake do the real work first, then answer with the fault (a
    /// merge that happened behind a 502).
    pub fn after_acting(self) -> Self {
        self.edit(|r| r.after_acting = true)
    }

    /// Let the first `n` matching requests through, then fire (the second
    /// batch of annotations, not the first).
    pub fn after(self, n: usize) -> Self {
        self.edit(|r| r.skip = n)
    }

    /// Hold the answer back for `delay` (to trip a client timeout).
    pub fn delay(self, delay: Duration) -> Self {
        self.edit(|r| r.delay = Some(delay))
    }

    /// The test passes whether or not this fires (by default a fault that
    /// never fired fails the test when the fake is dropped: the test did not
    /// exercise what it scripted).
    pub fn optional(self) -> Self {
        self.edit(|r| r.optional = true)
    }
}

/// A transport fault just installed; refine it in place.
pub struct TransportHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
}

impl TransportHandle {
    fn edit(self, f: impl FnOnce(&mut TransportRule)) -> Self {
        {
            let mut world = self.shared.lock();
            let rule = world
                .faults
                .transport
                .iter_mut()
                .find(|r| r.id == self.id)
                .expect("transport rule exists");
            f(rule);
        }
        self
    }

    /// Apply the fault to the next `n` matching requests.
    pub fn times(self, n: usize) -> Self {
        self.edit(|r| r.remaining = Some(n))
    }

    /// Apply the fault to every matching request until the test ends.
    pub fn always(self) -> Self {
        self.edit(|r| r.remaining = None)
    }

    /// Drop the request before it reaches the fake: GitHub never acted. By
    /// default the request is served and the *answer* is lost, the harder
    /// case for a client.
    pub fn before_github(self) -> Self {
        self.edit(|r| r.before_github = true)
    }

    /// The test passes whether or not this fires.
    pub fn optional(self) -> Self {
        self.edit(|r| r.optional = true)
    }
}

/// A scripted change to the world just installed.
pub struct HookHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
}

impl HookHandle {
    /// The test passes whether or not its moment comes.
    pub fn optional(self) -> Self {
        let mut world = self.shared.lock();
        if let Some(h) = world.faults.hooks.iter_mut().find(|h| h.id == self.id) {
            h.optional = true;
        }
        drop(world);
        self
    }
}
