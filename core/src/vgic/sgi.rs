//! SGIs a guest sends: `ICC_SGI1R_EL1` (sys_regs.c `access_gic_sgi` ->
//! vgic-mmio-v3.c `vgic_v3_dispatch_sgi`), queued in software or sent as a vSGI.

use super::delivery::{DeliveryPath, SRC_VQUEUE_SGI};
use crate::cpuif::Sgi1r;
use crate::rules::{self as r, Rule};
use crate::trace::{Hop, Layer};
use crate::vgic::{mpidr_to_vcpu, Vgic};

impl Vgic {
    /// A guest write to ICC_SGI1R_EL1 (`access_gic_sgi` → `vgic_v3_dispatch_sgi`).
    /// Returns the rule of the path taken.
    /// `allow_group1`: ICC_SGI1R_EL1 (true) or ICC_SGI0R_EL1 (false; sys_regs.c
    /// access_gic_sgi: `g1 = false` for SGI0R and ASGI1R).
    pub(super) fn dispatch_sgi(
        &mut self,
        from: u32,
        value: u64,
        allow_group1: bool,
    ) -> &'static Rule {
        let s = Sgi1r::decode(value);
        let n = self.n_vcpus();
        let name = if allow_group1 {
            "ICC_SGI1R_EL1"
        } else {
            "ICC_SGI0R_EL1"
        };
        self.emit(
            Hop::new(Layer::Guest, name, format!("MSR {name}, {value:#x}: {s}"))
                .vcpu(from)
                .intid(s.intid as u32)
                .source("GICv3 architecture: ICC_SGI0R_EL1/ICC_SGI1R_EL1 (trap to EL2 while HCR_EL2.IMO = 1)"),
        );
        self.emit(
            Hop::new(
                Layer::Kvm,
                "access_gic_sgi",
                format!(
                    "trap: access_gic_sgi -> vgic_v3_dispatch_sgi(allow_group1 = {allow_group1})"
                ),
            )
            .vcpu(from)
            .rule(&r::SGI_DISPATCH),
        );
        let mut targets = Vec::new();
        if s.irm {
            targets.extend((0..n).filter(|&c| c != from));
        } else {
            for m in s.target_mpidrs() {
                match m.and_then(|m| mpidr_to_vcpu(m, n)) {
                    Some(t) => targets.push(t),
                    None => self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "kvm_mpidr_to_vcpu",
                            match m {
                                Some(m) => format!("no vCPU has MPIDR {m:#x}: skipped"),
                                None => format!("Aff3 = {}: no vCPU has it, skipped", s.aff3),
                            },
                        )
                        .rule(&r::SGI_NO_TARGET),
                    ),
                }
            }
        }
        let intid = s.intid as u32;
        let mut rule = &r::SGI_SOFTWARE;
        for &t in &targets {
            // vgic_v3_queue_sgi: "An access targeting Group0 SGIs can only
            // generate those, while an access targeting Group1 SGIs can
            // generate interrupts of either group."
            if !allow_group1 && self.irq(t, intid).is_some_and(|s| s.group) {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_v3_queue_sgi",
                        "ICC_SGI0R_EL1 generates Group 0 SGIs only: this SGI is Group 1, nothing is made pending",
                    )
                    .vcpu(t)
                    .intid(intid)
                    .rule(&r::SGI0R_GROUP0_ONLY),
                );
                rule = &r::SGI0R_GROUP0_ONLY;
                continue;
            }
            if self.queue_sgi(t, intid) == DeliveryPath::Hardware {
                rule = &r::SGI_HARDWARE;
            }
        }
        self.settle();
        if targets.is_empty() {
            rule = &r::SGI_DISPATCH;
        }
        rule
    }

    /// `vgic_v3_queue_sgi`: one target.
    fn queue_sgi(&mut self, t: u32, intid: u32) -> DeliveryPath {
        let hw = self.irq(t, intid).is_some_and(|s| s.hw);
        if !hw {
            if let Some(irq) = self.irq_mut(t, intid) {
                irq.pending_latch = true;
            }
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v3_queue_sgi",
                    "software SGI: pending_latch = 1",
                )
                .vcpu(t)
                .intid(intid)
                .source(SRC_VQUEUE_SGI)
                .rule(&r::SGI_SOFTWARE),
            );
            self.queue_irq(t, intid);
            DeliveryPath::Software
        } else {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v3_queue_sgi",
                    "irq->hw: irq_set_irqchip_state(host_irq, IRQCHIP_STATE_PENDING, true)",
                )
                .vcpu(t)
                .intid(intid)
                .source(SRC_VQUEUE_SGI)
                .rule(&r::SGI_HARDWARE),
            );
            self.vsgi_set_pending(t, intid);
            DeliveryPath::Hardware
        }
    }
}
