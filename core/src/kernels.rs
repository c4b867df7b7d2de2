//! Behaviour changes of KVM's vGIC as commits: the mainline release that
//! first carried each one, and the first version of every stable series
//! that carries it as a backport. A stable kernel (`6.12.118`) is not its
//! series' mainline release (`6.12`): it can behave like a much later one.
//!
//! [`KernelVersion::has`](crate::host::KernelVersion::has) answers whether a
//! kernel carries a change; the eras of [`crate::host::Era`] remain the
//! coarse timeline of mainline releases, and these changes refine it where
//! stable kernels differ from their mainline release.
//!
//! Each entry says where its versions come from: "measured" means booted
//! with `scripts/kvm --bisect` on Debian's arm64 kernels (the first Debian
//! version of the series that behaves like the series' newest, with the last
//! one that does not); "source" means read in the kernel tree or a stable
//! changelog.
//!
//! ```
//! use gicx_core::kernels::IIDR_REVISION_RESTORE;
//! let v = |s: &str| s.parse::<gicx_core::host::KernelVersion>().unwrap();
//! assert!(v("7.1").has(&IIDR_REVISION_RESTORE));
//! assert!(!v("7.0").has(&IIDR_REVISION_RESTORE));
//! ```

use serde::Serialize;

use crate::host::KernelVersion;

/// One behaviour change.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Short id, used by rules and in `gicx kernels`.
    pub id: &'static str,
    /// The mainline commit (12 hex digits), or "" where only the posted patch
    /// could be read here (then `patch` names it).
    pub commit: &'static str,
    /// The posted patch (subject and Message-Id), when the commit id is not known.
    pub patch: &'static str,
    /// Its subject line.
    pub title: &'static str,
    /// What a guest or a VMM observes differently.
    pub effect: &'static str,
    /// The first mainline release carrying it.
    pub mainline: KernelVersion,
    /// The first version of each stable series carrying the backport.
    pub stable: &'static [KernelVersion],
    /// Where the versions come from.
    pub evidence: &'static str,
}

const fn v(major: u16, minor: u16, patch: u16) -> KernelVersion {
    KernelVersion::new(major, minor, patch)
}

/// a0e6ae45af17: the GICD_IIDR revision a VMM restores is honoured (2 or 3),
/// any other revision refused. Before it the revision field was extracted
/// from KVM's own value, so every revision was accepted and ignored.
pub static IIDR_REVISION_RESTORE: Change = Change {
    id: "iidr-revision-restore",
    commit: "a0e6ae45af17",
    patch: "",
    title: "KVM: arm64: vgic: Fix IIDR revision field extracted from wrong value",
    effect: "a userspace GICD_IIDR write keeps revision 2 or 3 (and GICR_CTLR.{IR,CES} follow it); other revisions are -EINVAL",
    mainline: v(7, 1, 0),
    stable: &[v(6, 1, 176), v(6, 12, 88), v(7, 0, 7)],
    evidence: "source: vgic-mmio-v3.c vgic_mmio_uaccess_write_v3_misc before and after the commit; measured with scripts/kvm --bisect tests/scenarios/kvm-iidr-revision-restore.json on Debian's kernels (GICv3 host): 6.1.170 lacks it, 6.1.176 has it (6.1.171-175 are not in Debian's registry); 6.12.86 lacks it, 6.12.88 has it (6.12.87 is not in the registry); 7.0.4 lacks it, 7.0.7 has it (7.0.5-6 are not in the registry); 5.10.223, 6.16.12, 6.17.13, 6.18.15 and 6.19.14 lack it",
};

/// df5fd75ee305: a failed `kvm_vgic_map_resources` (the first `KVM_RUN`
/// before `KVM_DEV_ARM_VGIC_CTRL_INIT`, or without redistributor addresses)
/// marks the VM dead: every later VM, vCPU and device ioctl is -EIO.
pub static VM_DEAD_ON_MAP_FAILURE: Change = Change {
    id: "vm-dead-on-map-failure",
    commit: "df5fd75ee305",
    patch: "",
    title: "KVM: arm64: Don't eagerly teardown the vgic on init error",
    effect: "after a KVM_RUN that fails to map the vGIC's resources, every ioctl on the VM returns -EIO",
    mainline: v(6, 12, 0),
    stable: &[v(6, 1, 170), v(6, 6, 59)],
    evidence: "source: vgic-init.c kvm_vgic_map_resources (kvm_vm_dead on error); merged through kvmarm/fixes for 6.12 (Oct 2024); the stable announcement of Linux 6.6.59 (2024-11-01) lists it; measured (scripts/kvm --bisect tests/scenarios/kvm-run-before-init.json): every 6.12 in Debian's registry (6.12.43 on) has it, every 6.1 there (6.1.170 on) has it, 5.10.223 does not. 6.1.170 is the oldest 6.1 the registry serves: the backport's first 6.1 release is at or before it (unverified here)",
};

/// The CPU_SYSREGS userspace accessors moved to the generic sysreg API
/// (`kvm_sys_reg_get_user`/`kvm_sys_reg_set_user`): an id the table does not
/// hold is -ENOENT instead of -ENXIO (`KVM_HAS_DEVICE_ATTR` still -ENXIO).
pub static CPU_SYSREGS_SYSREG_API: Change = Change {
    id: "cpu-sysregs-sysreg-api",
    commit: "",
    patch: "[PATCH v2 09/20] <20220714152024.1673368-10-maz@kernel.org>, in the kvmarm pull for 6.0",
    title: "KVM: arm64: vgic-v3: Make the userspace accessors use sysreg API",
    effect: "KVM_GET/SET_DEVICE_ATTR on an unknown CPU_SYSREGS id: -ENOENT (was -ENXIO)",
    mainline: v(6, 0, 0),
    stable: &[],
    evidence: "source: the patch (M. Zyngier, July 2022, kvmarm for 6.0) replacing find_reg_by_id's -ENXIO with kvm_sys_reg_get_user; measured: 5.10.223 ENXIO, 6.1.192 and later ENOENT (scripts/kvm)",
};

/// 28e9d4bce3be: userspace reads of the last redistributor's GICR_TYPER see
/// Last (before it only the guest did).
pub static USERSPACE_GICR_TYPER_LAST: Change = Change {
    id: "userspace-gicr-typer-last",
    commit: "28e9d4bce3be",
    patch: "",
    title: "KVM: arm64: vgic-v3: Expose GICR_TYPER.Last for userspace",
    effect: "KVM_GET_DEVICE_ATTR of the last vCPU's GICR_TYPER has Last set (before: clear, unlike the guest's view)",
    mainline: v(5, 13, 0),
    stable: &[],
    evidence: "source: E. Auger's series (Dec 2020 - Jan 2021), applied to kvm-arm64/vgic-5.13 as 28e9d4bce3be; measured: 5.10.223 reads Last clear from userspace (no 5.10 backport), 6.1.192 and later set (scripts/kvm --migrations, crosvm's sweep)",
};

/// cc5705fb1bf1: whether a vCPU has run is `vcpu->pid` (set only once
/// `kvm_arch_vcpu_run_pid_change` succeeds) instead of `has_run_once` (set
/// before the vGIC was mapped): a failed first KVM_RUN no longer counts as run.
pub static RUN_ONCE_BY_PID: Change = Change {
    id: "run-once-by-pid",
    commit: "cc5705fb1bf1",
    patch: "",
    title: "KVM: arm64: Drop vcpu->arch.has_run_once for vcpu->pid",
    effect: "a vCPU whose first KVM_RUN failed to map the vGIC retries the mapping on its next KVM_RUN (before: that run succeeded and entered the guest with no distributor)",
    mainline: v(5, 16, 0),
    stable: &[],
    evidence: "source: arm.c kvm_vcpu_first_run_init before and after the series kvm-arm64/vcpu-first-run (M. Zyngier, Oct 2021, merged e525523c1989 for 5.16); measured: 5.10.223 enters the guest on the second KVM_RUN (tests/scenarios/kvm-failed-run-5.10.json, and the random sequences), 6.1.192 and later fail again",
};

/// d9b201e99c61 (E. Auger, 5.13): a second legacy redistributor region
/// is -EEXIST (before: -EINVAL, checked before anything else in
/// `vgic_v3_alloc_redist_region`).
pub static REDIST_BASE_ERROR_CODES: Change = Change {
    id: "redist-base-error-codes",
    commit: "d9b201e99c61",
    patch: "",
    title: "KVM: arm64: vgic-v3: Fix some error codes when setting RDIST base",
    effect: "setting the legacy KVM_VGIC_V3_ADDR_TYPE_REDIST a second time is -EEXIST (before: -EINVAL)",
    mainline: v(5, 13, 0),
    stable: &[],
    evidence: "source: E. Auger's series \"KVM/ARM: Some vgic fixes and init sequence KVM selftests\" (v6, April 2021; d9b201e99c61, 53b16dd6ba5c, 8542a8f95a67), merged for 5.13; measured: 5.10.223 answers -EINVAL, 7.3.4 -EEXIST (tests/conformance/vgic_init/vgic-init-vcpus-then-vgic.json)",
};

/// f25c5e4dafd8 + 4612d98f58c7 (R. Koller, 5.16): `vgic_check_iorange`
/// replaces `vgic_check_ioaddr` for every vGIC base address: a base already
/// set is -EEXIST before anything else, and a region whose *end* passes the
/// IPA space is -E2BIG (before: only a base beyond the IPA mask, checked
/// first); a legacy redistributor region is sized for the vCPUs online, and
/// `vgic_v3_check_base` also refuses a region that ends beyond the IPA space.
pub static VGIC_CHECK_IORANGE: Change = Change {
    id: "vgic-check-iorange",
    commit: "4612d98f58c7",
    patch: "",
    title: "KVM: arm64: vgic-v3: Check redist region is not above the VM IPA size",
    effect: "GRP_ADDR: EEXIST first; a distributor, redistributor or ITS region that ends beyond the IPA size is -E2BIG; the first KVM_RUN is -EINVAL when a legacy redistributor region has grown past it",
    mainline: v(5, 16, 0),
    stable: &[],
    evidence: "source: the series \"KVM: arm64: vgic: Check regions are not above the VM IPA size\" (f25c5e4dafd8 vgic_check_iorange, 4612d98f58c7, c56a87da0a7f, 2ec02f6c64f0), applied for 5.16; tools/testing/selftests/kvm/arm64/vgic_init.c (15b5964a411f) asserts the new errors; 5.10.223 measured with tests/conformance/vgic_init",
};

/// The 6.19 list-register overflow rework (M. Zyngier): interrupts that do
/// not fit in the list registers are no longer stuck behind the ones that
/// do. A guest EOI of an active interrupt KVM kept off the list registers
/// deactivates it (EOIcount), and a pending interrupt of higher priority
/// reaches the guest although every list register holds an active one.
pub static LR_OVERFLOW_REWORK: Change = Change {
    id: "lr-overflow-rework",
    commit: "",
    patch: "M. Zyngier's vGIC list-register overflow rework merged for 6.19 (series of 3 Nov 2025, v2 of 9 Nov 2025: \"KVM: arm64: Revamp vgic maintenance interrupt configuration\", \"KVM: arm64: Add AP-list overflow split/splice\"; vgic.c vgic_flush_lr_state: pending before active, the overflow list, EOIcount deactivations; vgic-v3.c vgic_v3_configure_hcr/vgic_v3_deactivate: NPIE/LRENPIE/UIE, TDIR; mainline commit ids not read here)",
    title: "KVM: arm64: vgic: list register overflow rework",
    effect: "with more active or pending interrupts than list registers (4 under QEMU), pending interrupts take the list registers before active ones, so a nested higher-priority interrupt is still acknowledged, and an EOI (or DIR) that finds no list register deactivates the first active interrupt kept off them, whatever EOImode; DIR traps while active interrupts are off the list registers (before: active ones first, ICC_IAR1_EL1 reads 1023 once four are active, and EOIs of interrupts off the list registers leave them active)",
    mainline: v(6, 19, 0),
    stable: &[],
    evidence: "measured with tests/conformance/vgic_irq (vgic_irq.c test_preemption, test_restore_active) and tests/scenarios/lr-overflow-eoimode{0,1}-6.1{8,9}: 5.10.223 ... 6.18.15 behave as before, 6.19.14 and 7.3.4 as after; the boundary from scripts/kvm --record over every series",
};

/// 7.3: `KVM_CREATE_VCPU` with an id that already exists is -EEXIST even
/// after the vGIC is initialised (before: arm64's `kvm_arch_vcpu_precreate`
/// answered -EBUSY first, and the id was looked up only after
/// `kvm_arch_vcpu_create`). Found by the real-KVM harness; the commit that
/// moved the check was not identified here (UNCONFIRMED source).
pub static CREATE_VCPU_ID_FIRST: Change = Change {
    id: "create-vcpu-id-first",
    commit: "",
    patch: "a 7.3-cycle change to virt/kvm/kvm_main.c kvm_vm_ioctl_create_vcpu or arch/arm64/kvm/arm.c kvm_arch_vcpu_precreate (commit not identified: UNCONFIRMED)",
    title: "KVM: KVM_CREATE_VCPU checks the vCPU id before the architecture's precreate",
    effect: "after KVM_DEV_ARM_VGIC_CTRL_INIT, creating a vCPU whose id exists is -EEXIST (before: -EBUSY from kvm_arch_vcpu_precreate); a new id is still -EBUSY",
    mainline: v(7, 3, 0),
    stable: &[],
    evidence: "measured with tests/scenarios/setup-nr-irqs-and-vcpus.json: 5.10.223, 6.1.192, 6.12.118, 6.16.12 ... 7.2.13 answer -EBUSY, 7.3.4 -EEXIST (scripts/kvm, 5 Dec 2026)",
};

/// Every change gicx models, oldest mainline release first.
pub static ALL: [&Change; 9] = [
    &USERSPACE_GICR_TYPER_LAST,
    &REDIST_BASE_ERROR_CODES,
    &RUN_ONCE_BY_PID,
    &VGIC_CHECK_IORANGE,
    &CPU_SYSREGS_SYSREG_API,
    &VM_DEAD_ON_MAP_FAILURE,
    &LR_OVERFLOW_REWORK,
    &IIDR_REVISION_RESTORE,
    &CREATE_VCPU_ID_FIRST,
];

/// Every change gicx models: the vGIC's ([`ALL`], which the audit takes its
/// behaviour points from) then the emulated ITS's ([`crate::vits::changes::ALL`]),
/// for `gicx kernels` and the Host view.
pub fn every() -> impl Iterator<Item = &'static Change> {
    ALL.iter().chain(crate::vits::changes::ALL.iter()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn stable_backports_count_from_their_first_version() {
        let c = &IIDR_REVISION_RESTORE;
        assert!(k("6.12.88").has(c));
        assert!(k("6.12.118").has(c));
        assert!(!k("6.12.86").has(c));
        assert!(!k("6.12").has(c));
        assert!(k("6.1.176").has(c) && !k("6.1.170").has(c));
        assert!(!k("6.13.200").has(c), "no backport listed for 6.13");
        assert!(k("7.1").has(c) && k("7.2.1").has(c));
        assert!(k("6.12.118+deb12").has(c));
    }

    #[test]
    fn the_list_is_ordered_and_each_backport_is_older_than_mainline() {
        for w in ALL.windows(2) {
            assert!(
                w[0].mainline <= w[1].mainline,
                "{} before {}",
                w[0].id,
                w[1].id
            );
        }
        for c in ALL {
            assert!(
                c.commit.len() == 12 || (c.commit.is_empty() && !c.patch.is_empty()),
                "{}: a commit id or the patch",
                c.id
            );
            for s in c.stable {
                assert!(s.series() < c.mainline && s.patch > 0, "{}: {s}", c.id);
            }
        }
    }
}
