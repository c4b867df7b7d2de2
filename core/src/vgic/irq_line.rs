//! `KVM_IRQ_LINE` (arm.c `kvm_vm_ioctl_irq_line` -> vgic.c `kvm_vgic_inject_irq`).

use super::delivery::TIMER_PPIS;
use crate::errno::Errno;
use crate::rules::{self as r};
use crate::trace::{Hop, Layer};
use crate::vgic::{Lifecycle, Op, Outcome, Path, Vgic, NR_PRIVATE_IRQS, NR_SGIS};

impl Vgic {
    /// `KVM_IRQ_LINE` for an SPI (`vcpu` ignored) or a PPI of `vcpu`
    /// (`kvm_vm_ioctl_irq_line` → `kvm_vgic_inject_irq`). KVM's errors come back
    /// as the outcome's errno.
    /// `KVM_IRQ_LINE`. The timer PPIs ([`TIMER_PPIS`]) belong to the arch
    /// timer once the vCPU has run: injecting them from userspace does nothing.
    pub fn irq_line(&mut self, intid: u32, level: bool, vcpu: Option<u32>) -> Outcome {
        let owner = if intid < NR_PRIVATE_IRQS {
            vcpu.unwrap_or(0)
        } else {
            0
        };
        self.traced(Path::User, Op::Write, owner, "KVM_IRQ_LINE", |vm, _notes| {
            let (ty, field) = if intid < NR_PRIVATE_IRQS {
                ("PPI", (2u32 << 24) | ((vcpu.unwrap_or(0) & 0xFF) << 16) | intid)
            } else {
                ("SPI", (1u32 << 24) | intid)
            };
            vm.emit(
                Hop::new(
                    Layer::Kvm,
                    "KVM_IRQ_LINE",
                    format!("irq = {field:#010x} (KVM_ARM_IRQ_TYPE_{ty}, INTID {intid}), level = {}: kvm_vm_ioctl_irq_line -> kvm_vgic_inject_irq", level as u8),
                )
                .intid(intid)
                .rule(&r::IRQ_LINE),
            );
            // arm.c kvm_vm_ioctl_irq_line: a PPI needs an existing vCPU and
            // INTID 16-31 before kvm_vgic_inject_irq's vgic_lazy_init (-EBUSY).
            let bad_ppi = intid < NR_PRIVATE_IRQS
                && (intid < NR_SGIS || vcpu.is_none_or(|v| v >= vm.n_vcpus()));
            if vm.state.lifecycle == Lifecycle::Created && !bad_ppi {
                vm.emit(Hop::new(Layer::Kvm, "vgic_lazy_init", "the vGIC is not initialised and GICv3 is never initialised lazily: -EBUSY").rule(&r::IRQ_LINE_BEFORE_INIT));
                return (level as u64, Some(Errno::EBUSY), Some(&r::IRQ_LINE_BEFORE_INIT));
            }
            let bad = bad_ppi || intid >= vm.state.config.nr_irqs;
            if bad {
                vm.emit(Hop::new(Layer::Kvm, "kvm_vgic_inject_irq", "no such interrupt for this ioctl: -EINVAL").intid(intid).rule(&r::IRQ_LINE_EINVAL));
                return (level as u64, Some(Errno::EINVAL), Some(&r::IRQ_LINE_EINVAL));
            }
            let Some(irq) = vm.irq(owner, intid).cloned() else {
                return (level as u64, Some(Errno::EINVAL), Some(&r::IRQ_LINE_EINVAL));
            };
            if vm.state.lifecycle == Lifecycle::HasRun && TIMER_PPIS.contains(&intid) {
                vm.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_validate_injection",
                        "the arch timer owns this PPI since the vCPU first ran (kvm_timer_enable -> kvm_vgic_set_owner): an injection without the owner is dropped, the ioctl succeeds",
                    )
                    .intid(intid)
                    .rule(&r::IRQ_LINE_TIMER_OWNED),
                );
                return (level as u64, None, Some(&r::IRQ_LINE_TIMER_OWNED));
            }
            let change = if irq.edge { level } else { irq.line_level != level };
            if !change {
                let what = if irq.edge { "edge-triggered and the level is low: ignored" } else { "the line is already at this level: nothing changes" };
                vm.emit(Hop::new(Layer::Kvm, "vgic_validate_injection", what).intid(intid).rule(&r::IRQ_LINE_NO_CHANGE));
                return (level as u64, None, Some(&r::IRQ_LINE_NO_CHANGE));
            }
            if let Some(s) = vm.irq_mut(owner, intid) {
                if s.edge {
                    s.pending_latch = true;
                } else {
                    s.line_level = level;
                }
            }
            let what = if irq.edge {
                "edge-triggered: pending_latch = 1".to_string()
            } else {
                format!("level-triggered: line_level = {}", level as u8)
            };
            vm.emit(Hop::new(Layer::Kvm, "kvm_vgic_inject_irq", what).intid(intid).rule(&r::IRQ_LINE));
            if intid >= NR_PRIVATE_IRQS {
                let route = match vm.target_of(0, intid) {
                    Some(t) => format!("GICD_IROUTER{intid} = {:#x}: vCPU {t}", irq.mpidr),
                    None => format!("GICD_IROUTER{intid} = {:#x}: no such vCPU", irq.mpidr),
                };
                vm.emit(Hop::new(Layer::Kvm, "kvm_mpidr_to_vcpu", route).intid(intid).source("vgic-mmio-v3.c: vgic_mmio_write_irouter (target_vcpu)"));
            }
            vm.queue_irq(owner, intid);
            vm.settle();
            (level as u64, None, Some(&r::IRQ_LINE))
        })
    }
}
