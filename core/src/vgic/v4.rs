//! The GICv4.1 path (vgic-v4.c; irq-gic-v3-its.c for the host ITS): vPEs,
//! vSGIs (`GITS_SGIR`, the redistributor, doorbells), `vgic_v4_configure_vsgis`,
//! `vgic_v4_enable/disable_vsgis`, and vPE residency (`vgic_v4_load`/`put`, `schedule`).

use super::delivery::{cfg_of, list, RunState, SRC_ITS_CFG, SRC_ITS_SET};
use super::{Ctx, RuleSink};
use crate::its::{self, Its, VsgiConfig};
use crate::rules::{self as r, Rule};
use crate::trace::{Hop, Layer};
use crate::vgic::{AccessError, Lifecycle, Op, Outcome, Path, Vgic, NR_SGIS};

impl Vgic {
    /// `vgic_v4_configure_vsgis`: move every vCPU's SGIs to or from hardware
    /// according to `nassgireq` (vgic-v4.c, 5.7+).
    pub fn configure_vsgis(&mut self, cx_out: &mut impl RuleSink) {
        let mut cx = Ctx::new();
        let to_hw = self.state.dist.nassgireq;
        // No per-vPE SGI domain without a vSGI-capable CPU interface (5.13+), and
        // nothing to map without vPEs.
        let can_map = self.host.system_supports_direct_sgis() && !self.live.its.vpes.is_empty();
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_configure_vsgis",
                format!(
                    "nASSGIreq = {}: kvm_arm_halt_guest, every vCPU exits; {}",
                    to_hw as u8,
                    if to_hw {
                        "each vCPU's software SGIs move to hardware"
                    } else {
                        "each vCPU's hardware SGIs (if any) come back to software"
                    }
                ),
            )
            .source("vgic-v4.c: vgic_v4_configure_vsgis (5.7+)"),
        );
        let mut moved = 0;
        let mut active = Vec::new();
        let mut stranded = Vec::new();
        for v in 0..self.state.config.vcpus {
            if to_hw {
                if can_map {
                    let (m, a) = self.enable_vsgis(v);
                    moved += m;
                    active.extend(a.into_iter().map(|i| (v, i)));
                }
            } else {
                let (m, s) = self.disable_vsgis(v);
                moved += m;
                stranded.extend(s.into_iter().map(|i| (v, i)));
            }
        }
        if to_hw && !can_map {
            cx.rule(&r::VSGI_NO_SGI_DOMAIN);
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "no per-vPE SGI domain (irq_find_mapping finds nothing, the kernel WARNs): the SGIs stay in software",
                )
                .rule(&r::VSGI_NO_SGI_DOMAIN),
            );
        } else if to_hw {
            cx.rule(&r::VSGI_ENABLE);
            cx.note_with(|| format!("vgic_v4_configure_vsgis: {moved} SGIs moved to hardware (all vCPUs halted meanwhile)"));
        } else {
            cx.rule(&r::VSGI_DISABLE);
            cx.note_with(|| {
                format!("vgic_v4_configure_vsgis: {moved} SGIs moved back to software")
            });
        }
        for (v, i) in &active {
            cx.rule(&r::VSGI_ACTIVE_STAYS);
            cx.note_with(|| format!(
                "vCPU {v} SGI {i} was active: the active state stays in the software bit, the vSGI itself has none"
            ));
        }
        if !stranded.is_empty() {
            cx.rule(&r::VSGI_DISABLE_NOT_QUEUED);
            cx.note_with(|| {
                format!("pending again in software but on no ap_list (vCPU, SGI): {stranded:?}")
            });
        }
        self.emit(
            Hop::new(Layer::Kvm, "kvm_arm_resume_guest", "the vCPUs resume")
                .source("vgic-v4.c: vgic_v4_configure_vsgis"),
        );
        self.settle();
        let kept = cx.into_recorder();
        for rule in kept.rules {
            cx_out.push_rule(rule);
        }
        for n in kept.notes {
            cx_out.push_note(n);
        }
    }

    /// `vgic_v4_init` at `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    pub(crate) fn alloc_vpes(&mut self) {
        if !self.vpes_allocated() || !self.live.its.vpes.is_empty() {
            return;
        }
        let n = self.state.config.vcpus;
        self.live.its = Its::with_vpes(n);
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_init",
                format!("{n} vPEs allocated (its_alloc_vcpu_irqs), one doorbell interrupt each, vPE IDs 0..{n}"),
            )
            .source("vgic-v4.c: vgic_v4_init (4.16+)"),
        );
    }

    /// `KVM_REQ_RELOAD_GICv4` (distributor enable changed): every running
    /// vCPU does `vgic_v4_put` + `vgic_v4_load`, picking up vGrp1En.
    pub(crate) fn reload_gicv4(&mut self) {
        for v in 0..self.state.config.vcpus {
            if self.live.run[v as usize] != RunState::Running || self.live.its.vpe(v).is_none() {
                continue;
            }
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "check_vcpu_requests",
                    "KVM_REQ_RELOAD_GICv4: vgic_v4_put + vgic_v4_load",
                )
                .vcpu(v)
                .rule(&r::CTLR_GUEST_RELOAD),
            );
            if let Some(vpe) = self.live.its.vpe_mut(v) {
                vpe.resident = false;
            }
            self.vpe_load(v);
        }
    }

    /// `its_sgi_set_irqchip_state(d, PENDING, true)`: a write to GITS_SGIR.
    pub(crate) fn vsgi_set_pending(&mut self, v: u32, intid: u32) {
        if let Some(irq) = self.irq_mut(v, intid) {
            irq.hw_pending = true;
        }
        let val = its::gits_sgir(v, intid);
        self.emit(
            Hop::new(
                Layer::Its,
                "GITS_SGIR",
                format!("GITS_SGIR <- {val:#x} (vPEID {v}, vINTID {intid}): no command queue, the ITS forwards it to the vPE's redistributor"),
            )
            .vcpu(v)
            .intid(intid)
            .source(SRC_ITS_SET),
        );
        self.vsgi_arrive(v, intid);
    }

    /// The redistributor receives a vSGI for vPE `v`.
    fn vsgi_arrive(&mut self, v: u32, intid: u32) {
        let blocked = self.vsgi_blocked_by_cpuif();
        let Some(vpe) = self.live.its.vpe(v).cloned() else {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "vPE",
                    "no vPE exists for this vCPU: the vSGI goes nowhere",
                )
                .vcpu(v)
                .intid(intid),
            );
            return;
        };
        let cfg = vpe.sgi_config[intid as usize];
        let cfg_text = format!(
            "Enable {}, Group {}, priority {:#04x}",
            cfg.enabled as u8,
            cfg.group as u8,
            cfg.hw_priority()
        );
        if vpe.resident {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER",
                    format!(
                        "vPE {v} is resident (vGrp1En {}): vSGI {intid} pending ({cfg_text})",
                        vpe.vgrp1en as u8
                    ),
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_RESIDENT),
            );
            let held = if blocked {
                Some((
                    "the CPU interface predates GICv4.1: the vSGI is not presented",
                    &r::VSGI_CPUIF_PRE_V4_1,
                ))
            } else if !cfg.group {
                Some((
                    "Group 0 and vGrp0En = 0: never presented",
                    &r::VSGI_GROUP0_NEVER,
                ))
            } else if !cfg.enabled {
                Some((
                    "disabled in the vPE's configuration: it stays pending",
                    &r::VSGI_CONFIG_UPDATE,
                ))
            } else if !vpe.vgrp1en {
                Some((
                    "vGrp1En = 0 (the distributor was disabled when the vPE was loaded): held",
                    &r::VPE_LOAD,
                ))
            } else {
                None
            };
            if let Some((what, rule)) = held {
                self.emit(
                    Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                        .vcpu(v)
                        .intid(intid)
                        .rule(rule),
                );
            }
            self.signal_hop(v, false);
            return;
        }
        self.emit(
            Hop::new(
                Layer::Redistributor,
                "virtual pending table",
                format!("vPE {v} is not resident: vSGI {intid} is recorded in its pending table ({cfg_text})"),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_NOT_RESIDENT),
        );
        let eligible = cfg.enabled && cfg.group && vpe.vgrp1en;
        if vpe.doorbell_armed && eligible {
            if let Some(p) = self.live.its.vpe_mut(v) {
                p.doorbell_armed = false;
                p.doorbell_fired = true;
                p.pending_last = true;
            }
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    "the vPE's default doorbell fires (a physical LPI to the host)",
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_DOORBELL),
            );
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_doorbell_handler",
                    format!("pending_last = true, KVM_REQ_IRQ_PENDING, kvm_vcpu_kick(vCPU {v}): the vCPU leaves WFI and runs at the next `schedule`"),
                )
                .vcpu(v)
                .source("vgic-v4.c: vgic_v4_doorbell_handler (5.7+ for GICv4.1)"),
            );
        } else if vpe.doorbell_armed {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    "no doorbell: the vSGI or its group is disabled",
                )
                .vcpu(v)
                .intid(intid),
            );
        } else {
            let why = if vpe.doorbell_fired {
                "the doorbell already fired"
            } else {
                "none was requested (the vCPU was preempted, not blocked in WFI)"
            };
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    format!("no doorbell: {why}; the vSGI waits for the vPE to be scheduled"),
                )
                .vcpu(v)
                .intid(intid),
            );
        }
    }

    /// `its_sgi_set_irqchip_state(d, PENDING, false)`: a VSGI command with Clear = 1.
    pub(crate) fn vsgi_clear_pending(&mut self, v: u32, intid: u32) {
        if let Some(irq) = self.irq_mut(v, intid) {
            irq.hw_pending = false;
        }
        let cfg = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[intid as usize])
            .unwrap_or_default();
        let cmd = its::vsgi_command(v, intid, cfg, true);
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "VSGI Clear = 1 (DW0 {:#x}, DW1 {:#x}): pending cleared",
                    cmd[0], cmd[1]
                ),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_PENDING_CLEAR),
        );
    }

    /// `its_sgi_get_irqchip_state` for every hardware SGI of vCPU `v`:
    /// GICR_VSGIR / GICR_VSGIPENDR on the vPE's redistributor. Returns the
    /// Pending[15:0] bits.
    pub(crate) fn vsgi_read_pending(&mut self, v: u32) -> u16 {
        let mut bits = 0u16;
        let mut count = 0;
        for i in 0..NR_SGIS {
            if let Some(s) = self.irq(v, i) {
                if s.hw {
                    count += 1;
                    if s.hw_pending {
                        bits |= 1 << i;
                    }
                }
            }
        }
        let here = if self.live.its.vpe(v).is_some_and(|p| p.resident) {
            "the redistributor the vPE is resident on"
        } else {
            "the redistributor of the CPU the vPE last ran on"
        };
        self.emit(
            Hop::new(
                Layer::Kvm,
                "irq_get_irqchip_state",
                format!("{count} hardware SGIs: IRQCHIP_STATE_PENDING asked of the ITS driver"),
            )
            .vcpu(v)
            .source("vgic-mmio.c: __read_pending / vgic-v4.c: vgic_v4_disable_vsgis (5.7+)"),
        );
        self.emit(
            Hop::new(
                Layer::Redistributor,
                "GICR_VSGIR/GICR_VSGIPENDR",
                format!(
                    "on {here}: GICR_VSGIR <- {v} (vPEID), poll GICR_VSGIPENDR until Busy (bit 31) = 0: Pending[15:0] = {bits:#06x}"
                ),
            )
            .vcpu(v)
            .rule(&r::VSGI_PENDING_READ),
        );
        bits
    }

    /// Send a hardware SGI's configuration to the ITS (`its_configure_sgi(d, false)`).
    pub(crate) fn vsgi_update_config(&mut self, v: u32, intid: u32, why: &str) {
        let Some(irq) = self.irq(v, intid) else {
            return;
        };
        let cfg = cfg_of(irq);
        if let Some(vpe) = self.live.its.vpe_mut(v) {
            vpe.sgi_config[intid as usize] = cfg;
        }
        let cmd = its::vsgi_command(v, intid, cfg, false);
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "{why}: VSGI vPEID {v} vINTID {intid} Enable {} Group {} Priority {:#x} (DW0 {:#x})",
                    cfg.enabled as u8,
                    cfg.group as u8,
                    cfg.priority >> 4,
                    cmd[0]
                ),
            )
            .vcpu(v)
            .intid(intid)
            .source(SRC_ITS_CFG)
            .rule(&r::VSGI_CONFIG_UPDATE),
        );
        self.note_priority_bits(v, intid, cfg);
        if self.irq(v, intid).is_some_and(|s| s.hw_pending) {
            self.signal_hop(v, false);
        }
    }

    /// Say so when a priority loses bits on its way to the ITS.
    fn note_priority_bits(&mut self, v: u32, intid: u32, cfg: VsgiConfig) {
        if cfg.priority & 0x0F != 0 {
            self.emit(
                Hop::new(
                    Layer::Its,
                    "VSGI",
                    format!(
                        "priority {:#04x} travels as {:#x} (4 bits): the redistributor presents it at {:#04x}",
                        cfg.priority,
                        cfg.priority >> 4,
                        cfg.hw_priority()
                    ),
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_PRIORITY_4BIT),
            );
        }
    }

    /// A userspace write changed only KVM's enable flag of a hardware SGI.
    pub(crate) fn vsgi_uaccess_enable_only(&mut self, v: u32, intid: u32) {
        let vpe_enabled = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[intid as usize].enabled);
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_uaccess_write_senable/cenable",
                format!(
                    "only KVM's enabled flag changes; the vPE keeps Enable = {}",
                    vpe_enabled
                        .map(|e| (e as u8).to_string())
                        .unwrap_or("-".into())
                ),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_CONFIG_UPDATE),
        );
    }

    /// `vgic_v4_enable_vsgis` for one vCPU. Returns (SGIs moved, SGIs that were active).
    pub(crate) fn enable_vsgis(&mut self, v: u32) -> (u32, Vec<u32>) {
        let mut moved = Vec::new();
        let mut pending = Vec::new();
        let mut active = Vec::new();
        for i in 0..NR_SGIS {
            let Some(irq) = self.irq_mut(v, i) else {
                continue;
            };
            if irq.hw {
                continue;
            }
            irq.hw = true;
            let cfg = cfg_of(irq);
            if irq.pending_latch {
                pending.push(i);
            }
            irq.hw_pending = irq.pending_latch;
            irq.pending_latch = false;
            if irq.active {
                active.push(i);
            }
            if let Some(vpe) = self.live.its.vpe_mut(v) {
                vpe.sgi_config[i as usize] = cfg;
            }
            moved.push(i);
        }
        if moved.is_empty() {
            return (0, active);
        }
        let first = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[moved[0] as usize])
            .unwrap_or_default();
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_enable_vsgis",
                format!("SGIs {} become irq->hw; enable, group and priority copied to the vPE (vgic_v4_sync_sgi_config)", list(&moved)),
            )
            .vcpu(v)
            .rule(&r::VSGI_ENABLE),
        );
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "{} VSGI commands (irq_domain_activate_irq -> its_sgi_irq_domain_activate), e.g. SGI {}: DW0 {:#x}",
                    moved.len(),
                    moved[0],
                    its::vsgi_command(v, moved[0], first, false)[0]
                ),
            )
            .vcpu(v)
            .source(SRC_ITS_CFG),
        );
        for &i in &moved {
            if let Some(cfg) = self.live.its.vpe(v).map(|p| p.sgi_config[i as usize]) {
                self.note_priority_bits(v, i, cfg);
            }
        }
        let not_pending = moved.len() - pending.len();
        if not_pending > 0 {
            self.emit(
                Hop::new(Layer::Its, "VSGI", format!("{not_pending} VSGI Clear = 1 commands: irq_set_irqchip_state(PENDING, false) for the SGIs not pending"))
                    .vcpu(v)
                    .source(SRC_ITS_SET),
            );
        }
        for &i in &pending {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "the pending latch moves to hardware and is cleared",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::VSGI_ENABLE),
            );
            let val = its::gits_sgir(v, i);
            self.emit(
                Hop::new(
                    Layer::Its,
                    "GITS_SGIR",
                    format!("GITS_SGIR <- {val:#x} (vPEID {v}, vINTID {i})"),
                )
                .vcpu(v)
                .intid(i)
                .source(SRC_ITS_SET),
            );
            self.vsgi_arrive(v, i);
        }
        for &i in &active {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "was active: the active state stays in KVM's state and its list register",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::VSGI_ACTIVE_STAYS),
            );
        }
        (moved.len() as u32, active)
    }

    /// `vgic_v4_disable_vsgis` for one vCPU. Returns (SGIs moved, SGIs left
    /// latched pending on no ap_list).
    pub(crate) fn disable_vsgis(&mut self, v: u32) -> (u32, Vec<u32>) {
        let hw: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| self.irq(v, i).is_some_and(|s| s.hw))
            .collect();
        if hw.is_empty() {
            return (0, Vec::new());
        }
        self.vsgi_read_pending(v);
        let mut stranded = Vec::new();
        for &i in &hw {
            if let Some(irq) = self.irq_mut(v, i) {
                irq.hw = false;
                irq.pending_latch = irq.hw_pending;
                irq.hw_pending = false;
                if irq.pending_latch {
                    stranded.push(i);
                }
            }
        }
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!("{} VSGI Clear = 1 commands (irq_domain_deactivate_irq -> its_sgi_irq_domain_deactivate)", hw.len()),
            )
            .vcpu(v)
            .source(SRC_ITS_CFG),
        );
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_disable_vsgis",
                format!(
                    "SGIs {} are software again; pending_latch <- hardware pending",
                    list(&hw)
                ),
            )
            .vcpu(v)
            .rule(&r::VSGI_DISABLE),
        );
        for &i in &stranded {
            self.emit(
                Hop::new(Layer::Kvm, "vgic_v4_disable_vsgis", "latched pending but not queued on the ap_list: not delivered until something requeues it")
                    .vcpu(v)
                    .intid(i)
                    .rule(&r::VSGI_DISABLE_NOT_QUEUED),
            );
        }
        (hw.len() as u32, stranded)
    }

    /// `vgic_v4_load` → `its_make_vpe_resident(vpe, false, vgic.enabled)`.
    pub(super) fn vpe_load(&mut self, v: u32) {
        let enabled = self.state.dist.enabled;
        let v4_1 = self.host.has_gicv4_1();
        let Some(vpe) = self.live.its.vpe_mut(v) else {
            return;
        };
        if vpe.resident {
            return;
        }
        vpe.resident = true;
        vpe.vgrp0en = false;
        vpe.vgrp1en = enabled;
        vpe.doorbell_armed = false;
        vpe.pending_last = false;
        let val = vpe.vpendbaser();
        let what = if v4_1 {
            format!(
                "<- {val:#x}: vPE {v} resident (Valid 1, vGrp0En 0, vGrp1En {})",
                enabled as u8
            )
        } else {
            format!("vPE {v} resident (GICv4.0: GICR_VPROPBASER/GICR_VPENDBASER with Valid 1; vLPIs only, no vSGIs)")
        };
        self.emit(
            Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                .vcpu(v)
                .rule(&r::VPE_LOAD),
        );
        let vlpis = self.vlpi_pending(v, false);
        let pending: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| self.irq(v, i).is_some_and(|s| s.hw && s.hw_pending))
            .collect();
        if !vlpis.is_empty() {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "virtual pending table",
                    format!(
                        "the redistributor scans the vPE's pending table: vLPIs {} pending",
                        list(&vlpis)
                    ),
                )
                .vcpu(v)
                .rule(&crate::vgic::vlpi::MSI_DIRECT),
            );
            if pending.is_empty() {
                self.signal_hop(v, false);
            }
        }
        if !pending.is_empty() {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "virtual pending table",
                    format!(
                        "the redistributor scans the vPE's pending table: vSGIs {} pending",
                        list(&pending)
                    ),
                )
                .vcpu(v),
            );
            self.signal_hop(v, false);
        }
    }

    /// `vgic_v4_put` → `its_make_vpe_non_resident(vpe, IN_WFI)`.
    fn vpe_put(&mut self, v: u32, wfi: bool) {
        let cpuif_ok = !self.vsgi_blocked_by_cpuif();
        if !self.host.has_gicv4_1() {
            let Some(vpe) = self.live.its.vpe_mut(v) else {
                return;
            };
            if !vpe.resident {
                return;
            }
            vpe.resident = false;
            vpe.pending_last = !wfi;
            // its_make_vpe_non_resident(vpe, db): GICv4.0 enables the vPE's
            // doorbell interrupt only when the vCPU blocks (vgic/vlpi.rs).
            vpe.doorbell_armed = wfi;
            vpe.doorbell_fired = false;
            let what = if wfi {
                format!("vPE {v} leaves (GICv4.0): the doorbells of its vLPIs are enabled while it blocks; GICv4.0 has no vSGIs")
            } else {
                format!("vPE {v} leaves (GICv4.0), PendingLast set: no doorbell")
            };
            self.emit(
                Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                    .vcpu(v)
                    .rule(&r::VPE_PUT),
            );
            return;
        }
        let mut deliverable: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| {
                self.irq(v, i).is_some_and(|s| s.hw && s.hw_pending)
                    && self.live.its.vpe(v).is_some_and(|p| {
                        let c = p.sgi_config[i as usize];
                        c.enabled && c.group && p.vgrp1en && cpuif_ok
                    })
            })
            .collect();
        if self.live.its.vpe(v).is_some_and(|p| p.vgrp1en) {
            deliverable.extend(self.vlpi_pending(v, true));
        }
        let Some(vpe) = self.live.its.vpe_mut(v) else {
            return;
        };
        if !vpe.resident {
            return;
        }
        vpe.resident = false;
        vpe.doorbell_fired = false;
        if wfi {
            let pending_last = !deliverable.is_empty();
            vpe.pending_last = pending_last;
            vpe.doorbell_armed = !pending_last;
            let val = vpe.vpendbaser() | its::vpendbaser::DB;
            let what = if pending_last {
                format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 1); PendingLast reads back 1: vSGIs {} already pending, no doorbell will come and the vCPU does not stay blocked", list(&deliverable))
            } else {
                format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 1); PendingLast reads back 0: a doorbell will fire when a vSGI arrives")
            };
            self.emit(
                Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                    .vcpu(v)
                    .rule(&r::VPE_PUT),
            );
        } else {
            vpe.pending_last = true;
            vpe.doorbell_armed = false;
            let val = vpe.vpendbaser();
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER",
                    format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 0, PendingLast 1: \"we'll be back\")"),
                )
                .vcpu(v)
                .rule(&r::VPE_PUT),
            );
        }
    }

    /// Schedule vCPU `vcpu` in (`resident`: `vcpu_load`) or out (`vcpu_put`, or
    /// blocking in WFI when `wfi`). The outcome's value is 1 if, for a vCPU put
    /// in WFI, a doorbell is armed, or, for a vCPU loaded, a doorbell fired
    /// while it was away.
    pub fn schedule(
        &mut self,
        vcpu: u32,
        resident: bool,
        wfi: bool,
    ) -> Result<Outcome, AccessError> {
        let vcpus = self.n_vcpus();
        if vcpu >= vcpus {
            return Err(AccessError::NoSuchVcpu { vcpu, vcpus });
        }
        if self.state.lifecycle != Lifecycle::HasRun {
            return Err(AccessError::GuestNotRunning);
        }
        Ok(self.traced(Path::User, Op::Run, vcpu, "vCPU scheduling", |vm, notes| {
            let state = vm.live.run[vcpu as usize];
            let has_vpe = vm.live.its.vpe(vcpu).is_some();
            let primary: &'static Rule = if has_vpe {
                if resident { &r::VPE_LOAD } else { &r::VPE_PUT }
            } else {
                &r::NO_VPE
            };
            if resident {
                if state == RunState::Running {
                    notes.push(format!("vCPU {vcpu} is already running"));
                    return (0, None, Some(primary));
                }
                vm.emit(
                    Hop::new(Layer::Kvm, "vcpu_load", "kvm_arch_vcpu_load -> kvm_vgic_load -> vgic_v3_load, vgic_v4_load")
                        .vcpu(vcpu)
                        .source("arm.c: kvm_arch_vcpu_load; vgic-v4.c: vgic_v4_load"),
                );
                vm.live.run[vcpu as usize] = RunState::Running;
                if has_vpe {
                    vm.vpe_load(vcpu);
                } else {
                    vm.emit(Hop::new(Layer::Kvm, "vgic_v4_load", "no vPE for this VM: nothing to make resident").vcpu(vcpu).rule(&r::NO_VPE));
                }
                vm.live.shown_lrs[vcpu as usize].clear();
                vm.settle();
                vm.signal_hop(vcpu, true);
                let fired = vm.live.its.vpe(vcpu).is_some_and(|p| p.doorbell_fired);
                (fired as u64, None, Some(primary))
            } else {
                if state != RunState::Running {
                    notes.push(format!("vCPU {vcpu} is not running"));
                    return (0, None, Some(primary));
                }
                let how = if wfi {
                    "kvm_vcpu_wfi -> kvm_arch_vcpu_blocking -> vgic_v4_put (IN_WFI set: doorbell wanted)"
                } else {
                    "vcpu_put -> kvm_arch_vcpu_put -> vgic_v4_put (not in WFI: no doorbell)"
                };
                vm.emit(Hop::new(Layer::Kvm, if wfi { "kvm_vcpu_wfi" } else { "vcpu_put" }, how).vcpu(vcpu).source("arm.c; vgic-v4.c: vgic_v4_put"));
                vm.live.run[vcpu as usize] = if wfi { RunState::Wfi } else { RunState::Preempted };
                if has_vpe {
                    vm.vpe_put(vcpu, wfi);
                } else {
                    vm.emit(Hop::new(Layer::Kvm, "vgic_v4_put", "no vPE for this VM: SGIs for this vCPU wait on its ap_list and kvm_vcpu_kick wakes it").vcpu(vcpu).rule(&r::NO_VPE));
                }
                if wfi && vm.sw_wakeup_pending(vcpu) {
                    vm.emit(
                        Hop::new(Layer::Kvm, "kvm_vgic_vcpu_pending_irq", "an interrupt above PMR is already on the ap_list: the vCPU does not stay blocked")
                            .vcpu(vcpu)
                            .source("vgic.c: kvm_vgic_vcpu_pending_irq"),
                    );
                }
                let armed = vm.live.its.vpe(vcpu).is_some_and(|p| p.doorbell_armed);
                (armed as u64, None, Some(primary))
            }
        }))
    }

    /// `kvm_vgic_vcpu_pending_irq` over the software ap_list.
    fn sw_wakeup_pending(&self, v: u32) -> bool {
        let pmr = self.state.cpuifs[v as usize].pmr & crate::cpuif::PRI_MASK;
        self.state.dist.enabled
            && self.ap_list(v).iter().any(|&i| {
                self.irq(v, i)
                    .is_some_and(|s| s.is_pending() && s.enabled && !s.active && s.priority < pmr)
            })
    }
}
