//! Behaviour changes of KVM's emulated ITS, as commits (the same shape as
//! [`crate::kernels`], kept here so the ITS lands without touching that
//! file; they can move there unchanged). The ITS asks
//! [`KernelVersion::has`](crate::host::KernelVersion::has) for each.
//!
//! Sources read for this file: `arch/arm64/kvm/vgic/vgic-its.c` of
//! torvalds/linux at b5e26cd12f34 (6.6-era) in full; the stable and
//! kvmarm patches and the torvalds/linux push logs named in each entry.
//! What could not be read here is marked UNCONFIRMED.

use crate::host::KernelVersion;
use crate::kernels::Change;

const fn v(major: u16, minor: u16, patch: u16) -> KernelVersion {
    KernelVersion::new(major, minor, patch)
}

/// e9649129d33d + 7602ffd1d5e8 (one series, "vgic-its fixes", K. Jiang):
/// MAPD with V=0 writes a zero DTE and DISCARD a zero ITE into guest memory,
/// so a later save/restore cannot resurrect the mapping.
pub static ITS_CLEAR_ENTRY_ON_UNMAP: Change = Change {
    id: "its-clear-entry-on-unmap",
    commit: "e9649129d33d",
    patch: "",
    title: "KVM: arm64: vgic-its: Clear DTE when MAPD unmaps a device (and 7602ffd1d5e8: Clear ITE when DISCARD frees an ITE)",
    effect: "MAPD V=0 zeroes the device's DTE and DISCARD zeroes the ITE in guest memory (a write that can fail with -EFAULT, ignored like any command error)",
    mainline: v(6, 13, 0),
    stable: &[
        v(5, 4, 287),
        v(5, 10, 231),
        v(6, 1, 120),
        v(6, 6, 66),
        v(6, 12, 5),
    ],
    evidence: "source: the patches in the stable queue (Dec 2024) and kvmarm/next's merge of kvm-arm64/vgic-its-fixes (6.13 merge window); read: the Linux 5.10.231 announcement (vgic-its.c changed, shortlog lists both) and the 5.4.287-rc2 shortlog; the stable bot reported the backports present in 6.1.y, 6.6.y, 6.11.y and 6.12.y on 2024-12-04. UNCONFIRMED: the first 6.1/6.6/6.12 versions (6.1.120, 6.6.66, 6.12.5 are the releases of the same day as 5.10.231, assumed, not read)",
};

/// 4530256f3699: an unknown `KVM_DEV_ARM_VGIC_GRP_CTRL` attribute of the ITS
/// device is -ENXIO (before: `vgic_its_ctrl` fell through its switch and
/// returned 0 having done nothing).
pub static ITS_CTRL_UNKNOWN_ENXIO: Change = Change {
    id: "its-ctrl-unknown-enxio",
    commit: "4530256f3699",
    patch: "",
    title: "KVM: arm64: vgic-its: Return -ENXIO to invalid KVM_DEV_ARM_VGIC_GRP_CTRL attrs",
    effect: "KVM_SET_DEVICE_ATTR(GRP_CTRL, unknown attr) on the ITS: -ENXIO instead of 0",
    mainline: v(6, 17, 0),
    stable: &[],
    evidence: "source: the patch thread (D. Woodhouse, June-July 2025, applied to kvmarm/next by O. Upton) and the kvmarm pull for 6.17 listing it; vgic_its_ctrl at b5e26cd12f34 (no default case). Stable backports: none found",
};

/// 9ce754ed8e7a: a restored DTE whose Size field encodes more event-ID bits
/// than the ITS has (16) is -EINVAL, like MAPD's ITTSIZE_OOR. Before it the
/// value reached `vgic_its_restore_itt`, whose scan length
/// (`BIT_ULL(bits) * 8` passed as an `int`) is truncated.
pub static ITS_RESTORE_DTE_EVENTID_BITS: Change = Change {
    id: "its-restore-dte-eventid-bits",
    commit: "9ce754ed8e7a",
    patch: "",
    title: "KVM: arm64: vgic-its: Reject restored DTE with out-of-range num_eventid_bits",
    effect: "KVM_DEV_ARM_ITS_RESTORE_TABLES with a DTE Size field above 15 (more than 16 event-ID bits): -EINVAL",
    mainline: v(7, 1, 0),
    // Measured, not the first versions: 6.1.192 and 6.12.118 refuse the DTE
    // (its-restore-dte-eventid-bits-7.1 on scripts/kvm, 6 Dec 2026); 6.17.13 accepts it.
    stable: &[v(6, 1, 192), v(6, 12, 118), v(7, 0, 13)],
    evidence: "measured with tests/scenarios/its-restore-dte-eventid-bits-7.{0,1}.json (scripts/kvm, 6 Dec 2026): 6.1.192, 6.12.118 and 7.0.13 answer -EINVAL like 7.1.13 and 7.3.4; 5.10.223, 6.16.12 ... 6.19.14 restore the DTE; the first 6.1.y and 6.12.y versions carrying the backport are not bisected (UNCONFIRMED: modelled from the versions measured). Source: the 7.0-stable review patch 100/461 (2026-05-28, 'commit 9ce754ed8e7a upstream', Cc: stable, Fixes 57a9a117154c) adding the check to vgic_its_restore_dte. UNCONFIRMED: the mainline release (7.1 assumed: merged by M. Zyngier in May 2026) and the first stable versions (queued for 7.0.y; others not read) - a stable kernel carrying it is modelled as lacking it until read",
};

/// cc5d96036e01: `vgic_its_save_device_tables` skips a device whose DTE the
/// device table can no longer hold (its BASER shrank or moved) instead of
/// failing the whole save with -EINVAL.
pub static ITS_SAVE_SKIPS_UNREACHABLE: Change = Change {
    id: "its-save-skips-unreachable",
    commit: "cc5d96036e01",
    patch: "",
    title: "KVM: arm64: vgic-its: Skip unreachable devices instead of failing the save",
    effect: "KVM_DEV_ARM_ITS_SAVE_TABLES with a mapped device outside the device table: 0 (the device is not saved) instead of -EINVAL",
    mainline: v(7, 3, 0),
    // Measured: 6.12.118 skips the device (its-save-unreachable-device-7.3); 6.1.192 answers -EINVAL.
    stable: &[v(6, 12, 118), v(7, 2, 13)],
    evidence: "measured with tests/scenarios/its-save-unreachable-device-7.{2,3}.json (scripts/kvm, 6 Dec 2026): 6.12.118 and 7.2.13 save without the device like 7.3.4; 5.10.223, 6.1.192 and 6.16.12 ... 7.1.13 answer -EINVAL; the first 6.12.y and 7.2.y versions are not bisected (UNCONFIRMED). Source: torvalds/linux push log of 2026-09-26 (kvmarm-fixes-7.3-1: cc5d96036e01, with 30908e727247 reverting 9b10fb74e4b6 'Don't save collections the table cannot hold', 8cd92f77ae4f 'Free the caches when GITS_BASER changes' and selftests 6f182db39fb0); stable push logs show backports (ef665b684bac, fe2bab76738e, 65bffaf100df, 8bdd7c114a59, 15ef9cf969ab, 62cdbb3e096f). UNCONFIRMED: the patch body (modelled as: skip the device and its ITT) and the stable versions",
};

/// c6c156d931c3: saving an ITT whose ITE lost its collection (MAPC V=0
/// sets `ite->collection = NULL`) no longer dereferences NULL in
/// `vgic_its_save_ite`; the ITE is not saved. Where the previous ITE's next
/// offset points is [`ITS_SAVE_ITE_NEXT_VALID`]'s.
pub static ITS_SAVE_NULL_COLLECTION: Change = Change {
    id: "its-save-null-collection",
    commit: "c6c156d931c3",
    patch: "",
    title: "KVM: arm64: vgic-its: Don't dereference a NULL collection on ITT save",
    effect: "KVM_DEV_ARM_ITS_SAVE_TABLES after the guest unmapped a collection that ITEs still use: succeeds without those ITEs (before: a NULL dereference in the host kernel)",
    mainline: v(7, 3, 0),
    // Measured: 6.1.192 and 6.12.118 save without oopsing (its-save-null-collection-7.3).
    stable: &[v(6, 1, 192), v(6, 12, 118), v(7, 2, 13)],
    evidence: "measured with tests/scenarios/its-save-null-collection-7.3.json (scripts/kvm, 6 Dec 2026): 5.10.223 and 6.16.12 ... 7.1.13 oop in vgic_its_save_tables_v0 (the kernel crashed, twice each), 6.1.192, 6.12.118, 7.2.13 and 7.3.4 save without the ITE; the first 6.1.y/6.12.y/7.2.y versions are not bisected (UNCONFIRMED). Source: the 7.3 merge-window push log listing c6c156d931c3, 9b10fb74e4b6 and ad1e686e2378 (F. Tabba's series 'vgic-its', v2 posted 2026-08-07); the NULL dereference read in vgic_its_save_ite at b5e26cd12f34 (ite->collection->collection_id). UNCONFIRMED: the patch body (modelled as: skip such ITEs)",
};

/// ad1e686e2378: the next offset of a saved ITE points at the next ITE
/// actually saved, not at one [`ITS_SAVE_NULL_COLLECTION`] left out.
pub static ITS_SAVE_ITE_NEXT_VALID: Change = Change {
    id: "its-save-ite-next-valid",
    commit: "ad1e686e2378",
    patch: "",
    title: "KVM: arm64: vgic-its: Point saved ITEs at the next valid entry",
    effect: "KVM_DEV_ARM_ITS_SAVE_TABLES: an ITE's next offset skips the ITEs not saved (before: it counts to the next mapped event, saved or not)",
    mainline: v(7, 3, 0),
    stable: &[],
    evidence: "measured with tests/scenarios/its-save-null-collection-7.3.json (scripts/kvm, 6 Dec 2026): 7.3.4 saves event 2's ITE as the last (next 0), 6.1.192, 6.12.118 and 7.2.13 (which carry c6c156d931c3) with next 3, pointing at the unsaved event 5. Source: the 7.3 merge-window push log (F. Tabba's series 'vgic-its'). UNCONFIRMED: the patch body and whether any stable series has it",
};

/// 8c5e74c90bb5 (R. Koller, 'Undo work in failed ITS restores', kvmarm for
/// 5.19): a failed KVM_DEV_ARM_ITS_RESTORE_TABLES frees every collection
/// and device it restored. Before it the collections restored before the
/// failure stay mapped, so the next restore of the same tables finds them
/// (-EEXIST in `vgic_its_restore_cte`).
pub static ITS_RESTORE_UNDO: Change = Change {
    id: "its-restore-undo",
    commit: "8c5e74c90bb5",
    patch: "",
    title: "KVM: arm64: vgic: Undo work in failed ITS restores",
    effect: "a failed KVM_DEV_ARM_ITS_RESTORE_TABLES leaves nothing mapped (before: the collections, and devices, restored before the failure stay)",
    mainline: v(5, 19, 0),
    stable: &[],
    evidence: "source: the patch ([PATCH v2 4/4] on kvm@vger.kernel.org, 27 Apr 2022: vgic_its_restore_collection_table and vgic_its_restore_tables_v0 free the collection list on error, vgic_its_restore_device_tables the device list) and M. Zyngier's 'Applied to next' naming 8c5e74c90bb5; measured with tests/scenarios/its-restore-efault.json and its-restore-bad-tables.json (scripts/kvm, 6 Dec 2026): 5.10.223 answers -EEXIST where later kernels restore. Stable backports: none seen",
};

/// 11f4f8f3e6e0 (O. Upton's LPI xarray series, 6.10): MOVALL walks the
/// LPI xarray instead of `vgic_copy_lpi_list(kvm, vcpu1)`, and the walk
/// keeps no test of the LPI's target: every LPI of the VM is retargeted to
/// the destination vCPU, whatever vCPU it targeted (or none).
pub static ITS_MOVALL_EVERY_LPI: Change = Change {
    id: "its-movall-every-lpi",
    commit: "11f4f8f3e6e0",
    patch: "",
    title: "KVM: arm64: vgic-its: Walk LPI xarray in vgic_its_cmd_handle_movall()",
    effect: "MOVALL retargets every LPI to the destination vCPU, not only those targeting the source",
    mainline: v(6, 10, 0),
    stable: &[],
    evidence: "source: the patch ([PATCH v3 04/19], kvm@vger.kernel.org, 22 Apr 2024: `xas_for_each` over dist->lpi_xa replaces vgic_copy_lpi_list(kvm, vcpu1, ...) with no target test left) and O. Upton's 'Applied to kvmarm/next' naming 11f4f8f3e6e0; measured with tests/scenarios/its-commands.json (scripts/kvm, 6 Dec 2026): on 6.16.12, 6.17.13, 6.18.15, 6.19.14, 7.0.13 and 7.1.13 an LPI with no target reaches MOVALL's destination; 5.10.223 and 6.1.192 (before the series) leave it",
};

/// MOVALL moves only the LPIs targeting its source vCPU again (the
/// regression of [`ITS_MOVALL_EVERY_LPI`] fixed).
pub static ITS_MOVALL_SOURCE_ONLY: Change = Change {
    id: "its-movall-source-only",
    commit: "",
    patch: "a fix to vgic_its_cmd_handle_movall testing irq->target_vcpu against the source vCPU again (commit not identified: UNCONFIRMED)",
    title: "KVM: arm64: vgic-its: MOVALL moves only the source vCPU's LPIs",
    effect: "MOVALL retargets only the LPIs that target its source vCPU",
    mainline: v(7, 2, 0),
    stable: &[v(6, 12, 118)],
    evidence: "measured with tests/scenarios/its-commands.json (scripts/kvm, 6 Dec 2026): 6.12.118 and 7.2.13 leave an LPI with no target where it was, 7.1.13 and the 6.16 ... 7.0 kernels move it; the mainline release (7.2 assumed) and the first 6.12.y version are UNCONFIRMED",
};

/// A MAPTI/MAPI whose LPI another event already maps is dropped from 7.3
/// (before, `vgic_add_lpi` returned the existing LPI as it was and both
/// events shared it).
pub static ITS_MAPTI_SHARED_LPI_REFUSED: Change = Change {
    id: "its-mapti-shared-lpi-refused",
    commit: "",
    patch: "a 7.3-cycle change to vgic_its_cmd_handle_mapi or vgic_add_lpi (commit not identified: UNCONFIRMED)",
    title: "KVM: arm64: vgic-its: MAPTI/MAPI of an LPI already mapped is dropped",
    effect: "MAPTI/MAPI naming an LPI that another ITE maps leaves the event unmapped: an MSI to it returns 0",
    mainline: v(7, 3, 0),
    stable: &[],
    evidence: "measured with tests/scenarios/its-commands.json (scripts/kvm, 6 Dec 2026): after MAPI of device 6 event 8202 (LPI 8202, which device 3 event 3 maps), KVM_SIGNAL_MSI of device 6 event 8202 returns 0 on 7.3.4 and 1 on 5.10.223 ... 7.2.13. UNCONFIRMED: whether the mapping is refused (modelled) or made and the MSI blocked; the patch was not read",
};

/// Every ITS change, oldest first.
pub static ALL: &[&Change] = &[
    &ITS_RESTORE_UNDO,
    &ITS_MOVALL_EVERY_LPI,
    &ITS_CLEAR_ENTRY_ON_UNMAP,
    &ITS_CTRL_UNKNOWN_ENXIO,
    &ITS_RESTORE_DTE_EVENTID_BITS,
    &ITS_SAVE_SKIPS_UNREACHABLE,
    &ITS_SAVE_NULL_COLLECTION,
    &ITS_SAVE_ITE_NEXT_VALID,
    &ITS_MOVALL_SOURCE_ONLY,
    &ITS_MAPTI_SHARED_LPI_REFUSED,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn backports_and_mainline() {
        assert!(!k("5.10.223").has(&ITS_CLEAR_ENTRY_ON_UNMAP));
        assert!(k("5.10.231").has(&ITS_CLEAR_ENTRY_ON_UNMAP));
        assert!(k("6.1.170").has(&ITS_CLEAR_ENTRY_ON_UNMAP));
        assert!(k("6.13").has(&ITS_CLEAR_ENTRY_ON_UNMAP));
        assert!(!k("6.16.12").has(&ITS_CTRL_UNKNOWN_ENXIO));
        assert!(k("6.17").has(&ITS_CTRL_UNKNOWN_ENXIO));
        assert!(!k("7.0.7").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("7.1").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(!k("7.2").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(k("7.3").has(&ITS_SAVE_NULL_COLLECTION));
        // Measured on Debian's stable kernels (scripts/kvm, 6 Dec 2026).
        assert!(k("6.12.118").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("6.1.192").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(!k("6.17.13").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("6.12.118").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(!k("6.1.192").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(k("6.1.192").has(&ITS_SAVE_NULL_COLLECTION));
        assert!(!k("6.17.13").has(&ITS_SAVE_NULL_COLLECTION));
        assert!(!k("6.12.118").has(&ITS_SAVE_ITE_NEXT_VALID));
        assert!(!k("5.10.223").has(&ITS_RESTORE_UNDO));
        assert!(k("6.1").has(&ITS_RESTORE_UNDO));
        let movall_every =
            |s: &str| k(s).has(&ITS_MOVALL_EVERY_LPI) && !k(s).has(&ITS_MOVALL_SOURCE_ONLY);
        assert!(!movall_every("6.1.192") && !movall_every("6.12.118"));
        assert!(movall_every("6.17.13") && movall_every("7.1.13"));
        assert!(!movall_every("7.2.13") && !movall_every("7.3.4"));
        assert!(k("7.0.13").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(!k("7.2.13").has(&ITS_MAPTI_SHARED_LPI_REFUSED));
    }

    #[test]
    fn every_change_names_its_commit_and_evidence() {
        for c in ALL {
            // A change measured on real kernels whose commit is not
            // identified says so in `patch` (like kernels::CREATE_VCPU_ID_FIRST).
            if c.commit.is_empty() {
                assert!(c.patch.contains("UNCONFIRMED"), "{}", c.id);
            } else {
                assert_eq!(c.commit.len(), 12, "{}", c.id);
                assert!(c.commit.chars().all(|ch| ch.is_ascii_hexdigit()));
            }
            assert!(!c.evidence.is_empty() && !c.effect.is_empty());
            assert!(c.stable.iter().all(|s| s.series() < c.mainline));
        }
    }
}
