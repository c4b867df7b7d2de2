//! Migration verdicts: save a VM on the source with a VMM's recipe, create the
//! same VM on the destination, restore it with the recipe (stopping at the first
//! refused access, as the VMM would) and run it; then decide whether the guest
//! can tell.
//!
//! - **accepted** or **refused** comes from the restore replay ([`crate::vmm::restore`]);
//! - **safe** compares what the guest can see: every ID or capability register the guest
//!   read on the source (`observed().reads`) must read the same on the destination
//!   (a capability that appears counts too: KVM keeps guest-visible ID values fixed
//!   across migration, and a guest that reboots on the new host may start using it
//!   and can no longer go back), and the interrupt state at save (distributor enable,
//!   nASSGIreq, per-IRQ group/enable/pending/active/priority/trigger/line/route, vSGI
//!   backing, LPI enables and tables) must be what the destination has after its first
//!   run. A refused restore is judged by a second replay that skips the refused writes.
//!
//! | | safe | unsafe |
//! |---|---|---|
//! | accepted | `compatible` | `silently-broken` |
//! | refused | `needlessly-rejected` | `rejected` |
//!
//! Every verdict comes from replaying the model; each difference names its register
//! and field, both values and the rules (from the replay's outcomes) that produced it.
//!
//! ```
//! use gicx_core::{host::Host, guest::GuestProfile, migrate::*, vgic::RestorePolicy, vmm};
//! // The 2020 case: a Linux guest enabled vSGIs on a GICv4.1 host; Firecracker moves it
//! // to a GICv4.0 host under the 5.7 rules. Nothing refuses it; the guest loses nASSGIreq.
//! let spec = MigrationSpec::new(
//!     Host::parse_compact("v4.1@5.7").unwrap(),
//!     Host::parse_compact("v4.0@5.7").unwrap(),
//!     vmm::recipe("firecracker").unwrap(),
//!     GuestProfile::Linux,
//! );
//! let m = migrate(&spec).unwrap();
//! assert_eq!(m.verdict, Verdict::SilentlyBroken);
//! assert!(m.rules.contains(&"gicd.ctlr.uaccess.nassgireq_dropped"));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    self, Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIgroupr, GicdIidr,
    GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdPidr2, GicdTyper,
    GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIgroupr0, GicrIpriorityr,
    GicrIsenabler0, GicrIspendr0, GicrPendbaser, GicrPropbaser, GicrTyper, Handler,
};
use crate::guest::GuestProfile;
use crate::host::{Era, Host};
use crate::rules::{self as r, Rule};
use crate::scenario::{self, ErrnoName, Scenario, ScenarioError, StepReport};
use crate::vgic::cpu_sysregs::{
    ICC_AP0R0_EL1, ICC_AP1R0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
    ICC_IGRPEN1_EL1, ICC_PMR_EL1,
};
use crate::vgic::{IrqState, RestorePolicy, Vgic, VmConfig, NR_PRIVATE_IRQS};
use crate::vmm::{
    self, ItsSupport, LogEntry, Recipe, RecipeChange, Refusal, RegionMap, RestoreOptions,
    SavedState, Target,
};

mod fix;
pub mod its;
pub(crate) use fix::{candidates, verified, Facts, Verifier};
pub use fix::{first_kernel_with, Change, Fix, Inapplicable};
pub use its::{ItsEntry, ItsView};

// ---- verdicts ---------------------------------------------------------------------------------

/// The four outcomes of a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Accepted, and the guest sees what it saw.
    Compatible,
    /// Refused, and rightly: the guest would see a difference.
    Rejected,
    /// Refused, although skipping the refused writes would have been safe.
    NeedlesslyRejected,
    /// Accepted, but the guest sees a difference.
    SilentlyBroken,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Compatible,
        Verdict::Rejected,
        Verdict::NeedlesslyRejected,
        Verdict::SilentlyBroken,
    ];
    pub fn of(accepted: bool, safe: bool) -> Verdict {
        match (accepted, safe) {
            (true, true) => Verdict::Compatible,
            (true, false) => Verdict::SilentlyBroken,
            (false, true) => Verdict::NeedlesslyRejected,
            (false, false) => Verdict::Rejected,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::Rejected => "rejected",
            Verdict::NeedlesslyRejected => "needlessly-rejected",
            Verdict::SilentlyBroken => "silently-broken",
        }
    }
    pub fn rule(self) -> &'static Rule {
        match self {
            Verdict::Compatible => &r::MIGRATE_COMPATIBLE,
            Verdict::Rejected => &r::MIGRATE_REJECTED,
            Verdict::NeedlesslyRejected => &r::MIGRATE_NEEDLESSLY_REJECTED,
            Verdict::SilentlyBroken => &r::MIGRATE_SILENTLY_BROKEN,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| format!("unknown verdict {s:?}: expected compatible, rejected, needlessly-rejected or silently-broken"))
    }
}

/// What kind of difference the guest could see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffKind {
    /// An ID/capability register the guest read changed (or a capability vanished).
    IdChanged,
    /// A capability bit the guest saw clear is set on the destination.
    CapabilityAppeared,
    /// Interrupt state at save is not the destination's.
    StateChanged,
}

/// One thing the guest would see differently, with where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: DiffKind,
    /// Register instance, e.g. `GICD_TYPER2`, `GICD_ISENABLER1`, `GICR_ISENABLER0@vcpu1`.
    pub register: String,
    /// Fields or INTIDs, e.g. `nASSGIcap`, `enabled: INTIDs 33, 34`.
    pub field: String,
    pub source: u64,
    pub destination: u64,
    /// Rule ids: the replay outcomes that produced it, and the kind of difference.
    pub rules: Vec<&'static str>,
    /// One sentence.
    pub reason: String,
    /// What differs, as typed data (suggestions are derived from it, never from the text).
    /// In JSON only an ITS difference's table entry shows (`its_entry`).
    #[serde(
        rename = "its_entry",
        skip_serializing_if = "Subject::is_not_its",
        serialize_with = "its::serialize_entry"
    )]
    pub subject: Subject,
}

/// What a [`Difference`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// An ID or capability register the guest read (a redistributor's: of `vcpu`).
    IdRegister {
        frame: Frame,
        vcpu: u32,
        offset: u32,
    },
    /// GICD_CTLR.EnableGrp1.
    DistEnable,
    /// GICD_CTLR.nASSGIreq.
    NassgiReq,
    /// One part of the interrupts' state: of the SPIs (`vcpu` None) or of a vCPU's
    /// SGIs and PPIs.
    Irq { field: IrqField, vcpu: Option<u32> },
    /// A CPU-interface register of a vCPU, by its `KVM_DEV_ARM_VGIC_SYSREG` id.
    CpuIf { vcpu: u32, sysreg: u32 },
    /// A vCPU's GICR_CTLR.EnableLPIs.
    EnableLpis { vcpu: u32 },
    /// GICR_PROPBASER, or a vCPU's GICR_PENDBASER.
    LpiTables,
    /// The ITS: a GITS_* register or the table entry responsible ([`its`]).
    Its(ItsEntry),
}

impl Subject {
    fn is_not_its(&self) -> bool {
        !matches!(self, Subject::Its(_))
    }
}

// ---- what the guest can see -------------------------------------------------------------------

/// The guest-visible state of one interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IrqView {
    pub group: bool,
    pub enabled: bool,
    /// Pending as the guest sees it: the hardware bit for a vSGI, else latch or line.
    pub pending: bool,
    /// Active as the guest sees it (vSGIs have no active state).
    pub active: bool,
    pub priority: u8,
    pub edge: bool,
    /// Line level of a level-triggered interrupt (LEVEL_INFO).
    pub line: bool,
    /// IROUTER affinity (SPIs only).
    pub route: u32,
    /// A GICv4.1 hardware vSGI.
    pub vsgi: bool,
}

impl IrqView {
    fn of(irq: &IrqState, spi: bool) -> IrqView {
        IrqView {
            group: irq.group,
            enabled: irq.enabled,
            pending: if irq.hw {
                irq.hw_pending
            } else {
                irq.is_pending()
            },
            active: irq.active && !irq.hw,
            priority: irq.priority,
            edge: irq.edge,
            line: !irq.edge && irq.line_level,
            route: if spi { irq.mpidr } else { 0 },
            vsgi: irq.hw,
        }
    }
}

/// Everything of the interrupt state the guest can observe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GuestView {
    pub enabled: bool,
    pub nassgireq: bool,
    pub spis: Vec<IrqView>,
    /// Per vCPU, INTIDs 0..31.
    pub private: Vec<Vec<IrqView>>,
    pub lpis: Vec<bool>,
    pub propbaser: u64,
    pub pendbaser: Vec<u64>,
    /// Per vCPU, the CPU-interface state (`KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`).
    pub cpuifs: Vec<CpuIfView>,
    /// The ITS's mappings, LPIs and registers (a VM with an ITS).
    pub its: Option<ItsView>,
}

/// The part of a vCPU's CPU interface a migration must carry: ICC_PMR_EL1,
/// ICC_IGRPEN1_EL1, ICC_CTLR_EL1.EOImode, the active priorities (ICC_AP1R0_EL1,
/// ICC_AP0R0_EL1), Group 0's enable and the binary points as the guest's
/// CPU interface uses them (ICC_IGRPEN0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuIfView {
    pub pmr: u8,
    pub igrpen1: bool,
    pub eoimode: bool,
    pub ap1r0: u32,
    pub igrpen0: bool,
    pub bpr0: u8,
    pub bpr1: u8,
    pub ap0r0: u32,
}

impl GuestView {
    /// Whether a destination shows the guest what this source view showed. A
    /// never-programmed LPI table base (its reset value 0) is not guest state: any
    /// restore that writes it back reads 0x180, because KVM sanitises inner
    /// non-cacheable to RaWb (vgic_sanitise_inner_cacheability), so no written value is
    /// ever 0; a guest must program the tables before it can use LPIs.
    pub fn shown_by(&self, dst: &GuestView) -> bool {
        self.enabled == dst.enabled
            && self.nassgireq == dst.nassgireq
            && self.spis == dst.spis
            && self.private == dst.private
            && self.cpuifs == dst.cpuifs
            && self.lpis == dst.lpis
            && match (&self.its, &dst.its) {
                (Some(a), Some(b)) => a.shown_by(b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && (self.propbaser == 0 || self.propbaser == dst.propbaser)
            && self.pendbaser.len() == dst.pendbaser.len()
            && self
                .pendbaser
                .iter()
                .zip(&dst.pendbaser)
                .all(|(a, b)| *a == 0 || a == b)
    }

    pub fn of(vm: &Vgic) -> GuestView {
        let st = vm.state();
        GuestView {
            enabled: st.dist.enabled,
            nassgireq: st.dist.nassgireq,
            spis: st.dist.spis.iter().map(|i| IrqView::of(i, true)).collect(),
            private: st
                .redists
                .iter()
                .map(|rd| rd.private.iter().map(|i| IrqView::of(i, false)).collect())
                .collect(),
            lpis: st
                .redists
                .iter()
                .map(|rd| GicrCtlr::ENABLE_LPIS.is_set(rd.ctlr as u64))
                .collect(),
            propbaser: st.dist.propbaser,
            pendbaser: st
                .redists
                .iter()
                // PTZ is stored but always reads 0 (vgic_mmio_read_pendbase).
                .map(|rd| rd.pendbaser & !GicrPendbaser::PTZ.mask())
                .collect(),
            cpuifs: st
                .cpuifs
                .iter()
                .map(|c| CpuIfView {
                    pmr: c.pmr,
                    igrpen1: c.igrpen1,
                    eoimode: c.eoimode,
                    ap1r0: c.ap1r0,
                    igrpen0: c.igrpen0,
                    bpr0: c.bpr0_effective(),
                    bpr1: c.bpr1_effective(),
                    ap0r0: c.ap0r0,
                })
                .collect(),
            its: ItsView::of(vm),
        }
    }
}

/// An ID or capability register the guest read: where, and which bits matter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdRegister {
    /// The key of `observed().reads`, e.g. `GICR_TYPER@vcpu1`.
    pub key: String,
    pub name: String,
    pub frame: Frame,
    pub vcpu: u32,
    pub offset: u32,
    pub width: u8,
    /// Bits compared (GICR_CTLR: only IR and CES are capabilities; EnableLPIs is state).
    pub mask: u64,
}

impl IdRegister {
    /// The register behind an observation key, if it is an ID/capability register.
    pub fn from_key(key: &str) -> Option<IdRegister> {
        let (name, vcpu) = match key.split_once("@vcpu") {
            Some((n, v)) => (n, v.parse().ok()?),
            None => (key, 0),
        };
        let rr = catalogue::lookup(name).ok()?;
        let mask = match rr.desc.handler {
            Handler::DistTyper
            | Handler::DistTyper2
            | Handler::DistIidr
            | Handler::IdRegs
            | Handler::RdTyper
            | Handler::RdIidr => u64::MAX,
            Handler::RdCtlr => GicrCtlr::IR.mask() | GicrCtlr::CES.mask(),
            _ => return None,
        };
        Some(IdRegister {
            key: key.to_string(),
            name: rr.name(),
            frame: rr.desc.frame,
            vcpu,
            offset: rr.offset(),
            width: if rr.desc.reg_bytes == 8 { 64 } else { 32 },
            mask,
        })
    }
    /// What the guest reads there now (no observation recorded).
    pub fn peek(&self, vm: &Vgic) -> u64 {
        vm.peek_guest(self.frame, self.vcpu, self.offset, self.width)
            .unwrap_or(0)
            & self.mask
    }
    /// What the guest reads at each of `ids` on `vm` (one copy of the VM for all reads).
    pub fn peek_all(ids: &[IdRegister], vm: &Vgic) -> Vec<u64> {
        if ids.is_empty() {
            return Vec::new();
        }
        let mut probe = vm.clone();
        if probe.lifecycle() != crate::vgic::Lifecycle::HasRun {
            return ids.iter().map(|id| id.peek(vm)).collect();
        }
        ids.iter()
            .map(|id| {
                probe
                    .guest_read(id.frame, id.vcpu, id.offset, id.width)
                    .map_or(0, |o| o.value)
                    & id.mask
            })
            .collect()
    }
}

/// The source at save time, as the comparison needs it.
#[derive(Clone, Debug)]
pub struct SourceSnapshot {
    pub host: Host,
    pub config: VmConfig,
    pub view: GuestView,
    /// The ID registers the guest read, with what it reads there now.
    pub ids: Vec<(IdRegister, u64)>,
    /// The VM offered nASSGIcap.
    pub nassgicap: bool,
}

impl SourceSnapshot {
    pub fn of(vm: &Vgic) -> SourceSnapshot {
        let regs: Vec<IdRegister> = vm
            .observed()
            .reads
            .keys()
            .filter_map(|k| IdRegister::from_key(k))
            .collect();
        // What `IdRegister::peek` reads, with one copy of the VM for all of them.
        let at: Vec<_> = regs
            .iter()
            .map(|id| (id.frame, id.vcpu, id.offset, id.width))
            .collect();
        let values = vm.peek_guest_many(&at);
        let ids = regs
            .into_iter()
            .zip(values)
            .map(|(id, v)| {
                let v = v.unwrap_or(0) & id.mask;
                (id, v)
            })
            .collect();
        SourceSnapshot {
            host: *vm.host(),
            config: *vm.config(),
            view: GuestView::of(vm),
            ids,
            nassgicap: GicdTyper2::NASSGICAP.is_set(vm.typer2() as u64),
        }
    }

    /// What differs, by kind, without the detail of [`differences`]: ID register names
    /// and interrupt-state fields (e.g. `GICD_TYPER2`, `GICD_CTLR.nASSGIreq`,
    /// `SPI enabled`, `SGI/PPI vSGI`). Empty when the destination shows the guest
    /// exactly what it saw.
    pub fn causes(
        &self,
        view: &GuestView,
        dst_ids: impl Fn(&IdRegister) -> u64,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (id, v) in &self.ids {
            if dst_ids(id) != *v {
                out.insert(if id.frame == Frame::Redist && id.offset == 0 {
                    "GICR_CTLR.IR/CES".to_string()
                } else {
                    id.name.clone()
                });
            }
        }
        if self.view.shown_by(view) {
            return out;
        }
        let src = &self.view;
        if src.enabled != view.enabled {
            out.insert("GICD_CTLR.EnableGrp1".into());
        }
        if src.nassgireq != view.nassgireq {
            out.insert("GICD_CTLR.nASSGIreq".into());
        }
        let mut bank = |what: &str, a: &[IrqView], b: &[IrqView]| {
            for f in IrqField::ALL {
                if a.iter().zip(b).any(|(x, y)| f.value(x) != f.value(y)) {
                    out.insert(format!("{what} {}", f.name()));
                }
            }
        };
        bank("SPI", &src.spis, &view.spis);
        for (a, b) in src.private.iter().zip(&view.private) {
            bank("SGI/PPI", a, b);
        }
        if src.lpis != view.lpis {
            out.insert("GICR_CTLR.EnableLPIs".into());
        }
        if src.propbaser != 0 && src.propbaser != view.propbaser
            || src
                .pendbaser
                .iter()
                .zip(&view.pendbaser)
                .any(|(a, b)| *a != 0 && a != b)
        {
            out.insert("GICR_PROPBASER/PENDBASER".into());
        }
        if let (Some(a), Some(b)) = (&src.its, &view.its) {
            a.causes(b, &mut out);
        }
        out
    }

    /// Whether the destination shows the guest exactly this (the audit's fast check).
    pub fn same_as(&self, view: &GuestView, dst_ids: impl Fn(&IdRegister) -> u64) -> bool {
        self.view.shown_by(view) && self.ids.iter().all(|(id, v)| dst_ids(id) == *v)
    }
}

// ---- comparing, with the rules that explain each difference -----------------------------------

/// Which part of an interrupt's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IrqField {
    Group,
    Enable,
    Pending,
    Active,
    Priority,
    Config,
    Line,
    Route,
    Vsgi,
}

impl IrqField {
    const ALL: [IrqField; 9] = [
        IrqField::Group,
        IrqField::Enable,
        IrqField::Pending,
        IrqField::Active,
        IrqField::Priority,
        IrqField::Config,
        IrqField::Line,
        IrqField::Route,
        IrqField::Vsgi,
    ];
    fn name(self) -> &'static str {
        match self {
            IrqField::Group => "group",
            IrqField::Enable => "enabled",
            IrqField::Pending => "pending",
            IrqField::Active => "active",
            IrqField::Priority => "priority",
            IrqField::Config => "edge-triggered",
            IrqField::Line => "line level",
            IrqField::Route => "route (Aff2.Aff1.Aff0)",
            IrqField::Vsgi => "hardware vSGI (no active state)",
        }
    }
    /// Bits per IRQ in the register the guest reads it from.
    fn bits(self) -> u32 {
        match self {
            IrqField::Priority => 8,
            IrqField::Config => 2,
            IrqField::Route => 32,
            _ => 1,
        }
    }
    /// The register family's name after `GICD_`/`GICR_`.
    fn family(self) -> Option<&'static str> {
        Some(match self {
            IrqField::Group => "IGROUPR",
            IrqField::Enable => "ISENABLER",
            IrqField::Pending => "ISPENDR",
            IrqField::Active => "ISACTIVER",
            IrqField::Priority => "IPRIORITYR",
            IrqField::Config => "ICFGR",
            IrqField::Route => "IROUTER",
            IrqField::Line | IrqField::Vsgi => return None,
        })
    }
    fn value(self, v: &IrqView) -> u64 {
        match self {
            IrqField::Group => v.group as u64,
            IrqField::Enable => v.enabled as u64,
            IrqField::Pending => v.pending as u64,
            IrqField::Active => v.active as u64,
            IrqField::Priority => v.priority as u64,
            IrqField::Config => (v.edge as u64) << 1,
            IrqField::Line => v.line as u64,
            IrqField::Route => v.route as u64,
            IrqField::Vsgi => v.vsgi as u64,
        }
    }
    /// The KVM handlers whose writes decide this field.
    fn handlers(self) -> &'static [Handler] {
        match self {
            IrqField::Group => &[Handler::Group],
            IrqField::Enable => &[Handler::SetEnable, Handler::ClearEnable],
            IrqField::Pending => &[Handler::SetPending, Handler::ClearPending],
            IrqField::Active => &[Handler::SetActive, Handler::ClearActive],
            IrqField::Priority => &[Handler::Priority],
            IrqField::Config => &[Handler::Config],
            IrqField::Route => &[Handler::Irouter],
            IrqField::Line => &[],
            IrqField::Vsgi => &[Handler::DistCtlr],
        }
    }
}

/// The INTIDs a log entry's accesses covered, with the handler they reached.
fn entry_span(e: &LogEntry) -> Option<(Option<Handler>, u32, u32)> {
    match e.target? {
        Target::LevelInfo => Some((None, e.offset, e.offset + 32 * e.repeat)),
        Target::CpuSysreg => None,
        t => {
            let frame = t.frame()?;
            let d = catalogue::find_by_offset(frame, e.offset)?;
            match d.per_irq {
                Some(p) => {
                    let first = d.intid_at(e.offset)?;
                    let per_word = 32 / p.bits_per_irq as u32;
                    let n = if d.handler == Handler::Irouter {
                        // Two words per IRQ; the upper one decides nothing.
                        e.repeat.div_ceil(2) + u32::from(!e.offset.is_multiple_of(8))
                    } else {
                        per_word.max(1) * e.repeat
                    };
                    Some((Some(d.handler), first, first + n.max(1)))
                }
                None => Some((Some(d.handler), 0, 0)),
            }
        }
    }
}

fn useful_rule(id: &str) -> bool {
    id != r::UACCESS_HANDLER.id && id != r::MIGRATE_REFUSED.id
}

/// The rules of the log entries that wrote `field` of `intids` (SPIs: `vcpu` None).
fn attribute(
    log: &[LogEntry],
    field: IrqField,
    vcpu: Option<u32>,
    intids: &[u32],
) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut family_quirks: Vec<&'static str> = Vec::new();
    let spi = vcpu.is_none();
    for e in log {
        let Some(t) = e.target else {
            if field == IrqField::Vsgi {
                out.extend(e.rules.iter().filter(|x| x.starts_with("vsgi.")));
            }
            continue;
        };
        let (handler, lo, hi) = match entry_span(e) {
            Some(s) => s,
            None => continue,
        };
        let frame_ok = match t {
            Target::Dist => spi || field == IrqField::Vsgi,
            Target::Redist => !spi && Some(e.vcpu) == vcpu,
            Target::LevelInfo => field == IrqField::Line && (spi || Some(e.vcpu) == vcpu),
            Target::CpuSysreg | Target::Its => false,
        };
        if !frame_ok {
            continue;
        }
        let relevant = match handler {
            None => field == IrqField::Line,
            Some(h) => field.handlers().contains(&h),
        };
        if !relevant {
            continue;
        }
        family_quirks.extend(e.rules.iter().filter(|x| x.starts_with("vmm.")));
        let covers = field == IrqField::Vsgi || intids.iter().any(|i| (lo..hi).contains(i));
        if covers {
            out.extend(e.rules.iter().copied().filter(|x| useful_rule(x)));
        }
    }
    if out.is_empty() {
        out.push(r::VMM_NOT_RESTORED.id);
        out.extend(family_quirks);
    }
    dedup(&mut out);
    out
}

fn dedup(v: &mut Vec<&'static str>) {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert(*x));
}

fn list(intids: &[u32]) -> String {
    let s: Vec<String> = intids.iter().map(|i| i.to_string()).collect();
    if intids.len() == 1 {
        format!("INTID {}", s[0])
    } else {
        format!("INTIDs {}", s.join(", "))
    }
}

/// A bank of interrupts to compare: (vCPU for private ones, source, destination, first INTID).
type Bank<'a> = (Option<u32>, &'a [IrqView], &'a [IrqView], u32);

/// Compare the interrupt state, word by word as the guest would read it.
fn state_differences(
    src: &GuestView,
    dst: &GuestView,
    log: Option<&[LogEntry]>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let attr = |field: IrqField, vcpu: Option<u32>, intids: &[u32]| -> Vec<&'static str> {
        let mut rules = match log {
            Some(l) => attribute(l, field, vcpu, intids),
            None => Vec::new(),
        };
        rules.push(r::MIGRATE_STATE_CHANGED.id);
        rules
    };
    let flag = |name: &str,
                subject: Subject,
                a: bool,
                b: bool,
                rules: Vec<&'static str>,
                out: &mut Vec<Difference>| {
        if a != b {
            out.push(Difference {
                subject,
                kind: DiffKind::StateChanged,
                register: "GICD_CTLR".into(),
                field: name.into(),
                source: a as u64,
                destination: b as u64,
                reason: format!(
                    "GICD_CTLR.{name} was {} at save and is {} on the destination",
                    a as u8, b as u8
                ),
                rules,
            });
        }
    };
    let ctlr_rules = |log: Option<&[LogEntry]>| -> Vec<&'static str> {
        let mut v: Vec<&'static str> = log
            .unwrap_or(&[])
            .iter()
            .filter(|e| e.target == Some(Target::Dist) && e.offset == 0)
            .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
            .collect();
        if v.is_empty() && log.is_some() {
            v.push(r::VMM_NOT_RESTORED.id);
        }
        v.push(r::MIGRATE_STATE_CHANGED.id);
        dedup(&mut v);
        v
    };
    flag(
        "EnableGrp1",
        Subject::DistEnable,
        src.enabled,
        dst.enabled,
        ctlr_rules(log),
        &mut out,
    );
    flag(
        "nASSGIreq",
        Subject::NassgiReq,
        src.nassgireq,
        dst.nassgireq,
        ctlr_rules(log),
        &mut out,
    );

    // Per-IRQ state: SPIs, then each vCPU's SGIs and PPIs.
    // The arch timer drives its PPIs' lines from the timer registers, which a
    // VMM restores on their own (KVM_REG_ARM_TIMER_*, not modelled): their
    // line level (and the pending state a level line makes) is the timer's,
    // not vGIC state to compare.
    let timer_free = |bank: &[IrqView]| -> Vec<IrqView> {
        let mut bank = bank.to_vec();
        for intid in crate::delivery::TIMER_PPIS {
            if let Some(s) = bank.get_mut(intid as usize) {
                if !s.edge {
                    s.line = false;
                    s.pending = false;
                }
            }
        }
        bank
    };
    let private: Vec<(Vec<IrqView>, Vec<IrqView>)> = (0..src.private.len().min(dst.private.len()))
        .map(|v| (timer_free(&src.private[v]), timer_free(&dst.private[v])))
        .collect();
    let mut banks: Vec<Bank> = vec![(None, &src.spis, &dst.spis, NR_PRIVATE_IRQS)];
    for (v, (a, b)) in private.iter().enumerate() {
        banks.push((Some(v as u32), a, b, 0));
    }
    for (vcpu, a, b, base) in banks {
        if a == b {
            continue;
        }
        for field in IrqField::ALL {
            if field == IrqField::Route && vcpu.is_some()
                || field == IrqField::Vsgi && vcpu.is_none()
            {
                continue;
            }
            let per_word = (32 / field.bits()).max(1);
            let n = a.len().min(b.len()) as u32;
            let mut i = 0;
            while i < n {
                let word_first = (base + i) / per_word * per_word;
                let mut sa = 0u64;
                let mut sb = 0u64;
                let mut changed = Vec::new();
                let mut j = i;
                while j < n && (base + j) / per_word * per_word == word_first {
                    let (x, y) = (field.value(&a[j as usize]), field.value(&b[j as usize]));
                    let shift = ((base + j) % per_word) * field.bits();
                    if field != IrqField::Route {
                        sa |= x << shift;
                        sb |= y << shift;
                    } else {
                        sa = x;
                        sb = y;
                    }
                    if x != y {
                        changed.push(base + j);
                    }
                    j += 1;
                }
                i = j;
                if changed.is_empty() {
                    continue;
                }
                let index = word_first / per_word;
                let register = match (field.family(), vcpu) {
                    (Some(fam), None) => format!("GICD_{fam}{index}"),
                    (Some(fam), Some(v)) => {
                        let fam = match fam {
                            "IPRIORITYR" => format!("IPRIORITYR{index}"),
                            "ICFGR" => format!("ICFGR{index}"),
                            f => format!("{f}0"),
                        };
                        format!("GICR_{fam}@vcpu{v}")
                    }
                    (None, None) => format!("LEVEL_INFO[{}]", word_first / 32 * 32),
                    (None, Some(v)) if field == IrqField::Line => format!("LEVEL_INFO[0]@vcpu{v}"),
                    (None, Some(v)) => format!("SGIs@vcpu{v}"),
                };
                let reason = format!(
                    "{} of {} was {} at save and is {} on the destination",
                    field.name(),
                    list(&changed),
                    render(field, sa),
                    render(field, sb)
                );
                out.push(Difference {
                    subject: Subject::Irq { field, vcpu },
                    kind: DiffKind::StateChanged,
                    register,
                    field: format!("{}: {}", field.name(), list(&changed)),
                    source: sa,
                    destination: sb,
                    rules: attr(field, vcpu, &changed),
                    reason,
                });
            }
        }
    }
    // Each vCPU's CPU interface (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS).
    for (v, (a, b)) in src.cpuifs.iter().zip(&dst.cpuifs).enumerate() {
        let fields: [(&str, u32, &str, u64, u64); 8] = [
            (
                "ICC_PMR_EL1",
                ICC_PMR_EL1,
                "priority mask",
                a.pmr.into(),
                b.pmr.into(),
            ),
            (
                "ICC_IGRPEN1_EL1",
                ICC_IGRPEN1_EL1,
                "Group 1 enable",
                a.igrpen1.into(),
                b.igrpen1.into(),
            ),
            (
                "ICC_CTLR_EL1",
                ICC_CTLR_EL1,
                "EOImode",
                a.eoimode.into(),
                b.eoimode.into(),
            ),
            (
                "ICC_AP1R0_EL1",
                ICC_AP1R0_EL1,
                "active priorities",
                a.ap1r0.into(),
                b.ap1r0.into(),
            ),
            (
                "ICC_IGRPEN0_EL1",
                ICC_IGRPEN0_EL1,
                "Group 0 enable",
                a.igrpen0.into(),
                b.igrpen0.into(),
            ),
            (
                "ICC_BPR0_EL1",
                ICC_BPR0_EL1,
                "Group 0 binary point",
                a.bpr0.into(),
                b.bpr0.into(),
            ),
            (
                "ICC_BPR1_EL1",
                ICC_BPR1_EL1,
                "Group 1 binary point",
                a.bpr1.into(),
                b.bpr1.into(),
            ),
            (
                "ICC_AP0R0_EL1",
                ICC_AP0R0_EL1,
                "Group 0 active priorities",
                a.ap0r0.into(),
                b.ap0r0.into(),
            ),
        ];
        for (name, id, what, x, y) in fields {
            if x == y {
                continue;
            }
            out.push(Difference {
                subject: Subject::CpuIf {
                    vcpu: v as u32,
                    sysreg: id,
                },
                kind: DiffKind::StateChanged,
                register: format!("{name}@vcpu{v}"),
                field: what.into(),
                source: x,
                destination: y,
                rules: sysreg_rules(log, v as u32, id),
                reason: format!(
                    "vCPU {v}'s {what} ({name}) was {x:#x} at save and is {y:#x} on the destination"
                ),
            });
        }
    }
    // LPIs and their tables.
    for (v, (a, b)) in src.lpis.iter().zip(&dst.lpis).enumerate() {
        if a != b {
            out.push(Difference {
                subject: Subject::EnableLpis { vcpu: v as u32 },
                kind: DiffKind::StateChanged,
                register: format!("GICR_CTLR@vcpu{v}"),
                field: "EnableLPIs".into(),
                source: *a as u64,
                destination: *b as u64,
                rules: ctlr_like(log, Target::Redist, v as u32, 0),
                reason: format!(
                    "EnableLPIs of vCPU {v} was {} at save and is {} on the destination",
                    *a as u8, *b as u8
                ),
            });
        }
    }
    // A never-programmed LPI table base is not guest state (see GuestView::shown_by).
    if src.propbaser != dst.propbaser && src.propbaser != 0 {
        out.push(Difference {
            subject: Subject::LpiTables,
            kind: DiffKind::StateChanged,
            register: "GICR_PROPBASER".into(),
            field: "value".into(),
            source: src.propbaser,
            destination: dst.propbaser,
            rules: ctlr_like(log, Target::Redist, 0, GicrPropbaser::OFFSET),
            reason: format!("the LPI configuration table base was {:#x} at save and is {:#x} on the destination", src.propbaser, dst.propbaser),
        });
    }
    for (v, (a, b)) in src.pendbaser.iter().zip(&dst.pendbaser).enumerate() {
        if a != b && *a != 0 {
            out.push(Difference {
                subject: Subject::LpiTables,
                kind: DiffKind::StateChanged,
                register: format!("GICR_PENDBASER@vcpu{v}"),
                field: "value".into(),
                source: *a,
                destination: *b,
                rules: ctlr_like(log, Target::Redist, v as u32, GicrPendbaser::OFFSET),
                reason: format!("vCPU {v}'s LPI pending table base was {a:#x} at save and is {b:#x} on the destination"),
            });
        }
    }
    out
}

/// The rules of the replay's accesses to CPU-interface register `id` of `vcpu`.
fn sysreg_rules(log: Option<&[LogEntry]>, vcpu: u32, id: u32) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = log
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.target == Some(Target::CpuSysreg) && e.vcpu == vcpu && e.offset == id)
        .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
        .collect();
    if v.is_empty() && log.is_some() {
        v.push(r::VMM_NOT_RESTORED.id);
    }
    v.push(r::MIGRATE_STATE_CHANGED.id);
    dedup(&mut v);
    v
}

fn ctlr_like(log: Option<&[LogEntry]>, t: Target, vcpu: u32, off: u32) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = log
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.target == Some(t) && e.vcpu == vcpu && e.offset & !7 == off)
        .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
        .collect();
    if v.is_empty() && log.is_some() {
        v.push(r::VMM_NOT_RESTORED.id);
    }
    v.push(r::MIGRATE_STATE_CHANGED.id);
    dedup(&mut v);
    v
}

fn render(field: IrqField, v: u64) -> String {
    match field {
        IrqField::Priority | IrqField::Route => format!("{v:#x}"),
        _ if v <= 1 => v.to_string(),
        _ => format!("{v:#x}"),
    }
}

/// Compare ID registers: changes, and capabilities that appeared.
fn id_differences(src: &SourceSnapshot, dst: &Vgic, log: Option<&[LogEntry]>) -> Vec<Difference> {
    let mut out = Vec::new();
    for (id, sv) in &src.ids {
        let dv = id.peek(dst);
        if dv == *sv {
            continue;
        }
        let rr = catalogue::lookup(&id.name).ok();
        let fields: Vec<String> = match rr {
            Some(rr) => {
                let a = catalogue::decode(&rr, *sv);
                let b = catalogue::decode(&rr, dv);
                a.iter()
                    .zip(&b)
                    .filter(|(x, y)| x.value != y.value)
                    .map(|(x, y)| format!("{} {:#x} -> {:#x}", x.name, x.value, y.value))
                    .collect()
            }
            None => vec![],
        };
        let appeared = dv & !sv != 0 && sv & !dv == 0;
        let mut rules: Vec<&'static str> = Vec::new();
        if let Some(log) = log {
            // Writes to this register, or, for GICR_CTLR.IR/CES, to GICD_IIDR (the revision).
            let iidr_dependent = id.frame == Frame::Redist && id.offset == GicrCtlr::OFFSET;
            for e in log {
                let hit = e.target.and_then(|t| t.frame()) == Some(id.frame)
                    && e.offset == id.offset
                    && (id.frame == Frame::Dist || e.vcpu == id.vcpu);
                let iidr = iidr_dependent
                    && e.target == Some(Target::Dist)
                    && e.offset == GicdIidr::OFFSET;
                if (hit || iidr) && e.action == vmm::Action::Write {
                    rules.extend(e.rules.iter().copied().filter(|x| useful_rule(x)));
                }
            }
            if rules.is_empty() {
                rules.push(r::VMM_NOT_RESTORED.id);
            }
        }
        // What the destination presents, and why (the model's read rule).
        let mut probe = dst.clone();
        if let Ok(o) = probe.guest_read(id.frame, id.vcpu, id.offset, id.width) {
            rules.extend(o.rules.iter().map(|x| x.id).filter(|x| useful_rule(x)));
        }
        rules.push(if appeared {
            r::MIGRATE_CAPABILITY_APPEARED.id
        } else {
            r::MIGRATE_ID_CHANGED.id
        });
        dedup(&mut rules);
        let what = if fields.is_empty() {
            "value".to_string()
        } else {
            fields.join(", ")
        };
        let reason = if appeared {
            format!(
                "{} read {sv:#x} on the source and reads {dv:#x} on the destination ({what}): a capability appears; KVM keeps guest-visible ID values fixed across migration, and a guest that reboots here may start using it and can then no longer migrate back",
                id.key
            )
        } else {
            format!(
                "{} read {sv:#x} on the source and reads {dv:#x} on the destination ({what})",
                id.key
            )
        };
        out.push(Difference {
            subject: Subject::IdRegister {
                frame: id.frame,
                vcpu: id.vcpu,
                offset: id.offset,
            },
            kind: if appeared {
                DiffKind::CapabilityAppeared
            } else {
                DiffKind::IdChanged
            },
            register: id.key.clone(),
            field: what,
            source: *sv,
            destination: dv,
            rules,
            reason,
        });
    }
    out
}

/// Every difference the guest could see on `dst`, explained from `log` where given.
pub fn differences(
    src: &SourceSnapshot,
    dst: &Vgic,
    dst_view: &GuestView,
    log: Option<&[LogEntry]>,
) -> Vec<Difference> {
    let mut d = id_differences(src, dst, log);
    if !src.view.shown_by(dst_view) {
        d.extend(state_differences(&src.view, dst_view, log));
        if let (Some(a), Some(b)) = (&src.view.its, &dst_view.its) {
            d.extend(its::differences(a, b, log));
        }
    }
    d
}

// ---- suggestions ------------------------------------------------------------------------------

// Suggestions are structured fixes, each verified by a replay: see `fix.rs`.

impl Recipe {
    /// Whether the restore sequence restores line levels.
    pub fn restore_uses_level_info(&self) -> bool {
        fn walk(ops: &[vmm::Op]) -> bool {
            ops.iter().any(|op| match op {
                vmm::Op::Write(vmm::Access::PrivateLevels | vmm::Access::SpiLevels, _) => true,
                vmm::Op::ForEachVcpu(i)
                | vmm::Op::PreInit(i)
                | vmm::Op::Quirk { ops: i, .. }
                | vmm::Op::Seq(i) => walk(i),
                vmm::Op::IfSet { then, .. } => walk(then),
                _ => false,
            })
        }
        walk(self.restore)
    }
    /// Whether a sequence sweeps whole frames (the audit counts no-region words for those).
    pub fn sweeps(&self) -> bool {
        fn walk(ops: &[vmm::Op]) -> bool {
            ops.iter().any(|op| match op {
                vmm::Op::Read(vmm::Access::Sweep { .. })
                | vmm::Op::Write(vmm::Access::Sweep { .. }, _) => true,
                vmm::Op::ForEachVcpu(i)
                | vmm::Op::PreInit(i)
                | vmm::Op::Quirk { ops: i, .. }
                | vmm::Op::Seq(i) => walk(i),
                vmm::Op::IfSet { then, .. } => walk(then),
                _ => false,
            })
        }
        walk(self.restore) || walk(self.save)
    }
}

// ---- a migration ------------------------------------------------------------------------------

/// What the source guest did.
#[derive(Clone, Debug)]
pub enum GuestSpec {
    Profile(GuestProfile),
    /// A scenario's steps, run on the source before the migration.
    Scenario(Box<Scenario>),
}

impl GuestSpec {
    pub fn name(&self) -> String {
        match self {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(s) => {
                format!("scenario {}", s.name.as_deref().unwrap_or("(unnamed)"))
            }
        }
    }
}

/// One migration to judge.
#[derive(Clone, Debug)]
pub struct MigrationSpec {
    pub from: Host,
    pub to: Host,
    pub vmm: &'static Recipe,
    pub guest: GuestSpec,
    pub policy: RestorePolicy,
    pub vcpus: u32,
    pub its: bool,
    /// Create the source VM with GICD_TYPER2 = 0 written before init (6.17+).
    pub clear_nassgicap: bool,
    /// Replay the VMM's sequences with these changes (a suggested fix).
    pub recipe_changes: Vec<RecipeChange>,
}

impl MigrationSpec {
    /// Defaults: kernel policy, 2 vCPUs, an ITS only where the VMM always has one.
    pub fn new(from: Host, to: Host, vmm: &'static Recipe, guest: GuestProfile) -> MigrationSpec {
        MigrationSpec {
            from,
            to,
            vmm,
            guest: GuestSpec::Profile(guest),
            policy: RestorePolicy::Kernel,
            vcpus: 2,
            its: vmm.its == ItsSupport::Always,
            clear_nassgicap: false,
            recipe_changes: Vec::new(),
        }
    }

    /// Everything that decides the source VM and its save, as text (to share replays).
    fn source_key(&self) -> String {
        let guest = match &self.guest {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(sc) => format!("{:?} {:?} {:?}", sc.host, sc.vm, sc.steps),
        };
        format!(
            "{}|{}|{guest}|{}|{}|{}|{:?}",
            self.from.compact(),
            self.vmm.id,
            self.vcpus,
            self.its,
            self.clear_nassgicap,
            self.recipe_changes
        )
    }

    /// Everything that decides the migration, as text (to share replays).
    fn key(&self) -> String {
        let guest = match &self.guest {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(sc) => format!("{:?} {:?} {:?}", sc.host, sc.vm, sc.steps),
        };
        format!(
            "{}|{}|{}|{guest}|{}|{}|{}|{}|{:?}",
            self.from.compact(),
            self.to.compact(),
            self.vmm.id,
            self.policy.as_str(),
            self.vcpus,
            self.its,
            self.clear_nassgicap,
            self.recipe_changes
        )
    }
}

/// A migration that cannot be attempted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("{vmm} always creates an ITS: the VM must have one (--its)")]
    NeedsIts { vmm: &'static str },
    #[error("{vmm} cannot snapshot a VM with an ITS: {note}")]
    NoIts {
        vmm: &'static str,
        note: &'static str,
    },
    #[error(transparent)]
    Save(#[from] vmm::SaveError),
    #[error("the source VM cannot be prepared: {0}")]
    Source(String),
}

/// The full account of a migration.
#[derive(Clone, Debug, Serialize)]
pub struct Migration {
    pub from: String,
    pub to: String,
    pub from_era: Era,
    pub to_era: Era,
    pub vmm: &'static str,
    pub guest: String,
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub config: VmConfig,
    pub verdict: Verdict,
    pub accepted: bool,
    pub safe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    pub differences: Vec<Difference>,
    /// Every rule id involved: the refusal's, the differences', the verdict's.
    pub rules: Vec<&'static str>,
    /// The first of `fixes`: what to change so that the migration is compatible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Fix>,
    /// Every fix the model verified (replaying the migration with it applied gives
    /// `compatible`), best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
    /// The restore as the VMM ran it (up to the refusal), then the first KVM_RUN.
    pub restore_log: Vec<LogEntry>,
    /// For a refused restore: the replay that skips refused writes, then KVM_RUN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub safety_log: Vec<LogEntry>,
    /// Values the save read.
    pub saved_values: usize,
    /// Parts of the VMM's real sequence not replayed, with the reason.
    pub skipped: Vec<String>,
}

impl Migration {
    /// One line per reason, for text output.
    pub fn reasons(&self) -> Vec<String> {
        reason_lines(self.refusal.as_ref(), &self.differences)
    }
}

/// Create and run the source VM and let the guest do its part.
pub fn prepare_source(spec: &MigrationSpec) -> Result<Vgic, MigrateError> {
    let recipe = spec.vmm;
    let (vcpus, its) = match &spec.guest {
        GuestSpec::Profile(_) => (spec.vcpus, spec.its),
        GuestSpec::Scenario(sc) => (sc.vm.vcpus, sc.vm.its),
    };
    check_its(recipe, its)?;
    let config = crate::guest::vm_config(vcpus, recipe.nr_irqs, its)
        .map_err(|e| MigrateError::Source(e.to_string()))?;
    let mut vm = Vgic::new(spec.from, config);
    if spec.clear_nassgicap {
        let o = vm
            .user_write(Frame::Dist, 0, GicdTyper2::OFFSET, 0)
            .map_err(|e| MigrateError::Source(e.to_string()))?;
        if let Some(e) = o.errno {
            return Err(MigrateError::Source(format!(
                "clearing nASSGIcap before init failed with {e} on {} (it needs 6.17+)",
                spec.from
            )));
        }
    }
    match &spec.guest {
        GuestSpec::Profile(p) => {
            vm.init();
            vm.run();
            p.boot(&mut vm)
                .map_err(|e| MigrateError::Source(e.to_string()))?;
        }
        GuestSpec::Scenario(sc) => {
            for (i, step) in sc.steps.iter().enumerate() {
                scenario::run_step(&mut vm, i, step)
                    .map_err(|e| MigrateError::Source(format!("steps[{i}]: {e}")))?;
            }
        }
    }
    Ok(vm)
}

pub(crate) fn check_its(recipe: &'static Recipe, its: bool) -> Result<(), MigrateError> {
    match (recipe.its, its) {
        (ItsSupport::Always, false) => Err(MigrateError::NeedsIts { vmm: recipe.id }),
        (ItsSupport::Refused, true) => Err(MigrateError::NoIts {
            vmm: recipe.id,
            note: recipe.its_note,
        }),
        _ => Ok(()),
    }
}

/// Judge one migration from scratch, with every fix the model verifies.
pub fn migrate(spec: &MigrationSpec) -> Result<Migration, MigrateError> {
    let mut src = prepare_source(spec)?;
    let (mut m, _, candidates) = judge_vm(
        &mut src,
        spec.to,
        spec.vmm,
        spec.policy,
        &spec.recipe_changes,
        [None, None],
    )?;
    m.guest = spec.guest.name();
    let fixes = verified(spec, candidates, true, &mut Verifier::default());
    m.suggestion = fixes.first().cloned();
    m.fixes = fixes;
    Ok(m)
}

/// The unverified candidate fixes of `spec` (none if it is compatible); `fast`: the
/// region maps of the source's and the destination's VMs for a sweeping recipe.
pub(crate) fn candidates_of(
    spec: &MigrationSpec,
    fast: [Option<&RegionMap>; 2],
) -> Result<Vec<Fix>, MigrateError> {
    let mut src = prepare_source(spec)?;
    judge_vm(
        &mut src,
        spec.to,
        spec.vmm,
        spec.policy,
        &spec.recipe_changes,
        fast,
    )
    .map(|r| r.2)
}

/// The verdict of migrating `src` (no log, no reasons): the same replay as
/// [`migrate_vm`] without the log, judged like the audit (`SourceSnapshot::same_as`).
fn quick_verdict_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &Recipe,
    policy: RestorePolicy,
    changes: &[RecipeChange],
) -> Result<Verdict, MigrateError> {
    let saved = save_checked(src, recipe, changes, None)?;
    let snap = SourceSnapshot::of(src);
    let (dst, restore, safety) = land(
        to,
        *src.config(),
        policy,
        recipe,
        &saved,
        RestoreOptions {
            log: false,
            fast: None,
            changes,
            ..Default::default()
        },
    );
    let accepted = restore.refusal.is_none();
    let (vm, view) = match safety {
        None => {
            let view = GuestView::of(&dst);
            (dst, view)
        }
        Some(l) => (l.vm, l.view),
    };
    let ids: Vec<IdRegister> = snap.ids.iter().map(|(id, _)| id.clone()).collect();
    let values = IdRegister::peek_all(&ids, &vm);
    let safe = snap.same_as(&view, |id| {
        ids.iter()
            .position(|x| x.key == id.key)
            .map_or(0, |i| values[i])
    });
    Ok(Verdict::of(accepted, safe))
}

/// The VMM's checks of the source VM, then its save.
fn save_checked(
    src: &mut Vgic,
    recipe: &Recipe,
    changes: &[RecipeChange],
    fast: Option<&RegionMap>,
) -> Result<SavedState, MigrateError> {
    if src.config().nr_irqs != recipe.nr_irqs {
        return Err(MigrateError::Source(format!(
            "{} creates its vGIC with NR_IRQS {}, the VM has {}",
            recipe.id,
            recipe.nr_irqs,
            src.config().nr_irqs
        )));
    }
    Ok(vmm::save_with(src, recipe, fast, changes)?)
}

/// The destination after a restore: the VM, the log, and what the guest sees.
pub(crate) struct Landing {
    pub vm: Vgic,
    pub view: GuestView,
    pub restore: vmm::Restore,
}

/// Restore `saved` on a new VM on `to` (`config`, `policy`), run it if accepted, and
/// if refused also replay it skipping the refused writes (the safety replay); `opts`
/// gives the log, the fast replay and the recipe changes.
/// Returns (the VM as the VMM left it, the landing the guest would see).
pub(crate) fn land(
    to: Host,
    config: VmConfig,
    policy: RestorePolicy,
    recipe: &Recipe,
    saved: &SavedState,
    opts: RestoreOptions,
) -> (Vgic, vmm::Restore, Option<Landing>) {
    let mut vm = Vgic::new(to, config);
    vm.set_restore_policy(policy);
    // One replay that keeps going past refusals, copying the VM at the first one: up to
    // there the VMM's restore and the safety replay are the same accesses.
    let log = opts.log;
    let opts = RestoreOptions {
        keep_going: true,
        copy_at_refusal: true,
        ..opts
    };
    let mut r = vmm::restore(&mut vm, recipe, saved, &opts);
    match r.at_refusal.take() {
        None => {
            let e = vmm::run_entry(&mut vm, r.accesses);
            if log {
                r.log.push(e);
            }
            (vm, r, None)
        }
        Some(b) => {
            let (left, log_len, accesses, elided) = *b;
            let vmm_restore = vmm::Restore {
                refusal: r.refusal.clone(),
                refused: r.refused.iter().take(1).cloned().collect(),
                log: r.log[..log_len.min(r.log.len())].to_vec(),
                accesses,
                elided,
                at_refusal: None,
            };
            let e = vmm::run_entry(&mut vm, r.accesses);
            if log {
                r.log.push(e);
            }
            let view = GuestView::of(&vm);
            // The safety replay's own count excludes the shared prefix.
            r.accesses -= accesses;
            r.elided -= elided;
            (
                left,
                vmm_restore,
                Some(Landing {
                    vm,
                    view,
                    restore: r,
                }),
            )
        }
    }
}

/// Save `src` with `recipe`, restore on `to` under `policy`, run, judge. Returns the
/// account and the destination VM as the VMM leaves it (run if accepted; stopped at
/// the refusal otherwise).
///
/// The source is a live VM (a scenario's), which cannot be created again: the fixes
/// suggested are those that keep it (a recipe change, another destination kernel),
/// each verified by replaying the migration from a copy of it.
pub fn migrate_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    migrate_vm_from(src, None, to, recipe, policy)
}

/// [`migrate_vm`] without fixes (no replay beyond the migration itself): for views
/// that show only the verdict and reasons, e.g. the same migration under each policy.
pub fn migrate_vm_without_fixes(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    judge_vm(src, to, recipe, policy, &[], [None, None]).map(|(m, dst, _)| (m, dst))
}

/// [`migrate_vm`] for a VM whose origin is known: if it was created on its host
/// and reached by steps without a migration, the source can be created again by
/// replaying them (a [`GuestSpec::Scenario`]), so fixes that change the source are
/// verified and suggested too.
pub fn migrate_vm_from(
    src: &mut Vgic,
    origin: Option<scenario::Origin>,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    let (mut m, dst, candidates) = judge_vm(src, to, recipe, policy, &[], [None, None])?;
    let replayable = origin.filter(|o| {
        o.host == *src.host()
            && o.vm == *src.config()
            && !o
                .steps
                .iter()
                .any(|s| matches!(s, scenario::Step::Migrate(_)))
    });
    if let Some(o) = replayable {
        let spec = MigrationSpec {
            guest: GuestSpec::Scenario(Box::new(Scenario {
                name: None,
                description: None,
                note: None,
                host: o.host,
                vm: o.vm,
                steps: o.steps.to_vec(),
            })),
            policy,
            vcpus: o.vm.vcpus,
            its: o.vm.its,
            ..MigrationSpec::new(o.host, to, recipe, GuestProfile::Idle)
        };
        let fixes = verified(&spec, candidates, true, &mut Verifier::default());
        m.suggestion = fixes.first().cloned();
        m.fixes = fixes;
        return Ok((m, dst));
    }
    let fixes: Vec<Fix> = candidates
        .into_iter()
        .filter(|f| f.keeps_source())
        .filter(|f| {
            f.destination(to).is_ok_and(|to| {
                let mut copy = src.clone();
                quick_verdict_vm(&mut copy, to, recipe, policy, &f.recipe_changes(&[]))
                    .is_ok_and(|v| v == Verdict::Compatible)
            })
        })
        .collect();
    m.suggestion = fixes.first().cloned();
    m.fixes = fixes;
    Ok((m, dst))
}

/// [`migrate_vm`] with the recipe changed by `changes`, without suggestions; returns
/// the unverified candidate fixes too (none for a compatible migration).
fn judge_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
    changes: &[RecipeChange],
    fast: [Option<&RegionMap>; 2],
) -> Result<(Migration, Vgic, Vec<Fix>), MigrateError> {
    check_its(recipe, src.config().its)?;
    let saved = save_checked(src, recipe, changes, fast[0])?;
    let snap = SourceSnapshot::of(src);
    let (dst, restore, safety) = land(
        to,
        *src.config(),
        policy,
        recipe,
        &saved,
        RestoreOptions {
            log: true,
            fast: fast[1],
            changes,
            ..Default::default()
        },
    );
    let accepted = restore.refusal.is_none();
    let diffs = match &safety {
        None => {
            let view = GuestView::of(&dst);
            differences(&snap, &dst, &view, Some(&restore.log))
        }
        Some(l) => differences(&snap, &l.vm, &l.view, Some(&l.restore.log)),
    };
    let m = account(
        &snap,
        to,
        recipe,
        policy,
        accepted,
        restore,
        safety.map(|l| l.restore.log),
        diffs,
        saved.len(),
    );
    let candidates = if m.verdict == Verdict::Compatible {
        Vec::new()
    } else {
        candidates(&Facts {
            snap: &snap,
            to,
            recipe,
            applied: changes,
            refusal: m.refusal.as_ref(),
            diffs: &m.differences,
            rules: &m.rules,
        })
    };
    Ok((m, dst, candidates))
}

/// The verdict and every rule involved, from a restore's refusal (if any) and the
/// differences the guest would see.
pub fn judgement(refusal: Option<&Refusal>, diffs: &[Difference]) -> (Verdict, Vec<&'static str>) {
    let verdict = Verdict::of(refusal.is_none(), diffs.is_empty());
    let mut rules: Vec<&'static str> = Vec::new();
    if let Some(f) = refusal {
        rules.extend(f.rules.iter().copied());
    }
    for d in diffs {
        rules.extend(d.rules.iter().copied());
    }
    rules.push(verdict.rule().id);
    dedup(&mut rules);
    (verdict, rules)
}

/// One line per reason: the refusal, then each difference with its rules.
pub fn reason_lines(refusal: Option<&Refusal>, diffs: &[Difference]) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(f) = refusal {
        v.push(format!(
            "refused: {} at step {} writing {:#x} to {}{} [{}]",
            f.errno,
            f.step,
            f.value,
            f.register,
            if f.target == Target::Redist {
                format!(" (vCPU {})", f.vcpu)
            } else {
                String::new()
            },
            f.rules.join(", ")
        ));
    }
    for d in diffs {
        v.push(format!(
            "{}: {} [{}]",
            d.register,
            d.reason,
            d.rules.join(", ")
        ));
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn account(
    snap: &SourceSnapshot,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
    accepted: bool,
    restore: vmm::Restore,
    safety_log: Option<Vec<LogEntry>>,
    diffs: Vec<Difference>,
    saved_values: usize,
) -> Migration {
    let safe = diffs.is_empty();
    let (verdict, rules) = judgement(restore.refusal.as_ref(), &diffs);
    Migration {
        from: snap.host.compact(),
        to: to.compact(),
        from_era: snap.host.era(),
        to_era: to.era(),
        vmm: recipe.id,
        guest: String::new(),
        policy,
        config: snap.config,
        verdict,
        accepted,
        safe,
        refusal: restore.refusal,
        differences: diffs,
        rules,
        suggestion: None,
        fixes: Vec::new(),
        restore_log: restore.log,
        safety_log: safety_log.unwrap_or_default(),
        saved_values,
        skipped: recipe
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.what, s.reason))
            .collect(),
    }
}

// ---- the scenario step ------------------------------------------------------------------------

/// `{"errno": "EINVAL", "reg": "GICD_TYPER2"}`: the restore must stop there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRefusal {
    pub errno: ErrnoName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg: Option<String>,
}

/// A restore policy by its name (`kernel`, `accept-any`, `relaxed-2020`), as the CLI
/// and scenario files spell it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyArg(pub RestorePolicy);

impl Serialize for PolicyArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for PolicyArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(PolicyArg).map_err(serde::de::Error::custom)
    }
}

/// Serialize a policy by its name (`relaxed-2020`).
pub fn serialize_policy<S: serde::Serializer>(p: &RestorePolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// A host written as a JSON object or in the compact form (`"v4.1@6.17"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostArg(pub Host);

impl Serialize for HostArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.compact())
    }
}

impl<'de> Deserialize<'de> for HostArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Host::parse_compact(&s)
                .map(HostArg)
                .map_err(serde::de::Error::custom),
            other => Host::deserialize(other)
                .map(HostArg)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The `migrate` step: save the VM with `vmm`, restore it on `to`, run it; later
/// steps run on the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateStep {
    pub to: HostArg,
    pub vmm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyArg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ExpectRefusal>,
    /// A rule id the migration must involve: in its refusal, its differences, its
    /// verdict or any access of its restore log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    /// Several rule ids, each of which the migration must involve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Check a `migrate` step against the scenario's VM (at `path`, e.g. `steps[4]`).
pub fn validate_step(s: &MigrateStep, vm: &VmConfig, path: &str) -> Result<(), ScenarioError> {
    let recipe =
        vmm::recipe(&s.vmm).map_err(|e| ScenarioError::at(format!("{path}.vmm"), e.to_string()))?;
    if vm.nr_irqs != recipe.nr_irqs {
        return Err(ScenarioError::at(
            format!("{path}.vmm"),
            format!(
                "{} creates its vGIC with NR_IRQS {} ({}); set vm.nr_irqs to {}",
                recipe.id, recipe.nr_irqs, recipe.nr_irqs_note, recipe.nr_irqs
            ),
        ));
    }
    if let Err(e) = check_its(recipe, vm.its) {
        return Err(ScenarioError::at(
            format!("{path}.vmm"),
            format!("{e} (vm.its)"),
        ));
    }
    for (i, id) in s.expect_rules.iter().enumerate() {
        if crate::rules::by_id(id).is_none() {
            return Err(ScenarioError::at(
                format!("{path}.expect_rules[{i}]"),
                format!("unknown rule id {id:?} (see `gicx rules`)"),
            ));
        }
    }
    if let Some(reg) = s.expect_error.as_ref().and_then(|e| e.reg.as_deref()) {
        catalogue::lookup(reg)
            .map_err(|e| ScenarioError::at(format!("{path}.expect_error.reg"), e.to_string()))?;
    }
    Ok(())
}

/// Run a `migrate` step: `vm` becomes the destination. With the VM's origin, the
/// suggested fixes may change the source too (see [`migrate_vm_from`]).
pub fn run_step(
    vm: &mut Vgic,
    origin: Option<scenario::Origin>,
    index: usize,
    s: &MigrateStep,
) -> StepReport {
    let mut failures = Vec::new();
    let policy = s.policy.unwrap_or_default().0;
    let result = vmm::recipe(&s.vmm)
        .map_err(|e| MigrateError::Source(e.to_string()))
        .and_then(|recipe| migrate_vm_from(vm, origin, s.to.0, recipe, policy));
    let (summary, migration) = match result {
        Err(e) => {
            failures.push(e.to_string());
            (format!("migrate with {} to {}: {e}", s.vmm, s.to.0), None)
        }
        Ok((m, dst)) => {
            *vm = dst;
            if let Some(want) = s.expect_verdict {
                if m.verdict != want {
                    failures.push(format!(
                        "expected verdict {want}, got {} ({})",
                        m.verdict,
                        m.reasons().join("; ")
                    ));
                }
            }
            match (&s.expect_error, &m.refusal) {
                (Some(e), Some(f)) => {
                    if e.errno.0 != f.errno {
                        failures.push(format!(
                            "expected the restore to stop with {}, it stopped with {} at {}",
                            e.errno.0, f.errno, f.register
                        ));
                    }
                    if let Some(reg) = &e.reg {
                        if !reg.eq_ignore_ascii_case(&f.register) {
                            failures.push(format!(
                                "expected the restore to stop at {reg}, it stopped at {}",
                                f.register
                            ));
                        }
                    }
                }
                (Some(e), None) => failures.push(format!(
                    "expected the restore to stop with {}, it was accepted",
                    e.errno.0
                )),
                (None, Some(f))
                    if !matches!(
                        s.expect_verdict,
                        Some(Verdict::Rejected | Verdict::NeedlesslyRejected)
                    ) =>
                {
                    failures.push(format!(
                        "expected the restore to be accepted, it stopped with {} at {}",
                        f.errno, f.register
                    ))
                }
                _ => {}
            }
            let involved: BTreeSet<&str> = m
                .rules
                .iter()
                .copied()
                .chain(
                    m.restore_log
                        .iter()
                        .chain(&m.safety_log)
                        .flat_map(|e| e.rules.iter().copied()),
                )
                .collect();
            for id in s.expect_rule.iter().chain(&s.expect_rules) {
                if !involved.contains(id.as_str()) {
                    failures.push(format!(
                        "expected rule {id}, the migration involved [{}]",
                        m.rules.join(", ")
                    ));
                }
            }
            let what = match &m.refusal {
                Some(f) => format!("refused ({} at {})", f.errno, f.register),
                None => "accepted".into(),
            };
            (
                format!(
                    "migrate with {} to {} ({}): {what}, {}",
                    m.vmm,
                    m.to,
                    policy.as_str(),
                    m.verdict
                ),
                Some(Box::new(m)),
            )
        }
    };
    let mut rep = StepReport {
        index,
        op: "migrate",
        summary,
        outcome: None,
        failures,
        note: s.note.clone(),
        migration: None,
    };
    rep.migration = migration;
    rep
}

// ---- the source as a scenario ------------------------------------------------------------------

/// The source VM a [`MigrationSpec::new`] migration starts from, as a scenario that
/// any explorer or `gicx run` can step through: the VM the VMM creates on `from`
/// (2 vCPUs, its NR_IRQS, an ITS where it always has one), `init`, the first `run`,
/// then the guest profile's MMIO accesses one step each. Running it gives the VM
/// [`prepare_source`] makes (a test checks the saved states are equal), so a
/// migration of it has the Matrix cell's verdict.
pub fn source_scenario(from: Host, recipe: &'static Recipe, guest: GuestProfile) -> Scenario {
    source_scenario_with(from, recipe, guest, true)
}

/// [`source_scenario`] without the guest's ITS setup (and guest RAM): the source of
/// the real migrations `gicx-kvm` runs, which save and restore the vGIC device only
/// (their interpreter leaves [`vmm::Op::Its`] out; real ITS migrations are not run yet).
pub fn source_scenario_without_its_setup(
    from: Host,
    recipe: &'static Recipe,
    guest: GuestProfile,
) -> Scenario {
    source_scenario_with(from, recipe, guest, false)
}

fn source_scenario_with(
    from: Host,
    recipe: &'static Recipe,
    guest: GuestProfile,
    its_setup: bool,
) -> Scenario {
    let its = recipe.its == ItsSupport::Always;
    let config = if its_setup {
        crate::guest::vm_config(2, recipe.nr_irqs, its)
    } else {
        VmConfig::new(2, recipe.nr_irqs, its)
    }
    .expect("a recipe's NR_IRQS is a valid VM");
    let mut steps = vec![
        scenario::Step::Init(scenario::LifecycleStep {
            note: Some(format!(
                "{} creates the vGIC and initialises it",
                recipe.name
            )),
            ..Default::default()
        }),
        scenario::Step::Run(scenario::LifecycleStep {
            note: Some("the first KVM_RUN: the guest boots".into()),
            ..Default::default()
        }),
    ];
    steps.extend(guest_steps(guest, from, &config));
    Scenario {
        name: Some(format!(
            "{} guest on {}, as {} creates it",
            guest,
            from.compact(),
            recipe.name
        )),
        description: Some(format!("Guest profile {guest}: {}", guest.summary())),
        note: None,
        host: from,
        vm: config,
        steps,
    }
}

/// What [`GuestProfile::boot`] does on `host`, as scenario steps (the same accesses in
/// the same order; `guest.rs` documents where each comes from).
pub fn guest_steps(guest: GuestProfile, host: Host, config: &VmConfig) -> Vec<scenario::Step> {
    use crate::host::vcpu_mpidr;
    const D: Frame = Frame::Dist;
    const R: Frame = Frame::Redist;
    const DEF_PRI: u64 = 0xa0a0_a0a0;
    let v4_1_aware = match guest {
        GuestProfile::Idle => return Vec::new(),
        GuestProfile::Linux => true,
        GuestProfile::Legacy => false,
    };
    let (nr, vcpus) = (config.nr_irqs, config.vcpus);
    let last = vcpus - 1;
    let mut out = Vec::new();
    let access =
        |frame: Frame, vcpu: u32, offset: u32, width: u8, value: Option<u64>| scenario::RegStep {
            offset: Some(scenario::Num(offset as u64)),
            frame: (frame == R).then_some(R),
            vcpu: (vcpu != 0).then_some(vcpu),
            width: (width != 32).then_some(width),
            value: value.map(scenario::Num),
            ..Default::default()
        };
    let read = |out: &mut Vec<scenario::Step>, f, cpu, off, width, note: Option<&str>| {
        let mut s = access(f, cpu, off, width, None);
        s.note = note.map(str::to_string);
        out.push(scenario::Step::GuestRead(s));
    };
    let write = |out: &mut Vec<scenario::Step>, f, cpu, off, width, v: u64| {
        out.push(scenario::Step::GuestWrite(access(
            f,
            cpu,
            off,
            width,
            Some(v),
        )));
    };
    read(
        &mut out,
        D,
        0,
        GicdPidr2::OFFSET,
        32,
        Some("gic_validate_dist_version reads GICD_PIDR2"),
    );
    read(
        &mut out,
        D,
        0,
        GicdTyper::OFFSET,
        32,
        Some("gic_init_bases reads GICD_TYPER"),
    );
    read(
        &mut out,
        D,
        0,
        GicdIidr::OFFSET,
        32,
        Some("gic_enable_quirks reads GICD_IIDR"),
    );
    if v4_1_aware {
        read(
            &mut out,
            D,
            0,
            GicdTyper2::OFFSET,
            32,
            Some("gic_init_bases reads GICD_TYPER2 (5.7+): nASSGIcap"),
        );
    }
    write(&mut out, D, 0, GicdCtlr::OFFSET, 32, 0);
    for n in 1..nr / 32 {
        write(&mut out, D, 0, GicdIgroupr::at(n), 32, 0xFFFF_FFFF);
        write(&mut out, D, 0, GicdIcactiver::at(n), 32, 0xFFFF_FFFF);
        write(&mut out, D, 0, GicdIcenabler::at(n), 32, 0xFFFF_FFFF);
    }
    for n in 2..nr / 16 {
        write(&mut out, D, 0, GicdIcfgr::at(n), 32, 0);
    }
    for n in 8..nr / 4 {
        write(&mut out, D, 0, GicdIpriorityr::at(n), 32, DEF_PRI);
    }
    for i in 32..nr {
        write(&mut out, D, 0, GicdIrouter::at(i), 64, vcpu_mpidr(0) as u64);
    }
    let mut ctlr = GicdCtlr::ARE_NS.mask();
    let enable = GicdCtlr::ENABLE_GRP1.mask() | GicdCtlr::ENABLE_GRP0.mask();
    // Linux sets nASSGIreq only where it read nASSGIcap: what this host's TYPER2 reads.
    let nassgicap = v4_1_aware && {
        let mut probe = Vgic::new(host, *config);
        probe.init();
        probe.run();
        probe
            .guest_read(D, 0, GicdTyper2::OFFSET, 32)
            .is_ok_and(|o| GicdTyper2::NASSGICAP.is_set(o.value))
    };
    if nassgicap {
        ctlr |= GicdCtlr::NASSGIREQ.mask();
        let mut s = access(D, 0, GicdCtlr::OFFSET, 32, Some(ctlr));
        s.note = Some("gic_dist_init sets nASSGIreq: GICD_TYPER2.nASSGIcap read 1".into());
        out.push(scenario::Step::GuestWrite(s));
    }
    write(&mut out, D, 0, GicdCtlr::OFFSET, 32, ctlr | enable);
    for cpu in 0..vcpus {
        read(&mut out, R, cpu, GicrTyper::OFFSET, 64, None);
        if v4_1_aware {
            read(&mut out, R, cpu, GicrCtlr::OFFSET, 32, None);
        }
        write(&mut out, R, cpu, GicrIgroupr0::OFFSET, 32, 0xFFFF_FFFF);
        write(&mut out, R, cpu, GicrIcactiver0::OFFSET, 32, 0xFFFF_FFFF);
        write(&mut out, R, cpu, GicrIcenabler0::OFFSET, 32, 0xFFFF_0000);
        write(&mut out, R, cpu, GicrIsenabler0::OFFSET, 32, 0x0000_FFFF);
        for n in 0..8 {
            write(&mut out, R, cpu, GicrIpriorityr::at(n), 32, DEF_PRI);
        }
        write(&mut out, R, cpu, GicrIsenabler0::OFFSET, 32, 1 << 27);
    }
    write(&mut out, D, 0, GicdIcfgr::at(2), 32, (1 << 3) | (1 << 5));
    write(&mut out, D, 0, GicdIpriorityr::OFFSET + 40, 8, 0x80);
    write(
        &mut out,
        D,
        0,
        GicdIrouter::at(34),
        64,
        vcpu_mpidr(last) as u64,
    );
    write(
        &mut out,
        D,
        0,
        GicdIrouter::at(nr - 1),
        64,
        vcpu_mpidr(last) as u64,
    );
    for intid in [33, 34, 40, nr - 1] {
        write(
            &mut out,
            D,
            0,
            GicdIsenabler::at(intid / 32),
            32,
            1 << (intid % 32),
        );
    }
    write(&mut out, D, 0, GicdIspendr::at(1), 32, 1 << 1);
    write(&mut out, D, 0, GicdIsactiver::at(1), 32, 1 << 2);
    write(&mut out, R, last, GicrIspendr0::OFFSET, 32, 1 << 2);
    // The guest's ITS setup needs its RAM (`guest::vm_config`).
    if config.its && !config.memory.is_empty() {
        out.extend(crate::guest::its_steps(vcpus));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn cpu_interface_state_is_compared_per_vcpu() {
        let config = VmConfig::new(2, 64, false).unwrap();
        let mut src = Vgic::new(host("v3@6.8"), config);
        src.init();
        src.run();
        let dst = src.clone();
        src.user_sysreg(1, ICC_PMR_EL1, Some(0xf0));
        src.user_sysreg(1, ICC_IGRPEN1_EL1, Some(1));
        src.user_sysreg(0, ICC_AP1R0_EL1, Some(1 << 20));
        let (a, b) = (GuestView::of(&src), GuestView::of(&dst));
        assert!(!a.shown_by(&b));
        let d = state_differences(&a, &b, Some(&[]));
        let regs: Vec<&str> = d.iter().map(|x| x.register.as_str()).collect();
        assert_eq!(
            regs,
            [
                "ICC_AP1R0_EL1@vcpu0",
                "ICC_PMR_EL1@vcpu1",
                "ICC_IGRPEN1_EL1@vcpu1"
            ]
        );
        assert_eq!(
            d[1].rules,
            [r::VMM_NOT_RESTORED.id, r::MIGRATE_STATE_CHANGED.id]
        );
    }

    fn host(s: &str) -> Host {
        Host::parse_compact(s).unwrap()
    }

    /// GICv5 hosts (issue 16): a VM with vSGIs cannot move to one, the same
    /// VM created with nASSGIcap cleared (6.17+) can, a v4.0 host's VM moves
    /// freely, and back to a v4.1 host only a 6.17+ kernel can hide nASSGIcap.
    #[test]
    fn migrations_to_and_from_gicv5_hosts() {
        let doc = vmm::recipe("kernel-doc").unwrap();
        let run = |from: &str, to: &str, clear: bool| {
            let mut spec = MigrationSpec::new(host(from), host(to), doc, GuestProfile::Linux);
            spec.clear_nassgicap = clear;
            migrate(&spec).unwrap()
        };
        let m = run("v4.1@6.17", "v5@6.17", false);
        assert_eq!(m.verdict, Verdict::Rejected);
        assert!(m.rules.contains(&r::TYPER2_GICV5_HOST.id), "{:?}", m.rules);
        let s = m.suggestion.unwrap();
        assert!(
            s.text.contains("GICv5") && s.text.contains("nASSGIcap cleared"),
            "{s}"
        );
        let m = run("v4.1@6.12", "v5@7.1", false);
        assert_eq!(m.verdict, Verdict::Rejected);
        assert!(m.suggestion.unwrap().text.contains("before 6.17"));
        assert_eq!(
            run("v4.1@6.17", "v5@6.17", true).verdict,
            Verdict::Compatible
        );
        assert_eq!(
            run("v4.0@6.17", "v5@7.1", false).verdict,
            Verdict::Compatible
        );
        assert_eq!(
            run("v5@6.17", "v4.1@6.17", false).verdict,
            Verdict::Compatible
        );
        assert_eq!(
            run("v5@6.17", "v4.1@6.16", false).verdict,
            Verdict::Rejected
        );
        assert_eq!(
            run("v5@7.1", "v4.0@6.12", false).verdict,
            Verdict::Compatible
        );
    }

    /// A kernel upgrade to a stable version with the IIDR revision fix and the
    /// rollback: same revision both ways, nothing the guest sees changes; from a
    /// revision-2 kernel the upgraded host restores revision 2, the rollback to
    /// 5.15 refuses revision 3.
    #[test]
    fn stable_upgrades_and_rollbacks_around_the_iidr_fix() {
        let doc = vmm::recipe("kernel-doc").unwrap();
        let run = |from: &str, to: &str| {
            migrate(&MigrationSpec::new(
                host(from),
                host(to),
                doc,
                GuestProfile::Linux,
            ))
            .unwrap()
        };
        assert_eq!(
            run("v4.1@6.12", "v4.1@6.12.88").verdict,
            Verdict::Compatible
        );
        assert_eq!(
            run("v4.1@6.12.88", "v4.1@6.12").verdict,
            Verdict::Compatible
        );
        assert_eq!(
            run("v4.1@5.15", "v4.1@6.12.88").verdict,
            Verdict::Compatible
        );
        let m = run("v4.1@5.15", "v4.1@6.12.87");
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert!(m.differences.iter().any(|d| d.register == "GICD_IIDR"));
        assert!(m
            .differences
            .iter()
            .any(|d| d.register.starts_with("GICR_CTLR@")));
        assert_eq!(run("v4.1@6.12.88", "v4.1@5.15").verdict, Verdict::Rejected);
    }

    #[test]
    fn the_source_scenario_is_the_source_a_migration_prepares() {
        for from in crate::audit::audit_hosts() {
            for recipe in vmm::RECIPES {
                for guest in GuestProfile::ALL {
                    let spec = MigrationSpec::new(from, from, recipe, guest);
                    let want = prepare_source(&spec).unwrap();
                    let sc = source_scenario(from, recipe, guest);
                    scenario::validate(&sc).unwrap();
                    let mut got = Vgic::new(sc.host, sc.vm);
                    for (i, step) in sc.steps.iter().enumerate() {
                        let rep = scenario::run_step(&mut got, i, step).unwrap();
                        assert!(rep.failures.is_empty(), "{:?}", rep.failures);
                    }
                    assert_eq!(
                        got.state(),
                        want.state(),
                        "{} {} {guest}",
                        from.compact(),
                        recipe.id
                    );
                }
            }
        }
    }

    /// A migrate step after the steps that built its source: the source can be built
    /// again with a fix, so source-side fixes are verified and suggested; without the
    /// origin only fixes that keep the live source are.
    #[test]
    fn a_scenario_step_suggests_source_fixes_when_its_origin_is_known() {
        let qemu = vmm::recipe("qemu").unwrap();
        let mut sc = source_scenario(host("v4.1@6.17"), qemu, GuestProfile::Linux);
        let n = sc.steps.len();
        sc.steps.push(scenario::Step::Migrate(MigrateStep {
            to: HostArg(host("v4.0@6.17")),
            vmm: "qemu".into(),
            policy: None,
            expect_verdict: None,
            expect_error: None,
            expect_rule: None,
            expect_rules: Vec::new(),
            note: None,
        }));
        let (rep, _) = scenario::run(&sc).unwrap();
        let m = rep.steps[n].migration.as_ref().unwrap();
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        let fix = m.suggestion.as_ref().unwrap();
        assert!(fix.changes.contains(&Change::ClearNassgicap), "{fix}");
        assert!(
            fix.changes.contains(&Change::Recipe(RecipeChange::Correct(
                &r::VMM_QEMU_IROUTER_STRIDE
            ))),
            "{fix}"
        );
        // The same spec as a profile migration gives the same suggestion.
        let spec = MigrationSpec {
            its: sc.vm.its,
            ..MigrationSpec::new(
                host("v4.1@6.17"),
                host("v4.0@6.17"),
                qemu,
                GuestProfile::Linux,
            )
        };
        assert_eq!(migrate(&spec).unwrap().suggestion.as_ref(), Some(fix));
        // Without the origin: the live source cannot be created again with nASSGIcap
        // cleared, and no fix that keeps it makes the migration compatible.
        let mut vm = Vgic::new(sc.host, sc.vm);
        for (i, step) in sc.steps[..n].iter().enumerate() {
            scenario::run_step(&mut vm, i, step).unwrap();
        }
        let (m, _) = migrate_vm(&mut vm, host("v4.0@6.17"), qemu, RestorePolicy::Kernel).unwrap();
        assert!(m.fixes.iter().all(|f| f.keeps_source()), "{:?}", m.fixes);
        assert!(m.suggestion.is_none(), "{:?}", m.suggestion);
    }

    fn go(
        from: &str,
        to: &str,
        vmm: &str,
        guest: GuestProfile,
        policy: RestorePolicy,
    ) -> Migration {
        let mut spec = MigrationSpec::new(host(from), host(to), vmm::recipe(vmm).unwrap(), guest);
        spec.policy = policy;
        migrate(&spec).unwrap()
    }

    #[test]
    fn identical_hosts_kernel_doc_is_compatible() {
        for g in GuestProfile::ALL {
            for h in ["v4.1@6.17", "v3@4.19", "v4.1+novsgi@5.13", "v4.0@7.1"] {
                let m = go(h, h, "kernel-doc", g, RestorePolicy::Kernel);
                assert_eq!(m.verdict, Verdict::Compatible, "{h} {g}: {:?}", m.reasons());
            }
        }
    }

    #[test]
    fn the_2020_case_per_vmm() {
        use Verdict::*;
        let want = [
            ("firecracker", SilentlyBroken),
            ("cloud-hypervisor", SilentlyBroken),
            ("qemu", SilentlyBroken),
            ("qemu-2025", SilentlyBroken),
            ("crosvm", Rejected),
            ("kernel-doc", Rejected),
        ];
        for (vmm, v) in want {
            let m = go(
                "v4.1@5.7",
                "v4.0@5.7",
                vmm,
                GuestProfile::Linux,
                RestorePolicy::Kernel,
            );
            assert_eq!(m.verdict, v, "{vmm}: {:?}", m.reasons());
            if v == Rejected {
                let f = m.refusal.as_ref().unwrap();
                assert_eq!(
                    (f.errno, f.register.as_str()),
                    (Errno::EINVAL, "GICD_TYPER2"),
                    "{vmm}"
                );
            } else {
                assert!(
                    m.differences.iter().any(|d| d.field == "nASSGIreq"),
                    "{vmm}"
                );
            }
            assert!(m.suggestion.is_some(), "{vmm}");
        }
        // A guest that never looked at TYPER2: the exact-match refusal was needless.
        let m = go(
            "v4.1@5.7",
            "v4.0@5.7",
            "kernel-doc",
            GuestProfile::Legacy,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, NeedlesslyRejected, "{:?}", m.reasons());
        // crosvm refuses it too, but its sweep would have broken it anyway.
        let m = go(
            "v4.1@5.7",
            "v4.0@5.7",
            "crosvm",
            GuestProfile::Legacy,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Rejected, "{:?}", m.reasons());
    }

    #[test]
    fn capability_appearing_is_unsafe_and_policies_differ() {
        let m = go(
            "v4.0@5.13",
            "v4.1@5.13",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::Rejected);
        assert!(m
            .differences
            .iter()
            .any(|d| d.kind == DiffKind::CapabilityAppeared));
        let m = go(
            "v4.0@5.13",
            "v4.1@5.13",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::Relaxed2020,
        );
        assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
        let m = go(
            "v4.0@5.13",
            "v4.1@5.13",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::AcceptAny,
        );
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert!(m
            .reasons()
            .iter()
            .any(|x| x.contains("no longer migrate back")));
    }

    #[test]
    fn crosvm_loses_enables_on_identical_hosts() {
        let m = go(
            "v3@6.8",
            "v3@6.8",
            "crosvm",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        let d = m
            .differences
            .iter()
            .find(|d| d.register == "GICR_ISENABLER0@vcpu0")
            .unwrap();
        assert!(
            d.rules.contains(&"vmm.crosvm.sweep") && d.rules.contains(&"irq.enable.clear.uaccess"),
            "{d:?}"
        );
    }

    #[test]
    fn qemu_loses_high_routes_only() {
        let m = go(
            "v3@6.8",
            "v3@6.8",
            "qemu",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert_eq!(m.differences.len(), 1, "{:?}", m.reasons());
        let d = &m.differences[0];
        assert_eq!(d.register, "GICD_IROUTER287");
        assert!(
            d.rules.contains(&"vmm.not_restored") && d.rules.contains(&"vmm.qemu.irouter_stride"),
            "{d:?}"
        );
    }

    #[test]
    fn iidr_revision_across_5_19() {
        // 5.19 -> 5.13: revision 3 to 2; FC never writes IIDR.
        let m = go(
            "v3@5.19",
            "v3@5.13",
            "firecracker",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert!(m.differences.iter().any(|d| d.register == "GICD_IIDR"));
        assert!(m
            .differences
            .iter()
            .any(|d| d.register == "GICR_CTLR@vcpu0"));
        // kernel-doc writes IIDR first: 5.13 wants the exact value.
        let m = go(
            "v3@5.19",
            "v3@5.13",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::Rejected);
        assert_eq!(m.refusal.as_ref().unwrap().register, "GICD_IIDR");
        // 5.13 -> 6.8: the write is accepted and changes nothing; 5.13 -> 7.1 honours it.
        let m = go(
            "v3@5.13",
            "v3@6.8",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert!(m.rules.contains(&"gicd.iidr.uaccess.revision_noop"));
        let m = go(
            "v3@5.13",
            "v3@7.1",
            "kernel-doc",
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
    }

    #[test]
    fn clearing_nassgicap_before_init_makes_v4_1_to_v4_0_work() {
        let mut spec = MigrationSpec::new(
            host("v4.1@6.17"),
            host("v4.0@6.17"),
            vmm::recipe("kernel-doc").unwrap(),
            GuestProfile::Linux,
        );
        assert_eq!(migrate(&spec).unwrap().verdict, Verdict::Rejected);
        spec.clear_nassgicap = true;
        let m = migrate(&spec).unwrap();
        assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
        spec.from = host("v4.1@6.8");
        assert!(matches!(migrate(&spec), Err(MigrateError::Source(_))));
    }
}

#[cfg(test)]
mod proptests {
    //! For any state reachable by random guest and userspace writes, `kernel-doc`
    //! restores it exactly on an identical host.
    use super::*;
    use proptest::prelude::*;

    const HOSTS: &[&str] = &[
        "v3@4.19",
        "v4.1@5.7",
        "v4.1+novsgi@5.13",
        "v4.0@5.19",
        "v4.1@6.8",
        "v4.1@6.17",
        "v4.1+novsgi@6.17",
        "v4.1@7.1",
    ];

    /// Offsets worth poking: every per-IRQ family, CTLR/TYPER2/IIDR, the LPI registers.
    fn offsets() -> impl Strategy<Value = (Frame, u32, u8)> {
        let dist = prop_oneof![
            Just((Frame::Dist, GicdCtlr::OFFSET, 32u8)),
            Just((Frame::Dist, GicdIidr::OFFSET, 32)),
            Just((Frame::Dist, GicdTyper2::OFFSET, 32)),
            // IGROUPR, ISENABLER, ..., ICACTIVER: seven families 0x80 apart.
            (1u32..8, 0u32..7).prop_map(|(w, f)| {
                let family = GicdIgroupr::OFFSET + GicdIgroupr::LEN * f;
                (Frame::Dist, family + 4 * w, 32)
            }),
            (32u32..256).prop_map(|i| (Frame::Dist, GicdIpriorityr::OFFSET + i, 8)),
            (4u32..32).prop_map(|w| (Frame::Dist, GicdIcfgr::at(w), 32)),
            (32u32..256).prop_map(|i| (Frame::Dist, GicdIrouter::at(i), 64)),
        ];
        let redist = prop_oneof![
            Just((Frame::Redist, GicrCtlr::OFFSET, 32u8)),
            Just((Frame::Redist, GicrPropbaser::OFFSET, 64)),
            Just((Frame::Redist, GicrPendbaser::OFFSET, 64)),
            // GICR_IGROUPR0 ... GICR_ICACTIVER0, 0x80 apart.
            (0u32..7).prop_map(|f| (Frame::Redist, GicrIgroupr0::OFFSET + 0x80 * f, 32)),
            (0u32..32).prop_map(|i| (Frame::Redist, GicrIpriorityr::OFFSET + i, 8)),
        ];
        prop_oneof![3 => dist, 2 => redist]
    }

    #[derive(Clone, Debug)]
    enum Poke {
        Guest(Frame, u32, u32, u8, u64),
        User(Frame, u32, u32, u32),
        Level(u32, u32, u32),
    }

    fn poke() -> impl Strategy<Value = Poke> {
        prop_oneof![
            5 => (offsets(), 0u32..3, any::<u64>()).prop_map(|((f, o, w), v, x)| Poke::Guest(f, v, o, w, if w == 64 { x } else { x & ((1 << w) - 1) })),
            3 => (offsets(), 0u32..3, any::<u32>()).prop_map(|((f, o, w), v, x)| Poke::User(f, v, if w == 64 { o } else { o & !3 }, x)),
            1 => (0u32..3, 0u32..8, any::<u32>()).prop_map(|(v, i, x)| Poke::Level(v, 32 * i, x)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn kernel_doc_restores_exactly(
            h in proptest::sample::select(HOSTS),
            vcpus in 1u32..=3,
            its in any::<bool>(),
            clear in any::<bool>(),
            pre in proptest::collection::vec(poke(), 0..4),
            post in proptest::collection::vec(poke(), 0..40),
        ) {
            let rc = vmm::recipe("kernel-doc").unwrap();
            let host = Host::parse_compact(h).unwrap();
            let mut vm = Vgic::new(host, VmConfig::new(vcpus, rc.nr_irqs, its).unwrap());
            if clear {
                let _ = vm.user_write(Frame::Dist, 0, 0xC, 0);
            }
            vm.init();
            let apply = |vm: &mut Vgic, p: &Poke, guest_ok: bool| {
                match *p {
                    Poke::Guest(f, v, o, w, x) if guest_ok => { let _ = vm.guest_write(f, v % vcpus, o, w, x); }
                    Poke::User(f, v, o, x) => { let _ = vm.user_write(f, v % vcpus, o, x); }
                    Poke::Level(v, i, x) => { let _ = vm.user_level_info(v % vcpus, i, Some(x)); }
                    _ => {}
                }
            };
            for p in &pre { apply(&mut vm, p, false); }
            vm.run();
            for p in &post {
                // A VMM writes GICD_CTLR only to restore, before the first run: a write on a
                // running VM latches nASSGIreq without moving the SGIs (no vgic_v4_configure_vsgis),
                // which no restore can reproduce and no VMM does.
                if matches!(p, Poke::User(Frame::Dist, _, 0, _)) { continue; }
                apply(&mut vm, p, true);
            }
            let (m, _) = migrate_vm(&mut vm, host, rc, RestorePolicy::Kernel).unwrap();
            prop_assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
        }
    }
}
