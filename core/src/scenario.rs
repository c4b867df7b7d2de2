//! Scenario files: the public, stable JSON contract that drives the model
//! (documented in README.md, "Scenario files"). A scenario names a host, a VM
//! and a list of steps; running it yields one [`StepReport`] per step.
//!
//! Errors name the place: the JSON path (`steps[3].reg`), with line and column
//! where serde_json knows them, and the reason.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, Frame};
use crate::errno::Errno;
use crate::host::Host;
use crate::rules;
use crate::vgic::{AccessError, Outcome, Vgic, VmConfig};

mod delivery;
pub mod irqfd;
pub mod its;
pub mod migrate;
pub mod setup;
pub mod vlpi;
pub use delivery::{
    AckStep, IntidStep, IrqLineStep, ScheduleStep, SgiStep, SgiTargets, SysregStep,
};
pub use irqfd::{EventfdStep, GsiRoutingStep, IrqfdStep, RouteEntryStep, RouteKind};
pub use its::{CtrlAttr, ItsCmd, ItsCommandStep, ItsCtrlStep, MemStep, MsiStep};

/// Scenario files larger than this are refused before parsing.
pub const MAX_SCENARIO_BYTES: usize = 4 * 1024 * 1024;
/// At most this many steps.
pub const MAX_STEPS: usize = 100_000;

/// A number written as a JSON number or a string in hex (`"0x4b00343b"`),
/// binary (`"0b101"`) or decimal; up to 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Num(pub u64);

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 > 0xFFFF {
            s.collect_str(&format_args!("{:#x}", self.0))
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a string like \"0x1f\", \"0b101\" or \"31\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                u64::try_from(v)
                    .map(Num)
                    .map_err(|_| E::custom(format!("{v} is negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Err(E::custom(format!(
                    "{v} is not an integer (write large values as hex strings)"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                crate::number::parse(v).map(Num).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An errno expectation: `"EINVAL"` or `"-EINVAL"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrnoName(pub Errno);

impl Serialize for ErrnoName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrnoName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(ErrnoName).map_err(de::Error::custom)
    }
}

/// A register access step: the target (`reg`, or `frame` + `offset`, and
/// `vcpu`), the width, the value written and the expectations. Which fields an
/// op takes is checked by [`validate`] (e.g. `value` only for writes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<Frame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    /// Compare only these bits of the value read with `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    /// A rule id the access must apply (see `gicx rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A lifecycle step (`init`, `run`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A `KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO` step: the line levels of 32 INTIDs from `intid`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelInfoStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    pub intid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    /// Compare only these bits of the value read with `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS` step: `reg` is a name (`ICC_PMR_EL1`,
/// `ICC_AP1R1_EL1`, ...) or a `KVM_DEV_ARM_VGIC_SYSREG` id (`0xc230`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSysregStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    pub reg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    /// Compare only these bits of the value read with `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One step. `op` selects the kind; unknown fields are errors; `note` is free text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// Guest MMIO read (needs a prior `run`).
    GuestRead(RegStep),
    /// Guest MMIO write.
    GuestWrite(RegStep),
    /// `KVM_GET_DEVICE_ATTR` (32-bit).
    UserRead(RegStep),
    /// `KVM_SET_DEVICE_ATTR` (32-bit).
    UserWrite(RegStep),
    /// `KVM_HAS_DEVICE_ATTR`.
    UserHas(RegStep),
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init(LifecycleStep),
    /// The first `KVM_RUN` of the vCPUs.
    Run(LifecycleStep),
    /// `KVM_GET_DEVICE_ATTR` on LEVEL_INFO.
    LevelInfoRead(LevelInfoStep),
    /// `KVM_SET_DEVICE_ATTR` on LEVEL_INFO.
    LevelInfoWrite(LevelInfoStep),
    /// `KVM_GET_DEVICE_ATTR` on CPU_SYSREGS.
    CpuSysregsRead(CpuSysregStep),
    /// `KVM_SET_DEVICE_ATTR` on CPU_SYSREGS.
    CpuSysregsWrite(CpuSysregStep),
    /// Save with a VMM's recipe, restore on another host, run (`migrate.rs`); later
    /// steps run on the destination.
    Migrate(crate::migrate::MigrateStep),
    /// A guest's ICC_SGI1R_EL1 write: SGI `intid` from vCPU `from` to `targets` (vgic/sgi.rs).
    Sgi(SgiStep),
    /// `KVM_IRQ_LINE` for an SPI (or a PPI with `vcpu`).
    IrqLine(IrqLineStep),
    /// A guest's ICC_IAR1_EL1 read.
    Ack(AckStep),
    /// A guest's ICC_EOIR1_EL1 write.
    Eoi(IntidStep),
    /// A guest's ICC_DIR_EL1 write.
    Deactivate(IntidStep),
    /// A vCPU (and its vPE) scheduled in or out.
    Schedule(ScheduleStep),
    /// A guest read of a CPU-interface system register.
    SysregRead(SysregStep),
    /// A guest write of a CPU-interface system register.
    SysregWrite(SysregStep),
    /// `KVM_CREATE_VM` (steps[0] only): the VM is built by the steps that follow (setup.rs).
    CreateVm(setup::CreateVmStep),
    /// `KVM_CREATE_DEVICE`.
    CreateDevice(setup::CreateDeviceStep),
    /// `KVM_CREATE_VCPU`.
    CreateVcpu(setup::CreateVcpuStep),
    /// `KVM_SET_DEVICE_ATTR` on `KVM_DEV_ARM_VGIC_GRP_ADDR`.
    SetAddr(setup::AddrStep),
    /// `KVM_GET_DEVICE_ATTR` on `KVM_DEV_ARM_VGIC_GRP_ADDR`.
    GetAddr(setup::AddrStep),
    /// `KVM_SET_DEVICE_ATTR` on `KVM_DEV_ARM_VGIC_GRP_NR_IRQS`.
    SetNrIrqs(setup::NrIrqsStep),
    /// The VMM writes guest RAM (its.rs).
    MemWrite(MemStep),
    /// The VMM reads guest RAM.
    MemRead(MemStep),
    /// A guest queues an ITS command (memory write + GITS_CWRITER).
    ItsCommand(ItsCommandStep),
    /// `KVM_SIGNAL_MSI`.
    Msi(MsiStep),
    /// `KVM_DEV_ARM_VGIC_GRP_CTRL` on the ITS device.
    ItsCtrl(ItsCtrlStep),
    /// `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES` on the vGIC device.
    SavePendingTables(LifecycleStep),
    /// VFIO forwards a passthrough device's MSI: `kvm_vgic_v4_set_forwarding` (vlpi.rs).
    ForwardMsi(vlpi::ForwardMsiStep),
    /// `kvm_vgic_v4_unset_forwarding`.
    UnforwardMsi(vlpi::UnforwardMsiStep),
    /// The passthrough device writes its MSI.
    DeviceMsi(vlpi::DeviceMsiStep),
    /// `KVM_SET_GSI_ROUTING` (irqfd.rs).
    GsiRouting(GsiRoutingStep),
    /// `KVM_IRQFD`: assign (optionally resampling) or deassign.
    Irqfd(IrqfdStep),
    /// The VMM writes 1 to an eventfd.
    IrqfdSignal(EventfdStep),
    /// The VMM reads a resample eventfd.
    EventfdRead(EventfdStep),
}

impl Step {
    pub fn op(&self) -> &'static str {
        match self {
            Step::GuestRead(_) => "guest_read",
            Step::GuestWrite(_) => "guest_write",
            Step::UserRead(_) => "user_read",
            Step::UserWrite(_) => "user_write",
            Step::UserHas(_) => "user_has",
            Step::Init(_) => "init",
            Step::Run(_) => "run",
            Step::LevelInfoRead(_) => "level_info_read",
            Step::LevelInfoWrite(_) => "level_info_write",
            Step::CpuSysregsRead(_) => "cpu_sysregs_read",
            Step::CpuSysregsWrite(_) => "cpu_sysregs_write",
            Step::Migrate(_) => "migrate",
            Step::Sgi(_) => "sgi",
            Step::IrqLine(_) => "irq_line",
            Step::Ack(_) => "ack",
            Step::Eoi(_) => "eoi",
            Step::Deactivate(_) => "deactivate",
            Step::Schedule(_) => "schedule",
            Step::SysregRead(_) => "sysreg_read",
            Step::SysregWrite(_) => "sysreg_write",
            Step::CreateVm(_) => "create_vm",
            Step::CreateDevice(_) => "create_device",
            Step::CreateVcpu(_) => "create_vcpu",
            Step::SetAddr(_) => "set_addr",
            Step::GetAddr(_) => "get_addr",
            Step::SetNrIrqs(_) => "set_nr_irqs",
            Step::MemWrite(_) => "mem_write",
            Step::MemRead(_) => "mem_read",
            Step::ItsCommand(_) => "its_command",
            Step::Msi(_) => "msi",
            Step::ItsCtrl(_) => "its_ctrl",
            Step::SavePendingTables(_) => "save_pending_tables",
            Step::ForwardMsi(_) => "forward_msi",
            Step::UnforwardMsi(_) => "unforward_msi",
            Step::DeviceMsi(_) => "device_msi",
            Step::GsiRouting(_) => "gsi_routing",
            Step::Irqfd(_) => "irqfd",
            Step::IrqfdSignal(_) => "irqfd_signal",
            Step::EventfdRead(_) => "eventfd_read",
        }
    }
    fn expect_rule(&self) -> Option<&str> {
        match self {
            Step::GuestRead(s)
            | Step::GuestWrite(s)
            | Step::UserRead(s)
            | Step::UserWrite(s)
            | Step::UserHas(s) => s.expect_rule.as_deref(),
            Step::Init(s) | Step::Run(s) => s.expect_rule.as_deref(),
            Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => s.expect_rule.as_deref(),
            Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => s.expect_rule.as_deref(),
            Step::Migrate(s) => s.expect_rule.as_deref(),
            Step::Sgi(s) => s.expect_rule.as_deref(),
            Step::IrqLine(s) => s.expect_rule.as_deref(),
            Step::Ack(s) => s.expect_rule.as_deref(),
            Step::Eoi(s) | Step::Deactivate(s) => s.expect_rule.as_deref(),
            Step::Schedule(s) => s.expect_rule.as_deref(),
            Step::SysregRead(s) | Step::SysregWrite(s) => s.expect_rule.as_deref(),
            Step::CreateVm(s) => s.expect_rule.as_deref(),
            Step::CreateDevice(s) => s.expect_rule.as_deref(),
            Step::CreateVcpu(s) => s.expect_rule.as_deref(),
            Step::SetAddr(s) | Step::GetAddr(s) => s.expect_rule.as_deref(),
            Step::SetNrIrqs(s) => s.expect_rule.as_deref(),
            Step::MemWrite(_) | Step::MemRead(_) => None,
            Step::ItsCommand(s) => s.expect_rule.as_deref(),
            Step::Msi(s) => s.expect_rule.as_deref(),
            Step::ItsCtrl(s) => s.expect_rule.as_deref(),
            Step::SavePendingTables(s) => s.expect_rule.as_deref(),
            Step::ForwardMsi(s) => s.expect_rule.as_deref(),
            Step::UnforwardMsi(s) => s.expect_rule.as_deref(),
            Step::DeviceMsi(s) => s.expect_rule.as_deref(),
            Step::GsiRouting(s) => s.expect_rule.as_deref(),
            Step::Irqfd(s) => s.expect_rule.as_deref(),
            Step::IrqfdSignal(s) | Step::EventfdRead(s) => s.expect_rule.as_deref(),
        }
    }
    /// Whether the step is a guest instruction (carried out by a KVM_RUN).
    pub fn executes_in_guest(&self) -> bool {
        matches!(
            self,
            Step::GuestRead(_)
                | Step::GuestWrite(_)
                | Step::SysregRead(_)
                | Step::SysregWrite(_)
                | Step::Sgi(_)
                | Step::Ack(_)
                | Step::Eoi(_)
                | Step::Deactivate(_)
                | Step::ItsCommand(_)
        )
    }

    /// The errno the step expects, for the steps that can expect one.
    pub fn expect_error(&self) -> Option<ErrnoName> {
        match self {
            Step::GuestRead(s)
            | Step::GuestWrite(s)
            | Step::UserRead(s)
            | Step::UserWrite(s)
            | Step::UserHas(s) => s.expect_error,
            Step::Init(s) | Step::Run(s) => s.expect_error,
            Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => s.expect_error,
            Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => s.expect_error,
            Step::IrqLine(s) => s.expect_error,
            Step::CreateDevice(s) => s.expect_error,
            Step::CreateVcpu(s) => s.expect_error,
            Step::SetAddr(s) | Step::GetAddr(s) => s.expect_error,
            Step::SetNrIrqs(s) => s.expect_error,
            Step::Msi(s) => s.expect_error,
            Step::ItsCtrl(s) => s.expect_error,
            Step::SavePendingTables(s) => s.expect_error,
            Step::ForwardMsi(_) | Step::UnforwardMsi(_) => None,
            Step::DeviceMsi(s) => s.expect_error,
            Step::GsiRouting(s) => s.expect_error,
            Step::Irqfd(s) => s.expect_error,
            _ => None,
        }
    }
    pub fn note(&self) -> Option<&str> {
        match self {
            Step::GuestRead(s)
            | Step::GuestWrite(s)
            | Step::UserRead(s)
            | Step::UserWrite(s)
            | Step::UserHas(s) => s.note.as_deref(),
            Step::Init(s) | Step::Run(s) => s.note.as_deref(),
            Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => s.note.as_deref(),
            Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => s.note.as_deref(),
            Step::Migrate(s) => s.note.as_deref(),
            Step::Sgi(s) => s.note.as_deref(),
            Step::IrqLine(s) => s.note.as_deref(),
            Step::Ack(s) => s.note.as_deref(),
            Step::Eoi(s) | Step::Deactivate(s) => s.note.as_deref(),
            Step::Schedule(s) => s.note.as_deref(),
            Step::SysregRead(s) | Step::SysregWrite(s) => s.note.as_deref(),
            Step::CreateVm(s) => s.note.as_deref(),
            Step::CreateDevice(s) => s.note.as_deref(),
            Step::CreateVcpu(s) => s.note.as_deref(),
            Step::SetAddr(s) | Step::GetAddr(s) => s.note.as_deref(),
            Step::SetNrIrqs(s) => s.note.as_deref(),
            Step::MemWrite(s) | Step::MemRead(s) => s.note.as_deref(),
            Step::ItsCommand(s) => s.note.as_deref(),
            Step::Msi(s) => s.note.as_deref(),
            Step::ItsCtrl(s) => s.note.as_deref(),
            Step::SavePendingTables(s) => s.note.as_deref(),
            Step::ForwardMsi(s) => s.note.as_deref(),
            Step::UnforwardMsi(s) => s.note.as_deref(),
            Step::DeviceMsi(s) => s.note.as_deref(),
            Step::GsiRouting(s) => s.note.as_deref(),
            Step::Irqfd(s) => s.note.as_deref(),
            Step::IrqfdSignal(s) | Step::EventfdRead(s) => s.note.as_deref(),
        }
    }
}

/// A scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub host: Host,
    #[serde(default)]
    pub vm: VmConfig,
    pub steps: Vec<Step>,
}

/// Where and why a scenario is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}{}: {message}", path_or_root(path), line.map(|l| format!(" (line {l}, column {})", column.unwrap_or(0))).unwrap_or_default())]
pub struct ScenarioError {
    /// JSON path, e.g. `steps[3].reg`; empty for the whole document.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn path_or_root(p: &str) -> &str {
    if p.is_empty() || p == "." {
        "(document)"
    } else {
        p
    }
}

impl ScenarioError {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

/// A step with its register resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub frame: Frame,
    pub offset: u32,
    pub vcpu: u32,
}

/// Resolve a step's target: `reg` (its frame implied) or `frame` + `offset`.
pub fn resolve(t: &RegStep, path: &str) -> Result<Resolved, ScenarioError> {
    let vcpu = t.vcpu.unwrap_or(0);
    match (&t.reg, t.offset) {
        (Some(_), Some(_)) => Err(ScenarioError::at(
            path,
            "give either `reg` or `offset`, not both",
        )),
        (None, None) => Err(ScenarioError::at(
            path,
            "missing `reg` (e.g. \"GICD_CTLR\") or `offset`",
        )),
        (Some(name), None) if its::its_register(name).is_some() => {
            let offset = its::its_register(name)
                .unwrap_or(Ok(0))
                .map_err(|e| ScenarioError::at(format!("{path}.reg"), e))?;
            if let Some(f) = t.frame.filter(|f| *f != Frame::Its) {
                return Err(ScenarioError::at(
                    format!("{path}.frame"),
                    format!("{name} is in the its frame, not {}", f.as_str()),
                ));
            }
            Ok(Resolved {
                frame: Frame::Its,
                offset,
                vcpu,
            })
        }
        (Some(name), None) => {
            let r = catalogue::lookup(name)
                .map_err(|e| ScenarioError::at(format!("{path}.reg"), e.to_string()))?;
            if let Some(f) = t.frame {
                if f != r.desc.frame {
                    return Err(ScenarioError::at(
                        format!("{path}.frame"),
                        format!(
                            "{} is in the {} frame, not {}",
                            r.name(),
                            r.desc.frame.as_str(),
                            f.as_str()
                        ),
                    ));
                }
            }
            Ok(Resolved {
                frame: r.desc.frame,
                offset: r.offset(),
                vcpu,
            })
        }
        (None, Some(Num(off))) => {
            let frame = t.frame.unwrap_or(Frame::Dist);
            if off >= frame.size() as u64 {
                return Err(ScenarioError::at(
                    format!("{path}.offset"),
                    format!(
                        "{off:#x} is outside the {} frame (size {:#x})",
                        frame.as_str(),
                        frame.size()
                    ),
                ));
            }
            Ok(Resolved {
                frame,
                offset: off as u32,
                vcpu,
            })
        }
    }
}

/// Parse a scenario from JSON text, naming the place of any error.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    if text.len() > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::at(
            "",
            format!(
                "scenario is {} bytes; the limit is {MAX_SCENARIO_BYTES}",
                text.len()
            ),
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let sc: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = (inner.line(), inner.column());
        let message = strip_position(&inner.to_string());
        ScenarioError {
            path: if path == "." { String::new() } else { path },
            line: Some(line),
            column: Some(column),
            message,
        }
    })?;
    validate(&sc)?;
    Ok(sc)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Check what serde cannot: register names, frames, widths, rule ids, vCPU indices.
pub fn validate(sc: &Scenario) -> Result<(), ScenarioError> {
    if sc.steps.len() > MAX_STEPS {
        return Err(ScenarioError::at(
            "steps",
            format!("{} steps; the limit is {MAX_STEPS}", sc.steps.len()),
        ));
    }
    let built = matches!(sc.steps.first(), Some(Step::CreateVm(_)));
    let mut vgic_before = !built;
    let mut its_before = false;
    let mut resample_fds: Vec<u32> = Vec::new();
    if built {
        validate_built(sc)?;
    }
    for (i, step) in sc.steps.iter().enumerate() {
        let p = format!("steps[{i}]");
        if built && !vgic_before && needs_vgic(step) {
            return Err(ScenarioError::at(
                p,
                format!(
                    "{} needs the vGIC device: add {{\"op\": \"create_device\", \"device\": \"vgic_v3\"}} before it",
                    step.op()
                ),
            ));
        }
        if let Some(r) = setup::validate(step, i, &sc.vm, built, vgic_before, its_before, &p) {
            r?;
            if let Step::CreateDevice(d) = step {
                if d.device == setup::DeviceKind::VgicV3 && d.expect_error.is_none() {
                    vgic_before = true;
                }
                its_before |= d.device == setup::DeviceKind::Its && d.expect_error.is_none();
            }
            if let Some(id) = step.expect_rule() {
                if rules::by_id(id).is_none() {
                    return Err(ScenarioError::at(
                        format!("{p}.expect_rule"),
                        format!("unknown rule id {id:?} (see `gicx rules`)"),
                    ));
                }
            }
            continue;
        }
        if let Some(id) = step.expect_rule() {
            if rules::by_id(id).is_none() {
                return Err(ScenarioError::at(
                    format!("{p}.expect_rule"),
                    format!("unknown rule id {id:?} (see `gicx rules`)"),
                ));
            }
        }
        if let Step::Migrate(m) = step {
            crate::migrate::validate_step(m, &sc.vm, &p)?;
        }
        if let Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) = step {
            if crate::vgic::cpu_sysregs::parse_sysreg(&s.reg).is_none() {
                return Err(ScenarioError::at(
                    format!("{p}.reg"),
                    format!(
                        "unknown CPU-interface register {:?}: an ICC_*_EL1 name or a 16-bit KVM_DEV_ARM_VGIC_SYSREG id",
                        s.reg
                    ),
                ));
            }
            let write = matches!(step, Step::CpuSysregsWrite(_));
            check_mask(s.mask, s.expect, write, &p)?;
            if write != s.value.is_some() {
                return Err(ScenarioError::at(
                    p.clone(),
                    format!(
                        "{} {} a `value`",
                        step.op(),
                        if write { "needs" } else { "takes no" }
                    ),
                ));
            }
            continue;
        }
        if let Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) = step {
            check_mask(s.mask, s.expect, s.value.is_some(), &p)?;
        }
        if let Some(r) = delivery::validate(step, &sc.vm, &p) {
            r?;
            continue;
        }
        if let Some(r) = irqfd::validate(step, &resample_fds, &p) {
            r?;
            if let Step::Irqfd(s) = step {
                resample_fds.extend(s.resample_fd);
            }
            continue;
        }
        let its_now = if built { its_before } else { sc.vm.its };
        if let Some(r) = its::validate(step, &sc.vm, its_now, &p) {
            r?;
            continue;
        }
        if let Some(r) = vlpi::validate(step, &p) {
            r?;
            continue;
        }
        let (Step::GuestRead(s)
        | Step::GuestWrite(s)
        | Step::UserRead(s)
        | Step::UserWrite(s)
        | Step::UserHas(s)) = step
        else {
            continue;
        };
        let r = resolve(s, &p)?;
        let op = step.op();
        if r.frame == Frame::Its && !its_now {
            return Err(ScenarioError::at(
                p.clone(),
                format!("{op} of an ITS register needs an ITS device: set vm.its to true (or, in a VM built by steps, add {{\"op\": \"create_device\", \"device\": \"its\"}} before it)"),
            ));
        }
        let (guest, write) = match step {
            Step::GuestRead(_) => (true, false),
            Step::GuestWrite(_) => (true, true),
            Step::UserWrite(_) => (false, true),
            _ => (false, false),
        };
        let unused = |field: &str| {
            ScenarioError::at(
                format!("{p}.{field}"),
                format!("`{field}` is not used by {op}"),
            )
        };
        if write && s.value.is_none() {
            return Err(ScenarioError::at(
                p.clone(),
                format!("{op} needs a `value`"),
            ));
        }
        if !write && s.value.is_some() {
            return Err(unused("value"));
        }
        if s.expect.is_some() && (write || matches!(step, Step::UserHas(_))) {
            return Err(unused("expect"));
        }
        check_mask(s.mask, s.expect, write, &p)?;
        if guest && s.expect_error.is_some() {
            return Err(ScenarioError::at(format!("{p}.expect_error"), "guest MMIO accesses never fail (KVM reads 0 or ignores the write): use `expect` or `expect_rule`"));
        }
        // KVM_DEV_ARM_VGIC_GRP_ITS_REGS values are 64-bit (vgic_its_attr_regs_access).
        let its_user = r.frame == Frame::Its && !guest;
        let w = s.width.unwrap_or(if its_user { 64 } else { 32 });
        if its_user {
            if w != 64 {
                return Err(ScenarioError::at(
                    format!("{p}.width"),
                    "KVM_DEV_ARM_VGIC_GRP_ITS_REGS attributes are 64-bit: give width 64 or none",
                ));
            }
        } else if guest {
            if ![8, 16, 32, 64].contains(&w) {
                return Err(ScenarioError::at(
                    format!("{p}.width"),
                    format!("{w} is not an access width: 8, 16, 32 or 64"),
                ));
            }
            if r.vcpu >= sc.vm.vcpus {
                return Err(ScenarioError::at(
                    format!("{p}.vcpu"),
                    format!(
                        "vCPU {} does not exist (vm.vcpus = {})",
                        r.vcpu, sc.vm.vcpus
                    ),
                ));
            }
        } else if w != 32 {
            return Err(ScenarioError::at(
                format!("{p}.width"),
                "userspace device attributes are 32-bit",
            ));
        }
        if let Some(Num(v)) = s.value {
            if w < 64 && v >> w != 0 {
                return Err(ScenarioError::at(
                    format!("{p}.value"),
                    format!("{v:#x} does not fit in {w} bits"),
                ));
            }
        }
    }
    Ok(())
}

/// `mask` narrows a read's `expect`: only with `expect`, never on a write.
fn check_mask(
    mask: Option<Num>,
    expect: Option<Num>,
    write: bool,
    p: &str,
) -> Result<(), ScenarioError> {
    if mask.is_some() && (write || expect.is_none()) {
        return Err(ScenarioError::at(
            format!("{p}.mask"),
            "`mask` says which bits of a read's `expect` to compare: give `expect` too (and no `value`)",
        ));
    }
    Ok(())
}

/// Steps that act on the vGIC device (or need it to exist to mean anything).
fn needs_vgic(step: &Step) -> bool {
    !matches!(
        step,
        Step::CreateVm(_)
            | Step::CreateDevice(_)
            | Step::CreateVcpu(_)
            | Step::Schedule(_)
            | Step::MemWrite(_)
            | Step::MemRead(_)
            | Step::ItsCtrl(_)
            | Step::Msi(_)
            | Step::GsiRouting(_)
            | Step::Irqfd(_)
            | Step::IrqfdSignal(_)
            | Step::EventfdRead(_)
    ) && !matches!(step, Step::UserRead(s) | Step::UserWrite(s) | Step::UserHas(s) if resolve(s, "").is_ok_and(|r| r.frame == Frame::Its))
}

/// What a scenario that builds its VM by steps must say about that VM.
fn validate_built(sc: &Scenario) -> Result<(), ScenarioError> {
    let sets_nr_irqs = sc
        .steps
        .iter()
        .any(|s| matches!(s, Step::SetNrIrqs(n) if n.expect_error.is_none()));
    if !sets_nr_irqs && sc.vm.nr_irqs != 256 {
        return Err(ScenarioError::at(
            "vm.nr_irqs",
            format!(
                "{}: without a set_nr_irqs step vgic_init gives the VM 256 interrupts (224 SPIs): write 256, or add the set_nr_irqs step",
                sc.vm.nr_irqs
            ),
        ));
    }
    let creates_its = sc
        .steps
        .iter()
        .any(|s| matches!(s, Step::CreateDevice(d) if d.device == setup::DeviceKind::Its));
    if sc.vm.its && !creates_its {
        return Err(ScenarioError::at(
            "vm.its",
            "a VM built by steps has an ITS only if a step creates it: add {\"op\": \"create_device\", \"device\": \"its\"} or set vm.its to false",
        ));
    }
    if let Some(i) = sc.steps.iter().position(|s| matches!(s, Step::Migrate(_))) {
        return Err(ScenarioError::at(
            format!("steps[{i}]"),
            "a migration needs the VM a VMM builds: drop create_vm",
        ));
    }
    Ok(())
}

/// What happened at one step. Serialised with the step's hops as `trace`
/// (kept in the outcome, see [`StepReport::trace`]).
#[derive(Clone, Debug)]
pub struct StepReport {
    pub index: usize,
    pub op: &'static str,
    /// One line: what was done and what came back.
    pub summary: String,
    pub outcome: Option<Outcome>,
    /// Expectation failures, if any.
    pub failures: Vec<String>,
    pub note: Option<String>,
    /// The account of a `migrate` step.
    pub migration: Option<Box<crate::migrate::Migration>>,
}

impl StepReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
    /// The ordered hops of this step (guest, KVM, ITS, redistributor, CPU
    /// interface); empty for steps that move no interrupt.
    pub fn trace(&self) -> &[crate::trace::Hop] {
        self.outcome
            .as_ref()
            .map(|o| o.trace.as_slice())
            .unwrap_or(&[])
    }
}

impl Serialize for StepReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // Exhaustive on purpose: a new field must be added here too.
        let StepReport {
            index,
            op,
            summary,
            outcome,
            failures,
            note,
            migration,
        } = self;
        let mut st = s.serialize_struct("StepReport", 8)?;
        st.serialize_field("index", index)?;
        st.serialize_field("op", op)?;
        st.serialize_field("summary", summary)?;
        if let Some(o) = outcome {
            st.serialize_field("outcome", o)?;
        }
        let trace = self.trace();
        if !trace.is_empty() {
            st.serialize_field("trace", trace)?;
        }
        if !failures.is_empty() {
            st.serialize_field("failures", failures)?;
        }
        if let Some(n) = note {
            st.serialize_field("note", n)?;
        }
        if let Some(m) = migration {
            st.serialize_field("migration", m)?;
        }
        st.end()
    }
}

/// The result of running a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: Option<String>,
    pub host: String,
    pub steps: Vec<StepReport>,
}

impl ScenarioReport {
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.passed())
    }
    pub fn failures(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|s| !s.passed())
    }
}

/// A step that could not be carried out (an impossible access).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("steps[{index}] ({op}): {error}")]
pub struct RunError {
    pub index: usize,
    pub op: &'static str,
    pub error: AccessError,
}

/// Run a scenario from a fresh VM.
pub fn run(sc: &Scenario) -> Result<(ScenarioReport, Vgic), RunError> {
    let mut vm = Vgic::new(sc.host, sc.vm);
    let mut steps = Vec::with_capacity(sc.steps.len());
    for (index, step) in sc.steps.iter().enumerate() {
        let origin = Origin {
            host: sc.host,
            vm: sc.vm,
            steps: &sc.steps[..index],
        };
        let rep = run_step_from(&mut vm, Some(origin), index, step).map_err(|error| RunError {
            index,
            op: step.op(),
            error,
        })?;
        steps.push(rep);
    }
    Ok((
        ScenarioReport {
            name: sc.name.clone(),
            host: sc.host.to_string(),
            steps,
        },
        vm,
    ))
}

fn describe_target(r: &Resolved) -> String {
    let name = catalogue::instance_at(r.frame, r.offset)
        .map(|x| x.name())
        .unwrap_or_else(|| "(unmapped)".into());
    match r.frame {
        Frame::Dist => format!("{name} @{:#06x}", r.offset),
        Frame::Redist => format!("{name} @{:#07x} (vCPU {})", r.offset, r.vcpu),
        Frame::Its => format!("{} @{:#07x}", crate::vits::regs::name(r.offset), r.offset),
    }
}

fn result_text(o: &Outcome) -> String {
    match o.errno {
        Some(e) => format!("{e}"),
        None => match o.op {
            crate::vgic::Op::Read => format!("{:#x}", o.value),
            _ => "ok".into(),
        },
    }
}

/// The vCPU whose `KVM_RUN` executes a guest step: the step's own vCPU, and
/// vCPU 0 for a redistributor access (gicx-kvm's convention).
fn guest_vcpu(step: &Step) -> u32 {
    match step {
        Step::GuestRead(s) | Step::GuestWrite(s) => match resolve(s, "") {
            Ok(r) if r.frame == Frame::Dist => r.vcpu,
            _ => 0,
        },
        Step::SysregRead(s) | Step::SysregWrite(s) => s.vcpu,
        Step::Sgi(s) => s.from,
        Step::Ack(s) => s.vcpu,
        Step::Eoi(s) | Step::Deactivate(s) => s.vcpu,
        _ => 0,
    }
}

/// How a VM came to be: the host and configuration it was created with and the steps
/// run on it before this one. A `migrate` step replays them to create its source again
/// with a suggested fix applied (nASSGIcap cleared, another source kernel), which a
/// live VM alone cannot tell.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub host: Host,
    pub vm: VmConfig,
    pub steps: &'a [Step],
}

/// Run one step against `vm`.
pub fn run_step(vm: &mut Vgic, index: usize, step: &Step) -> Result<StepReport, AccessError> {
    run_step_from(vm, None, index, step)
}

/// [`run_step`] knowing how `vm` came to be (see [`Origin`]).
pub fn run_step_from(
    vm: &mut Vgic,
    origin: Option<Origin>,
    index: usize,
    step: &Step,
) -> Result<StepReport, AccessError> {
    let report = run_step_inner(vm, origin, index, step)?;
    // The time model's settling (Vgic::settle_first_runs): it starts once a
    // KVM_RUN succeeded, i.e. a `run` step or a guest step that ran.
    let ran = (matches!(step, Step::Run(_)) || step.executes_in_guest())
        && report.outcome.as_ref().is_some_and(|o| {
            o.errno.is_none() && !o.rules.contains(&&crate::rules::GUEST_UNMAPPED_DIST_EXITS)
        });
    vm.after_step(ran);
    Ok(report)
}

fn run_step_inner(
    vm: &mut Vgic,
    origin: Option<Origin>,
    index: usize,
    step: &Step,
) -> Result<StepReport, AccessError> {
    // Hops left over from before this step (e.g. a migration's destination) are not its own.
    let _ = vm.take_trace();
    let mut failures = Vec::new();
    // A guest instruction needs a KVM_RUN, and the first KVM_RUN maps the
    // vGIC (kvm_arch_vcpu_run_pid_change → kvm_vgic_map_resources) whether or
    // not the scenario wrote a `run` step: do what the kernel does. If that
    // run fails (-EBUSY before init), the step's KVM_RUN failed with it.
    // Checked on real KVM: a guest read right after `init` returns the value.
    if step.executes_in_guest() {
        setup::check_vcpu_exists(vm, guest_vcpu(step))?;
    }
    if step.executes_in_guest() && !vm.is_dead() && !vm.vcpu_in_guest(guest_vcpu(step)) {
        let first = setup::first_run(vm).unwrap_or_else(|| vm.run_on(guest_vcpu(step)));
        if first.errno.is_some() {
            return Ok(StepReport {
                index,
                op: step.op(),
                summary: format!("{}: its KVM_RUN failed: {}", step.op(), result_text(&first)),
                outcome: Some(first),
                failures,
                note: step.note().map(str::to_string),
                migration: None,
            });
        }
    }
    if vm.is_dead()
        && !matches!(
            step,
            Step::Migrate(_) | Step::Schedule(_) | Step::MemWrite(_) | Step::MemRead(_)
        )
    {
        // kvm_vm_dead: every ioctl the step stands for (device attribute,
        // KVM_RUN for a guest access, KVM_IRQ_LINE) fails before reaching the vGIC.
        let o = vm.dead_outcome();
        check_errno(&o, &step.expect_error(), &mut failures);
        return Ok(StepReport {
            index,
            op: step.op(),
            summary: format!("{}: -EIO (the VM is dead)", step.op()),
            outcome: Some(o),
            failures,
            note: step.note().map(str::to_string),
            migration: None,
        });
    }
    if let Some(o) = setup::missing_vcpu(vm, step) {
        check_errno(&o, &step.expect_error(), &mut failures);
        return Ok(StepReport {
            index,
            op: step.op(),
            summary: format!(
                "{}: -EINVAL (no vCPU with that MPIDR was created)",
                step.op()
            ),
            outcome: Some(o),
            failures,
            note: step.note().map(str::to_string),
            migration: None,
        });
    }
    let (summary, outcome) = match step {
        Step::CreateVm(_)
        | Step::CreateDevice(_)
        | Step::CreateVcpu(_)
        | Step::SetAddr(_)
        | Step::GetAddr(_)
        | Step::SetNrIrqs(_) => {
            let (summary, o, f) = setup::run(vm, step).expect("a setup step")?;
            failures.extend(f);
            (summary, o)
        }
        Step::GuestRead(s)
        | Step::GuestWrite(s)
        | Step::UserRead(s)
        | Step::UserWrite(s)
        | Step::UserHas(s) => {
            let r = resolve(s, "").map_err(|_| AccessError::BadWidth(0))?;
            let its = r.frame == Frame::Its;
            let guest = matches!(step, Step::GuestRead(_) | Step::GuestWrite(_));
            let w = s.width.unwrap_or(if its && !guest { 64 } else { 32 });
            let value = s.value.map(|n| n.0).unwrap_or(0);
            let t = describe_target(&r);
            let o = match step {
                Step::GuestRead(_) if its => vm.its_guest_read(r.offset, w)?,
                Step::GuestWrite(_) if its => vm.its_guest_write(r.offset, w, value)?,
                Step::UserRead(_) if its => {
                    vm.its_user_access(crate::vgic::Op::Read, r.offset, 0)?
                }
                Step::UserWrite(_) if its => {
                    vm.its_user_access(crate::vgic::Op::Write, r.offset, value)?
                }
                Step::UserHas(_) if its => vm.its_user_access(crate::vgic::Op::Has, r.offset, 0)?,
                Step::GuestRead(_) => vm.guest_read(r.frame, r.vcpu, r.offset, w)?,
                Step::GuestWrite(_) => vm.guest_write(r.frame, r.vcpu, r.offset, w, value)?,
                Step::UserRead(_) => vm.user_read(r.frame, r.vcpu, r.offset)?,
                Step::UserWrite(_) => vm.user_write(r.frame, r.vcpu, r.offset, value as u32)?,
                _ => vm.user_has(r.frame, r.vcpu, r.offset)?,
            };
            if !matches!(step, Step::GuestRead(_) | Step::GuestWrite(_)) {
                check_errno(&o, &s.expect_error, &mut failures);
            }
            if o.errno.is_none() {
                setup::check_masked(s.expect, s.mask, o.value, &mut failures);
            }
            let res = result_text(&o);
            let exits = o.rules.contains(&&crate::rules::GUEST_UNMAPPED_DIST_EXITS);
            let summary =
                match step {
                    Step::GuestRead(_) | Step::GuestWrite(_) if exits => format!(
                    "guest {}{w} {t}: exits to the VMM (KVM_EXIT_MMIO), no distributor is mapped",
                    if matches!(step, Step::GuestRead(_)) { "read" } else { "write" }
                ),
                    Step::GuestRead(_) => format!("guest read{w} {t} = {res}"),
                    Step::GuestWrite(_) => format!("guest write{w} {t} <- {value:#x}"),
                    Step::UserRead(_) => format!("KVM_GET_DEVICE_ATTR {t} = {res}"),
                    Step::UserWrite(_) => format!("KVM_SET_DEVICE_ATTR {t} <- {value:#x}: {res}"),
                    _ => format!("KVM_HAS_DEVICE_ATTR {t}: {res}"),
                };
            (summary, o)
        }
        Step::Init(s) => {
            setup::check_init(vm)?;
            let o = vm.init();
            if o.errno.is_none() {
                setup::after_init(vm);
            }
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!("KVM_DEV_ARM_VGIC_CTRL_INIT: {}", result_text(&o)),
                o,
            )
        }
        Step::Run(s) => {
            if vm.setup.as_ref().is_some_and(|st| st.vcpus.is_empty()) {
                return Err(AccessError::Setup(
                    "run: no vCPU was created (create_vcpu) to run".into(),
                ));
            }
            let o = setup::first_run(vm).unwrap_or_else(|| vm.run());
            check_errno(&o, &s.expect_error, &mut failures);
            (format!("KVM_RUN: {}", result_text(&o)), o)
        }
        Step::Sgi(_)
        | Step::IrqLine(_)
        | Step::Ack(_)
        | Step::Eoi(_)
        | Step::Deactivate(_)
        | Step::Schedule(_)
        | Step::SysregRead(_)
        | Step::SysregWrite(_) => {
            let (summary, o, f) = delivery::run(vm, step).expect("a delivery step")?;
            failures.extend(f);
            (summary, o)
        }
        Step::Migrate(m) => return Ok(crate::migrate::run_step(vm, origin, index, m)),
        Step::MemWrite(_)
        | Step::MemRead(_)
        | Step::ItsCommand(_)
        | Step::Msi(_)
        | Step::ItsCtrl(_)
        | Step::SavePendingTables(_) => {
            let (summary, o, f) = its::run(vm, step).expect("an ITS step")?;
            failures.extend(f);
            (summary, o)
        }
        Step::ForwardMsi(_) | Step::UnforwardMsi(_) | Step::DeviceMsi(_) => {
            let (summary, o, f) = vlpi::run(vm, step).expect("a vLPI step")?;
            failures.extend(f);
            (summary, o)
        }
        Step::GsiRouting(_) | Step::Irqfd(_) | Step::IrqfdSignal(_) | Step::EventfdRead(_) => {
            let (summary, o, f) = irqfd::run(vm, step).expect("an irqfd step")?;
            failures.extend(f);
            (summary, o)
        }
        Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => {
            let vcpu = s.vcpu.unwrap_or(0);
            let o = vm.user_level_info(vcpu, s.intid, s.value.map(|v| v.0 as u32));
            check_errno(&o, &s.expect_error, &mut failures);
            if o.errno.is_none() {
                setup::check_masked(s.expect, s.mask, o.value, &mut failures);
            }
            let what = match s.value {
                Some(v) => format!("<- {:#x}: {}", v.0, result_text(&o)),
                None => format!("= {}", result_text(&o)),
            };
            (
                format!(
                    "LEVEL_INFO INTIDs {}..{} (vCPU {vcpu}) {what}",
                    s.intid,
                    s.intid + 31
                ),
                o,
            )
        }
        Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => {
            let vcpu = s.vcpu.unwrap_or(0);
            // Validated by `validate`; anything else is not in KVM's table (-ENXIO).
            let reg = crate::vgic::cpu_sysregs::parse_sysreg(&s.reg).unwrap_or(u32::MAX);
            let write = matches!(step, Step::CpuSysregsWrite(_));
            let value = if write {
                Some(s.value.map_or(0, |v| v.0))
            } else {
                None
            };
            let o = vm.user_sysreg(vcpu, reg, value);
            check_errno(&o, &s.expect_error, &mut failures);
            if o.errno.is_none() {
                setup::check_masked(s.expect, s.mask, o.value, &mut failures);
            }
            let name = o.register.clone().unwrap_or_default();
            let what = match value {
                Some(v) => format!("<- {v:#x}: {}", result_text(&o)),
                None => format!("= {}", result_text(&o)),
            };
            (format!("CPU_SYSREGS {name} (vCPU {vcpu}) {what}"), o)
        }
    };
    // The format's time model: between two steps every running vCPU passes
    // through KVM once (exit: fold + prune; entry: flush). Guest steps settle
    // already; a VMM step (LEVEL_INFO, ISPENDR, KVM_IRQ_LINE) settles here, as
    // gicx-kvm makes every vCPU do one KVM_RUN after each step.
    vm.settle();
    let mut outcome = outcome;
    outcome.trace = vm.take_trace();
    if let Some(id) = step.expect_rule() {
        // A rule counts if the access applied it or one of the step's hops shows it.
        let in_trace = outcome.trace.iter().any(|h| h.rule.as_deref() == Some(id));
        if !in_trace && !outcome.rules.iter().any(|r| r.id == id) {
            let mut got: Vec<&str> = outcome.rules.iter().map(|r| r.id).collect();
            for h in &outcome.trace {
                if let Some(r) = h.rule.as_deref() {
                    if !got.contains(&r) {
                        got.push(r);
                    }
                }
            }
            failures.push(format!(
                "expected rule {id}, the access applied [{}]",
                got.join(", ")
            ));
        }
    }
    Ok(StepReport {
        index,
        op: step.op(),
        summary,
        outcome: Some(outcome),
        failures,
        note: step.note().map(str::to_string),
        migration: None,
    })
}

pub(crate) fn check_errno(o: &Outcome, expect: &Option<ErrnoName>, failures: &mut Vec<String>) {
    match (expect.map(|e| e.0), o.errno) {
        (None, None) => {}
        (Some(e), Some(got)) if e == got => {}
        (Some(e), got) => failures.push(format!(
            "expected {e}, got {}",
            got.map(|g| g.to_string()).unwrap_or("success".into())
        )),
        (None, Some(got)) => failures.push(format!("expected success, got {got}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [{"op": "init"}]}"#;

    #[test]
    fn numbers_parse_in_every_radix_with_the_shared_parser() {
        let num = |json: &str| serde_json::from_str::<Num>(json).map_err(|e| e.to_string());
        assert_eq!(num("\"0x4b00343b\""), Ok(Num(0x4b00343b)));
        assert_eq!(num("\"0b1_0000_0000\""), Ok(Num(256)));
        assert_eq!(num("\"42\""), Ok(Num(42)));
        assert_eq!(num("42"), Ok(Num(42)));
        // crate::number decides signs once: "+1" is refused like "-1" (u64::from_str took it).
        assert!(num("\"+1\"")
            .unwrap_err()
            .starts_with("\"+1\" is not a decimal number"));
        assert!(num("\"-1\"").is_err());
        assert!(num("-1").unwrap_err().contains("negative"));
        assert!(num("\"0xg\"").is_err());
        assert!(num("\"0x1_0000_0000_0000_0000\"").is_err());
    }

    #[test]
    fn minimal_scenario_has_defaults() {
        let sc = parse(MIN).unwrap();
        assert_eq!(sc.vm, VmConfig::default());
        assert!(sc.host.cpuif_vsgi && sc.host.vgic_v4_enable);
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = parse(r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [{"op": "init"}, {"op": "user_read", "reg": "GICD_CTLR", "bogus": 1}]}"#).unwrap_err();
        assert!(e.path.starts_with("steps[1]"), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
        let e = parse(r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [{"op": "user_read", "reg": "GICD_TYPR2"}]}"#).unwrap_err();
        assert_eq!(e.path, "steps[0].reg");
        assert!(e.message.contains("did you mean GICD_TYPER2"), "{e}");
        let e = parse(
            r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "vm": {"nr_irqs": 1024}, "steps": []}"#,
        )
        .unwrap_err();
        assert!(e.path.starts_with("vm"), "{e}");
        assert!(e.message.contains("992"), "{e}");
        let e = parse(r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [{"op": "fly"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("fly"), "{e}");
        let e = parse("{\"host\": ").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        let e = parse(r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [{"op": "guest_write", "reg": "GICD_CTLR", "value": 1, "width": 12}]}"#).unwrap_err();
        assert_eq!(e.path, "steps[0].width");
    }

    #[test]
    fn expectations_fail_with_reasons() {
        let sc = parse(
            r#"{"host": {"gic": "v4.1", "kernel": "6.8"}, "steps": [
            {"op": "init"},
            {"op": "user_write", "reg": "GICD_TYPER2", "value": 0},
            {"op": "user_read", "reg": "GICD_TYPER2", "expect": "0x100"},
            {"op": "user_read", "reg": "GICD_IIDR", "expect": 1, "expect_rule": "gicd.iidr.read"}]}"#,
        )
        .unwrap();
        let (rep, _) = run(&sc).unwrap();
        assert!(rep.steps[0].passed() && rep.steps[2].passed());
        assert_eq!(
            rep.steps[1].failures,
            vec!["expected success, got -EINVAL".to_string()]
        );
        assert_eq!(
            rep.steps[3].failures,
            vec!["expected 0x1, read 0x4b00343b".to_string()]
        );
    }

    #[test]
    fn a_guest_access_is_a_kvm_run_and_the_first_one_maps_the_vgic() {
        let sc = parse(r#"{"host": {"gic": "v3", "kernel": "6.8"}, "steps": [{"op": "init"}, {"op": "guest_read", "reg": "GICD_CTLR", "expect": "0x50"}]}"#).unwrap();
        let (rep, vm) = run(&sc).unwrap();
        assert!(rep.passed(), "{:?}", rep.steps[1].failures);
        assert_eq!(vm.state().lifecycle, crate::vgic::Lifecycle::HasRun);
        // Before init the KVM_RUN fails, and from 6.12 the VM is dead.
        let sc = parse(r#"{"host": {"gic": "v3", "kernel": "6.12"}, "steps": [{"op": "guest_read", "reg": "GICD_CTLR"}, {"op": "init"}]}"#).unwrap();
        let (rep, vm) = run(&sc).unwrap();
        let errno = |i: usize| rep.steps[i].outcome.as_ref().and_then(|o| o.errno);
        assert_eq!(errno(0), Some(Errno::EBUSY));
        assert_eq!(errno(1), Some(Errno::EIO));
        assert!(vm.is_dead());
    }

    #[test]
    fn scenarios_round_trip_through_json() {
        let text = r#"{"name":"x","host":{"gic":"v4.1","kernel":"6.17"},"vm":{"vcpus":2,"nr_irqs":64,"its":true},"steps":[
            {"op":"user_write","reg":"GICD_TYPER2","value":0,"note":"clear"},{"op":"init"},{"op":"run"},
            {"op":"guest_read","offset":"0x10100","frame":"redist","vcpu":1,"width":32,"expect":"0xffff"}]}"#;
        let sc = parse(text).unwrap();
        let again = parse(&serde_json::to_string(&sc).unwrap()).unwrap();
        assert_eq!(sc, again);
    }
}
