//! The GICv4 direct-injection steps (`vgic/vlpi.rs`): `forward_msi` (VFIO
//! registers a passthrough device's MSI, routed through an irqfd, as an IRQ
//! bypass producer: `kvm_vgic_v4_set_forwarding`), `unforward_msi` (the
//! producer goes away: `kvm_vgic_v4_unset_forwarding`) and `device_msi` (the
//! device writes its MSI). None has a real-KVM counterpart in the harness: it
//! needs a VFIO device (`oracle::not_applicable`).

use serde::{Deserialize, Serialize};

use super::{ErrnoName, Num, ScenarioError, Step};
use crate::vgic::{AccessError, Vgic};

/// `forward_msi`: the device's MSI (`device_id`, `event_id`: the MSI route's
/// devid and data) on host interrupt `host_irq` meets its irqfd.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardMsiStep {
    pub device_id: Num,
    pub event_id: Num,
    pub host_irq: Num,
    /// 1 if the LPI became a vLPI, 0 if nothing was forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `unforward_msi`: the producer of `host_irq` is unregistered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnforwardMsiStep {
    pub host_irq: Num,
    /// 1 if a vLPI was unmapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `device_msi`: the passthrough device writes MSI (`device_id`, `event_id`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceMsiStep {
    pub device_id: Num,
    pub event_id: Num,
    /// On the software path, what `kvm_set_msi` returned (1 delivered, 0
    /// blocked); on the direct path 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn fits_u32(n: Num, p: &str, field: &str, what: &str) -> Result<(), ScenarioError> {
    if n.0 >> 32 != 0 {
        return Err(ScenarioError::at(
            format!("{p}.{field}"),
            format!("{:#x} does not fit in 32 bits ({what})", n.0),
        ));
    }
    Ok(())
}

fn check_expect(e: Option<Num>, p: &str) -> Result<(), ScenarioError> {
    match e {
        Some(Num(v)) if v > 1 => Err(ScenarioError::at(
            format!("{p}.expect"),
            format!("{v} is not a possible result: 1 (done) or 0 (not done)"),
        )),
        _ => Ok(()),
    }
}

/// Validation of these steps; `None` for other steps.
pub(super) fn validate(step: &Step, p: &str) -> Option<Result<(), ScenarioError>> {
    let r = match step {
        Step::ForwardMsi(s) => fits_u32(s.device_id, p, "device_id", "the MSI route's devid")
            .and_then(|()| fits_u32(s.event_id, p, "event_id", "the MSI route's data"))
            .and_then(|()| fits_u32(s.host_irq, p, "host_irq", "a Linux IRQ number"))
            .and_then(|()| check_expect(s.expect, p)),
        Step::UnforwardMsi(s) => fits_u32(s.host_irq, p, "host_irq", "a Linux IRQ number")
            .and_then(|()| check_expect(s.expect, p)),
        Step::DeviceMsi(s) => fits_u32(s.device_id, p, "device_id", "a PCI requester ID")
            .and_then(|()| fits_u32(s.event_id, p, "event_id", "the MSI data"))
            .and_then(|()| check_expect(s.expect, p)),
        _ => return None,
    };
    Some(r)
}

/// Run one of these steps; `None` for other steps.
pub(super) fn run(vm: &mut Vgic, step: &Step) -> Option<Result<super::delivery::Ran, AccessError>> {
    let mut failures = Vec::new();
    let mut expect = |want: Option<Num>, got: u64, what: &str| {
        if let Some(Num(w)) = want {
            if w != got {
                failures.push(format!("expected {what} to give {w}, got {got}"));
            }
        }
    };
    let (summary, o) = match step {
        Step::ForwardMsi(s) => {
            let o = vm.forward_msi(
                s.device_id.0 as u32,
                s.event_id.0 as u32,
                s.host_irq.0 as u32,
            );
            expect(s.expect, o.value, "forward_msi");
            let what = if o.value == 1 {
                "forwarded as a vLPI"
            } else {
                "not forwarded"
            };
            (
                format!(
                    "forward host IRQ {} (device {:#x} event {}): {what}",
                    s.host_irq.0, s.device_id.0, s.event_id.0
                ),
                o,
            )
        }
        Step::UnforwardMsi(s) => {
            let o = vm.unforward_msi(s.host_irq.0 as u32);
            expect(s.expect, o.value, "unforward_msi");
            let what = if o.value == 1 {
                "vLPI unmapped"
            } else {
                "nothing forwarded"
            };
            (format!("unforward host IRQ {}: {what}", s.host_irq.0), o)
        }
        Step::DeviceMsi(s) => {
            let o = match vm.device_msi(s.device_id.0 as u32, s.event_id.0 as u32) {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            if o.errno.is_none() {
                expect(s.expect, o.value, "device_msi");
            }
            super::check_errno(&o, &s.expect_error, &mut failures);
            let path = if o
                .rules
                .iter()
                .any(|r| std::ptr::eq(*r, &crate::vgic::vlpi::MSI_DIRECT))
            {
                "direct (vLPI)"
            } else {
                "software (irqfd)"
            };
            (
                format!(
                    "device {:#x} MSI event {}: {path}",
                    s.device_id.0, s.event_id.0
                ),
                o,
            )
        }
        _ => return None,
    };
    Some(Ok((summary, o, failures)))
}
