//! irqfd and `KVM_SET_GSI_ROUTING` as a VMM uses them (kvm-ioctls'
//! `set_gsi_routing`, `register_irqfd`, `register_irqfd_with_resample`,
//! `unregister_irqfd`; vmm-sys-util's `EventFd`), for the scenario steps
//! `gsi_routing`, `irqfd`, `irqfd_signal` and `eventfd_read` (model:
//! core/src/vgic/irqfd.rs).
//!
//! An injection can be asynchronous in the kernel: `irqfd_wakeup` injects
//! an irqchip route in atomic context (vgic-irqfd.c
//! `kvm_arch_set_irq_inatomic`, 5.9+), but an MSI route whose translation
//! is not cached, and an eventfd already signalled when it is assigned, go
//! through the `irqfd_inject` work on the system workqueue. After each
//! `irqfd` and `irqfd_signal` step the runner therefore sleeps
//! [`SETTLE`] so that work has run before the next step looks: what the
//! scenario observes is the injection's result, never its timing.

use std::collections::BTreeMap;
use std::time::Duration;

use gicx_core::vgic::irqfd::{Route, RouteEntry};
use kvm_bindings::{
    kvm_irq_routing_entry, kvm_irq_routing_irqchip, kvm_irq_routing_msi,
    kvm_irq_routing_msi__bindgen_ty_1, KvmIrqRouting, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI,
    KVM_MSI_VALID_DEVID,
};
use kvm_ioctls::VmFd;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// How long the runner lets the `irqfd_inject` work run after an `irqfd`
/// or `irqfd_signal` step.
pub const SETTLE: Duration = Duration::from_millis(50);

/// The scenario's eventfds by name, created on first use (non-blocking).
#[derive(Default)]
pub struct Eventfds(BTreeMap<u32, EventFd>);

impl Eventfds {
    fn get(&mut self, fd: u32) -> Result<&EventFd, String> {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.0.entry(fd) {
            slot.insert(EventFd::new(EFD_NONBLOCK).map_err(|e| format!("eventfd(): {e}"))?);
        }
        Ok(&self.0[&fd])
    }

    /// `write(fd, 1)`.
    pub fn signal(&mut self, fd: u32) -> Result<(), String> {
        self.get(fd)?
            .write(1)
            .map_err(|e| format!("write(eventfd {fd}): {e}"))?;
        std::thread::sleep(SETTLE);
        Ok(())
    }

    /// A non-blocking `read()`: the counter, or 0 when it is 0 (EAGAIN).
    pub fn read(&mut self, fd: u32) -> Result<u64, String> {
        match self.get(fd)?.read() {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(format!("read(eventfd {fd}): {e}")),
        }
    }

    /// `KVM_IRQFD`: Ok, or the errno's name.
    pub fn irqfd(
        &mut self,
        vm: &VmFd,
        fd: u32,
        gsi: u32,
        resample_fd: Option<u32>,
        deassign: bool,
    ) -> Result<Result<(), String>, String> {
        // Both eventfds exist before the ioctl borrows them.
        self.get(fd)?;
        if let Some(r) = resample_fd {
            self.get(r)?;
        }
        let efd = &self.0[&fd];
        let r = if deassign {
            vm.unregister_irqfd(efd, gsi)
        } else if let Some(r) = resample_fd {
            vm.register_irqfd_with_resample(efd, &self.0[&r], gsi)
        } else {
            vm.register_irqfd(efd, gsi)
        };
        std::thread::sleep(SETTLE);
        Ok(r.map_err(|e| crate::errno::name(e.errno())))
    }
}

/// `KVM_SET_GSI_ROUTING` with `entries`: Ok, or the errno's name.
pub fn set_gsi_routing(vm: &VmFd, entries: &[RouteEntry]) -> Result<Result<(), String>, String> {
    let mut routing = KvmIrqRouting::new(0).map_err(|e| format!("KvmIrqRouting: {e:?}"))?;
    for e in entries {
        let mut k = kvm_irq_routing_entry {
            gsi: e.gsi,
            ..Default::default()
        };
        match e.route {
            Route::Irqchip { irqchip, pin } => {
                k.type_ = KVM_IRQ_ROUTING_IRQCHIP;
                k.u.irqchip = kvm_irq_routing_irqchip { irqchip, pin };
            }
            Route::Msi { addr, data, devid } => {
                k.type_ = KVM_IRQ_ROUTING_MSI;
                if devid.is_some() {
                    k.flags = KVM_MSI_VALID_DEVID;
                }
                k.u.msi = kvm_irq_routing_msi {
                    address_lo: addr as u32,
                    address_hi: (addr >> 32) as u32,
                    data,
                    __bindgen_anon_1: kvm_irq_routing_msi__bindgen_ty_1 {
                        devid: devid.unwrap_or(0),
                    },
                };
            }
        }
        routing
            .push(k)
            .map_err(|e| format!("KvmIrqRouting::push: {e:?}"))?;
    }
    Ok(vm
        .set_gsi_routing(&routing)
        .map_err(|e| crate::errno::name(e.errno())))
}
