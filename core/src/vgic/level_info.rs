//! `KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO`: userspace reads and writes the line level
//! of 32 interrupts at a time (QEMU saves and restores it; Firecracker and
//! cloud-hypervisor do not).
//!
//! Source: arch/arm64/kvm/vgic/vgic-kvm-device.c `vgic_v3_attr_regs_access`
//! (info must be `VGIC_LEVEL_INFO_LINE_LEVEL`), vgic-mmio-v3.c
//! `vgic_v3_line_level_info_uaccess` (INTID a multiple of 32), vgic-mmio.c
//! `vgic_read_irq_line_level_info` / `vgic_write_irq_line_level_info`.

use super::*;

impl Vgic {
    /// `KVM_GET_DEVICE_ATTR` (`write == None`) or `KVM_SET_DEVICE_ATTR` on
    /// LEVEL_INFO for the 32 INTIDs from `intid` as seen by vCPU `vcpu`.
    pub fn user_level_info(&mut self, vcpu: u32, intid: u32, write: Option<u32>) -> Outcome {
        let mut cx = Ctx::new();
        let op = if write.is_some() { Op::Write } else { Op::Read };
        let done = |vm: &Vgic, cx: Ctx, value: u64, errno: Option<Errno>| {
            let name = Some(format!("LEVEL_INFO[{intid}]"));
            vm.outcome(
                Path::User,
                op,
                None,
                vcpu,
                intid,
                32,
                name,
                value,
                errno,
                cx,
            )
        };
        if let Some(errno) = self.attr_precheck(vcpu, &mut cx) {
            return done(self, cx, 0, Some(errno));
        }
        if !intid.is_multiple_of(32) || intid > VGIC_MAX_RESERVED {
            cx.rule(&r::LEVEL_INFO_BAD_INTID);
            return done(self, cx, 0, Some(Errno::EINVAL));
        }
        let nr_irqs = self.state.config.nr_irqs;
        let span = (0..32u32).filter(|i| intid + i >= NR_SGIS && intid + i < nr_irqs);
        match write {
            None => {
                cx.rule(&r::LEVEL_INFO_READ);
                let mut v = 0u32;
                for i in span {
                    if let Some(irq) = self.irq(vcpu, intid + i) {
                        if !irq.edge && irq.line_level {
                            v |= 1 << i;
                        }
                    }
                }
                done(self, cx, v as u64, None)
            }
            Some(val) => {
                cx.rule(&r::LEVEL_INFO_WRITE);
                for i in span {
                    let high = val >> i & 1 != 0;
                    if let Some(irq) = self.irq_mut(vcpu, intid + i) {
                        irq.line_level = high;
                    }
                    // vgic_write_irq_line_level_info: `if (new_level)
                    // vgic_queue_irq_unlock(...)`: a level interrupt whose
                    // restored line is high is delivered (measured on
                    // 5.10.223 and 7.3.4: vgic_irq.c KVM_SET_LEVEL_INFO_HIGH,
                    // tests/conformance/vgic_irq).
                    if high {
                        let owner = if intid + i < crate::vgic::NR_PRIVATE_IRQS {
                            vcpu
                        } else {
                            0
                        };
                        self.queue_irq(owner, intid + i);
                    }
                }
                done(self, cx, val as u64, None)
            }
        }
    }
}
