//! The host a VM runs on: GIC hardware, CPU-interface vSGI support, the
//! `kvm-arm.vgic_v4_enable` parameter and the kernel version, mapped to the
//! behaviour eras of KVM's vGIC.
//!
//! Every capability predicate here mirrors one kernel function and names it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// GIC hardware generation of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GicHw {
    /// GICv3: no virtual LPI or SGI injection.
    #[serde(rename = "v3")]
    V3,
    /// GICv4.0: direct injection of virtual LPIs (`GICR_TYPER.VLPIS`).
    #[serde(rename = "v4.0")]
    V4_0,
    /// GICv4.1: adds `GICR_TYPER.RVPEID` and direct virtual SGIs.
    #[serde(rename = "v4.1")]
    V4_1,
    /// GICv5 with FEAT_GCIE_LEGACY, running GICv3 guests through the legacy
    /// (GICv3) virtual CPU interface: Linux 6.17+. `vgic_v5_probe`
    /// (arch/arm64/kvm/vgic/vgic-v5.c, ff2aa6495d4b "KVM: arm64: gic-v5: Probe
    /// for GICv5", with c017e49ed138 "KVM: arm64: gic-v5: Support GICv3
    /// compat", both merged for 6.17) sets `kvm_vgic_global_state.type =
    /// VGIC_V5`, `has_gicv4 = has_gicv4_1 = false` (no vLPIs, no vSGIs),
    /// `can_emulate_gicv2 = false` and `max_gic_vcpus = VGIC_V3_MAX_CPUS`,
    /// and registers only `KVM_DEV_TYPE_ARM_VGIC_V3` (and the ITS). From 7.1
    /// it also registers `KVM_DEV_TYPE_ARM_VGIC_V5` for GICv5 guests (not
    /// under pKVM): see [`Host::device_support`].
    #[serde(rename = "v5")]
    V5,
}

impl GicHw {
    pub const ALL: [GicHw; 4] = [GicHw::V3, GicHw::V4_0, GicHw::V4_1, GicHw::V5];

    pub fn as_str(self) -> &'static str {
        match self {
            GicHw::V3 => "v3",
            GicHw::V4_0 => "v4.0",
            GicHw::V4_1 => "v4.1",
            GicHw::V5 => "v5",
        }
    }
}

/// The first mainline release whose KVM runs GICv3 guests on GICv5 hosts:
/// c017e49ed138 "KVM: arm64: gic-v5: Support GICv3 compat" and ff2aa6495d4b
/// "KVM: arm64: gic-v5: Probe for GICv5" (S. Bischoff, T. Hayes; applied by
/// O. Upton 2025-07-08), in the kvm pull for 6.17 (63eb28bb1402: "Use
/// FEAT_GCIE_LEGACY on GICv5 systems to virtualize GICv3 VMs on GICv5
/// hardware"). No stable series before 6.17 carries them.
pub const GICV5_LEGACY_KERNEL: KernelVersion = KernelVersion::new(6, 17, 0);

/// The first mainline release with the native vGICv5 device
/// (`KVM_DEV_TYPE_ARM_VGIC_V5`, PPIs only), registered by `vgic_v5_probe`
/// beside the GICv3 one: the series "KVM: arm64: Add GICv5 guest support"
/// (S. Bischoff, patch.msgid.link/20260319154937.3619520-*, applied by
/// M. Zyngier 2026-03-19); the KVM/arm64 pull for 7.2 (751d041a13bd) calls
/// it "the vgic-v5 PPI support which was merged in 7.1".
pub const GICV5_NATIVE_KERNEL: KernelVersion = KernelVersion::new(7, 1, 0);

/// A vGIC device type a VMM asks `KVM_CREATE_DEVICE` for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum VgicDevice {
    /// `KVM_DEV_TYPE_ARM_VGIC_V2`.
    V2,
    /// `KVM_DEV_TYPE_ARM_VGIC_V3`: the device gicx models.
    V3,
    /// `KVM_DEV_TYPE_ARM_VGIC_ITS`.
    Its,
    /// `KVM_DEV_TYPE_ARM_VGIC_V5` (7.1+, GICv5 hosts only).
    V5,
}

impl VgicDevice {
    pub const ALL: [VgicDevice; 4] = [
        VgicDevice::V2,
        VgicDevice::V3,
        VgicDevice::Its,
        VgicDevice::V5,
    ];

    /// The uapi constant's name.
    pub fn kvm_name(self) -> &'static str {
        match self {
            VgicDevice::V2 => "KVM_DEV_TYPE_ARM_VGIC_V2",
            VgicDevice::V3 => "KVM_DEV_TYPE_ARM_VGIC_V3",
            VgicDevice::Its => "KVM_DEV_TYPE_ARM_VGIC_ITS",
            VgicDevice::V5 => "KVM_DEV_TYPE_ARM_VGIC_V5",
        }
    }
}

/// Whether a host's KVM can create a vGIC device, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "support", content = "why", rename_all = "kebab-case")]
pub enum DeviceSupport {
    Yes(&'static str),
    No(&'static str),
    /// Depends on what the firmware describes (GICv2 emulation on GICv3
    /// hardware needs a GICV frame: `can_emulate_gicv2`).
    IfFirmware(&'static str),
}

impl fmt::Display for GicHw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GicHw {
    type Err = HostError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v3" | "3" | "gicv3" => Ok(GicHw::V3),
            "v4.0" | "v4" | "4.0" | "gicv4" | "gicv4.0" => Ok(GicHw::V4_0),
            "v4.1" | "4.1" | "gicv4.1" => Ok(GicHw::V4_1),
            "v5" | "5" | "gicv5" => Ok(GicHw::V5),
            other => Err(HostError::UnknownGic(other.to_string())),
        }
    }
}

/// A behaviour era of KVM's vGICv3: the newest change point not after a
/// kernel version. The list is the timeline of
/// `shared/reference/kvm-vgic-v3-semantics.md` §8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Era {
    /// 4.19: IIDR implementation revision 2 (d53c2c29ae0d), groups guest-configurable,
    /// uaccess IIDR must match exactly.
    #[serde(rename = "4.19")]
    V4_19,
    /// 5.7: GICv4.1 vSGIs (2291ff2f2a56): TYPER2.nASSGIcap, CTLR.nASSGIreq,
    /// exact-match TYPER2 restore.
    #[serde(rename = "5.7")]
    V5_7,
    /// 5.13: `gic_cpuif_has_vsgi()` gate (3943569446ed) on TYPER2 and the guest CTLR path.
    #[serde(rename = "5.13")]
    V5_13,
    /// 5.19: IIDR revision 3 (49a1a2c70a7f): GICR_CTLR.{IR,CES}, INVLPIR/INVALLR/SYNCR;
    /// uaccess IIDR check relaxed to the revision field (ineffective until 2026).
    #[serde(rename = "5.19")]
    V5_19,
    /// 6.8: uaccess ISPENDR/ICPENDR reworked (39084ba8d0fc, 561851424d93), reaching HW vSGIs.
    #[serde(rename = "6.8")]
    V6_8,
    /// 6.17: per-VM `nassgicap` (c652887a9288): TYPER2 writable before init, IIDR/TYPER2
    /// accessible before init (f26e6af75782).
    #[serde(rename = "6.17")]
    V6_17,
    /// 7.1 cycle: the IIDR revision written by userspace is honoured (a0e6ae45af17).
    #[serde(rename = "7.1")]
    V7_1,
}

impl Era {
    pub const ALL: [Era; 7] = [
        Era::V4_19,
        Era::V5_7,
        Era::V5_13,
        Era::V5_19,
        Era::V6_8,
        Era::V6_17,
        Era::V7_1,
    ];

    /// The first kernel version of this era.
    pub fn version(self) -> KernelVersion {
        let (major, minor) = match self {
            Era::V4_19 => (4, 19),
            Era::V5_7 => (5, 7),
            Era::V5_13 => (5, 13),
            Era::V5_19 => (5, 19),
            Era::V6_8 => (6, 8),
            Era::V6_17 => (6, 17),
            Era::V7_1 => (7, 1),
        };
        KernelVersion {
            major,
            minor,
            patch: 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Era::V4_19 => "4.19",
            Era::V5_7 => "5.7",
            Era::V5_13 => "5.13",
            Era::V5_19 => "5.19",
            Era::V6_8 => "6.8",
            Era::V6_17 => "6.17",
            Era::V7_1 => "7.1",
        }
    }

    /// One line on what this era changed, for listings.
    pub fn summary(self) -> &'static str {
        match self {
            Era::V4_19 => "IIDR revision 2: groups configurable; userspace IIDR must match exactly",
            Era::V5_7 => "GICv4.1 vSGIs: TYPER2.nASSGIcap, CTLR.nASSGIreq, exact TYPER2 restore",
            Era::V5_13 => "vSGIs also need a v4.1 CPU interface (gic_cpuif_has_vsgi)",
            Era::V5_19 => "IIDR revision 3: GICR_CTLR.IR/CES, INVLPIR/INVALLR/SYNCR",
            Era::V6_8 => "userspace ISPENDR/ICPENDR reach hardware vSGIs",
            Era::V6_17 => "per-VM nASSGIcap, writable before init; IIDR/TYPER2 pre-init access",
            Era::V7_1 => "userspace IIDR revision write honoured (2 or 3)",
        }
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Linux kernel version: `major.minor` for a mainline release, or
/// `major.minor.patch` for a stable one (`6.12.118`). Stable kernels carry
/// backports of later mainline changes, so the patch level matters: see
/// [`crate::kernels`]. A distribution's suffix (`6.12.118+deb12`,
/// `5.15.0-91-generic`) is accepted and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u16,
    pub minor: u16,
    /// The stable patch level; 0 for the mainline release.
    pub patch: u16,
}

impl KernelVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// The mainline release this version's stable series grew from (`6.12.118` → `6.12`).
    pub const fn series(self) -> KernelVersion {
        KernelVersion::new(self.major, self.minor, 0)
    }

    /// Whether this kernel carries a behaviour change: from its mainline
    /// release on, or in a stable series from the first version that has the
    /// backport.
    pub fn has(self, change: &crate::kernels::Change) -> bool {
        self >= change.mainline
            || change
                .stable
                .iter()
                .any(|s| s.series() == self.series() && self >= *s)
    }

    /// The era whose rules this kernel follows: the newest era not after it.
    pub fn era(self) -> Result<Era, HostError> {
        Era::ALL
            .iter()
            .rev()
            .copied()
            .find(|e| e.version() <= self)
            .ok_or(HostError::KernelTooOld(self))
    }
}

/// Whether a kernel carries one behaviour change of [`crate::kernels::ALL`], and how.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeStatus {
    /// The change's id (`iidr-revision-restore`).
    pub id: &'static str,
    pub commit: &'static str,
    pub title: &'static str,
    pub has: bool,
    /// In words: "backport in 6.12.y from 6.12.88", "mainline since 7.1",
    /// "6.12.y has it from 6.12.88", "no backport to 6.13.y (mainline 7.1)".
    pub how: String,
}

impl ChangeStatus {
    /// "6.12.118: has KVM: arm64: vgic: Fix IIDR revision ... (backport in 6.12.y from 6.12.88)".
    pub fn sentence(&self, k: KernelVersion) -> String {
        format!(
            "{k}: {} {} ({})",
            if self.has { "has" } else { "lacks" },
            self.title,
            self.how
        )
    }
}

impl KernelVersion {
    /// Every change of [`crate::kernels::every`] with whether this kernel has it and why.
    pub fn change_statuses(self) -> Vec<ChangeStatus> {
        crate::kernels::every()
            .map(|c| {
                let series = self.series();
                let backport = c.stable.iter().find(|s| s.series() == series);
                let y = format!("{}.{}.y", self.major, self.minor);
                let how = match (self >= c.mainline, backport) {
                    (true, _) => format!("mainline since {}", c.mainline),
                    (false, Some(b)) if self >= *b => format!("backport in {y} from {b}"),
                    (false, Some(b)) => format!("{y} has it from {b}"),
                    (false, None) => format!("no backport to {y} (mainline {})", c.mainline),
                };
                ChangeStatus {
                    id: c.id,
                    commit: c.commit,
                    title: c.title,
                    has: self.has(c),
                    how,
                }
            })
            .collect()
    }

    /// What GICv5 hardware this kernel's KVM can use: `None` before 6.17.
    pub fn gicv5_support(self) -> Option<&'static str> {
        if self >= GICV5_NATIVE_KERNEL {
            Some("GICv5 hosts: GICv3 guests through FEAT_GCIE_LEGACY and a native vGICv5 device (PPIs only)")
        } else if self >= GICV5_LEGACY_KERNEL {
            Some("GICv5 hosts: GICv3 guests through FEAT_GCIE_LEGACY (no native vGICv5 device before 7.1)")
        } else {
            None
        }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

impl FromStr for KernelVersion {
    type Err = HostError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        // Accept "6.8", "6.8.12", "6.8-rc3", "6.8.0-45-generic", "6.12.118+deb12".
        let core: &str = t.split(['-', '+', ' ', '~']).next().unwrap_or("");
        let mut parts = core.split('.');
        let parse = |p: Option<&str>| -> Option<u16> { p.and_then(|x| x.parse::<u16>().ok()) };
        let major = parse(parts.next());
        let minor = parse(parts.next());
        let patch = match parts.next() {
            None => Some(0),
            Some(p) => p.parse::<u16>().ok(),
        };
        match (major, minor, patch) {
            (Some(major), Some(minor), Some(patch)) if parts.next().is_none() => {
                Ok(KernelVersion::new(major, minor, patch))
            }
            _ => Err(HostError::BadKernel(s.to_string())),
        }
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Errors in a host description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    #[error("unknown GIC hardware {0:?}: expected \"v3\", \"v4.0\", \"v4.1\" or \"v5\"")]
    UnknownGic(String),
    #[error("a GICv5 host needs Linux 6.17 or later (GICv3 guests through FEAT_GCIE_LEGACY: c017e49ed138, ff2aa6495d4b); kernel {0} has no GICv5 support in KVM")]
    Gicv5TooOld(KernelVersion),
    #[error("a GICv5 host has no GICv4.1 CPU interface: \"+vsgi\" (cpuif_vsgi) does not apply to \"v5\" (vgic_v5_probe sets has_gicv4_1 = false)")]
    Gicv5Vsgi,
    #[error("kernel version {0:?} is not of the form X.Y or X.Y.Z (e.g. \"6.8\", \"6.12.118\")")]
    BadKernel(String),
    #[error(
        "kernel {0} is older than 4.19, the first era gicx models (IIDR revisions start there)"
    )]
    KernelTooOld(KernelVersion),
    #[error("cpuif_id_bits {0} is not 16 or 24 (ICH_VTR_EL2.IDbits)")]
    IdBits(u8),
    #[error("host {0:?} is not of the form GIC[+novsgi][+nov4][+id24][+pmr8]@KERNEL (e.g. \"v4.1@6.17\", \"v4.1+novsgi@5.15\")")]
    BadCompact(String),
}

/// A host, as written in scenario files: `{"gic": "v4.1", "kernel": "6.17"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Host {
    pub gic: GicHw,
    /// The CPU interface implements GICv4.1 vSGIs: `ID_AA64PFR0_EL1.GIC >= 3`
    /// (`gic_cpuif_has_vsgi()`, drivers/irqchip/irq-gic-v4.c, 5.13+).
    pub cpuif_vsgi: bool,
    /// The `kvm-arm.vgic_v4_enable` boot parameter.
    pub vgic_v4_enable: bool,
    pub kernel: KernelVersion,
    /// INTID bits of the host's virtual CPU interface (`ICH_VTR_EL2.IDbits`:
    /// 16 or 24), which KVM passes to the guest as `ICC_CTLR_EL1.IDbits` and
    /// checks on a CPU_SYSREGS restore. A property of the silicon, not of
    /// KVM: common GICv3/v4 CPU interfaces (Cortex-A/Neoverse cores) have 16,
    /// QEMU's emulated one has 24 (hw/intc/arm_gicv3_cpuif.c `ich_vtr_read`:
    /// IDbits = 1). Written `+id24` in the compact syntax.
    #[serde(skip_serializing_if = "is_default_id_bits")]
    pub cpuif_id_bits: u8,
    /// The virtual CPU interface returns all 8 bits of `ICH_VMCR_EL2.VPMR` to
    /// the guest's ICV_PMR_EL1 reads. The architecture makes the bits below the
    /// implemented priority bits RAZ/WI (silicon reads a restored 0x29 as
    /// 0x28); QEMU's emulation stores the whole field and reads it back
    /// (hw/intc/arm_gicv3_cpuif.c `icv_pmr_read` extracts VPMR unmasked, only
    /// `icv_pmr_write` masks): found by the random sequences on 6.1.192 and
    /// 6.12.118 after a CPU_SYSREGS restore of PMR 41. Written `+pmr8`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cpuif_pmr_all_bits: bool,
    #[serde(skip)]
    era: Era,
}

/// The INTID bits of common silicon's virtual CPU interface.
pub const DEFAULT_CPUIF_ID_BITS: u8 = 16;

fn is_default_id_bits(b: &u8) -> bool {
    *b == DEFAULT_CPUIF_ID_BITS
}

/// The raw, unvalidated host description.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    gic: GicHw,
    cpuif_vsgi: Option<bool>,
    vgic_v4_enable: Option<bool>,
    kernel: KernelVersion,
    cpuif_id_bits: Option<u8>,
    #[serde(default)]
    cpuif_pmr_all_bits: bool,
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The object, or the compact form the CLI and the app accept
        // (`"v4.1@6.17"`). The object goes through the caller's own map access,
        // so its errors keep their path (`scenario.host.gic`) and precision.
        struct HostVisitor;
        impl<'de> serde::de::Visitor<'de> for HostVisitor {
            type Value = Host;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a host object or a compact host such as \"v4.1@6.17\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Host, E> {
                Host::parse_compact(s).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Host, A::Error> {
                let spec =
                    HostSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Host::new(
                    spec.gic,
                    spec.cpuif_vsgi.unwrap_or(spec.gic == GicHw::V4_1),
                    spec.vgic_v4_enable.unwrap_or(true),
                    spec.kernel,
                )
                .and_then(|h| {
                    h.with_cpuif_id_bits(spec.cpuif_id_bits.unwrap_or(DEFAULT_CPUIF_ID_BITS))
                        .map(|h| h.with_cpuif_pmr_all_bits(spec.cpuif_pmr_all_bits))
                })
                .map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(HostVisitor)
    }
}

impl Host {
    pub fn new(
        gic: GicHw,
        cpuif_vsgi: bool,
        vgic_v4_enable: bool,
        kernel: KernelVersion,
    ) -> Result<Host, HostError> {
        let era = kernel.era()?;
        if gic == GicHw::V5 {
            if kernel < GICV5_LEGACY_KERNEL {
                return Err(HostError::Gicv5TooOld(kernel));
            }
            if cpuif_vsgi {
                return Err(HostError::Gicv5Vsgi);
            }
        }
        Ok(Host {
            gic,
            cpuif_vsgi,
            vgic_v4_enable,
            kernel,
            cpuif_id_bits: DEFAULT_CPUIF_ID_BITS,
            cpuif_pmr_all_bits: false,
            era,
        })
    }

    /// The same host with a CPU interface of `bits` INTID bits (16 or 24).
    pub fn with_cpuif_id_bits(mut self, bits: u8) -> Result<Host, HostError> {
        if bits != 16 && bits != 24 {
            return Err(HostError::IdBits(bits));
        }
        self.cpuif_id_bits = bits;
        Ok(self)
    }

    /// The same host with a CPU interface that reads back all 8 VPMR bits
    /// (QEMU's), or the architecture's masked ones.
    pub fn with_cpuif_pmr_all_bits(mut self, all: bool) -> Host {
        self.cpuif_pmr_all_bits = all;
        self
    }

    /// The same hardware and parameters running `kernel` (a host change a suggested
    /// fix makes); fails where the hardware needs a newer kernel (GICv5: 6.17+).
    pub fn with_kernel(self, kernel: KernelVersion) -> Result<Host, HostError> {
        Host::new(self.gic, self.cpuif_vsgi, self.vgic_v4_enable, kernel)?
            .with_cpuif_id_bits(self.cpuif_id_bits)
            .map(|h| h.with_cpuif_pmr_all_bits(self.cpuif_pmr_all_bits))
    }

    /// `ICH_VTR_EL2.IDbits` as a field value: 0 for 16 bits, 1 for 24.
    pub fn ich_vtr_id_bits(&self) -> u64 {
        u64::from(self.cpuif_id_bits == 24)
    }

    /// Whether this host's kernel carries a behaviour change (a mainline
    /// release at or after it, or a stable backport): see [`crate::kernels`].
    pub fn has(&self, change: &crate::kernels::Change) -> bool {
        self.kernel.has(change)
    }

    /// A host with defaults: CPU-interface vSGIs iff GICv4.1, `vgic_v4_enable` on.
    pub fn simple(gic: GicHw, kernel: &str) -> Result<Host, HostError> {
        Host::new(gic, gic == GicHw::V4_1, true, kernel.parse()?)
    }

    /// The first kernel of an era, with default capabilities. A GICv5 host
    /// before 6.17 does not exist: it is raised to 6.17 (the era 6.17 starts there).
    pub fn at_era(gic: GicHw, era: Era) -> Host {
        let era = if gic == GicHw::V5 {
            era.max(Era::V6_17)
        } else {
            era
        };
        Host {
            gic,
            cpuif_vsgi: gic == GicHw::V4_1,
            vgic_v4_enable: true,
            kernel: era.version(),
            cpuif_id_bits: DEFAULT_CPUIF_ID_BITS,
            cpuif_pmr_all_bits: false,
            era,
        }
    }

    pub fn era(&self) -> Era {
        self.era
    }

    /// `kvm_vgic_global_state.has_gicv4`: the redistributors report VLPIS and
    /// `kvm-arm.vgic_v4_enable` is set (vgic-v3.c `vgic_v3_probe`).
    /// A GICv5 host has neither (`vgic_v5_probe`: `has_gicv4 = false`).
    pub fn has_gicv4(&self) -> bool {
        matches!(self.gic, GicHw::V4_0 | GicHw::V4_1) && self.vgic_v4_enable
    }

    /// `kvm_vgic_global_state.type == VGIC_V5` with `has_gcie_v3_compat`:
    /// a GICv5 host running this GICv3 VM through FEAT_GCIE_LEGACY (6.17+).
    pub fn gcie_legacy(&self) -> bool {
        self.gic == GicHw::V5
    }

    /// `kvm_vgic_global_state.max_gic_vcpus` for a GICv3 VM: `VGIC_V3_MAX_CPUS`
    /// (512) everywhere; on GICv5 hosts `vgic_v5_probe` sets it to
    /// `VGIC_V3_MAX_CPUS` (6.17) and to `min(VGIC_V3_MAX_CPUS,
    /// VGIC_V5_MAX_CPUS)` (7.1), both 512 (include/kvm/arm_vgic.h).
    pub fn max_vcpus(&self) -> u32 {
        crate::vgic::MAX_VCPUS
    }

    /// Whether `KVM_CREATE_DEVICE` of `dev` can succeed on this host's KVM.
    pub fn device_support(&self, dev: VgicDevice) -> DeviceSupport {
        use DeviceSupport::*;
        match (self.gic, dev) {
            (GicHw::V5, VgicDevice::V2) => No("vgic_v5_probe: can_emulate_gicv2 = false (GICv5 has no GICv2 compatibility)"),
            (GicHw::V5, VgicDevice::V3 | VgicDevice::Its) => Yes("vgic_v5_probe: kvm_register_vgic_device(KVM_DEV_TYPE_ARM_VGIC_V3) through FEAT_GCIE_LEGACY (6.17+), which registers the ITS too"),
            (GicHw::V5, VgicDevice::V5) if self.kernel >= GICV5_NATIVE_KERNEL => Yes("vgic_v5_probe: kvm_register_vgic_device(KVM_DEV_TYPE_ARM_VGIC_V5) (7.1+, PPIs only; not under pKVM)"),
            (GicHw::V5, VgicDevice::V5) => No("the native vGICv5 device arrived in 7.1; 6.17-7.0 offer only the GICv3 device on GICv5 hosts"),
            (_, VgicDevice::V2) => IfFirmware("vgic_v3_probe: only if the firmware describes a GICv2-compatible virtual CPU interface (GICV), can_emulate_gicv2"),
            (_, VgicDevice::V3 | VgicDevice::Its) => Yes("vgic_v3_probe: kvm_register_vgic_device(KVM_DEV_TYPE_ARM_VGIC_V3)"),
            (_, VgicDevice::V5) => No("KVM_DEV_TYPE_ARM_VGIC_V5 needs GICv5 hardware"),
        }
    }

    /// `kvm_vgic_global_state.has_gicv4_1`: RVPEID and `vgic_v4_enable`
    /// (vgic-v3.c `vgic_v3_probe`, 5.7+). Before 5.7 KVM knew no GICv4.1.
    pub fn has_gicv4_1(&self) -> bool {
        self.era >= Era::V5_7 && self.gic == GicHw::V4_1 && self.vgic_v4_enable
    }

    /// `gic_cpuif_has_vsgi()` as KVM consults it: only from 5.13 on
    /// (3943569446ed "irqchip/gic-v4.1: Disable vSGI upon (GIC CPUIF < v4.1) detection").
    /// Before 5.13 KVM assumed a v4.1 distributor implied a v4.1 CPU interface.
    pub fn cpuif_gate(&self) -> bool {
        self.era < Era::V5_13 || self.cpuif_vsgi
    }

    /// Whether this host can back vSGIs in hardware at all:
    /// 5.7–5.12 `has_gicv4_1`; 5.13+ `has_gicv4_1 && gic_cpuif_has_vsgi()`;
    /// 6.17 names it `system_supports_direct_sgis()` (vgic.h, 82221a4e66f0).
    pub fn system_supports_direct_sgis(&self) -> bool {
        self.has_gicv4_1() && self.cpuif_gate()
    }

    /// Compact syntax used by the CLI and the UI: `v4.1@6.17`, `v4.1+novsgi@5.15`,
    /// `v4.0+nov4@6.8` (`+nov4`: `vgic_v4_enable` off), `v3@5.10`.
    pub fn parse_compact(s: &str) -> Result<Host, HostError> {
        let t = s.trim();
        if t.starts_with('{') {
            return serde_json::from_str(t).map_err(|_| HostError::BadCompact(s.to_string()));
        }
        let (hw, kernel) = t
            .split_once('@')
            .ok_or_else(|| HostError::BadCompact(s.to_string()))?;
        let mut parts = hw.split('+');
        let gic: GicHw = parts.next().unwrap_or("").parse()?;
        let mut cpuif_vsgi = gic == GicHw::V4_1;
        // The kernel first, so that "v5@6.12" says what is wrong with it.
        let kernel: KernelVersion = kernel.parse()?;
        let mut v4 = true;
        let mut id_bits = DEFAULT_CPUIF_ID_BITS;
        let mut pmr_all_bits = false;
        for flag in parts {
            match flag.to_ascii_lowercase().as_str() {
                "novsgi" => cpuif_vsgi = false,
                "vsgi" => cpuif_vsgi = true,
                "nov4" => v4 = false,
                "id24" => id_bits = 24,
                "pmr8" => pmr_all_bits = true,
                _ => return Err(HostError::BadCompact(s.to_string())),
            }
        }
        Ok(Host::new(gic, cpuif_vsgi, v4, kernel)?
            .with_cpuif_id_bits(id_bits)?
            .with_cpuif_pmr_all_bits(pmr_all_bits))
    }

    /// The compact form, the inverse of [`Host::parse_compact`].
    pub fn compact(&self) -> String {
        let mut s = self.gic.as_str().to_string();
        if self.cpuif_vsgi != (self.gic == GicHw::V4_1) {
            s.push_str(if self.cpuif_vsgi { "+vsgi" } else { "+novsgi" });
        }
        if !self.vgic_v4_enable {
            s.push_str("+nov4");
        }
        if self.cpuif_id_bits != DEFAULT_CPUIF_ID_BITS {
            s.push_str("+id24");
        }
        if self.cpuif_pmr_all_bits {
            s.push_str("+pmr8");
        }
        s.push('@');
        s.push_str(&self.kernel.to_string());
        s
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rules of {})", self.compact(), self.era)
    }
}

/// The MPIDR affinity KVM gives vCPU `i` (sys_regs.c `reset_mpidr`):
/// Aff0 = i mod 16, Aff1 = (i / 16) mod 256, Aff2 = i / 4096.
pub fn vcpu_mpidr(i: u32) -> u32 {
    (i & 0xF) | (((i >> 4) & 0xFF) << 8) | (((i >> 12) & 0xFF) << 16)
}

/// The vCPU whose MPIDR is `mpidr` (`kvm_mpidr_to_vcpu`).
pub fn mpidr_to_vcpu(mpidr: u32, vcpus: u32) -> Option<u32> {
    let aff0 = mpidr & 0xFF;
    let aff1 = (mpidr >> 8) & 0xFF;
    let aff2 = (mpidr >> 16) & 0xFF;
    if aff0 >= 16 {
        return None;
    }
    let i = aff0 | (aff1 << 4) | (aff2 << 12);
    (i < vcpus && vcpu_mpidr(i) == mpidr & 0xFF_FFFF).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_the_newest_era_not_after_them() {
        let era = |s: &str| s.parse::<KernelVersion>().unwrap().era();
        assert_eq!(era("5.10"), Ok(Era::V5_7));
        assert_eq!(era("5.13"), Ok(Era::V5_13));
        assert_eq!(era("5.15.0-91-generic"), Ok(Era::V5_13));
        assert_eq!(era("6.16"), Ok(Era::V6_8));
        assert_eq!(era("7.0"), Ok(Era::V6_17));
        assert_eq!(era("7.1"), Ok(Era::V7_1));
        assert_eq!(era("12.0"), Ok(Era::V7_1));
        assert!(matches!(era("4.14"), Err(HostError::KernelTooOld(_))));
        assert!("six".parse::<KernelVersion>().is_err());
        assert!("6".parse::<KernelVersion>().is_err());
    }

    #[test]
    fn compact_syntax_round_trips() {
        for s in [
            "v4.1@6.17",
            "v4.1+novsgi@5.15",
            "v3@5.10",
            "v4.0+nov4@6.8",
            "v3+vsgi@6.8",
            "v3+id24@6.12.118",
            "v4.0+nov4+id24@5.10.223",
        ] {
            let h = Host::parse_compact(s).unwrap();
            assert_eq!(h.compact(), s);
            assert_eq!(Host::parse_compact(&h.compact()).unwrap(), h);
        }
        assert!(Host::parse_compact("v5@6.1").is_err());
        assert!(Host::parse_compact("v4.1+fast@6.1").is_err());
        assert!(Host::parse_compact("v4.1").is_err());
    }

    #[test]
    fn capabilities_follow_the_kernel_gates() {
        let novsgi = Host::parse_compact("v4.1+novsgi@5.10").unwrap();
        assert!(
            novsgi.system_supports_direct_sgis(),
            "5.7-5.12 ignore the CPU interface"
        );
        let novsgi = Host::parse_compact("v4.1+novsgi@5.13").unwrap();
        assert!(!novsgi.system_supports_direct_sgis());
        assert!(!Host::parse_compact("v4.1+nov4@6.17").unwrap().has_gicv4_1());
        assert!(!Host::parse_compact("v4.1@4.19").unwrap().has_gicv4_1());
        assert!(Host::parse_compact("v4.0@6.8").unwrap().has_gicv4());
    }

    #[test]
    fn gicv5_hosts_start_at_6_17_and_offer_no_direct_injection() {
        let e = Host::parse_compact("v5@6.16.12").unwrap_err();
        assert_eq!(e, HostError::Gicv5TooOld("6.16.12".parse().unwrap()));
        assert!(e.to_string().contains("6.17"), "{e}");
        assert_eq!(
            Host::parse_compact("v5+vsgi@7.1").unwrap_err(),
            HostError::Gicv5Vsgi
        );
        let e = serde_json::from_str::<Host>(r#"{"gic":"v5","kernel":"6.12.118"}"#).unwrap_err();
        assert!(e.to_string().contains("needs Linux 6.17"), "{e}");
        for s in ["v5@6.17", "v5@7.0.9", "v5@7.1", "v5+nov4@6.18"] {
            let h = Host::parse_compact(s).unwrap();
            assert_eq!(h.compact(), s);
            assert!(h.gcie_legacy());
            assert!(!h.has_gicv4() && !h.has_gicv4_1() && !h.system_supports_direct_sgis());
            assert_eq!(h.max_vcpus(), 512);
            assert!(matches!(
                h.device_support(VgicDevice::V2),
                DeviceSupport::No(_)
            ));
            assert!(matches!(
                h.device_support(VgicDevice::V3),
                DeviceSupport::Yes(_)
            ));
        }
        let v5 = |k: &str| Host::parse_compact(&format!("v5@{k}")).unwrap();
        assert!(matches!(
            v5("7.0.9").device_support(VgicDevice::V5),
            DeviceSupport::No(_)
        ));
        assert!(matches!(
            v5("7.1").device_support(VgicDevice::V5),
            DeviceSupport::Yes(_)
        ));
        assert!(matches!(
            Host::parse_compact("v4.1@7.1")
                .unwrap()
                .device_support(VgicDevice::V5),
            DeviceSupport::No(_)
        ));
        assert_eq!(
            Host::at_era(GicHw::V5, Era::V5_7).kernel,
            GICV5_LEGACY_KERNEL
        );
        assert_eq!(Host::at_era(GicHw::V5, Era::V5_7).era(), Era::V6_17);
    }

    #[test]
    fn a_kernel_says_which_changes_it_carries() {
        let k: KernelVersion = "6.12.118+deb12".parse().unwrap();
        let st = k.change_statuses();
        let iidr = st.iter().find(|c| c.id == "iidr-revision-restore").unwrap();
        assert!(iidr.has);
        assert_eq!(iidr.how, "backport in 6.12.y from 6.12.88");
        assert!(iidr
            .sentence(k)
            .starts_with("6.12.118: has KVM: arm64: vgic: Fix IIDR"));
        let k: KernelVersion = "6.12.86".parse().unwrap();
        let iidr = k
            .change_statuses()
            .into_iter()
            .find(|c| c.id == "iidr-revision-restore")
            .unwrap();
        assert!(!iidr.has);
        assert_eq!(iidr.how, "6.12.y has it from 6.12.88");
        let k: KernelVersion = "6.13.4".parse().unwrap();
        let iidr = k
            .change_statuses()
            .into_iter()
            .find(|c| c.id == "iidr-revision-restore")
            .unwrap();
        assert_eq!(iidr.how, "no backport to 6.13.y (mainline 7.1)");
        let k: KernelVersion = "7.3.4".parse().unwrap();
        assert!(k
            .change_statuses()
            .iter()
            .all(|c| c.has && c.how.starts_with("mainline since")));
        assert!("6.16.12"
            .parse::<KernelVersion>()
            .unwrap()
            .gicv5_support()
            .is_none());
        assert!("7.0.9"
            .parse::<KernelVersion>()
            .unwrap()
            .gicv5_support()
            .unwrap()
            .contains("no native"));
        assert!("7.1"
            .parse::<KernelVersion>()
            .unwrap()
            .gicv5_support()
            .unwrap()
            .contains("native vGICv5"));
    }

    #[test]
    fn scenario_files_take_the_compact_form_too() {
        let h: Host = serde_json::from_str(r#""v4.1+novsgi@6.12.118""#).unwrap();
        assert_eq!(h, Host::parse_compact("v4.1+novsgi@6.12.118").unwrap());
        let e = serde_json::from_str::<Host>(r#""v9@6.1""#).unwrap_err();
        assert!(e.to_string().contains("v9"), "{e}");
    }

    #[test]
    fn json_host_defaults() {
        let h: Host = serde_json::from_str(r#"{"gic":"v4.1","kernel":"6.17"}"#).unwrap();
        assert!(h.cpuif_vsgi && h.vgic_v4_enable);
        let e = serde_json::from_str::<Host>(r#"{"gic":"v4.1","kernel":"4.4"}"#).unwrap_err();
        assert!(e.to_string().contains("older than 4.19"), "{e}");
        assert!(serde_json::from_str::<Host>(r#"{"gic":"v4.1","kernel":"6.1","x":1}"#).is_err());
    }
}
