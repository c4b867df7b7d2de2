//! What leaves the ITS, through one narrow interface (vm-superio's events
//! traits, STYLE.md §2): the rules that decided an access, every command
//! processed with its result, and what happens to LPIs (made pending on a
//! vCPU, cleared, configured, retargeted, unmapped). LPI delivery into the
//! redistributors and CPU interface is wired through [`ItsObserver`] later;
//! bulk replays use [`NoopObserver`].
//!
//! ```
//! use gicx_core::vits::observer::{ItsEvent, ItsObserver, NoopObserver};
//! let mut log: Vec<ItsEvent> = Vec::new();
//! log.event(&ItsEvent::LpiPending { intid: 8192, vcpu: 0 });
//! NoopObserver.event(&ItsEvent::LpiCleared { intid: 8192 });
//! assert_eq!(log.len(), 1);
//! ```

use serde::Serialize;

use super::command::{Command, CommandError};
use crate::rules::Rule;

/// One thing the ITS did that someone outside it may care about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ItsEvent {
    /// A rule decided (part of) the access.
    Rule { rule: &'static Rule },
    /// A command was read from the queue at `gpa` (CREADR `offset`) and
    /// handled; `error` is what `vgic_its_handle_command` returned (KVM
    /// ignores it).
    Command {
        gpa: u64,
        offset: u64,
        command: Command,
        error: Option<CommandError>,
    },
    /// The command at `gpa` could not be read from guest memory: skipped.
    CommandUnreadable { gpa: u64, offset: u64 },
    /// An LPI became pending on a vCPU (`vgic_queue_irq_unlock`): delivery
    /// into the redistributor and CPU interface starts here.
    LpiPending { intid: u32, vcpu: u32 },
    /// An LPI's pending state was cleared (CLEAR).
    LpiCleared { intid: u32 },
    /// An LPI's configuration was read from the property table.
    LpiConfigured {
        intid: u32,
        priority: u8,
        enabled: bool,
    },
    /// An LPI now targets another vCPU (`update_affinity`).
    LpiTargeted { intid: u32, vcpu: u32 },
    /// The last mapping of an LPI went away: KVM frees it, pending state included.
    LpiUnmapped { intid: u32 },
}

/// Receives every [`ItsEvent`], in order.
pub trait ItsObserver {
    fn event(&mut self, event: &ItsEvent);
}

/// Ignores everything: for bulk replays.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl ItsObserver for NoopObserver {
    fn event(&mut self, _: &ItsEvent) {}
}

/// Keeps everything (tests, traces).
impl ItsObserver for Vec<ItsEvent> {
    fn event(&mut self, event: &ItsEvent) {
        self.push(event.clone());
    }
}

/// The rule ids in a list of events, in order (tests and traces).
pub fn rule_ids(events: &[ItsEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            ItsEvent::Rule { rule } => Some(rule.id),
            _ => None,
        })
        .collect()
}
