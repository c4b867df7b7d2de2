//! Scenario steps for guest memory and KVM's emulated ITS (issue 17;
//! documented in docs/scenario-format.md, "ITS and guest memory steps"):
//! `mem_write`, `mem_read`, `its_command`, `msi`, `its_ctrl` and
//! `save_pending_tables`. ITS registers are ordinary register steps with
//! `"frame": "its"` or a `GITS_*` name ([`its_register`]). They drive
//! [`crate::vits`] through [`Vgic`]'s ITS device (`vgic/its_device.rs`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::{check_errno, ErrnoName, Num, ScenarioError, Step};
use crate::vgic::{AccessError, Outcome, Vgic, VmConfig};
use crate::vits::command::Command;
use crate::vits::{self, regs};

/// `mem_write` / `mem_read`: the VMM (or a guest) writing or reading guest RAM
/// directly (tables, the command queue), `width` bits little-endian at `addr`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemStep {
    pub addr: Num,
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
    pub note: Option<String>,
}

/// The commands an `its_command` step can queue (the ones KVM handles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItsCmd {
    Mapd,
    Mapc,
    Mapti,
    Mapi,
    Movi,
    Discard,
    Clear,
    Int,
    Inv,
    Invall,
    Sync,
    Movall,
}

impl ItsCmd {
    pub fn as_str(self) -> &'static str {
        match self {
            ItsCmd::Mapd => "mapd",
            ItsCmd::Mapc => "mapc",
            ItsCmd::Mapti => "mapti",
            ItsCmd::Mapi => "mapi",
            ItsCmd::Movi => "movi",
            ItsCmd::Discard => "discard",
            ItsCmd::Clear => "clear",
            ItsCmd::Int => "int",
            ItsCmd::Inv => "inv",
            ItsCmd::Invall => "invall",
            ItsCmd::Sync => "sync",
            ItsCmd::Movall => "movall",
        }
    }

    /// The fields the command takes: (name, required).
    pub fn fields(self) -> &'static [(&'static str, bool)] {
        match self {
            ItsCmd::Mapd => &[
                ("device", true),
                ("eventid_bits", false),
                ("itt_addr", false),
                ("valid", false),
            ],
            ItsCmd::Mapc => &[("collection", true), ("target", true), ("valid", false)],
            ItsCmd::Mapti => &[
                ("device", true),
                ("event", true),
                ("intid", true),
                ("collection", true),
            ],
            ItsCmd::Mapi | ItsCmd::Movi => {
                &[("device", true), ("event", true), ("collection", true)]
            }
            ItsCmd::Discard | ItsCmd::Clear | ItsCmd::Int | ItsCmd::Inv => {
                &[("device", true), ("event", true)]
            }
            ItsCmd::Invall => &[("collection", true)],
            ItsCmd::Sync => &[("target", true)],
            ItsCmd::Movall => &[("from", true), ("to", true)],
        }
    }
}

/// `its_command`: a guest driver's `its_send_single_command` — the 32-byte
/// command written at GITS_CWRITER in the command queue (guest memory), then
/// GITS_CWRITER advanced by 0x20 through guest MMIO. KVM handles it inside
/// that MMIO write; a command's error is not reported (the command is
/// dropped, CREADR still advances).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItsCommandStep {
    pub cmd: ItsCmd,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intid: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<Num>,
    /// MAPC's and SYNC's target redistributor (GITS_TYPER.PTA = 0: the vCPU number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Num>,
    /// MAPD: the device's event-ID bits, 1..=32 (DW1 [4:0] + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventid_bits: Option<Num>,
    /// MAPD: the ITT's address (256-byte aligned, below 2^52).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itt_addr: Option<Num>,
    /// MAPD/MAPC: V (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// MOVALL's source and destination redistributors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Num>,
    /// GITS_CREADR after the command (read back through guest MMIO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_creadr: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ItsCommandStep {
    fn field(&self, name: &str) -> Option<u64> {
        let n = match name {
            "device" => self.device,
            "event" => self.event,
            "intid" => self.intid,
            "collection" => self.collection,
            "target" => self.target,
            "eventid_bits" => self.eventid_bits,
            "itt_addr" => self.itt_addr,
            "from" => self.from,
            "to" => self.to,
            "valid" => return self.valid.map(u64::from),
            _ => None,
        };
        n.map(|n| n.0)
    }

    /// The command as KVM will decode it (fields validated by [`validate`]).
    pub fn command(&self) -> Command {
        let f = |name| self.field(name).unwrap_or(0);
        let valid = self.valid.unwrap_or(true);
        match self.cmd {
            ItsCmd::Mapd => Command::Mapd {
                device: f("device") as u32,
                eventid_bits: self.eventid_bits.map_or(1, |n| n.0 as u8),
                itt_addr: f("itt_addr"),
                valid,
            },
            ItsCmd::Mapc => Command::Mapc {
                collection: f("collection") as u16,
                target: f("target") as u32,
                valid,
            },
            ItsCmd::Mapti => Command::Mapti {
                device: f("device") as u32,
                event: f("event") as u32,
                intid: f("intid") as u32,
                collection: f("collection") as u16,
            },
            ItsCmd::Mapi => Command::Mapi {
                device: f("device") as u32,
                event: f("event") as u32,
                collection: f("collection") as u16,
            },
            ItsCmd::Movi => Command::Movi {
                device: f("device") as u32,
                event: f("event") as u32,
                collection: f("collection") as u16,
            },
            ItsCmd::Discard => Command::Discard {
                device: f("device") as u32,
                event: f("event") as u32,
            },
            ItsCmd::Clear => Command::Clear {
                device: f("device") as u32,
                event: f("event") as u32,
            },
            ItsCmd::Int => Command::Int {
                device: f("device") as u32,
                event: f("event") as u32,
            },
            ItsCmd::Inv => Command::Inv {
                device: f("device") as u32,
                event: f("event") as u32,
            },
            ItsCmd::Invall => Command::Invall {
                collection: f("collection") as u16,
            },
            ItsCmd::Sync => Command::Sync {
                target: f("target") as u32,
            },
            ItsCmd::Movall => Command::Movall {
                from: f("from") as u32,
                to: f("to") as u32,
            },
        }
    }
}

/// `msi`: `KVM_SIGNAL_MSI` with `address` and `data`; `devid` sets
/// `KVM_MSI_VALID_DEVID` (without it the ITS refuses the MSI: -EINVAL).
/// The ioctl returns 1 (delivered), 0 (blocked: the event is not mapped) or
/// an errno.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsiStep {
    pub addr: Num,
    pub data: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devid: Option<Num>,
    /// The ioctl's return value: 1 delivered, 0 blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A `KVM_DEV_ARM_VGIC_GRP_CTRL` attribute of the ITS device: a name, or a
/// number (to try attributes KVM does not know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlAttr(pub u64);

const CTRL_NAMES: [(&str, u64); 4] = [
    ("init", vits::CTRL_INIT),
    ("save_tables", vits::CTRL_SAVE_TABLES),
    ("restore_tables", vits::CTRL_RESTORE_TABLES),
    ("reset", vits::CTRL_RESET),
];

impl CtrlAttr {
    pub fn name(self) -> Option<&'static str> {
        CTRL_NAMES
            .iter()
            .find(|(_, v)| *v == self.0)
            .map(|(n, _)| *n)
    }
}

impl fmt::Display for CtrlAttr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "attribute {}", self.0),
        }
    }
}

impl Serialize for CtrlAttr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u64(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for CtrlAttr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CtrlAttr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"init\", \"save_tables\", \"restore_tables\", \"reset\" or an attribute number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CtrlAttr, E> {
                Ok(CtrlAttr(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CtrlAttr, E> {
                u64::try_from(v)
                    .map(CtrlAttr)
                    .map_err(|_| E::custom(format!("{v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CtrlAttr, E> {
                if let Some((_, n)) = CTRL_NAMES.iter().find(|(n, _)| *n == v) {
                    return Ok(CtrlAttr(*n));
                }
                crate::number::parse(v).map(CtrlAttr).map_err(|_| {
                    E::custom(format!(
                        "{v:?}: expected \"init\", \"save_tables\", \"restore_tables\", \"reset\" or an attribute number"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `its_ctrl`: `KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL, attr)` on the ITS device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItsCtrlStep {
    pub attr: CtrlAttr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The offset of a `GITS_*` register name (case-insensitive), for register
/// steps: `GITS_CTLR`, `GITS_IIDR`, `GITS_TYPER`, `GITS_CBASER`,
/// `GITS_CWRITER`, `GITS_CREADR`, `GITS_BASER0`..`GITS_BASER7`,
/// `GITS_PIDR0`..`GITS_PIDR4`, `GITS_CIDR0`..`GITS_CIDR3`, `GITS_TRANSLATER`.
/// `None` if `name` is not a GITS name; `Some(Err)` names the closest one.
pub fn its_register(name: &str) -> Option<Result<u32, String>> {
    let upper = name.trim().to_ascii_uppercase();
    if !upper.starts_with("GITS_") {
        return None;
    }
    let fixed = [
        ("GITS_CTLR", regs::GITS_CTLR),
        ("GITS_IIDR", regs::GITS_IIDR),
        ("GITS_TYPER", regs::GITS_TYPER),
        ("GITS_CBASER", regs::GITS_CBASER),
        ("GITS_CWRITER", regs::GITS_CWRITER),
        ("GITS_CREADR", regs::GITS_CREADR),
        ("GITS_PIDR0", regs::GITS_PIDR0),
        ("GITS_PIDR1", regs::GITS_PIDR1),
        ("GITS_PIDR2", regs::GITS_PIDR2),
        ("GITS_PIDR3", regs::GITS_PIDR2 + 4),
        ("GITS_PIDR4", regs::GITS_PIDR4),
        ("GITS_CIDR0", regs::GITS_CIDR0),
        ("GITS_CIDR1", regs::GITS_CIDR1),
        ("GITS_CIDR2", regs::GITS_CIDR2),
        ("GITS_CIDR3", regs::GITS_CIDR3),
        ("GITS_TRANSLATER", regs::GITS_TRANSLATER),
    ];
    if let Some((_, off)) = fixed.iter().find(|(n, _)| *n == upper) {
        return Some(Ok(*off));
    }
    if let Some(n) = upper.strip_prefix("GITS_BASER") {
        if let Ok(i @ 0..=7) = n.parse::<u32>() {
            return Some(Ok(regs::GITS_BASER + 8 * i));
        }
        return Some(Err(format!(
            "unknown ITS register {name:?}: GITS_BASER0 to GITS_BASER7"
        )));
    }
    Some(Err(format!(
        "unknown ITS register {name:?}: GITS_CTLR, GITS_IIDR, GITS_TYPER, GITS_CBASER, GITS_CWRITER, GITS_CREADR, GITS_BASER<n>, GITS_PIDR<n>, GITS_CIDR<n> or GITS_TRANSLATER"
    )))
}

/// Validation of these steps; `None` for other steps. `its_now`: whether an
/// ITS device exists at this step (`vm.its`, or a `create_device` its before
/// it in a VM built by steps).
pub(super) fn validate(
    step: &Step,
    vm: &VmConfig,
    its_now: bool,
    p: &str,
) -> Option<Result<(), ScenarioError>> {
    let r = match step {
        Step::MemWrite(s) | Step::MemRead(s) => {
            validate_mem(s, vm, matches!(step, Step::MemWrite(_)), p)
        }
        Step::ItsCommand(s) => validate_command(s, its_now, p),
        Step::Msi(s) => validate_msi(s, p),
        Step::ItsCtrl(_) => needs_its(its_now, step, p),
        Step::SavePendingTables(_) => Ok(()),
        _ => return None,
    };
    Some(r)
}

fn needs_its(its_now: bool, step: &Step, p: &str) -> Result<(), ScenarioError> {
    if its_now {
        Ok(())
    } else {
        Err(ScenarioError::at(
            p,
            format!(
                "{} needs an ITS device: set vm.its to true (or, in a VM built by steps, add {{\"op\": \"create_device\", \"device\": \"its\"}} before it)",
                step.op()
            ),
        ))
    }
}

fn validate_mem(s: &MemStep, vm: &VmConfig, write: bool, p: &str) -> Result<(), ScenarioError> {
    let w = s.width.unwrap_or(64);
    if ![8, 16, 32, 64].contains(&w) {
        return Err(ScenarioError::at(
            format!("{p}.width"),
            format!("{w} is not an access width: 8, 16, 32 or 64"),
        ));
    }
    let op = if write { "mem_write" } else { "mem_read" };
    if write != s.value.is_some() {
        return Err(ScenarioError::at(
            if write {
                p.to_string()
            } else {
                format!("{p}.value")
            },
            format!(
                "{op} {} a `value`",
                if write { "needs" } else { "takes no" }
            ),
        ));
    }
    if write && s.expect.is_some() {
        return Err(ScenarioError::at(
            format!("{p}.expect"),
            "`expect` is not used by mem_write",
        ));
    }
    super::check_mask(s.mask, s.expect, write, p)?;
    if let Some(Num(v)) = s.value {
        if w < 64 && v >> w != 0 {
            return Err(ScenarioError::at(
                format!("{p}.value"),
                format!("{v:#x} does not fit in {w} bits"),
            ));
        }
    }
    let addr = s.addr.0;
    if !addr.is_multiple_of(w as u64 / 8) {
        return Err(ScenarioError::at(
            format!("{p}.addr"),
            format!("{addr:#x} is not aligned to the {w}-bit access"),
        ));
    }
    if !vm.memory.contains(addr, w as u64 / 8) {
        return Err(ScenarioError::at(
            format!("{p}.addr"),
            format!(
                "{addr:#x} is outside the VM's guest memory (vm.memory{}): the VMM can only write RAM it mapped",
                if vm.memory.is_empty() { " is empty" } else { "" }
            ),
        ));
    }
    Ok(())
}

fn validate_command(s: &ItsCommandStep, its_now: bool, p: &str) -> Result<(), ScenarioError> {
    needs_its(its_now, &Step::ItsCommand(s.clone()), p)?;
    let fields = s.cmd.fields();
    for name in [
        "device",
        "event",
        "intid",
        "collection",
        "target",
        "eventid_bits",
        "itt_addr",
        "valid",
        "from",
        "to",
    ] {
        let given = s.field(name).is_some();
        match fields.iter().find(|(n, _)| *n == name) {
            None if given => {
                return Err(ScenarioError::at(
                    format!("{p}.{name}"),
                    format!("`{name}` is not a field of {}", s.cmd.as_str()),
                ))
            }
            Some((_, true)) if !given => {
                return Err(ScenarioError::at(
                    p,
                    format!("{} needs `{name}`", s.cmd.as_str()),
                ))
            }
            _ => {}
        }
    }
    let bound = |name: &str, bits: u32| -> Result<(), ScenarioError> {
        match s.field(name) {
            Some(v) if bits < 64 && v >> bits != 0 => Err(ScenarioError::at(
                format!("{p}.{name}"),
                format!("{v:#x} does not fit the command's {bits}-bit field"),
            )),
            _ => Ok(()),
        }
    };
    bound("device", 32)?;
    bound("event", 32)?;
    bound("intid", 32)?;
    bound("collection", 16)?;
    bound("target", 32)?;
    bound("from", 32)?;
    bound("to", 32)?;
    if s.cmd == ItsCmd::Mapd {
        let valid = s.valid.unwrap_or(true);
        if valid && (s.eventid_bits.is_none() || s.itt_addr.is_none()) {
            return Err(ScenarioError::at(
                p,
                "mapd with valid = true needs `eventid_bits` and `itt_addr`",
            ));
        }
        if let Some(Num(b)) = s.eventid_bits {
            if !(1..=32).contains(&b) {
                return Err(ScenarioError::at(
                    format!("{p}.eventid_bits"),
                    format!("{b}: MAPD encodes 1 to 32 event-ID bits (DW1 [4:0] + 1)"),
                ));
            }
        }
        if let Some(Num(a)) = s.itt_addr {
            if a & 0xff != 0 || a >> 52 != 0 {
                return Err(ScenarioError::at(
                    format!("{p}.itt_addr"),
                    format!("{a:#x}: MAPD holds ITT_addr [51:8] (256-byte aligned, below 2^52)"),
                ));
            }
        }
    }
    Ok(())
}

fn validate_msi(s: &MsiStep, p: &str) -> Result<(), ScenarioError> {
    if s.data.0 >> 32 != 0 {
        return Err(ScenarioError::at(
            format!("{p}.data"),
            format!(
                "{:#x} does not fit in 32 bits (struct kvm_msi.data)",
                s.data.0
            ),
        ));
    }
    if let Some(Num(d)) = s.devid {
        if d >> 32 != 0 {
            return Err(ScenarioError::at(
                format!("{p}.devid"),
                format!("{d:#x} does not fit in 32 bits (struct kvm_msi.devid)"),
            ));
        }
    }
    if let Some(Num(e)) = s.expect {
        if e > 1 {
            return Err(ScenarioError::at(
                format!("{p}.expect"),
                format!("{e}: KVM_SIGNAL_MSI returns 1 (delivered) or 0 (blocked)"),
            ));
        }
        if s.expect_error.is_some() {
            return Err(ScenarioError::at(
                format!("{p}.expect"),
                "give `expect` (the return value) or `expect_error`, not both",
            ));
        }
    }
    Ok(())
}

/// Run one of these steps; `None` for other steps.
pub(super) fn run(vm: &mut Vgic, step: &Step) -> Option<Result<super::delivery::Ran, AccessError>> {
    let mut failures = Vec::new();
    let (summary, o) = match step {
        Step::MemWrite(s) => {
            let w = s.width.unwrap_or(64);
            let value = s.value.map_or(0, |v| v.0);
            let o = vm.mem_write(s.addr.0, w, value);
            (
                format!(
                    "guest memory {:#x} <- {value:#x} ({w}-bit): {}",
                    s.addr.0,
                    text(&o, false)
                ),
                o,
            )
        }
        Step::MemRead(s) => {
            let w = s.width.unwrap_or(64);
            let o = vm.mem_read(s.addr.0, w);
            if o.errno.is_none() {
                super::setup::check_masked(s.expect, s.mask, o.value, &mut failures);
            }
            (
                format!(
                    "guest memory {:#x} ({w}-bit) = {}",
                    s.addr.0,
                    text(&o, true)
                ),
                o,
            )
        }
        Step::ItsCommand(s) => {
            let cmd = s.command();
            let o = match vm.its_queue_command(&cmd) {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            if let Some(Num(want)) = s.expect_creadr {
                if o.value != want {
                    failures.push(format!(
                        "expected GITS_CREADR {want:#x}, read {:#x}",
                        o.value
                    ));
                }
            }
            (
                format!(
                    "ITS command {}: {}; GITS_CREADR = {:#x}",
                    s.cmd.as_str(),
                    o.notes.first().map(String::as_str).unwrap_or("queued"),
                    o.value
                ),
                o,
            )
        }
        Step::Msi(s) => {
            let o = match vm.signal_msi(s.addr.0, s.devid.map(|d| d.0 as u32), s.data.0 as u32) {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            check_errno(&o, &s.expect_error, &mut failures);
            if let (Some(Num(want)), None) = (s.expect, o.errno) {
                if o.value != want {
                    failures.push(format!(
                        "expected KVM_SIGNAL_MSI to return {want}, got {}",
                        o.value
                    ));
                }
            }
            let devid = s
                .devid
                .map(|d| format!("device {:#x}", d.0))
                .unwrap_or_else(|| "no KVM_MSI_VALID_DEVID".into());
            (
                format!(
                    "KVM_SIGNAL_MSI {:#x} data {} ({devid}): {}",
                    s.addr.0,
                    s.data.0,
                    text(&o, true)
                ),
                o,
            )
        }
        Step::ItsCtrl(s) => {
            let o = match vm.its_ctrl(s.attr.0) {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!(
                    "ITS KVM_DEV_ARM_VGIC_GRP_CTRL {}: {}",
                    s.attr,
                    text(&o, false)
                ),
                o,
            )
        }
        Step::SavePendingTables(s) => {
            let o = vm.save_pending_tables();
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!("KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: {}", text(&o, false)),
                o,
            )
        }
        _ => return None,
    };
    Some(Ok((summary, o, failures)))
}

fn text(o: &Outcome, read: bool) -> String {
    match o.errno {
        Some(e) => e.to_string(),
        None if read => format!("{:#x}", o.value),
        None => "ok".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const HEAD: &str = r#"{"host": "v3@6.12", "vm": {"vcpus": 2, "its": true, "memory": [{"base": "0x50000000", "size": "0x100000"}]}, "steps": "#;

    fn steps(s: &str) -> Result<crate::scenario::Scenario, ScenarioError> {
        parse(&format!("{HEAD}{s}}}"))
    }

    #[test]
    fn its_steps_parse_and_round_trip() {
        let sc = steps(
            r#"[{"op": "mem_write", "addr": "0x50000000", "width": 64, "value": "0x1122"},
            {"op": "mem_read", "addr": "0x50000000", "width": 32, "expect": "0x1122", "mask": "0xffff"},
            {"op": "its_command", "cmd": "mapd", "device": 3, "eventid_bits": 4, "itt_addr": "0x50030000", "valid": true},
            {"op": "its_command", "cmd": "sync", "target": 1, "expect_creadr": "0x40"},
            {"op": "msi", "addr": "0x08090040", "data": 2, "devid": 3, "expect": 1},
            {"op": "its_ctrl", "attr": "save_tables"},
            {"op": "its_ctrl", "attr": 7, "expect_error": "ENXIO"},
            {"op": "save_pending_tables"},
            {"op": "user_read", "reg": "GITS_BASER1"},
            {"op": "guest_read", "frame": "its", "offset": "0x8", "width": 64}]"#,
        )
        .unwrap();
        let again = parse(&serde_json::to_string(&sc).unwrap()).unwrap();
        assert_eq!(sc, again);
        assert_eq!(sc.vm.memory.regions().count(), 1);
    }

    #[test]
    fn a_guest_reaches_the_its_of_a_built_vm_only_at_its_address() {
        let built = |its_addr: &str| {
            format!(
                r#"{{"host": "v3@6.12", "vm": {{"vcpus": 1, "its": true}}, "steps": [{{"op": "create_vm"}},
                {{"op": "create_device", "device": "vgic_v3"}}, {{"op": "create_vcpu", "id": 0}},
                {{"op": "set_addr", "addr": "dist", "base": "0x08000000"}}, {{"op": "set_addr", "addr": "redist", "base": "0x080a0000"}},
                {{"op": "create_device", "device": "its"}}{its_addr}, {{"op": "init"}}, {{"op": "run"}},
                {{"op": "guest_read", "reg": "GITS_CTLR", "expect": "0x80000000"}}]}}"#
            )
        };
        let e = crate::scenario::run(&parse(&built("")).unwrap()).unwrap_err();
        assert_eq!(e.index, 8);
        assert!(e.to_string().contains("no address yet"), "{e}");
        let sc = parse(&built(
            r#", {"op": "set_addr", "addr": "its", "base": "0x08080000"}"#,
        ))
        .unwrap();
        let (rep, _) = crate::scenario::run(&sc).unwrap();
        assert!(
            rep.passed(),
            "{:?}",
            rep.failures().next().map(|s| &s.failures)
        );
    }

    #[test]
    fn its_step_errors_name_the_place() {
        let e = steps(r#"[{"op": "mem_write", "addr": "0x60000000", "value": 1}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].addr");
        assert!(e.message.contains("outside the VM's guest memory"), "{e}");
        let e = steps(
            r#"[{"op": "its_command", "cmd": "mapti", "device": 1, "event": 0, "collection": 0}]"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "steps[0]");
        assert!(e.message.contains("needs `intid`"), "{e}");
        let e = steps(r#"[{"op": "its_command", "cmd": "sync", "target": 0, "device": 1}]"#)
            .unwrap_err();
        assert_eq!(e.path, "steps[0].device");
        let e = steps(r#"[{"op": "its_command", "cmd": "mapd", "device": 1, "eventid_bits": 33, "itt_addr": 0}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].eventid_bits");
        let e = steps(r#"[{"op": "its_command", "cmd": "fly"}]"#).unwrap_err();
        assert!(e.path.starts_with("steps[0]"), "{e}");
        let e = steps(r#"[{"op": "user_read", "reg": "GITS_BASER9"}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].reg");
        let e = steps(r#"[{"op": "user_read", "reg": "GITS_CTLR", "width": 32}]"#).unwrap_err();
        assert_eq!(e.path, "steps[0].width");
        let e = parse(r#"{"host": "v3@6.12", "vm": {"memory": [{"base": "0x50000800", "size": "0x1000"}]}, "steps": []}"#).unwrap_err();
        assert!(e.path.starts_with("vm"), "{e}");
        assert!(e.message.contains("4 KiB"), "{e}");
        let e = parse(r#"{"host": "v3@6.12", "steps": [{"op": "its_ctrl", "attr": "reset"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("needs an ITS device"), "{e}");
    }
}
