//! The ITS part of each VMM's save and restore (issue 17), as data like the vGIC's
//! [`Op`](super::Op) lists: `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES` on the vGIC device,
//! `KVM_DEV_ARM_ITS_SAVE_TABLES`/`RESTORE_TABLES` and `KVM_DEV_ARM_VGIC_GRP_ITS_REGS`
//! on the ITS device, and where the VMM copies guest RAM (the tables live there).
//! A recipe places them with [`Op::Its`](super::Op::Its); the engine runs them only on
//! a VM with an ITS (every VMM here creates the ITS device only when it has one).
//!
//! Sources, read for this module:
//! - QEMU `hw/intc/arm_gicv3_its_kvm.c` @06b40d25: `vm_change_state_handler` runs
//!   SAVE_TABLES when the VM stops ("ITS tables are flushed into guest RAM separately
//!   and earlier, through the VM change state handler, since at the moment pre_save()
//!   is called, the guest RAM has already been saved"); `kvm_arm_its_pre_save` reads
//!   GITS_BASER0..7, CTLR, CBASER, CREADR, CWRITER, IIDR; `kvm_arm_its_post_load` writes
//!   GITS_IIDR, CBASER ("must be written before GITS_CREADR since GITS_CBASER write
//!   access resets GITS_CREADR"), CREADR, CWRITER, BASER0..7, RESTORE_TABLES, CTLR.
//!   `hw/intc/arm_gicv3_kvm.c` @01b5ab8c: its own `vm_change_state_handler` runs
//!   SAVE_PENDING_TABLES (registered in `kvm_arm_gicv3_realize` when HAS_ATTR says so).
//!   On a stop, `vm_state_notify` (system/runstate.c) calls the handlers in reverse
//!   registration order: the ITS (realized after the GIC) saves its tables first. RAM's
//!   last pass precedes every device's pre_save; on the destination RAM is loaded before
//!   the devices, and the GICv3 (`MIG_PRI_GICV3`) before its ITS (`MIG_PRI_GICV3_ITS`).
//! - Firecracker `src/vmm/src/arch/aarch64/gic/gicv3/regs/its_regs.rs` @9fcdb794
//!   (`ItsRegisterState::save`: BASER0..7, CTLR, CBASER, CREADR, CWRITER, IIDR;
//!   `restore`: IIDR, CBASER, CREADR, CWRITER, BASER0..7, RESTORE_TABLES, CTLR) and
//!   `gicv3/regs/mod.rs` of the same tree (`save_state`: SAVE_PENDING_TABLES, SAVE_TABLES,
//!   the redistributors and ICC registers per vCPU, the ITS registers, the distributor;
//!   "Capture the memory snapshot after these calls"; `restore_state`: distributor,
//!   redistributors, ICC, ITS). The snapshot's memory file is written after the
//!   microVM state and mapped before it is restored.
//! - cloud-hypervisor `hypervisor/src/kvm/aarch64/gic/mod.rs` @010be29f
//!   (`KvmGicV3Its::save_data_tables`: SAVE_PENDING_TABLES then SAVE_TABLES, called by
//!   `Pausable::pause` of `devices/src/gic.rs`; `state`: GICD_CTLR, distributor,
//!   redistributors, ICC, then GITS_BASER0..7, CTLR, CBASER, CREADR, CWRITER, IIDR;
//!   `set_state`: GICD_CTLR, distributor, redistributors, ICC, GITS_IIDR, CBASER,
//!   CREADR, CWRITER, BASER0..7, RESTORE_TABLES, GITS_CTLR). Memory is snapshotted after
//!   the pause and restored when the VM is created, before the devices.
//! - crosvm `devices/src/irqchip/kvm/aarch64.rs` @03b88b64: no ITS save at all
//!   ("snapshot of vGIC ITS not supported yet"): its recipe refuses a VM with an ITS.
//! - `Documentation/virt/kvm/devices/arm-vgic-its.rst` (torvalds/linux @1a931707):
//!   "ITS Restore Sequence": guest memory, the redistributors, the ITS base address,
//!   then GITS_CBASER, all other GITS_ registers but GITS_CTLR, RESTORE_TABLES, GITS_CTLR;
//!   GITS_IIDR before RESTORE_TABLES. The document gives no save order; the kernel-doc
//!   recipe saves the tables and the pending tables before the RAM copy, as
//!   SAVE_TABLES' text ("save the ITS table data into guest RAM") requires.

use serde::Serialize;

use super::{Action, Exec, LogEntry, Refusal, Target};
use crate::errno::Errno;
use crate::guest_memory::GuestMemory;
use crate::rules as r;
use crate::vgic::Op as VgicOp;
use crate::vits::{self, regs};

/// One ITS step of a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItsOp {
    /// `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES` on the vGIC device.
    SavePendingTables,
    /// `KVM_DEV_ARM_ITS_SAVE_TABLES`.
    SaveTables,
    /// `KVM_DEV_ARM_ITS_RESTORE_TABLES`.
    RestoreTables,
    /// Guest RAM: on save, the copy the VMM migrates is taken here; on restore, it is
    /// loaded here (before it, the destination's RAM is all zeros).
    Ram,
    /// `KVM_GET_DEVICE_ATTR(GRP_ITS_REGS, offset)` (save) or
    /// `KVM_SET_DEVICE_ATTR` of the saved value (restore).
    Reg(u32),
}

const fn baser(n: u32) -> ItsOp {
    ItsOp::Reg(regs::GITS_BASER + 8 * n)
}
const BASERS: [ItsOp; 8] = [
    baser(0),
    baser(1),
    baser(2),
    baser(3),
    baser(4),
    baser(5),
    baser(6),
    baser(7),
];

/// `kvm_arm_its_pre_save`, Firecracker's `ItsRegisterState::save` and
/// cloud-hypervisor's `state`: BASER0..7, CTLR, CBASER, CREADR, CWRITER, IIDR.
pub const REGS_SAVE: &[ItsOp] = &[
    BASERS[0],
    BASERS[1],
    BASERS[2],
    BASERS[3],
    BASERS[4],
    BASERS[5],
    BASERS[6],
    BASERS[7],
    ItsOp::Reg(regs::GITS_CTLR),
    ItsOp::Reg(regs::GITS_CBASER),
    ItsOp::Reg(regs::GITS_CREADR),
    ItsOp::Reg(regs::GITS_CWRITER),
    ItsOp::Reg(regs::GITS_IIDR),
];

/// `kvm_arm_its_post_load`, Firecracker's `ItsRegisterState::restore` and
/// cloud-hypervisor's `set_state`: IIDR, CBASER, CREADR, CWRITER, BASER0..7,
/// RESTORE_TABLES, CTLR.
pub const REGS_RESTORE: &[ItsOp] = &[
    ItsOp::Reg(regs::GITS_IIDR),
    ItsOp::Reg(regs::GITS_CBASER),
    ItsOp::Reg(regs::GITS_CREADR),
    ItsOp::Reg(regs::GITS_CWRITER),
    BASERS[0],
    BASERS[1],
    BASERS[2],
    BASERS[3],
    BASERS[4],
    BASERS[5],
    BASERS[6],
    BASERS[7],
    ItsOp::RestoreTables,
    ItsOp::Reg(regs::GITS_CTLR),
];

/// QEMU when the VM stops: the ITS's handler (SAVE_TABLES), then the GICv3's
/// (SAVE_PENDING_TABLES), then RAM's last pass.
pub const QEMU_STOP: &[ItsOp] = &[ItsOp::SaveTables, ItsOp::SavePendingTables, ItsOp::Ram];
/// Firecracker's `save_state` and cloud-hypervisor's `save_data_tables`:
/// SAVE_PENDING_TABLES, then SAVE_TABLES.
pub const FLUSH: &[ItsOp] = &[ItsOp::SavePendingTables, ItsOp::SaveTables];
/// Guest RAM, copied (save) or loaded (restore).
pub const RAM: &[ItsOp] = &[ItsOp::Ram];

/// arm-vgic-its.rst's "ITS Restore Sequence" step d): GITS_CBASER, the other
/// registers (GITS_IIDR first of them: "must be restored before calling
/// KVM_DEV_ARM_ITS_RESTORE_TABLES"), RESTORE_TABLES, GITS_CTLR.
pub const DOC_RESTORE: &[ItsOp] = &[
    ItsOp::Reg(regs::GITS_CBASER),
    ItsOp::Reg(regs::GITS_IIDR),
    ItsOp::Reg(regs::GITS_CREADR),
    ItsOp::Reg(regs::GITS_CWRITER),
    BASERS[0],
    BASERS[1],
    BASERS[2],
    BASERS[3],
    BASERS[4],
    BASERS[5],
    BASERS[6],
    BASERS[7],
    ItsOp::RestoreTables,
    ItsOp::Reg(regs::GITS_CTLR),
];
/// The kernel-doc save: the tables and the pending tables into guest RAM, then the
/// registers, then the RAM copy.
pub const DOC_SAVE: &[ItsOp] = &[
    ItsOp::SaveTables,
    ItsOp::SavePendingTables,
    BASERS[0],
    BASERS[1],
    BASERS[2],
    BASERS[3],
    BASERS[4],
    BASERS[5],
    BASERS[6],
    BASERS[7],
    ItsOp::Reg(regs::GITS_CTLR),
    ItsOp::Reg(regs::GITS_CBASER),
    ItsOp::Reg(regs::GITS_CREADR),
    ItsOp::Reg(regs::GITS_CWRITER),
    ItsOp::Reg(regs::GITS_IIDR),
    ItsOp::Ram,
];

/// What a save took of the ITS and guest RAM.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ItsSaved {
    /// GRP_ITS_REGS values read, by offset, in the order read (a later read of the
    /// same offset replaces the earlier one).
    pub regs: Vec<(u32, u64)>,
    /// Guest RAM as the VMM copied it (`None`: no copy was taken).
    pub memory: Option<GuestMemory>,
}

impl ItsSaved {
    /// The value saved for `offset` (0 if never read).
    pub fn reg(&self, offset: u32) -> u64 {
        self.regs
            .iter()
            .rev()
            .find(|(o, _)| *o == offset)
            .map_or(0, |(_, v)| *v)
    }
}

/// The name of an ITS op's register or control attribute, for the log.
pub fn op_name(op: ItsOp) -> String {
    match op {
        ItsOp::SavePendingTables => "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES".into(),
        ItsOp::SaveTables => "KVM_DEV_ARM_ITS_SAVE_TABLES".into(),
        ItsOp::RestoreTables => "KVM_DEV_ARM_ITS_RESTORE_TABLES".into(),
        ItsOp::Ram => "guest RAM".into(),
        ItsOp::Reg(off) => regs::name(off),
    }
}

impl Exec<'_> {
    /// Run ITS ops (save: `self.saved` is None; restore: it holds the saved values).
    pub(super) fn its_ops(&mut self, ops: &[ItsOp]) {
        if !self.vm.has_its_device() {
            return;
        }
        for &op in ops {
            if self.stopped {
                return;
            }
            self.its_op(op);
        }
    }

    fn its_op(&mut self, op: ItsOp) {
        let index = self.restore.accesses;
        self.restore.accesses += 1;
        let restoring = self.saved.is_some();
        let (action, outcome, value) = match op {
            ItsOp::Ram => {
                if restoring {
                    let mem = self
                        .saved
                        .and_then(|s| s.its.memory.clone())
                        .unwrap_or_else(|| self.vm.guest_memory().clone());
                    *self.vm.guest_memory() = mem;
                } else {
                    self.its_out.memory = Some(self.vm.guest_memory().clone());
                }
                self.log_its(
                    Action::Ram,
                    op,
                    0,
                    None,
                    vec![r::VMM_ITS_SEQUENCE.id],
                    index,
                );
                return;
            }
            ItsOp::SavePendingTables => (Action::Ctrl, Ok(self.vm.save_pending_tables()), 0),
            ItsOp::SaveTables => (
                Action::Ctrl,
                self.vm.its_ctrl(vits::CTRL_SAVE_TABLES),
                vits::CTRL_SAVE_TABLES,
            ),
            ItsOp::RestoreTables => (
                Action::Ctrl,
                self.vm.its_ctrl(vits::CTRL_RESTORE_TABLES),
                vits::CTRL_RESTORE_TABLES,
            ),
            ItsOp::Reg(off) if restoring => {
                let v = self.saved.map_or(0, |s| s.its.reg(off));
                (
                    Action::Write,
                    self.vm.its_user_access(VgicOp::Write, off, v),
                    v,
                )
            }
            ItsOp::Reg(off) => (
                Action::Read,
                self.vm.its_user_access(VgicOp::Read, off, 0),
                0,
            ),
        };
        let o = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.refuse(Refusal {
                    errno: Errno::EINVAL,
                    register: format!("{}: {e}", op_name(op)),
                    target: Target::Its,
                    vcpu: 0,
                    offset: its_offset(op),
                    value: value as u32,
                    step: index,
                    rules: vec![r::VMM_ITS_SEQUENCE.id],
                });
                return;
            }
        };
        let got = if action == Action::Read {
            o.value
        } else {
            value
        };
        if action == Action::Read && o.errno.is_none() {
            self.its_out.regs.push((its_offset(op), got));
        }
        let mut rules: Vec<&'static str> = self.quirks.iter().map(|x| x.id).collect();
        rules.extend(o.rules.iter().map(|x| x.id));
        rules.push(r::VMM_ITS_SEQUENCE.id);
        if let Some(errno) = o.errno {
            let mut refusal_rules = rules.clone();
            refusal_rules.push(r::MIGRATE_REFUSED.id);
            self.refuse(Refusal {
                errno,
                register: op_name(op),
                target: Target::Its,
                vcpu: 0,
                offset: its_offset(op),
                value: got as u32,
                step: index,
                rules: refusal_rules,
            });
        }
        if self.keep_log {
            let mut notes = o.notes;
            if got >> 32 != 0 {
                // The log's value is 32 bits wide; GRP_ITS_REGS values are 64.
                notes.insert(0, format!("64-bit value {got:#x}"));
            }
            let entry = LogEntry {
                index,
                action,
                target: Some(Target::Its),
                vcpu: 0,
                offset: its_offset(op),
                register: Some(op_name(op)),
                value: got as u32,
                errno: o.errno,
                rules,
                notes,
                repeat: 1,
            };
            self.restore.log.push(entry);
        }
        self.take_copy_if_pending();
    }

    fn log_its(
        &mut self,
        action: Action,
        op: ItsOp,
        value: u32,
        errno: Option<Errno>,
        rules: Vec<&'static str>,
        index: usize,
    ) {
        if !self.keep_log {
            return;
        }
        let what = if self.saved.is_some() {
            "the VMM loads the source's guest RAM here"
        } else {
            "the VMM copies guest RAM here (what the destination will load)"
        };
        self.restore.log.push(LogEntry {
            index,
            action,
            target: Some(Target::Its),
            vcpu: 0,
            offset: its_offset(op),
            register: Some(op_name(op)),
            value,
            errno,
            rules,
            notes: vec![what.into()],
            repeat: 1,
        });
    }
}

/// Where an ITS op goes: the register offset, or the control attribute.
fn its_offset(op: ItsOp) -> u32 {
    match op {
        ItsOp::Reg(off) => off,
        ItsOp::SaveTables => vits::CTRL_SAVE_TABLES as u32,
        ItsOp::RestoreTables => vits::CTRL_RESTORE_TABLES as u32,
        // KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES = 3 (on the vGIC device).
        ItsOp::SavePendingTables => 3,
        ItsOp::Ram => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_restore_writes_iidr_and_cbaser_before_creadr_and_ctlr_last() {
        for list in [REGS_RESTORE, DOC_RESTORE] {
            let at = |x: ItsOp| list.iter().position(|o| *o == x).unwrap();
            let cbaser = at(ItsOp::Reg(regs::GITS_CBASER));
            let creadr = at(ItsOp::Reg(regs::GITS_CREADR));
            let iidr = at(ItsOp::Reg(regs::GITS_IIDR));
            let tables = at(ItsOp::RestoreTables);
            assert!(cbaser < creadr, "a CBASER write resets CREADR");
            assert!(iidr < tables, "IIDR carries the table ABI revision");
            assert_eq!(
                list.last(),
                Some(&ItsOp::Reg(regs::GITS_CTLR)),
                "GITS_CTLR last"
            );
        }
    }

    #[test]
    fn saves_read_every_register_they_restore() {
        for (save, restore) in [(REGS_SAVE, REGS_RESTORE), (DOC_SAVE, DOC_RESTORE)] {
            for op in restore {
                if let ItsOp::Reg(_) = op {
                    assert!(save.contains(op), "{op:?} restored but never saved");
                }
            }
        }
    }
}
