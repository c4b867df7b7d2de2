//! What leaves one vGIC access besides its value and errno, through one narrow
//! interface (vm-superio's events traits, STYLE.md §2; the ITS's is
//! [`crate::vits::observer`]): the rules that decided it and the notes that
//! explain it. Every userspace access takes the one path
//! [`Vgic::user_access_observed`](crate::vgic::Vgic::user_access_observed);
//! `user_read`/`user_write`/`user_has` watch it with a [`Recorder`] and build
//! an [`Outcome`](crate::vgic::Outcome) from it, bulk replays (the audit's
//! `vmm::restore`) keep only the rules (a `Vec<&Rule>`, for a refusal) or
//! nothing ([`NoopObserver`]), and then no note is even formatted. Hops leave
//! through the trace ([`Vgic::take_trace`](crate::vgic::Vgic::take_trace)) as
//! on every path.
//!
//! ```
//! use gicx_core::{host::Host, vgic::{Op, Recorder, Vgic, VmConfig}, catalogue::Frame};
//! let mut vm = Vgic::new(Host::parse_compact("v4.1@6.8").unwrap(), VmConfig::default());
//! vm.init();
//! let mut seen = Recorder::default();
//! let (_, errno) = vm.user_access_observed(Op::Write, Frame::Dist, 0, 0xC, 0, &mut seen).unwrap();
//! assert_eq!(errno.map(|e| e.as_str()), Some("EINVAL"));
//! assert!(seen.rules.iter().any(|r| r.id == "gicd.typer2.uaccess.exact_match"));
//! ```

use crate::rules::Rule;

/// Watches one access: receives each rule once, in the order the handlers
/// decide them, and, if it wants them, the notes.
pub trait AccessObserver {
    /// A rule decided (part of) the access; never the same rule twice in one
    /// access when the observer keeps them (see [`push_once`]).
    fn rule(&mut self, rule: &'static Rule);
    /// Whether notes are wanted: when not, they are neither formatted nor sent.
    fn wants_notes(&self) -> bool;
    /// A note for people (what KVM did and why).
    fn note(&mut self, note: String);
}

/// Adds `rule` to `rules` unless it is there already (the rules of an
/// [`Outcome`](crate::vgic::Outcome) are a set in first-decided order).
pub fn push_once(rules: &mut Vec<&'static Rule>, rule: &'static Rule) {
    if !rules.iter().any(|x| std::ptr::eq(*x, rule)) {
        rules.push(rule);
    }
}

/// Keeps the rules and the notes: what an `Outcome` reports.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pub rules: Vec<&'static Rule>,
    pub notes: Vec<String>,
}

impl AccessObserver for Recorder {
    fn rule(&mut self, rule: &'static Rule) {
        push_once(&mut self.rules, rule);
    }
    fn wants_notes(&self) -> bool {
        true
    }
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

/// Keeps the rules only: a bulk replay that must say why an access was refused
/// (clear it between accesses to reuse its allocation).
impl AccessObserver for Vec<&'static Rule> {
    fn rule(&mut self, rule: &'static Rule) {
        push_once(self, rule);
    }
    fn wants_notes(&self) -> bool {
        false
    }
    fn note(&mut self, _: String) {}
}

/// Ignores everything: bulk replays that need only values and errnos.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl AccessObserver for NoopObserver {
    fn rule(&mut self, _: &'static Rule) {}
    fn wants_notes(&self) -> bool {
        false
    }
    fn note(&mut self, _: String) {}
}
