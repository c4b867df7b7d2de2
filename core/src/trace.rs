//! The trace of a step: the ordered hops an interrupt (or a configuration
//! change) makes through the guest, KVM, the host ITS, the redistributor and
//! the CPU interface.
//!
//! Observation leaves the model through one narrow interface (STYLE.md §2,
//! after vm-superio's events traits): every hop is pushed through
//! [`crate::vgic::Vgic`]'s single `emit` funnel into a bounded [`Trace`], and
//! comes out through [`crate::vgic::Vgic::take_trace`]. The model never looks
//! at its own trace.
//!
//! ```
//! use gicx_core::trace::{Hop, Layer};
//! let hop = Hop::new(Layer::Its, "GITS_SGIR", "vSGI 3 for vPE 1")
//!     .vcpu(1)
//!     .intid(3)
//!     .source("irq-gic-v3-its.c: its_sgi_set_irqchip_state (5.7+)");
//! assert_eq!(hop.to_string(), "[ITS] vCPU 1 INTID 3: vSGI 3 for vPE 1 (GITS_SGIR; irq-gic-v3-its.c: its_sgi_set_irqchip_state (5.7+))");
//! let json = serde_json::to_string(&hop).unwrap();
//! assert!(json.contains(r#""layer":"its""#));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rules::Rule;

/// Where a hop happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// An instruction the guest executes (a system-register access).
    Guest,
    /// The hypervisor: traps, `vgic_*` functions, ioctls from the VMM.
    Kvm,
    /// The host's GICv4.1 ITS (`GITS_SGIR`, ITS commands).
    Its,
    /// The host redistributor holding (or not holding) the vPE.
    Redistributor,
    /// The vCPU's virtual CPU interface (list registers, ICV_* registers).
    CpuInterface,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::Guest,
        Layer::Kvm,
        Layer::Its,
        Layer::Redistributor,
        Layer::CpuInterface,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Guest => "guest",
            Layer::Kvm => "KVM",
            Layer::Its => "ITS",
            Layer::Redistributor => "redistributor",
            Layer::CpuInterface => "CPU interface",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hop: a layer, what happened there, the register or function involved
/// and where the behaviour comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hop {
    pub layer: Layer,
    /// The vCPU (and its vPE) concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    /// The interrupt concerned, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intid: Option<u32>,
    /// What happened, in words.
    pub what: String,
    /// The register or function involved, e.g. `GITS_SGIR` or `vgic_v3_queue_sgi`.
    pub at: String,
    /// Kernel file and function (with era) or architecture section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// The id of the rule this hop shows, if any (see `gicx rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Hop {
    pub fn new(layer: Layer, at: impl Into<String>, what: impl Into<String>) -> Hop {
        Hop {
            layer,
            vcpu: None,
            intid: None,
            what: what.into(),
            at: at.into(),
            source: String::new(),
            rule: None,
        }
    }
    pub fn vcpu(mut self, vcpu: u32) -> Hop {
        self.vcpu = Some(vcpu);
        self
    }
    pub fn intid(mut self, intid: u32) -> Hop {
        self.intid = Some(intid);
        self
    }
    pub fn source(mut self, source: impl Into<String>) -> Hop {
        self.source = source.into();
        self
    }
    /// Tag the hop with a rule; its kernel source becomes the hop's source
    /// unless one was given.
    pub fn rule(mut self, rule: &Rule) -> Hop {
        self.rule = Some(rule.id.to_string());
        if self.source.is_empty() {
            self.source = rule.source.to_string();
        }
        self
    }
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.layer)?;
        if let Some(v) = self.vcpu {
            write!(f, " vCPU {v}")?;
        }
        if let Some(i) = self.intid {
            write!(f, " INTID {i}")?;
        }
        write!(f, ": {} ({}", self.what, self.at)?;
        if !self.source.is_empty() {
            write!(f, "; {}", self.source)?;
        }
        f.write_str(")")
    }
}

/// The most hops a [`Trace`] keeps between two takes; later ones are counted, not kept.
pub const MAX_HOPS: usize = 10_000;

/// A bounded buffer of hops.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    hops: Vec<Hop>,
    dropped: usize,
}

impl Trace {
    pub fn push(&mut self, hop: Hop) {
        if self.hops.len() < MAX_HOPS {
            self.hops.push(hop);
        } else {
            self.dropped += 1;
        }
    }
    /// Take the hops collected so far (and a final hop saying how many were dropped).
    pub fn take(&mut self) -> Vec<Hop> {
        let mut hops = std::mem::take(&mut self.hops);
        if self.dropped > 0 {
            hops.push(Hop::new(
                Layer::Kvm,
                "gicx",
                format!(
                    "{} further hops were not kept (limit {MAX_HOPS})",
                    self.dropped
                ),
            ));
            self.dropped = 0;
        }
        hops
    }
    pub fn len(&self) -> usize {
        self.hops.len()
    }
    /// The hops kept since position `start` (a former [`Trace::len`]).
    pub fn since(&self, start: usize) -> &[Hop] {
        self.hops.get(start..).unwrap_or(&[])
    }
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_round_trip_through_json() {
        let h = Hop::new(Layer::CpuInterface, "ICV_IAR1_EL1", "INTID 3 acknowledged")
            .vcpu(0)
            .intid(3);
        let j = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hop>(&j).unwrap(), h);
        assert!(j.contains(r#""layer":"cpu_interface""#), "{j}");
        assert!(!j.contains("rule"), "{j}");
    }

    #[test]
    fn the_trace_is_bounded() {
        let mut t = Trace::default();
        for _ in 0..MAX_HOPS + 5 {
            t.push(Hop::new(Layer::Kvm, "x", "y"));
        }
        let hops = t.take();
        assert_eq!(hops.len(), MAX_HOPS + 1);
        assert!(hops.last().unwrap().what.contains("5 further hops"));
        assert!(t.take().is_empty());
    }
}
