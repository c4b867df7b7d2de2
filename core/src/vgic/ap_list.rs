//! Delivery through KVM's software path (vgic.c): `vgic_queue_irq_unlock` onto
//! the target vCPU's ap_list, `vgic_prune_ap_list`, `vgic_flush_lr_state` into the
//! list registers (per era: `lr_order`), and the live state rebuilt from a saved one.

use super::delivery::{cfg_of, ListReg, Live, RunState, TIMER_PPIS};
use crate::cpuif::NR_LRS;
use crate::its::Its;
use crate::rules::{self as r};
use crate::trace::{Hop, Layer};
use crate::vgic::{mpidr_to_vcpu, IrqState, Lifecycle, Vgic, NR_PRIVATE_IRQS, NR_SGIS};

impl Vgic {
    /// Whether this host has the 6.19 list-register overflow rework
    /// (`crate::kernels::LR_OVERFLOW_REWORK`).
    pub(super) fn lr_rework(&self) -> bool {
        self.host.has(&crate::kernels::LR_OVERFLOW_REWORK)
    }

    /// vCPU `vcpu`'s ap_list as `vgic_flush_lr_state` walks it, sorted by
    /// `vgic_irq_cmp` (stable), idle entries left out. Before the 6.19
    /// rework: active first, then pending and enabled by priority. From the
    /// rework: "Pending interrupts must have priority over active interrupts.
    /// This also excludes pending+active interrupts. This ensures that a guest
    /// can perform priority drops on any number of interrupts, and yet be
    /// presented the next pending one" (vgic.c, the comment above
    /// vgic_flush_lr_state): pending, enabled and not active first by
    /// priority, then the active ones in list order.
    pub(super) fn lr_order(&self, vcpu: u32) -> Vec<(u32, &IrqState)> {
        let mut entries: Vec<(u32, &IrqState)> = self
            .ap_list(vcpu)
            .iter()
            .filter_map(|&i| self.irq(vcpu, i).map(|s| (i, s)))
            .filter(|(_, s)| s.active || (s.enabled && s.is_pending()))
            .collect();
        if self.lr_rework() {
            let pend = |s: &IrqState| s.enabled && s.is_pending() && !s.active;
            entries.sort_by(|(_, a), (_, b)| {
                pend(b).cmp(&pend(a)).then_with(|| {
                    if pend(a) && pend(b) {
                        a.priority.cmp(&b.priority)
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
            });
            return entries;
        }
        entries.sort_by(|(_, a), (_, b)| {
            b.active
                .cmp(&a.active)
                .then_with(|| {
                    let pa = a.enabled && a.is_pending();
                    let pb = b.enabled && b.is_pending();
                    pb.cmp(&pa)
                })
                .then_with(|| {
                    if a.active || b.active {
                        std::cmp::Ordering::Equal
                    } else {
                        a.priority.cmp(&b.priority)
                    }
                })
        });
        entries
    }

    /// The list registers KVM would program for vCPU `vcpu` now: the first
    /// [`NR_LRS`] entries of [`Self::lr_order`].
    pub fn list_registers(&self, vcpu: u32) -> Vec<ListReg> {
        self.lr_order(vcpu)
            .into_iter()
            .take(NR_LRS)
            .enumerate()
            .map(|(n, (intid, s))| ListReg {
                index: n as u32,
                intid,
                // "Software resampling doesn't work very well if we allow P+A":
                // a level interrupt is written active only while active.
                pending: s.is_pending() && (s.edge || !s.active),
                active: s.active,
                priority: s.priority,
                group: s.group,
            })
            .collect()
    }

    /// The first `KVM_RUN`: every vCPU runs and its vPE (if any) is loaded.
    pub(crate) fn first_run(&mut self) {
        for v in 0..self.state.config.vcpus {
            self.live.run[v as usize] = RunState::Running;
            self.vpe_load(v);
        }
        self.settle();
    }

    /// Rebuild the live state from saved state (`from_state`): what KVM's
    /// restore path (uaccess writes, which queue what is pending) and the first
    /// run leave behind.
    pub(crate) fn rebuild_live(&mut self) {
        let n = self.state.config.vcpus;
        let trace = std::mem::take(&mut self.live.trace);
        self.live = Live::new(n);
        self.live.trace = trace;
        if self.state.lifecycle >= Lifecycle::Initialised && self.vpes_allocated() {
            self.live.its = Its::with_vpes(n);
            for v in 0..n {
                for i in 0..NR_SGIS {
                    let cfg = self.irq(v, i).map(cfg_of).unwrap_or_default();
                    if let Some(vpe) = self.live.its.vpe_mut(v) {
                        vpe.sgi_config[i as usize] = cfg;
                    }
                }
            }
        }
        if self.state.lifecycle == Lifecycle::HasRun {
            let enabled = self.state.dist.enabled;
            for v in 0..n {
                self.live.run[v as usize] = RunState::Running;
                if let Some(vpe) = self.live.its.vpe_mut(v) {
                    vpe.resident = true;
                    vpe.vgrp1en = enabled;
                }
            }
        }
        for v in 0..n {
            for i in 0..NR_PRIVATE_IRQS {
                if let Some(t) = self.oracle(v, i, None) {
                    self.live.ap_lists[t as usize].push(i);
                }
            }
        }
        for i in NR_PRIVATE_IRQS..self.state.config.nr_irqs {
            if let Some(t) = self.oracle(0, i, None) {
                self.live.ap_lists[t as usize].push(i);
            }
        }
        for v in 0..n {
            self.live.shown_lrs[v as usize] = self.list_registers(v);
        }
    }

    /// Report interrupts that are latched pending and enabled but on no
    /// ap_list (after the distributor was re-enabled, or SGIs came back from
    /// hardware): `vgic_kick_vcpus` does not find them.
    pub(crate) fn report_unqueued(&mut self) {
        let mut stranded: Vec<(u32, u32)> = Vec::new();
        let n = self.state.config.vcpus;
        for v in 0..n {
            for i in 0..NR_PRIVATE_IRQS {
                if self.is_unqueued(v, i) {
                    stranded.push((v, i));
                }
            }
        }
        for i in NR_PRIVATE_IRQS..self.state.config.nr_irqs {
            if self.is_unqueued(0, i) && self.target_of(0, i).is_some() {
                stranded.push((self.target_of(0, i).unwrap_or(0), i));
            }
        }
        for (v, i) in stranded {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_kick_vcpus",
                    "latched pending but on no ap_list: the kick does not find it, it waits until something requeues it",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::DIST_DISABLED_UNQUEUED),
            );
        }
    }

    fn is_unqueued(&self, owner: u32, intid: u32) -> bool {
        let Some(irq) = self.irq(owner, intid) else {
            return false;
        };
        !irq.hw
            && irq.enabled
            && irq.is_pending()
            && self.state.dist.enabled
            && self.holder(owner, intid).is_none()
    }

    pub(super) fn n_vcpus(&self) -> u32 {
        self.state.config.vcpus
    }

    /// `irq->target_vcpu`: the owner of a private IRQ, IROUTER's vCPU for an SPI.
    pub(super) fn target_of(&self, owner: u32, intid: u32) -> Option<u32> {
        if intid < NR_PRIVATE_IRQS {
            Some(owner)
        } else {
            let irq = self.irq(owner, intid)?;
            mpidr_to_vcpu(irq.mpidr, self.n_vcpus())
        }
    }

    /// `irq->vcpu`: the vCPU whose ap_list holds the IRQ.
    fn holder(&self, owner: u32, intid: u32) -> Option<u32> {
        if intid < NR_PRIVATE_IRQS {
            self.live
                .ap_lists
                .get(owner as usize)
                .filter(|l| l.contains(&intid))
                .map(|_| owner)
        } else {
            self.live
                .ap_lists
                .iter()
                .position(|l| l.contains(&intid))
                .map(|p| p as u32)
        }
    }

    /// `vgic_target_oracle`.
    fn oracle(&self, owner: u32, intid: u32, holder: Option<u32>) -> Option<u32> {
        let irq = self.irq(owner, intid)?;
        if irq.active {
            return holder.or_else(|| self.target_of(owner, intid));
        }
        if irq.enabled && irq.is_pending() {
            if !self.state.dist.enabled {
                return None;
            }
            return self.target_of(owner, intid);
        }
        None
    }

    /// `vgic_queue_irq_unlock`.
    pub(crate) fn queue_irq(&mut self, owner: u32, intid: u32) {
        let Some(irq) = self.irq(owner, intid).cloned() else {
            return;
        };
        if let Some(h) = self.holder(owner, intid) {
            if irq.is_pending() || irq.active {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_queue_irq_unlock",
                        format!("already on vCPU {h}'s ap_list: KVM_REQ_IRQ_PENDING and kvm_vcpu_kick(vCPU {h})"),
                    )
                    .vcpu(h)
                    .intid(intid)
                    .rule(&r::QUEUE),
                );
                self.note_kick(h);
            }
            return;
        }
        match self.oracle(owner, intid, None) {
            Some(t) => {
                self.live.ap_lists[t as usize].push(intid);
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_queue_irq_unlock",
                        format!("vgic_target_oracle: vCPU {t}; added to its ap_list, KVM_REQ_IRQ_PENDING and kvm_vcpu_kick(vCPU {t})"),
                    )
                    .vcpu(t)
                    .intid(intid)
                    .rule(&r::QUEUE),
                );
                self.note_kick(t);
            }
            None if irq.is_pending() => {
                let hop = Hop::new(Layer::Kvm, "vgic_target_oracle", "").intid(intid);
                let hop = if !irq.enabled {
                    Hop {
                        what: "disabled (ISENABLER): it stays latched pending, on no ap_list"
                            .into(),
                        ..hop.rule(&r::QUEUE)
                    }
                } else if !self.state.dist.enabled {
                    Hop {
                        what: "the distributor is disabled: forwarded nowhere, it stays latched pending".into(),
                        ..hop.rule(&r::DIST_DISABLED_UNQUEUED)
                    }
                } else {
                    Hop {
                        what: format!("IROUTER {:#x} names no vCPU: never delivered", irq.mpidr),
                        ..hop.rule(&r::IROUTER_NO_VCPU)
                    }
                };
                self.emit(hop);
            }
            None => {}
        }
    }

    /// What a kick means for a vCPU that is not running.
    fn note_kick(&mut self, v: u32) {
        let what = match self.live.run[v as usize] {
            RunState::Running => return,
            RunState::Wfi => "blocked in WFI: the kick wakes it if kvm_vgic_vcpu_pending_irq sees the interrupt above its PMR; it runs again at the next `schedule`",
            RunState::Preempted => "not running (preempted): it takes the interrupt when it is scheduled again",
            RunState::NotStarted => "has not run yet: it takes the interrupt after the first KVM_RUN",
        };
        self.emit(Hop::new(Layer::Kvm, "kvm_vcpu_kick", format!("vCPU {v} {what}")).vcpu(v));
    }

    /// The end of a step: every running vCPU exits (fold + `vgic_prune_ap_list`)
    /// and re-enters (`vgic_flush_lr_state`).
    #[inline]
    pub(crate) fn settle(&mut self) {
        // No vCPU runs before the first KVM_RUN (a restore writes thousands of words first).
        if self.state.lifecycle == Lifecycle::HasRun {
            self.settle_running();
        }
    }

    fn settle_running(&mut self) {
        let n = self.n_vcpus();
        self.irqfd_notify_acked();
        for v in 0..n {
            if self.live.run[v as usize] == RunState::Running {
                self.timer_drives_its_lines(v);
                if let Some(c) = self.state.cpuifs.get_mut(v as usize) {
                    c.through_hardware();
                }
                self.deactivate_overflow(v);
                self.prune(v);
            }
        }
        for v in 0..n {
            if self.live.run[v as usize] == RunState::Running {
                self.flush(v);
            }
        }
    }

    /// A running vCPU's timer PPIs carry the arch timer's output
    /// (kvm_timer_update_irq -> kvm_vgic_inject_irq with the timer as owner):
    /// gicx guests never enable their timers (CNTV_CTL_EL0/CNTP_CTL_EL0 reset
    /// to 0), so the line is low whatever userspace wrote through LEVEL_INFO.
    /// Checked on real KVM 5.10.223, 6.12.118, 7.3.4: LEVEL_INFO of PPIs
    /// written 0xffff0000 reads back 0xb7ff0000 once the vCPUs have run.
    fn timer_drives_its_lines(&mut self, v: u32) {
        for intid in TIMER_PPIS {
            if let Some(irq) = self.irq_mut(v, intid) {
                irq.line_level = false;
            }
        }
    }

    /// `vgic_prune_ap_list`.
    fn prune(&mut self, v: u32) {
        let items = std::mem::take(&mut self.live.ap_lists[v as usize]);
        let mut keep = Vec::with_capacity(items.len());
        for intid in items {
            let Some(irq) = self.irq(v, intid).cloned() else {
                continue;
            };
            let target = if irq.active {
                Some(v)
            } else if irq.enabled && irq.is_pending() && self.state.dist.enabled {
                self.target_of(v, intid)
            } else {
                None
            };
            match target {
                Some(t) if t == v => keep.push(intid),
                Some(t) => {
                    self.live.ap_lists[t as usize].push(intid);
                    self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "vgic_prune_ap_list",
                            format!(
                                "moves from vCPU {v}'s ap_list to vCPU {t}'s (its route changed)"
                            ),
                        )
                        .vcpu(t)
                        .intid(intid),
                    );
                }
                None => {
                    if irq.enabled && irq.is_pending() {
                        self.emit(
                            Hop::new(
                                Layer::Kvm,
                                "vgic_prune_ap_list",
                                format!("leaves vCPU {v}'s ap_list although still latched pending: the distributor is disabled"),
                            )
                            .vcpu(v)
                            .intid(intid)
                            .rule(&r::DIST_DISABLED_UNQUEUED),
                        );
                    }
                }
            }
        }
        let moved_in = std::mem::take(&mut self.live.ap_lists[v as usize]);
        keep.extend(moved_in);
        self.live.ap_lists[v as usize] = keep;
    }

    /// `vgic_flush_lr_state`: show list registers that gained an entry.
    fn flush(&mut self, v: u32) {
        let lrs = self.list_registers(v);
        let old = std::mem::take(&mut self.live.shown_lrs[v as usize]);
        let key = |l: &ListReg| (l.intid, l.pending, l.active);
        let mut changed = false;
        for l in &lrs {
            if !old.iter().any(|o| key(o) == key(l)) && (l.pending || l.active) {
                changed = true;
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        format!("ICH_LR{}_EL2", l.index),
                        format!(
                            "vgic_flush_lr_state: {:#018x} = vINTID {}, {}, priority {:#04x}, Group {}",
                            l.value(),
                            l.intid,
                            l.state(),
                            l.priority,
                            l.group as u8
                        ),
                    )
                    .vcpu(v)
                    .intid(l.intid)
                    .rule(&r::LR_FLUSH),
                );
            }
        }
        let mut overflow_moved = false;
        if self.lr_rework() {
            let overflow: Vec<u32> = self
                .lr_order(v)
                .iter()
                .skip(NR_LRS)
                .map(|(i, _)| *i)
                .collect();
            overflow_moved = overflow != self.live.overflow[v as usize];
            self.live.overflow[v as usize] = overflow;
        }
        let waiting = self.lr_order(v).len().saturating_sub(NR_LRS);
        if (changed || overflow_moved) && waiting > 0 {
            let hop = if self.lr_rework() {
                Hop::new(
                    Layer::Kvm,
                    "vgic_flush_lr_state",
                    format!("pending interrupts first, then active ones: {waiting} wait on the overflow list (NPIE/LRENPIE/UIE maintenance interrupts requested)"),
                )
                .rule(&r::LR_OVERFLOW_PENDING_FIRST)
            } else {
                Hop::new(
                    Layer::Kvm,
                    "vgic_flush_lr_state",
                    format!("{waiting} more wait on the ap_list (underflow maintenance interrupt requested)"),
                )
            };
            self.emit(hop.vcpu(v));
        }
        self.live.shown_lrs[v as usize] = lrs;
        if changed {
            self.signal_hop(v, false);
        }
    }

    /// Forget the list-register changes the CPU interface itself made
    /// (acknowledge, deactivate): they are not KVM flushes.
    pub(super) fn resync_lrs(&mut self, v: u32) {
        self.live.shown_lrs[v as usize] = self.list_registers(v);
    }
}
