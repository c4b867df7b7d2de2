//! The ITS device (`KVM_DEV_TYPE_ARM_VGIC_ITS`) as a VMM and a guest driver
//! reach it: its registers through `KVM_DEV_ARM_VGIC_GRP_ITS_REGS` (always a
//! 64-bit value, `vgic_its_set_attr`/`vgic_its_get_attr` in
//! arch/arm64/kvm/vgic/vgic-its.c), its control attributes
//! (`KVM_DEV_ARM_VGIC_GRP_CTRL`: init, save/restore tables, reset), MSIs
//! (`KVM_SIGNAL_MSI` with `KVM_MSI_VALID_DEVID`, `vgic_its_inject_msi`) and
//! the command queue: a command is 32 bytes the driver stores in guest RAM
//! at `GITS_CBASER` + `GITS_CWRITER`, then it writes the next `GITS_CWRITER`
//! (`vgic_mmio_write_its_cwriter` processes the queue on that write).

use gicx_core::vits::command::{Command, CMD_SIZE};
use gicx_core::vits::regs;
use kvm_bindings::{
    kvm_msi, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_MSI_VALID_DEVID,
};
use kvm_ioctls::{DeviceFd, VmFd};

use crate::runner::{get_attr64, has_attr, set_attr};

/// `KVM_GET_DEVICE_ATTR(GRP_ITS_REGS, offset)`.
pub fn reg_read(its: &DeviceFd, offset: u64) -> Result<u64, String> {
    get_attr64(its, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset)
}

/// `KVM_SET_DEVICE_ATTR(GRP_ITS_REGS, offset)`.
pub fn reg_write(its: &DeviceFd, offset: u64, value: u64) -> Result<(), String> {
    set_attr(its, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset, &value)
}

/// `KVM_HAS_DEVICE_ATTR(GRP_ITS_REGS, offset)`.
pub fn reg_has(its: &DeviceFd, offset: u64) -> Result<(), String> {
    has_attr(its, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset)
}

/// `KVM_SET_DEVICE_ATTR(GRP_CTRL, attr)` on the ITS (`vgic_its_ctrl`; the
/// value is not read) or, with `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES`, on the
/// vGICv3 (`vgic_v3_save_pending_tables`).
pub fn ctrl(dev: &DeviceFd, attr: u64) -> Result<(), String> {
    set_attr(dev, KVM_DEV_ARM_VGIC_GRP_CTRL, attr, &0u64)
}

/// `KVM_SIGNAL_MSI` from device `devid` (`KVM_MSI_VALID_DEVID`) to the
/// doorbell `addr` with payload `data`: the ioctl's return value (1
/// delivered, 0 blocked by the guest) or its errno.
pub fn signal_msi(vm: &VmFd, addr: u64, data: u32, devid: Option<u32>) -> Result<u64, String> {
    let msi = kvm_msi {
        address_lo: addr as u32,
        address_hi: (addr >> 32) as u32,
        data,
        flags: if devid.is_some() {
            KVM_MSI_VALID_DEVID
        } else {
            0
        },
        devid: devid.unwrap_or(0),
        ..Default::default()
    };
    vm.signal_msi(msi)
        .map(|r| r as u64)
        .map_err(|e| crate::errno::name(e.errno()))
}

/// Where the next command goes and the `GITS_CWRITER` that submits it, from
/// the ITS's own `GITS_CBASER` and `GITS_CWRITER` (read back through
/// GRP_ITS_REGS, which has no side effect): the queue is at CBASER's
/// address [51:12] and holds (Size + 1) 4 KiB pages, CWRITER wraps at its
/// end (`its_cmd_buffer_size`, `ITS_CMD_OFFSET`).
pub struct QueueSlot {
    pub gpa: u64,
    pub next_cwriter: u64,
}

pub fn queue_slot(its: &DeviceFd) -> Result<QueueSlot, String> {
    let cbaser =
        reg_read(its, regs::GITS_CBASER as u64).map_err(|e| format!("reading GITS_CBASER: {e}"))?;
    let cwriter = reg_read(its, regs::GITS_CWRITER as u64)
        .map_err(|e| format!("reading GITS_CWRITER: {e}"))?;
    Ok(QueueSlot {
        gpa: regs::cbaser_address(cbaser) + cwriter,
        next_cwriter: (cwriter + CMD_SIZE) % regs::cmd_buffer_size(cbaser),
    })
}

/// The 32 bytes of `cmd` as the driver stores them (four little-endian
/// doublewords, `struct its_cmd_block`), from the model's one encoder.
pub fn command_bytes(cmd: &Command) -> [u8; CMD_SIZE as usize] {
    let mut bytes = [0u8; CMD_SIZE as usize];
    for (i, w) in cmd.encode().iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    bytes
}
