//! Real migrations between real kernels: a VMM recipe's save on one kernel
//! (one boot of `gicx-kvm`), its restore on another (another boot, same or
//! another GIC version), the guest run, and what the guest then reads — and
//! the same migration on the model, compared access by access and register by
//! register with the model's verdict and its list of differences.
//!
//! One interpreter of the recipes' [`Op`] lists ([`save`], [`restore`]) drives
//! any [`AttrDevice`]: the real kernel's device attributes (`kvm/src/migration.rs`)
//! or the model ([`ModelDevice`]). A test checks that on the model it makes
//! exactly the accesses, answers and refusals of [`vmm::restore`], the engine
//! every verdict comes from, so the real runner executes the model's recipes
//! and nothing else.
//!
//! After the restore (which, like the model's safety replay, keeps going past a
//! refused access and records it) the runner runs every vCPU once and reads
//! back, as the guest, every register the model's differences talk about
//! ([`readback_plan`]: `GICD_CTLR`, the ID registers, every per-IRQ word of the
//! SPIs and of each vCPU's SGIs/PPIs, `GICR_CTLR`, the LPI table bases, and the
//! CPU interface's PMR, IGRPEN1, CTLR and AP1R0), plus the line levels through
//! `KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO` (a guest cannot read a line). The source's
//! readback is taken the same way right after its save.
//!
//! [`compare`] replays a [`MigrationRecording`] on the model: the source
//! prepared as [`migrate::source_scenario`] on the source's exact kernel and
//! saved (values compared with the real save), the *real* saved values restored
//! on the destination's exact kernel (errnos and refusal compared), the model
//! destination run and read back (values compared), and the real verdict (from
//! the real restore's refusal and the real source and destination readbacks)
//! compared with [`migrate::migrate`]'s verdict and differences.
//!
//! The ITS is out of scope: recipes skip its registers (`vmm::SKIP_ITS`), and
//! cloud-hypervisor's always-present ITS device is created empty.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    Frame, GicdCtlr, GicdIcfgr, GicdIgroupr, GicdIidr, GicdIpriorityr, GicdIrouter, GicdIsactiver,
    GicdIsenabler, GicdIspendr, GicdPidr2, GicdTyper, GicdTyper2, GicrCtlr, GicrIcfgr0, GicrIcfgr1,
    GicrIgroupr0, GicrIidr, GicrIpriorityr, GicrIsactiver0, GicrIsenabler0, GicrIspendr0,
    GicrPendbaser, GicrPropbaser, GicrTyper,
};
use crate::cpuif::SysReg;
use crate::guest::GuestProfile;
use crate::host::{Host, HostError, KernelVersion};
use crate::migrate::{self, MigrationSpec, SourceSnapshot, Verdict};
use crate::oracle::{self, HostKind, Observed, RecordedKernel};
use crate::vgic::{Vgic, VmConfig};
use crate::vmm::{self, Access, Op, Recipe, Value};

// ---- one device-attribute call -------------------------------------------------------------

/// The device-attribute group of an access (`KVM_DEV_ARM_VGIC_GRP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Dist,
    Redist,
    /// `GRP_LEVEL_INFO` (offset = first INTID of the 32).
    LevelInfo,
    /// `GRP_CPU_SYSREGS` (offset = the `KVM_DEV_ARM_VGIC_SYSREG` id).
    CpuSysreg,
}

impl Group {
    pub fn frame(self) -> Option<Frame> {
        match self {
            Group::Dist => Some(Frame::Dist),
            Group::Redist => Some(Frame::Redist),
            _ => None,
        }
    }
}

/// A place a save read: group, vCPU (0 for the distributor) and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    pub group: Group,
    pub vcpu: u32,
    pub offset: u32,
}

/// One call a recipe makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    /// `KVM_GET_DEVICE_ATTR`.
    Get {
        #[serde(flatten)]
        place: Place,
    },
    /// `KVM_SET_DEVICE_ATTR` (32-bit values; 64-bit for CPU_SYSREGS).
    Set {
        #[serde(flatten)]
        place: Place,
        value: u64,
    },
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
}

/// Something that answers device-attribute calls: the real kernel or the model.
pub trait AttrDevice {
    /// The value read (0 for a set or init), or the errno's name (`"EINVAL"`).
    fn call(&mut self, call: &Call) -> Result<u64, String>;
}

/// The model as an [`AttrDevice`]: the userspace path `vmm::restore` takes.
pub struct ModelDevice<'a>(pub &'a mut Vgic);

impl AttrDevice for ModelDevice<'_> {
    fn call(&mut self, call: &Call) -> Result<u64, String> {
        let vm = &mut *self.0;
        let o = match *call {
            Call::Init => Ok(vm.init()),
            Call::Get { place: p } | Call::Set { place: p, .. } => {
                let write = match call {
                    Call::Set { value, .. } => Some(*value),
                    _ => None,
                };
                match (p.group, write) {
                    (Group::LevelInfo, w) => {
                        Ok(vm.user_level_info(p.vcpu, p.offset, w.map(|v| v as u32)))
                    }
                    (Group::CpuSysreg, w) => Ok(vm.user_sysreg(p.vcpu, p.offset, w)),
                    (g, None) => vm.user_read(g.frame().unwrap_or(Frame::Dist), p.vcpu, p.offset),
                    (g, Some(v)) => {
                        vm.user_write(g.frame().unwrap_or(Frame::Dist), p.vcpu, p.offset, v as u32)
                    }
                }
            }
        };
        match o {
            // vmm.rs reports an impossible access as a refusal with EINVAL.
            Err(_) => Err("EINVAL".into()),
            Ok(o) => match o.errno {
                Some(e) => Err(e.as_str().to_string()),
                None => Ok(o.value),
            },
        }
    }
}

// ---- the recipe interpreter ------------------------------------------------------------------

/// An access that failed with an errno.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// Index of the access in the sequence (CTRL_INIT counts).
    pub index: usize,
    pub call: Call,
    pub errno: String,
    /// An `-EBUSY` before init that the recipe answers by initialising and
    /// writing again (the kernel documentation's 6.17 order), not a refusal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
}

/// One saved value (a place read as 0, or never read, restores 0: `vmm::SavedState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedValue {
    #[serde(flatten)]
    pub place: Place,
    pub value: u64,
}

/// A replay's account: how many accesses, which failed, where the VMM stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    pub accesses: usize,
    /// Every access answered with an errno, in order.
    #[serde(default)]
    pub failed: Vec<Failed>,
    /// The first refused access: a save aborts there, a restore is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Failed>,
    /// Every call with its answer (tests only; never serialised).
    #[serde(skip)]
    pub trace: Vec<(Call, Result<u64, String>)>,
}

/// What a save read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    #[serde(flatten)]
    pub replay: Replayed,
    /// The non-zero values read, by place (the first read of each, as `vmm::save`).
    pub values: Vec<SavedValue>,
}

impl Saved {
    pub fn map(&self) -> BTreeMap<Place, u64> {
        self.values.iter().map(|v| (v.place, v.value)).collect()
    }
}

struct Replay<'a, D: AttrDevice> {
    dev: &'a mut D,
    nr_irqs: u32,
    vcpus: u32,
    saved: Option<&'a BTreeMap<Place, u64>>,
    keep_going: bool,
    trace: bool,
    reads: Vec<(Place, u64)>,
    out: Replayed,
    stopped: bool,
    in_pre_init: bool,
    pre_init_busy: bool,
    initialised_early: bool,
}

impl<D: AttrDevice> Replay<'_, D> {
    // The control flow of `vmm::Exec::ops`, op for op.
    fn ops(&mut self, ops: &[Op], vcpu: u32) {
        for op in ops {
            if self.stopped || (self.in_pre_init && self.pre_init_busy) {
                return;
            }
            match op {
                Op::Read(a) => self.access(a, vcpu, None),
                Op::Write(a, v) => self.access(a, vcpu, Some(*v)),
                Op::ClearThenSet { clear, set } => {
                    let words = (self.nr_irqs - 32).div_ceil(32);
                    for w in 0..words {
                        let off = 4 + 4 * w;
                        if let Some((base, value)) = clear {
                            self.word(Group::Dist, 0, base + off, Some(Value::Const(*value)));
                        }
                        self.word(Group::Dist, 0, set + off, Some(Value::Saved));
                        if self.stopped {
                            return;
                        }
                    }
                }
                Op::ForEachVcpu(inner) => {
                    for v in 0..self.vcpus {
                        self.ops(inner, v);
                    }
                }
                Op::IfSet {
                    frame,
                    offset,
                    mask,
                    then,
                } => {
                    let g = group_of(*frame);
                    let place = Place {
                        group: g,
                        vcpu: 0,
                        offset: *offset,
                    };
                    let v = match self.reads.iter().rev().find(|e| e.0 == place) {
                        Some(e) => e.1,
                        None => self.word(g, 0, *offset, None),
                    };
                    if v & u64::from(*mask) != 0 {
                        self.ops(then, vcpu);
                    }
                }
                Op::Init => {
                    if !self.initialised_early {
                        self.init();
                    }
                }
                Op::PreInit(inner) => {
                    self.in_pre_init = true;
                    self.pre_init_busy = false;
                    self.ops(inner, vcpu);
                    self.in_pre_init = false;
                    if self.pre_init_busy && !self.stopped {
                        self.init();
                        self.initialised_early = true;
                        self.ops(inner, vcpu);
                    }
                }
                Op::Quirk { ops: inner, .. } | Op::Seq(inner) => self.ops(inner, vcpu),
                // The ITS device's part (vmm/its.rs) is not replayed on real KVM yet: the
                // runner's VMs for real migrations carry no ITS state (issue 17, missing).
                Op::Its(_) => {}
            }
        }
    }

    fn access(&mut self, a: &Access, vcpu: u32, write: Option<Value>) {
        match *a {
            Access::Words {
                frame,
                offset,
                count,
            } => {
                let vcpu = if frame == Frame::Dist { 0 } else { vcpu };
                for i in 0..count {
                    self.word(group_of(frame), vcpu, offset + 4 * i, write);
                }
            }
            Access::Spis { base, bits_per_irq } => {
                let words = ((self.nr_irqs - 32) * bits_per_irq).div_ceil(32);
                let start = base + 4 * bits_per_irq;
                for i in 0..words {
                    self.word(Group::Dist, 0, start + 4 * i, write);
                }
            }
            Access::IrouterLoop { stride } => {
                for i in 32..self.nr_irqs {
                    let off = GicdIrouter::OFFSET + stride * i;
                    self.word(Group::Dist, 0, off, write);
                    self.word(Group::Dist, 0, off + 4, write);
                }
            }
            Access::Sweep { frame, start, end } => {
                let vcpu = if frame == Frame::Dist { 0 } else { vcpu };
                let mut off = start;
                while off < end && !self.stopped {
                    self.word(group_of(frame), vcpu, off, write);
                    off += 4;
                }
            }
            Access::PrivateLevels => {
                self.word(Group::LevelInfo, vcpu, 0, write);
            }
            Access::Sysreg(id) => {
                self.word(Group::CpuSysreg, vcpu, id, write);
            }
            Access::SpiLevels => {
                let mut intid = 32;
                while intid < self.nr_irqs {
                    self.word(Group::LevelInfo, 0, intid, write);
                    intid += 32;
                }
            }
        }
    }

    fn init(&mut self) {
        let index = self.out.accesses;
        self.out.accesses += 1;
        let r = self.dev.call(&Call::Init);
        if let Err(e) = &r {
            // vmm.rs logs a failed CTRL_INIT but does not stop at it.
            self.out.failed.push(Failed {
                index,
                call: Call::Init,
                errno: e.clone(),
                fallback: false,
            });
        }
        if self.trace {
            self.out.trace.push((Call::Init, r));
        }
    }

    fn word(&mut self, group: Group, vcpu: u32, offset: u32, write: Option<Value>) -> u64 {
        if self.stopped {
            return 0;
        }
        let place = Place {
            group,
            vcpu,
            offset,
        };
        let saved = || self.saved.and_then(|s| s.get(&place).copied()).unwrap_or(0);
        // vmm::SavedState holds 32-bit values (CPU_SYSREGS included).
        let call = match write {
            None => Call::Get { place },
            Some(Value::Const(c)) => Call::Set {
                place,
                value: u64::from(c),
            },
            Some(Value::Saved) => Call::Set {
                place,
                value: saved() & 0xFFFF_FFFF,
            },
            Some(Value::SavedMasked(m)) => Call::Set {
                place,
                value: saved() & u64::from(m),
            },
        };
        let index = self.out.accesses;
        self.out.accesses += 1;
        let r = self.dev.call(&call);
        if self.trace {
            self.out.trace.push((call, r.clone()));
        }
        let written = match call {
            Call::Set { value, .. } => value,
            _ => 0,
        };
        match r {
            Ok(v) => {
                if write.is_none() {
                    self.reads.push((place, v));
                    v
                } else {
                    written
                }
            }
            Err(errno) => {
                let fallback = self.in_pre_init && errno == "EBUSY";
                let f = Failed {
                    index,
                    call,
                    errno,
                    fallback,
                };
                if fallback {
                    self.pre_init_busy = true;
                } else {
                    if self.out.refusal.is_none() {
                        self.out.refusal = Some(f.clone());
                    }
                    if !self.keep_going {
                        self.stopped = true;
                    }
                }
                self.out.failed.push(f);
                written
            }
        }
    }
}

/// The vGIC device's group for a recipe's frame (recipes address the vGIC
/// device only: `vmm::Target::of`).
fn group_of(frame: Frame) -> Group {
    match frame {
        Frame::Dist | Frame::Its => Group::Dist,
        Frame::Redist => Group::Redist,
    }
}

fn replay<'a, D: AttrDevice>(
    dev: &'a mut D,
    config: &VmConfig,
    saved: Option<&'a BTreeMap<Place, u64>>,
    keep_going: bool,
    trace: bool,
) -> Replay<'a, D> {
    Replay {
        dev,
        nr_irqs: config.nr_irqs,
        vcpus: config.vcpus,
        saved,
        keep_going,
        trace,
        reads: Vec::new(),
        out: Replayed::default(),
        stopped: false,
        in_pre_init: false,
        pre_init_busy: false,
        initialised_early: false,
    }
}

/// Run `recipe`'s save on `dev` (a VM of `config`), stopping at the first failed
/// read as the VMM does.
pub fn save<D: AttrDevice>(dev: &mut D, recipe: &Recipe, config: &VmConfig, trace: bool) -> Saved {
    let mut r = replay(dev, config, None, false, trace);
    r.ops(recipe.save, 0);
    let mut first: BTreeMap<Place, u64> = BTreeMap::new();
    for (p, v) in r.reads {
        first.entry(p).or_insert(v);
    }
    Saved {
        replay: r.out,
        values: first
            .into_iter()
            .filter(|e| e.1 != 0)
            .map(|(place, value)| SavedValue { place, value })
            .collect(),
    }
}

/// Run `recipe`'s restore of `saved` on `dev` (a fresh VM of `config`), keeping
/// going past refused accesses (the model's safety replay; the VMM itself stops
/// at [`Replayed::refusal`]).
pub fn restore<D: AttrDevice>(
    dev: &mut D,
    recipe: &Recipe,
    config: &VmConfig,
    saved: &Saved,
    trace: bool,
) -> Replayed {
    let map = saved.map();
    let mut r = replay(dev, config, Some(&map), true, trace);
    r.ops(recipe.restore, 0);
    r.out
}

// ---- what the guest reads back -----------------------------------------------------------------

/// One register the readback reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Probe {
    /// A guest MMIO read in 32-bit words (`words` = 2 for a 64-bit register:
    /// low word first); `vcpu` is the redistributor's vCPU.
    Mmio {
        frame: Frame,
        vcpu: u32,
        offset: u32,
        words: u8,
    },
    /// `MRS` of an `ICC_*_EL1` register by vCPU `vcpu`.
    Icc { vcpu: u32, reg: IccReg },
    /// `KVM_GET_DEVICE_ATTR` of `GRP_LEVEL_INFO` (the VMM's view: a guest cannot
    /// read a line level).
    Level { vcpu: u32, intid: u32 },
}

/// The CPU-interface registers the readback reads, in the runner's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IccReg {
    #[serde(rename = "ICC_PMR_EL1")]
    Pmr,
    #[serde(rename = "ICC_IGRPEN1_EL1")]
    Igrpen1,
    #[serde(rename = "ICC_CTLR_EL1")]
    Ctlr,
    #[serde(rename = "ICC_AP1R0_EL1")]
    Ap1r0,
}

impl IccReg {
    pub const ALL: [IccReg; 4] = [IccReg::Pmr, IccReg::Igrpen1, IccReg::Ctlr, IccReg::Ap1r0];
    pub fn sysreg(self) -> SysReg {
        match self {
            IccReg::Pmr => SysReg::IccPmrEl1,
            IccReg::Igrpen1 => SysReg::IccIgrpen1El1,
            IccReg::Ctlr => SysReg::IccCtlrEl1,
            IccReg::Ap1r0 => SysReg::IccAp1r0El1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            IccReg::Pmr => "ICC_PMR_EL1",
            IccReg::Igrpen1 => "ICC_IGRPEN1_EL1",
            IccReg::Ctlr => "ICC_CTLR_EL1",
            IccReg::Ap1r0 => "ICC_AP1R0_EL1",
        }
    }
}

/// A named probe. Names are those of the model's differences
/// (`migrate::Difference::register`): `GICD_ISENABLER1`, `GICD_IROUTER40`,
/// `GICR_IPRIORITYR3@vcpu1`, `LEVEL_INFO[32]`, `ICC_PMR_EL1@vcpu0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    pub probe: Probe,
}

/// Every register the model's differences talk about, for a VM of `config`.
pub fn readback_plan(config: &VmConfig) -> Vec<Named> {
    let mut out = Vec::new();
    let mut mmio = |name: String, frame: Frame, vcpu: u32, offset: u32, words: u8| {
        out.push(Named {
            name,
            probe: Probe::Mmio {
                frame,
                vcpu,
                offset,
                words,
            },
        })
    };
    let d = Frame::Dist;
    let r = Frame::Redist;
    for (name, off) in [
        (GicdCtlr::NAME, GicdCtlr::OFFSET),
        (GicdTyper::NAME, GicdTyper::OFFSET),
        (GicdIidr::NAME, GicdIidr::OFFSET),
        (GicdTyper2::NAME, GicdTyper2::OFFSET),
        (GicdPidr2::NAME, GicdPidr2::OFFSET),
    ] {
        mmio(name.into(), d, 0, off, 1);
    }
    let nr = config.nr_irqs;
    // The per-IRQ families of the SPIs (the private slice is the redistributors').
    for (fam, at, bits) in [
        (GicdIgroupr::NAME, GicdIgroupr::at as fn(u32) -> u32, 1),
        (GicdIsenabler::NAME, GicdIsenabler::at, 1),
        (GicdIspendr::NAME, GicdIspendr::at, 1),
        (GicdIsactiver::NAME, GicdIsactiver::at, 1),
        (GicdIpriorityr::NAME, GicdIpriorityr::at, 8),
        (GicdIcfgr::NAME, GicdIcfgr::at, 2),
    ] {
        let per_word = 32 / bits;
        for index in 32 / per_word..nr / per_word {
            mmio(format!("{fam}{index}"), d, 0, at(index), 1);
        }
    }
    for intid in 32..nr {
        // Aff2.Aff1.Aff0 and IRM: the low word (every vCPU's Aff3 is 0).
        let name = format!("{}{intid}", GicdIrouter::NAME);
        mmio(name, d, 0, GicdIrouter::at(intid), 1);
    }
    for v in 0..config.vcpus {
        let at = |n: &str| format!("{n}@vcpu{v}");
        mmio(at(GicrCtlr::NAME), r, v, GicrCtlr::OFFSET, 1);
        mmio(at(GicrIidr::NAME), r, v, GicrIidr::OFFSET, 1);
        mmio(at(GicrTyper::NAME), r, v, GicrTyper::OFFSET, 2);
        if v == 0 {
            // One per VM in KVM (dist->propbaser) and in the model.
            mmio(GicrPropbaser::NAME.into(), r, v, GicrPropbaser::OFFSET, 2);
        }
        mmio(at(GicrPendbaser::NAME), r, v, GicrPendbaser::OFFSET, 2);
        for (name, off) in [
            (GicrIgroupr0::NAME, GicrIgroupr0::OFFSET),
            (GicrIsenabler0::NAME, GicrIsenabler0::OFFSET),
            (GicrIspendr0::NAME, GicrIspendr0::OFFSET),
            (GicrIsactiver0::NAME, GicrIsactiver0::OFFSET),
        ] {
            mmio(at(name), r, v, off, 1);
        }
        for i in 0..8 {
            let name = format!("{}{i}", GicrIpriorityr::NAME);
            mmio(at(&name), r, v, GicrIpriorityr::at(i), 1);
        }
        mmio(at(GicrIcfgr0::NAME), r, v, GicrIcfgr0::OFFSET, 1);
        mmio(at(GicrIcfgr1::NAME), r, v, GicrIcfgr1::OFFSET, 1);
    }
    for v in 0..config.vcpus {
        for reg in IccReg::ALL {
            out.push(Named {
                name: format!("{}@vcpu{v}", reg.name()),
                probe: Probe::Icc { vcpu: v, reg },
            });
        }
    }
    for v in 0..config.vcpus {
        out.push(Named {
            name: format!("LEVEL_INFO[0]@vcpu{v}"),
            probe: Probe::Level { vcpu: v, intid: 0 },
        });
    }
    let mut intid = 32;
    while intid < nr {
        out.push(Named {
            name: format!("LEVEL_INFO[{intid}]"),
            probe: Probe::Level { vcpu: 0, intid },
        });
        intid += 32;
    }
    out
}

/// What the probes of a plan read: the non-zero values and the failures by
/// name (every other probe of the plan read 0), compact enough to commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readback {
    /// Probes read.
    pub count: usize,
    #[serde(default)]
    pub values: BTreeMap<String, u64>,
    /// Why a probe has no value: an errno, an exception, a runner failure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

impl Readback {
    pub fn push(&mut self, name: &str, got: Result<u64, String>) {
        self.count += 1;
        match got {
            Ok(0) => {}
            Ok(v) => {
                self.values.insert(name.to_string(), v);
            }
            Err(e) => {
                self.errors.insert(name.to_string(), e);
            }
        }
    }
    /// What `name` read (0 when neither a value nor an error is listed).
    pub fn get(&self, name: &str) -> Result<u64, &str> {
        match self.errors.get(name) {
            Some(e) => Err(e),
            None => Ok(self.values.get(name).copied().unwrap_or(0)),
        }
    }
    fn text(&self, name: &str) -> String {
        match self.get(name) {
            Ok(v) => format!("{v:#x}"),
            Err(e) => e.to_string(),
        }
    }
}

/// The model's readback of a VM that has run: the reads a guest makes (vCPU 0
/// for the MMIO frames, each vCPU its own ICC registers) and LEVEL_INFO.
pub fn model_readback(vm: &mut Vgic, plan: &[Named]) -> Readback {
    let mut out = Readback::default();
    for n in plan {
        let got: Result<u64, String> = match n.probe {
            Probe::Mmio {
                frame,
                vcpu,
                offset,
                words,
            } => (0..u32::from(words)).try_fold(0u64, |acc, w| {
                match vm.guest_read(frame, vcpu, offset + 4 * w, 32) {
                    Ok(o) => match o.errno {
                        Some(e) => Err(e.as_str().to_string()),
                        None => Ok(acc | (o.value & 0xFFFF_FFFF) << (32 * w)),
                    },
                    Err(e) => Err(e.to_string()),
                }
            }),
            Probe::Icc { vcpu, reg } => match vm.sysreg_read(vcpu, reg.sysreg()) {
                Ok(o) => match o.errno {
                    Some(e) => Err(e.as_str().to_string()),
                    None => Ok(o.value),
                },
                Err(e) => Err(e.to_string()),
            },
            Probe::Level { vcpu, intid } => {
                let o = vm.user_level_info(vcpu, intid, None);
                match o.errno {
                    Some(e) => Err(e.as_str().to_string()),
                    None => Ok(o.value),
                }
            }
        };
        out.push(&n.name, got);
    }
    out
}

// ---- the runner's files ---------------------------------------------------------------------------

/// `/gicx/migrations/save/*.json`: a source to prepare and save.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveJob {
    pub id: String,
    pub recipe: String,
    pub guest: String,
    /// The source host kind and exact kernel (the guest profile's accesses depend on the host).
    pub kind: HostKind,
    pub kernel: String,
}

impl SaveJob {
    /// The source VM as a scenario: [`migrate::source_scenario`].
    pub fn scenario(&self) -> Result<crate::scenario::Scenario, String> {
        let recipe = vmm::recipe(&self.recipe).map_err(|e| e.to_string())?;
        let guest: GuestProfile = self.guest.parse().map_err(|e: String| e)?;
        let host = kind_host(self.kind, &self.kernel)?;
        Ok(migrate::source_scenario_without_its_setup(
            host, recipe, guest,
        ))
    }
}

/// `/gicx/migrations/restore/*.json`: a save to restore on a fresh VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreJob {
    pub id: String,
    pub recipe: String,
    pub vcpus: u32,
    pub nr_irqs: u32,
    pub its: bool,
    pub saved: Saved,
}

impl RestoreJob {
    pub fn config(&self) -> Result<VmConfig, String> {
        VmConfig::new(self.vcpus, self.nr_irqs, self.its).map_err(|e| e.to_string())
    }
}

/// `GICX-SAVED`: the source prepared, saved and read back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLine {
    pub id: String,
    /// The source scenario's steps, as `gicx-kvm` observed them.
    pub source_steps: Vec<Observed>,
    pub saved: Saved,
    /// The source as its guest reads it after the save.
    pub readback: Readback,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GICX-RESTORED`: the restore, the first run and the destination's readback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredLine {
    pub id: String,
    pub restore: Replayed,
    /// The first `KVM_RUN` of each vCPU after the restore: its errno, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub readback: Readback,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn kind_host(kind: HostKind, kernel: &str) -> Result<Host, String> {
    let k: KernelVersion = kernel
        .parse()
        .map_err(|e: HostError| format!("kernel {kernel}: {e}"))?;
    kind.host(k).map_err(|e| format!("kernel {kernel}: {e}"))
}

// ---- recordings and their comparison with the model ----------------------------------------------

/// One end of a recorded migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub kernel: RecordedKernel,
    pub kind: HostKind,
}

/// A source as one real kernel prepared and saved it
/// (`tests/kvm/migrations/saves/<kernel>/<kind>/<recipe>-<guest>.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveRecording {
    pub recipe: String,
    pub guest: String,
    pub source: End,
    pub save: SavedLine,
}

/// That save restored on another real kernel
/// (`tests/kvm/migrations/restores/<from>/<to>/<recipe>-<guest>.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecording {
    /// The save's path under `tests/kvm/migrations/`.
    pub source_save: String,
    pub destination: End,
    pub restore: RestoredLine,
}

/// A migration as two real kernels did it: a save and its restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRecording {
    pub recipe: String,
    pub guest: String,
    pub source: End,
    pub destination: End,
    pub save: SavedLine,
    pub restore: RestoredLine,
}

impl MigrationRecording {
    pub fn join(save: SaveRecording, restore: RestoreRecording) -> MigrationRecording {
        MigrationRecording {
            recipe: save.recipe,
            guest: save.guest,
            source: save.source,
            destination: restore.destination,
            save: save.save,
            restore: restore.restore,
        }
    }
}

/// One place where the model and the kernels disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// `source-steps`, `save`, `restore`, `refusal`, `run`, `source-readback`,
    /// `destination-readback`, `verdict`, `differences`.
    pub part: &'static str,
    pub what: String,
    pub model: String,
    pub kernel: String,
}

/// The comparison of one recorded migration with the model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MigrationComparison {
    pub recipe: String,
    pub guest: String,
    pub from: String,
    pub to: String,
    /// Items compared: source steps, saved values, restore accesses, readback registers.
    pub compared: usize,
    pub restore_accesses: usize,
    /// The refused register on the real destination (the VMM stops there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub kernel_verdict: Option<Verdict>,
    pub model_verdict: Option<Verdict>,
    /// Registers the guest sees differently after the real migration (source →
    /// destination readback, as the verdict judges them).
    pub kernel_differences: Vec<String>,
    /// The registers of `migrate::migrate`'s differences.
    pub model_differences: Vec<String>,
    pub disagreements: Vec<Disagreement>,
}

impl MigrationComparison {
    pub fn agrees(&self) -> bool {
        self.disagreements.is_empty()
    }
}

fn sysreg_id_name(id: u32) -> String {
    crate::vgic::cpu_sysregs::sysreg_name(id).unwrap_or_else(|| format!("SYSREG {id:#06x}"))
}

/// A call as a register: `set GICD_ISENABLER1`, `get LEVEL_INFO[32]@vcpu0`.
pub fn call_text(call: &Call) -> String {
    let (verb, p) = match call {
        Call::Init => return "KVM_DEV_ARM_VGIC_CTRL_INIT".into(),
        Call::Get { place } => ("get", place),
        Call::Set { place, .. } => ("set", place),
    };
    let what = match p.group.frame() {
        Some(f) => {
            let reg = crate::catalogue::instance_at(f, p.offset)
                .map(|r| r.name())
                .unwrap_or_else(|| format!("{}+{:#x}", f.as_str(), p.offset));
            if f == Frame::Redist {
                format!("{reg} (+{:#x}) vCPU {}", p.offset, p.vcpu)
            } else {
                format!("{reg} (+{:#x})", p.offset)
            }
        }
        None if p.group == Group::LevelInfo => format!("LEVEL_INFO[{}] vCPU {}", p.offset, p.vcpu),
        None => format!("{} vCPU {}", sysreg_id_name(p.offset), p.vcpu),
    };
    match call {
        Call::Set { value, .. } => format!("{verb} {what} <- {value:#x}"),
        _ => format!("{verb} {what}"),
    }
}

/// `@vcpu0` is the name without a vCPU (the model's ID keys drop it).
fn normal(name: &str) -> String {
    name.strip_suffix("@vcpu0").unwrap_or(name).to_string()
}

/// Bits of a readback register that the verdict judges, as `migrate` does:
/// `None` when the register is not judged at all.
fn judged(name: &str, ids_read: &BTreeSet<String>) -> Option<u64> {
    let base = name.split('@').next().unwrap_or(name);
    let id = |mask: u64| ids_read.contains(&normal(name)).then_some(mask);
    match base {
        // GuestView.enabled (EnableGrp1A, bit 1) and nASSGIreq (bit 8).
        "GICD_CTLR" => Some(0x102),
        "GICD_TYPER" | "GICD_IIDR" | "GICD_TYPER2" | "GICD_PIDR2" | "GICR_TYPER" | "GICR_IIDR" => {
            id(u64::MAX)
        }
        // EnableLPIs is state; IR and CES are capabilities (IdRegister::from_key).
        "GICR_CTLR" => Some(
            GicrCtlr::ENABLE_LPIS.mask()
                | id(GicrCtlr::IR.mask() | GicrCtlr::CES.mask()).unwrap_or(0),
        ),
        // PTZ reads 0 (vgic_mmio_read_pendbase).
        "GICR_PENDBASER" => Some(!GicrPendbaser::PTZ.mask()),
        "ICC_PMR_EL1" => Some(0xFF),
        "ICC_IGRPEN1_EL1" => Some(1),
        // CpuIfView.eoimode.
        "ICC_CTLR_EL1" => Some(1 << 1),
        // The timer PPIs' line (and the pending state it makes) is the arch timer's
        // (migrate::state_differences, timer_free).
        "GICR_ISPENDR0" | "LEVEL_INFO[0]" => Some(
            !crate::delivery::TIMER_PPIS
                .iter()
                .fold(0u64, |m, i| m | 1 << i),
        ),
        _ => Some(u64::MAX),
    }
}

/// The registers a guest would see differently: source readback against
/// destination readback over `plan`, judged as the model's verdict judges.
pub fn guest_differences(
    plan: &[Named],
    src: &Readback,
    dst: &Readback,
    ids_read: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in plan {
        let Some(mask) = judged(&n.name, ids_read) else {
            continue;
        };
        let (a, b) = (src.get(&n.name).ok(), dst.get(&n.name).ok());
        // A never-programmed LPI table base is not guest state (GuestView::shown_by).
        let base = n.name.split('@').next().unwrap_or(&n.name);
        if matches!(base, "GICR_PROPBASER" | "GICR_PENDBASER") && a.unwrap_or(0) & mask == 0 {
            continue;
        }
        if a.map(|v| v & mask) != b.map(|v| v & mask) {
            out.push(normal(&n.name));
        }
    }
    out.sort();
    out
}

/// Normalised register names of the model's differences. The model's
/// difference for the line levels of several words, or for a 64-bit register,
/// has the same name as the readback's probe.
fn model_difference_names(m: &migrate::Migration) -> Vec<String> {
    let mut v: Vec<String> = m.differences.iter().map(|d| normal(&d.register)).collect();
    v.sort();
    v.dedup();
    v
}

/// Replay one recording on the model and list every disagreement.
pub fn compare(rec: &MigrationRecording) -> Result<MigrationComparison, String> {
    let recipe = vmm::recipe(&rec.recipe).map_err(|e| e.to_string())?;
    let guest: GuestProfile = rec.guest.parse().map_err(|e: String| e)?;
    let from = kind_host(rec.source.kind, &rec.source.kernel.upstream)?;
    let to = kind_host(rec.destination.kind, &rec.destination.kernel.upstream)?;
    let mut c = MigrationComparison {
        recipe: rec.recipe.clone(),
        guest: rec.guest.clone(),
        from: format!(
            "{} {}",
            rec.source.kernel.upstream,
            rec.source.kind.as_str()
        ),
        to: format!(
            "{} {}",
            rec.destination.kernel.upstream,
            rec.destination.kind.as_str()
        ),
        ..Default::default()
    };
    let mut dis = |part: &'static str, what: String, model: String, kernel: String| {
        c.disagreements.push(Disagreement {
            part,
            what,
            model,
            kernel,
        })
    };
    if let Some(e) = rec.save.error.as_ref().or(rec.restore.error.as_ref()) {
        return Err(format!("the runner could not carry the migration out: {e}"));
    }

    // The source: the scenario's steps, then the save, then the readback.
    let sc = migrate::source_scenario_without_its_setup(from, recipe, guest);
    let (model_steps, err) = oracle::observe_scenario(&sc);
    let steps = oracle::compare(&model_steps, err.as_deref(), &rec.save.source_steps);
    let mut compared = steps.compared;
    for d in steps.differences {
        dis(
            "source-steps",
            format!("steps[{}] {}", d.index, d.op),
            d.model,
            d.kernel,
        );
    }
    let mut src = Vgic::new(sc.host, sc.vm);
    for (i, step) in sc.steps.iter().enumerate() {
        crate::scenario::run_step(&mut src, i, step)
            .map_err(|e| format!("source steps[{i}]: {e}"))?;
    }
    let config = sc.vm;
    let model_saved = save(&mut ModelDevice(&mut src), recipe, &config, false);
    let (mm, km) = (model_saved.map(), rec.save.saved.map());
    let places: BTreeSet<&Place> = mm.keys().chain(km.keys()).collect();
    compared += model_saved
        .replay
        .accesses
        .max(rec.save.saved.replay.accesses);
    if model_saved.replay.accesses != rec.save.saved.replay.accesses {
        dis(
            "save",
            "accesses".into(),
            model_saved.replay.accesses.to_string(),
            rec.save.saved.replay.accesses.to_string(),
        );
    }
    for p in places {
        let (a, b) = (
            mm.get(p).copied().unwrap_or(0),
            km.get(p).copied().unwrap_or(0),
        );
        if a != b {
            dis(
                "save",
                call_text(&Call::Get { place: *p }),
                format!("{a:#x}"),
                format!("{b:#x}"),
            );
        }
    }
    failed_differences(
        "save",
        &model_saved.replay,
        &rec.save.saved.replay,
        &mut dis,
    );
    let plan = readback_plan(&config);
    let src_model_readback = model_readback(&mut src, &plan);
    compared += plan.len();
    readback_differences(
        "source-readback",
        &plan,
        &src_model_readback,
        &rec.save.readback,
        &mut dis,
    );

    // The destination: the real saved values restored on the model.
    let mut dst = Vgic::new(to, config);
    let model_restore = restore(
        &mut ModelDevice(&mut dst),
        recipe,
        &config,
        &rec.save.saved,
        false,
    );
    compared += model_restore.accesses.max(rec.restore.restore.accesses);
    c.restore_accesses = rec.restore.restore.accesses;
    if model_restore.accesses != rec.restore.restore.accesses {
        dis(
            "restore",
            "accesses".into(),
            model_restore.accesses.to_string(),
            rec.restore.restore.accesses.to_string(),
        );
    }
    failed_differences("restore", &model_restore, &rec.restore.restore, &mut dis);
    let refusal_text = |f: &Option<Failed>| match f {
        Some(f) => format!("{} at access {}: {}", call_text(&f.call), f.index, f.errno),
        None => "accepted".into(),
    };
    c.refused = rec
        .restore
        .restore
        .refusal
        .as_ref()
        .map(|f| call_text(&f.call));
    if model_restore.refusal != rec.restore.restore.refusal {
        dis(
            "refusal",
            "the first refused access".into(),
            refusal_text(&model_restore.refusal),
            refusal_text(&rec.restore.restore.refusal),
        );
    }
    let run = dst.run();
    let model_run = run.errno.map(|e| e.as_str().to_string());
    if model_run != rec.restore.run {
        dis(
            "run",
            "KVM_RUN after the restore".into(),
            model_run.unwrap_or_else(|| "ok".into()),
            rec.restore.run.clone().unwrap_or_else(|| "ok".into()),
        );
    }
    let dst_model_readback = model_readback(&mut dst, &plan);
    compared += plan.len();
    readback_differences(
        "destination-readback",
        &plan,
        &dst_model_readback,
        &rec.restore.readback,
        &mut dis,
    );

    // The verdicts: the model's own migration, and the one the kernels gave.
    let spec = MigrationSpec::new(from, to, recipe, guest);
    let snap = SourceSnapshot::of(&migrate::prepare_source(&spec).map_err(|e| e.to_string())?);
    let ids_read: BTreeSet<String> = snap.ids.iter().map(|(id, _)| normal(&id.key)).collect();
    let m = migrate::migrate(&spec).map_err(|e| e.to_string())?;
    c.model_verdict = Some(m.verdict);
    c.model_differences = model_difference_names(&m);
    c.kernel_differences =
        guest_differences(&plan, &rec.save.readback, &rec.restore.readback, &ids_read);
    let kernel_verdict = Verdict::of(
        rec.restore.restore.refusal.is_none(),
        c.kernel_differences.is_empty(),
    );
    c.kernel_verdict = Some(kernel_verdict);
    compared += 1;
    if m.verdict != kernel_verdict {
        dis(
            "verdict",
            "migrate".into(),
            m.verdict.as_str().into(),
            kernel_verdict.as_str().into(),
        );
    }
    if c.model_differences != c.kernel_differences {
        dis(
            "differences",
            "registers the guest sees differently".into(),
            c.model_differences.join(", "),
            c.kernel_differences.join(", "),
        );
    }
    c.compared = compared;
    Ok(c)
}

fn failed_differences(
    part: &'static str,
    model: &Replayed,
    kernel: &Replayed,
    dis: &mut impl FnMut(&'static str, String, String, String),
) {
    let m: BTreeMap<usize, &Failed> = model.failed.iter().map(|f| (f.index, f)).collect();
    let k: BTreeMap<usize, &Failed> = kernel.failed.iter().map(|f| (f.index, f)).collect();
    let indices: BTreeSet<&usize> = m.keys().chain(k.keys()).collect();
    for i in indices {
        let (a, b) = (m.get(i), k.get(i));
        if a.map(|f| (&f.errno, f.call)) == b.map(|f| (&f.errno, f.call)) {
            continue;
        }
        let call = a.or(b).map(|f| call_text(&f.call)).unwrap_or_default();
        dis(
            part,
            format!("access {i}: {call}"),
            a.map_or("ok".into(), |f| f.errno.clone()),
            b.map_or("ok".into(), |f| f.errno.clone()),
        );
    }
}

fn readback_differences(
    part: &'static str,
    plan: &[Named],
    model: &Readback,
    kernel: &Readback,
    dis: &mut impl FnMut(&'static str, String, String, String),
) {
    if kernel.count != plan.len() {
        dis(
            part,
            "registers read".into(),
            plan.len().to_string(),
            kernel.count.to_string(),
        );
    }
    for n in plan {
        if model.get(&n.name) != kernel.get(&n.name) {
            dis(
                part,
                n.name.clone(),
                model.text(&n.name),
                kernel.text(&n.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmm::RestoreOptions;

    /// The interpreter on the model makes the accesses `vmm::save`/`vmm::restore`
    /// make, with their answers: same values saved, same access count, same
    /// refusal, same destination state. So what `gicx-kvm` executes on the real
    /// kernel is the model's recipe, access for access.
    #[test]
    fn the_interpreter_is_vmm_restore() {
        let hosts = [
            "v3@5.10.223",
            "v3@7.3.4",
            "v4.0@6.12.86",
            "v4.1@6.17",
            "v4.1@5.7",
            "v4.0+nov4@7.3.4",
        ];
        for recipe in vmm::RECIPES {
            for guest in [GuestProfile::Linux, GuestProfile::Idle] {
                for from in hosts {
                    let from = Host::parse_compact(from).unwrap();
                    let sc = migrate::source_scenario_without_its_setup(from, recipe, guest);
                    let mut src = Vgic::new(sc.host, sc.vm);
                    for (i, s) in sc.steps.iter().enumerate() {
                        crate::scenario::run_step(&mut src, i, s).unwrap();
                    }
                    let model = vmm::save(&mut src.clone(), recipe, None).unwrap();
                    let ours = save(&mut ModelDevice(&mut src.clone()), recipe, &sc.vm, false);
                    assert_eq!(ours.replay.accesses, model.reads, "{} save", recipe.id);
                    for v in &ours.values {
                        let t = match v.place.group {
                            Group::Dist => vmm::Target::Dist,
                            Group::Redist => vmm::Target::Redist,
                            Group::LevelInfo => vmm::Target::LevelInfo,
                            Group::CpuSysreg => vmm::Target::CpuSysreg,
                        };
                        assert_eq!(
                            u64::from(model.value(t, v.place.vcpu, v.place.offset)),
                            v.value & 0xFFFF_FFFF,
                            "{} {:?}",
                            recipe.id,
                            v.place
                        );
                    }
                    for to in hosts {
                        let to = Host::parse_compact(to).unwrap();
                        let mut a = Vgic::new(to, sc.vm);
                        let opts = RestoreOptions {
                            keep_going: true,
                            log: true,
                            fast: None,
                            copy_at_refusal: false,
                            changes: &[],
                        };
                        let r = vmm::restore(&mut a, recipe, &model, &opts);
                        let mut b = Vgic::new(to, sc.vm);
                        let o = restore(&mut ModelDevice(&mut b), recipe, &sc.vm, &ours, false);
                        let what = format!(
                            "{} {guest} {} -> {}",
                            recipe.id,
                            from.compact(),
                            to.compact()
                        );
                        // The interpreter leaves out the ITS device's part (`Op::Its`):
                        // count the model's ITS steps out (each is one log entry).
                        let its_before = |step: usize| {
                            r.log
                                .iter()
                                .filter(|e| e.target == Some(vmm::Target::Its) && e.index < step)
                                .count()
                        };
                        assert_eq!(o.accesses, r.accesses - its_before(usize::MAX), "{what}");
                        assert_eq!(
                            o.refusal.as_ref().map(|f| f.index),
                            r.refusal.as_ref().map(|f| f.step - its_before(f.step)),
                            "{what}"
                        );
                        assert_eq!(
                            o.failed.iter().filter(|f| !f.fallback).count(),
                            r.refused.len(),
                            "{what}"
                        );
                        assert_eq!(a.state(), b.state(), "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_plan_names_the_model_s_registers() {
        let config = VmConfig::new(2, 64, false).unwrap();
        let plan = readback_plan(&config);
        let names: BTreeSet<&str> = plan.iter().map(|n| n.name.as_str()).collect();
        for n in [
            "GICD_ISENABLER1",
            "GICD_IPRIORITYR8",
            "GICD_ICFGR2",
            "GICD_IROUTER32",
            "GICR_ISENABLER0@vcpu1",
            "GICR_IPRIORITYR7@vcpu0",
            "LEVEL_INFO[32]",
            "LEVEL_INFO[0]@vcpu1",
            "ICC_AP1R0_EL1@vcpu1",
            "GICR_TYPER@vcpu1",
        ] {
            assert!(names.contains(n), "{n}");
        }
        assert_eq!(names.len(), plan.len(), "names are unique");
    }

    /// A migration replayed against itself: the model's readback as the
    /// kernel's gives no disagreement (the comparison's own plumbing).
    #[test]
    fn a_recording_of_the_model_agrees() {
        let kernel = |v: &str| RecordedKernel {
            series: v.rsplit_once('.').unwrap().0.into(),
            upstream: v.into(),
            debian: None,
            release: String::new(),
            proc_version: String::new(),
            package: None,
            suite: None,
        };
        for (recipe, from, to) in [
            ("qemu", ("5.10.223", HostKind::V3), ("7.3.4", HostKind::V3)),
            (
                "kernel-doc",
                ("7.3.4", HostKind::V3),
                ("5.10.223", HostKind::V4_0),
            ),
            (
                "firecracker",
                ("6.12.88", HostKind::V4_0),
                ("6.12.86", HostKind::V3),
            ),
        ] {
            let r = vmm::recipe(recipe).unwrap();
            let fh = from.1.host(from.0.parse().unwrap()).unwrap();
            let th = to.1.host(to.0.parse().unwrap()).unwrap();
            let sc = migrate::source_scenario_without_its_setup(fh, r, GuestProfile::Linux);
            let (steps, _) = oracle::observe_scenario(&sc);
            let mut src = Vgic::new(sc.host, sc.vm);
            for (i, s) in sc.steps.iter().enumerate() {
                crate::scenario::run_step(&mut src, i, s).unwrap();
            }
            let saved = save(&mut ModelDevice(&mut src), r, &sc.vm, false);
            let plan = readback_plan(&sc.vm);
            let src_rb = model_readback(&mut src, &plan);
            let mut dst = Vgic::new(th, sc.vm);
            let restored = restore(&mut ModelDevice(&mut dst), r, &sc.vm, &saved, false);
            let run = dst.run().errno.map(|e| e.as_str().to_string());
            let dst_rb = model_readback(&mut dst, &plan);
            let rec = MigrationRecording {
                recipe: recipe.into(),
                guest: "linux".into(),
                source: End {
                    kernel: kernel(from.0),
                    kind: from.1,
                },
                destination: End {
                    kernel: kernel(to.0),
                    kind: to.1,
                },
                save: SavedLine {
                    id: "x".into(),
                    source_steps: steps,
                    saved,
                    readback: src_rb,
                    error: None,
                },
                restore: RestoredLine {
                    id: "x".into(),
                    restore: restored,
                    run,
                    readback: dst_rb,
                    error: None,
                },
            };
            let c = compare(&rec).unwrap();
            assert!(c.agrees(), "{recipe}: {:#?}", c.disagreements);
        }
    }
}
