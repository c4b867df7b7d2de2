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
    // The first versions measured to carry it; the backports start at or before them.
    stable: &[v(6, 1, 192), v(6, 12, 118), v(7, 0, 13)],
    evidence: "source: the 7.0-stable review patch 100/461 (2026-05-28, 'commit 9ce754ed8e7a upstream', Cc: stable, Fixes 57a9a117154c) adding the check to vgic_its_restore_dte. UNCONFIRMED: the mainline release (7.1 assumed: merged by M. Zyngier in May 2026). Measured with scripts/kvm on tests/scenarios/its-restore-dte-eventid-bits-7.0.json (Debian's kernels, GICv3 host): 5.10.223, 6.12.86 and 6.12.88 accept the DTE; 6.1.192, 6.12.118, 7.0.13, 7.2.13 and 7.3.4 refuse it (-EINVAL). The stable versions listed are the first measured: the 6.1 backport is at or before 6.1.192, the 6.12 one after 6.12.88 and at or before 6.12.118, the 7.0 one at or before 7.0.13",
};

/// 7.3: MAPTI/MAPI of an LPI that another ITE already maps is dropped
/// instead of sharing the LPI (`vgic_add_lpi` reused it until then).
pub static ITS_MAPTI_LPI_IN_USE: Change = Change {
    id: "its-mapti-lpi-in-use",
    commit: "",
    patch: "not identified: one of the 7.3 vgic-its changes (UNCONFIRMED source)",
    title: "vgic-its: MAPTI/MAPI of an LPI already mapped by another ITE is refused",
    effect: "the MAPTI/MAPI is dropped (no ITE): an MSI to that event returns 0 where it used to reach the shared LPI",
    mainline: v(7, 3, 0),
    stable: &[],
    evidence: "measured with scripts/kvm (tests/scenarios/its-mapti-shared-lpi-*.json, GICv3 host): 5.10.223, 6.1.192, 6.12.86, 6.12.88, 6.12.118, 7.0.13 and 7.2.13 share the LPI (KVM_SIGNAL_MSI returns 1); 7.3.4 drops the command (0). The commit and the error code were not read (modelled as E_ITS_MAPTI_PHYSICALID_OOR; KVM ignores it either way)",
};

/// "KVM: arm64: vgic: Undo work in failed ITS restores": a failed
/// `KVM_DEV_ARM_ITS_RESTORE_TABLES` frees every collection (and device) it
/// restored. Before it, collections restored before a failing entry stay
/// mapped (a second restore finds them: -EEXIST); only a failing device is freed.
pub static ITS_RESTORE_UNDO: Change = Change {
    id: "its-restore-undo",
    commit: "",
    patch: "[PATCH v2 4/4] KVM: arm64: vgic: Undo work in failed ITS restores <20220427184814.2204513-5-ricarkol@google.com>",
    title: "KVM: arm64: vgic: Undo work in failed ITS restores",
    effect: "after a failed KVM_DEV_ARM_ITS_RESTORE_TABLES nothing it restored stays mapped (before: the collections restored so far, and the devices restored before a failing one, stay)",
    mainline: v(5, 19, 0),
    stable: &[],
    evidence: "source: the patch (R. Koller, posted 2022-04-27, reviewed by E. Auger): vgic_its_restore_collection_table and vgic_its_restore_device_tables free their lists on error, vgic_its_restore_tables_v0 frees the collections when the devices fail. The mainline release (5.19) is assumed from its posting, UNCONFIRMED. Measured with scripts/kvm (tests/scenarios/its-restore-bad-tables*.json): 5.10.223 keeps the collections (the next restore is -EEXIST), 6.1.192 and 6.12.118 free them",
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
    // The first versions measured to carry it; the backports start at or before them.
    stable: &[v(6, 12, 118), v(7, 2, 13)],
    evidence: "measured with scripts/kvm on tests/scenarios/its-save-unreachable-device-7.2.json (Debian's kernels, GICv3 host): 5.10.223, 6.1.192, 6.12.86, 6.12.88 and 7.0.13 fail the save (-EINVAL); 6.12.118, 7.2.13 and 7.3.4 skip the device (the 6.12 backport is after 6.12.88, at or before 6.12.118; the 7.2 one at or before 7.2.13). Source: torvalds/linux push log of 2026-09-26 (kvmarm-fixes-7.3-1: cc5d96036e01, with 30908e727247 reverting 9b10fb74e4b6 'Don't save collections the table cannot hold', 8cd92f77ae4f 'Free the caches when GITS_BASER changes' and selftests 6f182db39fb0); stable push logs show backports (ef665b684bac, fe2bab76738e, 65bffaf100df, 8bdd7c114a59, 15ef9cf969ab, 62cdbb3e096f). UNCONFIRMED: the patch body (modelled as: skip the device and its ITT) and the stable versions",
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
    // The first versions measured to carry it; the backports start at or before them.
    stable: &[v(6, 1, 192), v(6, 12, 118), v(7, 2, 13)],
    evidence: "measured with tests/scenarios/its-save-null-collection-7.3.json (scripts/kvm, 6 Dec 2026, GICv3 host): 5.10.223 and 6.16.12 ... 7.1.13 oops in vgic_its_save_tables_v0 (the kernel crashed, twice each), 6.1.192, 6.12.118, 7.2.13 and 7.3.4 save without the ITE; the first 6.1.y/6.12.y/7.2.y versions are not bisected (UNCONFIRMED). Source: the 7.3 merge-window push log listing c6c156d931c3, 9b10fb74e4b6 and ad1e686e2378 (F. Tabba's series 'vgic-its', v2 posted 2026-08-07); the NULL dereference read in vgic_its_save_ite at b5e26cd12f34 (ite->collection->collection_id). UNCONFIRMED: the patch body (modelled as: skip such ITEs)",
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
    evidence: "source: the patch ([PATCH v3 04/19], kvm@vger.kernel.org, 22 Apr 2024: `xa_for_each` over dist->lpi_xa replaces vgic_copy_lpi_list(kvm, vcpu1, ...) with no target test left) and O. Upton's 'Applied to kvmarm/next' naming 11f4f8f3e6e0; measured with tests/scenarios/its-commands.json as it was at 3e40865 (scripts/kvm, 6 Dec 2026, GICv3 host): on 6.16.12, 6.17.13, 6.18.15, 6.19.14, 7.0.13 and 7.1.13 an LPI with no target reaches MOVALL's destination; 5.10.223 and 6.1.192 (before the series), 6.12.118 and 7.2.13 leave it; its-movall-every-lpi-6.17 pins it",
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
    evidence: "measured with tests/scenarios/its-commands.json as it was at 3e40865 (scripts/kvm, 6 Dec 2026): 6.12.118 and 7.2.13 leave an LPI with no target where it was, 7.1.13 and the 6.16 ... 7.0 kernels move it; itsm saw the same difference on 6.12.86/88; the mainline release (7.2 assumed) and the first 6.12.y version (after 6.12.88) are UNCONFIRMED",
};

/// Every ITS change, oldest first.
pub static ALL: &[&Change] = &[
    &ITS_RESTORE_UNDO,
    &ITS_MAPTI_LPI_IN_USE,
    &ITS_CLEAR_ENTRY_ON_UNMAP,
    &ITS_CTRL_UNKNOWN_ENXIO,
    &ITS_RESTORE_DTE_EVENTID_BITS,
    &ITS_SAVE_SKIPS_UNREACHABLE,
    &ITS_SAVE_NULL_COLLECTION,
    &ITS_SAVE_ITE_NEXT_VALID,
    &ITS_MOVALL_EVERY_LPI,
    &ITS_MOVALL_SOURCE_ONLY,
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
        // Measured on Debian's kernels (scripts/kvm).
        assert!(!k("6.12.88").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("6.12.118").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("6.1.192").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(k("7.0.13").has(&ITS_RESTORE_DTE_EVENTID_BITS));
        assert!(!k("6.12.88").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(k("6.12.118").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(k("7.2.13").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(!k("7.0.13").has(&ITS_SAVE_SKIPS_UNREACHABLE));
        assert!(!k("5.10.223").has(&ITS_RESTORE_UNDO));
        assert!(k("6.1.192").has(&ITS_RESTORE_UNDO));
        assert!(k("6.1.192").has(&ITS_SAVE_NULL_COLLECTION));
        assert!(!k("7.1.13").has(&ITS_SAVE_NULL_COLLECTION));
        assert!(!k("7.2.13").has(&ITS_SAVE_ITE_NEXT_VALID));
        let movall_every =
            |s: &str| k(s).has(&ITS_MOVALL_EVERY_LPI) && !k(s).has(&ITS_MOVALL_SOURCE_ONLY);
        assert!(!movall_every("6.1.192") && !movall_every("6.12.118"));
        assert!(movall_every("6.17.13") && movall_every("7.1.13"));
        assert!(!movall_every("7.2.13") && !movall_every("7.3.4"));
    }

    #[test]
    fn every_change_names_its_commit_and_evidence() {
        for c in ALL {
            // A commit id, or (kernels::Change's convention) the posted patch.
            if c.commit.is_empty() {
                assert!(!c.patch.is_empty(), "{}", c.id);
            } else {
                assert_eq!(c.commit.len(), 12, "{}", c.id);
                assert!(c.commit.chars().all(|ch| ch.is_ascii_hexdigit()));
            }
            assert!(!c.evidence.is_empty() && !c.effect.is_empty());
            assert!(c.stable.iter().all(|s| s.series() < c.mainline));
        }
    }
}
