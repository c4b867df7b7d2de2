//! The irqfd steps: `gsi_routing` (`KVM_SET_GSI_ROUTING`), `irqfd`
//! (`KVM_IRQFD`, assign with an optional resample eventfd, or deassign),
//! `irqfd_signal` (the VMM's `write()` on an eventfd) and `eventfd_read`
//! (a non-blocking `read()` of a resample eventfd). The model is
//! `vgic/irqfd.rs`; eventfds are named by small numbers (`fd`), which the
//! runner maps to eventfds it creates on first use.

use serde::{Deserialize, Serialize};

use super::{check_errno, ErrnoName, Num, ScenarioError, Step};
use crate::vgic::irqfd::{Route, RouteEntry};
use crate::vgic::{AccessError, Vgic};

/// The eventfd names a scenario may use (`fd`, `resample_fd`): 0-63.
pub const MAX_EVENTFDS: u32 = 64;

/// The kind of a routing entry (`KVM_IRQ_ROUTING_IRQCHIP`, `KVM_IRQ_ROUTING_MSI`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    Irqchip,
    Msi,
}

/// One `struct kvm_irq_routing_entry`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntryStep {
    pub gsi: Num,
    #[serde(rename = "type")]
    pub kind: RouteKind,
    /// irqchip: `u.irqchip.irqchip` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irqchip: Option<Num>,
    /// irqchip: `u.irqchip.pin` (SPI pin + 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Num>,
    /// msi: the doorbell address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Num>,
    /// msi: the payload (the event ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Num>,
    /// msi: `u.msi.devid` with `KVM_MSI_VALID_DEVID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devid: Option<Num>,
}

impl RouteEntryStep {
    pub fn entry(&self) -> RouteEntry {
        let route = match self.kind {
            RouteKind::Irqchip => Route::Irqchip {
                irqchip: self.irqchip.map_or(0, |n| n.0 as u32),
                pin: self.pin.map_or(0, |n| n.0 as u32),
            },
            RouteKind::Msi => Route::Msi {
                addr: self.addr.map_or(0, |n| n.0),
                data: self.data.map_or(0, |n| n.0 as u32),
                devid: self.devid.map(|n| n.0 as u32),
            },
        };
        RouteEntry {
            gsi: self.gsi.0 as u32,
            route,
        }
    }
}

/// `gsi_routing`: `KVM_SET_GSI_ROUTING` with these entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GsiRoutingStep {
    pub entries: Vec<RouteEntryStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `irqfd`: `KVM_IRQFD` of eventfd `fd` on `gsi`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrqfdStep {
    pub fd: u32,
    pub gsi: Num,
    /// `KVM_IRQFD_FLAG_RESAMPLE` with this eventfd as `resamplefd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resample_fd: Option<u32>,
    /// `KVM_IRQFD_FLAG_DEASSIGN`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deassign: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `irqfd_signal` (write 1) and `eventfd_read` (read, with `expect`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventfdStep {
    pub fd: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn check_fd(fd: u32, path: String) -> Result<(), ScenarioError> {
    if fd >= MAX_EVENTFDS {
        return Err(ScenarioError::at(
            path,
            format!(
                "eventfd {fd}: scenarios name eventfds 0-{}",
                MAX_EVENTFDS - 1
            ),
        ));
    }
    Ok(())
}

fn check_u32(n: Option<Num>, path: String, what: &str) -> Result<(), ScenarioError> {
    match n {
        Some(Num(v)) if v >> 32 != 0 => Err(ScenarioError::at(
            path,
            format!("{v:#x} does not fit in 32 bits ({what})"),
        )),
        _ => Ok(()),
    }
}

/// Validation of these steps; `None` for other steps. `resample_fds`: the
/// resample eventfds of the `irqfd` steps before this one.
pub(super) fn validate(
    step: &Step,
    resample_fds: &[u32],
    p: &str,
) -> Option<Result<(), ScenarioError>> {
    let r = match step {
        Step::GsiRouting(s) => validate_routing(s, p),
        Step::Irqfd(s) => (|| {
            check_fd(s.fd, format!("{p}.fd"))?;
            check_u32(Some(s.gsi), format!("{p}.gsi"), "struct kvm_irqfd.gsi")?;
            if let Some(r) = s.resample_fd {
                check_fd(r, format!("{p}.resample_fd"))?;
                if s.deassign {
                    return Err(ScenarioError::at(
                        format!("{p}.resample_fd"),
                        "a deassign takes no resample_fd (kvm_irqfd_deassign matches the eventfd and the GSI only)",
                    ));
                }
            }
            Ok(())
        })(),
        Step::IrqfdSignal(s) => (|| {
            check_fd(s.fd, format!("{p}.fd"))?;
            if s.expect.is_some() {
                return Err(ScenarioError::at(
                    format!("{p}.expect"),
                    "irqfd_signal writes the eventfd: it takes no `expect`",
                ));
            }
            Ok(())
        })(),
        Step::EventfdRead(s) => (|| {
            check_fd(s.fd, format!("{p}.fd"))?;
            if !resample_fds.contains(&s.fd) {
                return Err(ScenarioError::at(
                    format!("{p}.fd"),
                    format!("eventfd {} is no resample_fd of an earlier irqfd step: only resample eventfds are read (the kernel consumes an irqfd's own counter on some versions, which the model does not follow)", s.fd),
                ));
            }
            Ok(())
        })(),
        _ => return None,
    };
    Some(r)
}

/// A field's name and whether the entry gives it.
type Field<'a> = (&'a str, bool);

fn validate_routing(s: &GsiRoutingStep, p: &str) -> Result<(), ScenarioError> {
    for (i, e) in s.entries.iter().enumerate() {
        let q = format!("{p}.entries[{i}]");
        check_u32(Some(e.gsi), format!("{q}.gsi"), "the entry's gsi")?;
        let (needs, refuses): (&[Field], &[Field]) = match e.kind {
            RouteKind::Irqchip => (
                &[("pin", e.pin.is_some())],
                &[
                    ("addr", e.addr.is_some()),
                    ("data", e.data.is_some()),
                    ("devid", e.devid.is_some()),
                ],
            ),
            RouteKind::Msi => (
                &[("addr", e.addr.is_some()), ("data", e.data.is_some())],
                &[("irqchip", e.irqchip.is_some()), ("pin", e.pin.is_some())],
            ),
        };
        let kind = match e.kind {
            RouteKind::Irqchip => "an irqchip",
            RouteKind::Msi => "an msi",
        };
        if let Some((f, _)) = needs.iter().find(|(_, has)| !has) {
            return Err(ScenarioError::at(q, format!("{kind} entry needs `{f}`")));
        }
        if let Some((f, _)) = refuses.iter().find(|(_, has)| *has) {
            return Err(ScenarioError::at(
                format!("{q}.{f}"),
                format!("{kind} entry takes no `{f}`"),
            ));
        }
        check_u32(e.irqchip, format!("{q}.irqchip"), "u.irqchip.irqchip")?;
        check_u32(e.pin, format!("{q}.pin"), "u.irqchip.pin")?;
        check_u32(e.data, format!("{q}.data"), "u.msi.data")?;
        check_u32(e.devid, format!("{q}.devid"), "u.msi.devid")?;
    }
    Ok(())
}

/// Run one of these steps; `None` for other steps.
pub(super) fn run(vm: &mut Vgic, step: &Step) -> Option<Result<super::delivery::Ran, AccessError>> {
    let mut failures = Vec::new();
    let (summary, o) = match step {
        Step::GsiRouting(s) => {
            let entries: Vec<RouteEntry> = s.entries.iter().map(RouteEntryStep::entry).collect();
            let o = vm.set_gsi_routing(&entries);
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!(
                    "KVM_SET_GSI_ROUTING ({} entries): {}",
                    entries.len(),
                    o.errno.map_or("ok".to_string(), |e| e.to_string())
                ),
                o,
            )
        }
        Step::Irqfd(s) => {
            let o = vm.irqfd(s.fd, s.gsi.0 as u32, s.resample_fd, s.deassign);
            check_errno(&o, &s.expect_error, &mut failures);
            let what = if s.deassign {
                "deassign".to_string()
            } else {
                match s.resample_fd {
                    Some(r) => format!("assign, resample eventfd {r}"),
                    None => "assign".to_string(),
                }
            };
            (
                format!(
                    "KVM_IRQFD eventfd {} GSI {} ({what}): {}",
                    s.fd,
                    s.gsi.0,
                    o.errno.map_or("ok".to_string(), |e| e.to_string())
                ),
                o,
            )
        }
        Step::IrqfdSignal(s) => {
            let o = vm.irqfd_signal(s.fd);
            (format!("write(eventfd {}, 1)", s.fd), o)
        }
        Step::EventfdRead(s) => {
            let o = vm.eventfd_read(s.fd);
            if let Some(Num(want)) = s.expect {
                if o.value != want {
                    failures.push(format!(
                        "expected the resample eventfd to count {want}, read {}",
                        o.value
                    ));
                }
            }
            (format!("read(eventfd {}) = {}", s.fd, o.value), o)
        }
        _ => return None,
    };
    Some(Ok((summary, o, failures)))
}

#[cfg(test)]
mod tests {
    use crate::scenario::{parse, run};

    const HEAD: &str = r#"{"host": "v3@6.12", "vm": {"vcpus": 1, "nr_irqs": 64}, "steps": "#;

    fn sc(steps: &str) -> Result<crate::scenario::Scenario, crate::scenario::ScenarioError> {
        parse(&format!("{HEAD}{steps}}}"))
    }

    #[test]
    fn irqfd_steps_parse_and_round_trip() {
        let s = sc(
            r#"[{"op": "gsi_routing", "entries": [{"gsi": 0, "type": "irqchip", "pin": 0},
            {"gsi": 1, "type": "msi", "addr": "0x08090040", "data": 2, "devid": 3}]},
            {"op": "init"},
            {"op": "irqfd", "fd": 0, "gsi": 0, "resample_fd": 1},
            {"op": "irqfd_signal", "fd": 0},
            {"op": "eventfd_read", "fd": 1, "expect": 0},
            {"op": "irqfd", "fd": 0, "gsi": 0, "deassign": true}]"#,
        )
        .unwrap();
        let again = parse(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(s, again);
    }

    #[test]
    fn irqfd_step_errors_name_the_place() {
        let e = sc(r#"[{"op": "gsi_routing", "entries": [{"gsi": 0, "type": "irqchip"}]}]"#)
            .unwrap_err();
        assert_eq!(e.path, "steps[0].entries[0]");
        assert!(e.message.contains("needs `pin`"), "{e}");
        let e = sc(r#"[{"op": "gsi_routing", "entries": [{"gsi": 0, "type": "msi", "addr": 0, "data": 0, "pin": 3}]}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].entries[0].pin");
        let e = sc(r#"[{"op": "irqfd", "fd": 64, "gsi": 0}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].fd");
        let e = sc(r#"[{"op": "eventfd_read", "fd": 2}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].fd");
        assert!(e.message.contains("resample_fd"), "{e}");
        let e = sc(r#"[{"op": "irqfd", "fd": 1, "gsi": 0, "resample_fd": 2, "deassign": true}]"#)
            .unwrap_err();
        assert_eq!(e.path, "steps[0].resample_fd");
    }

    #[test]
    fn a_resampled_level_spi_is_lowered_at_its_eoi() {
        let s = sc(r#"[{"op": "init"}, {"op": "run"},
            {"op": "sysreg_write", "vcpu": 0, "reg": "ICC_PMR_EL1", "value": "0xf0"},
            {"op": "sysreg_write", "vcpu": 0, "reg": "ICC_IGRPEN1_EL1", "value": 1},
            {"op": "guest_write", "reg": "GICD_CTLR", "value": "0x12"},
            {"op": "guest_write", "reg": "GICD_ISENABLER1", "value": "0x20"},
            {"op": "guest_write", "reg": "GICD_ICFGR2", "value": "0"},
            {"op": "irqfd", "fd": 0, "gsi": 5, "resample_fd": 1},
            {"op": "irqfd_signal", "fd": 0},
            {"op": "ack", "vcpu": 0, "expect": 37},
            {"op": "eventfd_read", "fd": 1, "expect": 0},
            {"op": "eoi", "vcpu": 0, "intid": 37},
            {"op": "eventfd_read", "fd": 1, "expect": 1},
            {"op": "ack", "vcpu": 0, "expect": 1023}]"#)
        .unwrap();
        let (rep, _) = run(&s).unwrap();
        assert!(
            rep.passed(),
            "{:?}",
            rep.failures().next().map(|s| (&s.summary, &s.failures))
        );
    }
}
