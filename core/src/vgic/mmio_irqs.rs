//! The per-IRQ registers (vgic-mmio.c `vgic_mmio_read_enable`, `_pending`,
//! `_active`, `_priority`, `_config`, … and their uaccess variants; vgic-mmio-v3.c
//! IROUTER and the GICv4.1 SGI state).

use super::{Ctx, Lifecycle, Path, Vgic, NR_PRIVATE_IRQS, NR_SGIS};
use crate::catalogue::Handler;
use crate::host::Era;
use crate::rules::{self as r};

impl Vgic {
    pub(super) fn read_irqs(
        &mut self,
        h: Handler,
        path: Path,
        vcpu: u32,
        first: u32,
        n: u32,
        cx: &mut Ctx,
    ) -> u64 {
        let era = self.era();
        let mut v = 0u64;
        match h {
            Handler::Group => cx.rule(&r::GROUP),
            Handler::SetEnable | Handler::ClearEnable => cx.rule(&r::ENABLE_READ),
            Handler::SetPending => cx.rule(if path == Path::Guest {
                &r::PENDING_READ_GUEST
            } else {
                &r::PENDING_READ_UACCESS
            }),
            Handler::ClearPending => {
                if path == Path::User {
                    cx.rule(&r::ICPENDR_UACCESS);
                    return 0;
                }
                cx.rule(&r::PENDING_READ_GUEST)
            }
            Handler::SetActive | Handler::ClearActive => {
                cx.rule(&r::ACTIVE_READ);
                if path == Path::Guest {
                    cx.note("GICv3: the other vCPUs are halted around a guest access to IS/ICACTIVER of another vCPU's or shared IRQs");
                }
            }
            Handler::Priority => cx.rule(&r::PRIORITY),
            Handler::Config => cx.rule(&r::CONFIG_READ),
            _ => {}
        }
        let hw_sgis =
            (first..first + n).any(|i| i < NR_SGIS && self.irq(vcpu, i).is_some_and(|s| s.hw));
        if hw_sgis && era >= Era::V5_7 {
            match h {
                // Both paths ask the ITS driver (vgic-mmio.c __read_pending).
                Handler::SetPending | Handler::ClearPending => {
                    cx.rule(&r::VSGI_PENDING_READ);
                    self.vsgi_read_pending(vcpu);
                }
                Handler::SetActive | Handler::ClearActive => {
                    use crate::trace::{Hop, Layer};
                    self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "vgic_mmio_read_active",
                            "hardware SGIs have no active state: their bits read 0",
                        )
                        .vcpu(vcpu)
                        .rule(&r::ACTIVE_READ),
                    );
                }
                _ => {}
            }
        }
        for i in 0..n {
            let Some(irq) = self.irq(vcpu, first + i) else {
                continue;
            };
            let bit: u64 = match h {
                Handler::Group => irq.group as u64,
                Handler::SetEnable | Handler::ClearEnable => irq.enabled as u64,
                Handler::SetPending | Handler::ClearPending => {
                    let p = if irq.hw && era >= Era::V5_7 {
                        irq.hw_pending
                    } else if path == Path::User {
                        irq.pending_latch
                    } else {
                        irq.is_pending()
                    };
                    p as u64
                }
                Handler::SetActive | Handler::ClearActive => (irq.active && !irq.hw) as u64,
                Handler::Priority => irq.priority as u64,
                Handler::Config => 2 * irq.edge as u64,
                _ => 0,
            };
            let bpi = match h {
                Handler::Priority => 8,
                Handler::Config => 2,
                _ => 1,
            };
            v |= bit << (i * bpi);
        }
        v
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_irqs(
        &mut self,
        h: Handler,
        path: Path,
        vcpu: u32,
        first: u32,
        n: u32,
        value: u64,
        cx: &mut Ctx,
    ) {
        let era = self.era();
        let guest = path == Path::Guest;
        // Timer PPIs are the host's (HW-mapped) once the vCPU has run.
        let has_run = self.state.lifecycle == Lifecycle::HasRun;
        match h {
            Handler::Group => cx.rule(&r::GROUP),
            Handler::SetEnable => cx.rule(if guest {
                &r::ENABLE_SET_GUEST
            } else {
                &r::ENABLE_SET_UACCESS
            }),
            Handler::ClearEnable => cx.rule(if guest {
                &r::ENABLE_CLEAR_GUEST
            } else {
                &r::ENABLE_CLEAR_UACCESS
            }),
            Handler::SetPending => cx.rule(if guest {
                &r::PENDING_SET_GUEST
            } else if era >= Era::V6_8 {
                &r::PENDING_WRITE_UACCESS_6_8
            } else {
                &r::PENDING_WRITE_UACCESS
            }),
            Handler::ClearPending => {
                if !guest {
                    cx.rule(&r::ICPENDR_UACCESS);
                    return;
                }
                cx.rule(&r::PENDING_CLEAR_GUEST)
            }
            Handler::SetActive => cx.rule(&r::ACTIVE_SET),
            Handler::ClearActive => cx.rule(&r::ACTIVE_CLEAR),
            Handler::Priority => cx.rule(&r::PRIORITY),
            Handler::Config => cx.rule(&r::CONFIG_WRITE),
            _ => {}
        }
        /// What a write does to a hardware SGI at the ITS, after the loop.
        enum HwOp {
            Config(&'static str),
            UaccessEnableOnly,
            SetPending,
            ClearPending,
        }
        let mut lost_vsgi = Vec::new();
        let mut hw_ops: Vec<(u32, HwOp)> = Vec::new();
        // vgic_queue_irq_unlock calls of the handler (write_group, write_senable,
        // write_spending, change_active).
        // (A bit per INTID of the access, i.e. in ascending INTID order: n <= 64.)
        let mut requeue = 0u64;
        for i in 0..n {
            let intid = first + i;
            let Some(irq) = self.irq_mut(vcpu, intid) else {
                continue;
            };
            let hw_sgi = irq.hw && intid < NR_SGIS;
            let set = value >> i & 1 != 0;
            match h {
                Handler::Group => {
                    irq.group = set;
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::Config("its_prop_update_vsgi (group)")));
                    } else {
                        requeue |= 1 << i;
                    }
                }
                Handler::SetEnable if set => {
                    irq.enabled = true;
                    if hw_sgi {
                        hw_ops.push((
                            intid,
                            if guest {
                                HwOp::Config("enable_irq -> its_sgi_unmask_irq")
                            } else {
                                HwOp::UaccessEnableOnly
                            },
                        ));
                    } else {
                        requeue |= 1 << i;
                    }
                }
                Handler::ClearEnable if set => {
                    irq.enabled = false;
                    if hw_sgi {
                        hw_ops.push((
                            intid,
                            if guest {
                                HwOp::Config("disable_irq_nosync -> its_sgi_mask_irq")
                            } else {
                                HwOp::UaccessEnableOnly
                            },
                        ));
                    }
                }
                Handler::SetPending => {
                    if guest {
                        if set {
                            if hw_sgi {
                                hw_ops.push((intid, HwOp::SetPending));
                            } else {
                                irq.pending_latch = true;
                                requeue |= 1 << i;
                            }
                        }
                    } else if hw_sgi && era >= Era::V6_8 {
                        hw_ops.push((
                            intid,
                            if set {
                                HwOp::SetPending
                            } else {
                                HwOp::ClearPending
                            },
                        ));
                    } else {
                        if hw_sgi {
                            lost_vsgi.push(intid);
                        } else if set {
                            requeue |= 1 << i;
                        }
                        irq.pending_latch = set;
                    }
                }
                Handler::ClearPending if set => {
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::ClearPending));
                    } else {
                        irq.pending_latch = false;
                    }
                }
                Handler::SetActive | Handler::ClearActive if set => {
                    if hw_sgi {
                        irq.active = false;
                    } else if !guest && crate::delivery::TIMER_PPIS.contains(&intid) && has_run {
                        // vgic-mmio.c vgic_hw_irq_change_active: the timer's
                        // PPIs are mapped to the host's once the vCPU ran, and
                        // a userspace write (is_uaccess) leaves their active
                        // state alone. Measured on 5.10.223 (vgic_irq.c
                        // test_restore_active, tests/conformance/vgic_irq).
                    } else {
                        irq.active = h == Handler::SetActive;
                        if irq.active {
                            requeue |= 1 << i;
                        }
                    }
                }
                Handler::Priority => {
                    let b = (value >> (i * 8)) as u8;
                    irq.priority = b & 0xF8;
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::Config("its_prop_update_vsgi (priority)")));
                    }
                }
                Handler::Config if intid >= NR_PRIVATE_IRQS => {
                    irq.edge = value >> (i * 2 + 1) & 1 != 0;
                }
                _ => {}
            }
        }
        if !lost_vsgi.is_empty() {
            cx.rule(&r::PENDING_VSGI_UACCESS_LOST);
            cx.note_with(|| {
                format!(
                "SGIs {lost_vsgi:?} are hardware-backed: only the unused software latch changed"
            )
            });
        }
        if !hw_ops.is_empty() {
            let ids: Vec<u32> = hw_ops.iter().map(|(i, _)| *i).collect();
            cx.note_with(|| {
                format!("hardware vSGIs {ids:?} updated at the ITS (VSGI command / GITS_SGIR)")
            });
        }
        for (intid, op) in hw_ops {
            match op {
                HwOp::Config(why) => {
                    cx.rule(&r::VSGI_CONFIG_UPDATE);
                    self.vsgi_update_config(vcpu, intid, why);
                }
                HwOp::UaccessEnableOnly => {
                    cx.rule(&r::VSGI_CONFIG_UPDATE);
                    self.vsgi_uaccess_enable_only(vcpu, intid);
                }
                HwOp::SetPending => self.vsgi_set_pending(vcpu, intid),
                HwOp::ClearPending => {
                    cx.rule(&r::VSGI_PENDING_CLEAR);
                    self.vsgi_clear_pending(vcpu, intid);
                }
            }
        }
        for i in 0..n {
            if requeue >> i & 1 != 0 {
                self.queue_irq(vcpu, first + i);
            }
        }
        if h == Handler::Priority && value & 0x0707_0707 & ((1u64 << (n * 8)) - 1) != 0 {
            cx.note("low 3 bits of each priority byte dropped (5 priority bits)");
        }
        if h == Handler::Config && first < NR_PRIVATE_IRQS {
            cx.note("SGI/PPI trigger modes are fixed: the write changes nothing");
        }
    }
}
