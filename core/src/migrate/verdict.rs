//! A migration's verdict and its differences as data: `Verdict`, `Difference`, its
//! typed `Subject`.

#[allow(unused_imports)]
use super::*;

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
