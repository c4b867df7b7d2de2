//! GICv4 direct injection of a passthrough device's MSIs: vLPIs.
//!
//! A PCI device assigned to the guest with VFIO signals an MSI that the
//! guest's ITS translates to an LPI. When the VMM routes that MSI through an
//! irqfd (`KVM_SET_GSI_ROUTING` with an MSI entry, `KVM_IRQFD`), VFIO
//! registers the device's host interrupt as an IRQ bypass producer and KVM
//! calls `kvm_vgic_v4_set_forwarding` (arch/arm64/kvm/vgic/vgic-v4.c): the
//! LPI the guest's ITS maps becomes a vLPI that the host ITS delivers straight
//! into the vPE's virtual pending table (VMAPTI), with no exit. Read in
//! vgic-v4.c, vgic-its.c and vgic-v3.c (`vgic_v3_save_pending_tables`) of
//! v5.10, v6.12 and the 2026 tree (027d47e0e017 and later); the whole path is
//! source-only: QEMU models a GICv4.0 ITS but the harness has no VFIO device
//! to forward (`oracle::not_applicable`).
//!
//! What the model keeps: which host interrupt is forwarded to which LPI
//! ([`Vlpis`], live state like KVM's `irq->hw`/`irq->host_irq`: a VMM re-does
//! the forwarding after a restore, nothing of it is saved), and the vLPI's
//! pending bit in the vPE's virtual pending table ([`super::IrqState::hw_pending`],
//! as for GICv4.1 vSGIs). The guest's ITS commands on a forwarded LPI reach the
//! hardware as `vgic-its.c` sends them ([`Vgic::follow_vlpis`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::{Era, KernelVersion};
use crate::rules::{Applies, Rule};
use crate::trace::{Hop, Layer};
use crate::vits::observer::ItsEvent;
use crate::vits::LPI_OFFSET;

use super::{mpidr_to_vcpu, AccessError, Op, Outcome, Path, Vgic};

/// One forwarded LPI (`irq->hw`, `irq->host_irq`, the VMAPTI the host ITS holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Vlpi {
    /// The host interrupt of the passthrough device's MSI (`virq`).
    pub host_irq: u32,
    /// The MSI route's device ID and data (event ID) at forwarding time.
    pub device_id: u32,
    pub event_id: u32,
    /// The guest's LPI (the vINTID) and the vPE it targets.
    pub intid: u32,
    pub vcpu: u32,
}

/// The VM's forwarded LPIs, by host interrupt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vlpis {
    by_host_irq: BTreeMap<u32, Vlpi>,
}

impl Vlpis {
    pub fn iter(&self) -> impl Iterator<Item = &Vlpi> {
        self.by_host_irq.values()
    }
    fn by_intid(&self, intid: u32) -> Option<Vlpi> {
        self.iter().find(|v| v.intid == intid).copied()
    }
    fn by_route(&self, device_id: u32, event_id: u32) -> Option<Vlpi> {
        self.iter()
            .find(|v| v.device_id == device_id && v.event_id == event_id)
            .copied()
    }
    fn remove_intid(&mut self, intid: u32) -> Option<Vlpi> {
        let host = self.by_intid(intid)?.host_irq;
        self.by_host_irq.remove(&host)
    }
}

/// The first release with "Silently exit if the vLPI is already mapped" in
/// `kvm_vgic_v4_set_forwarding` and the lookup by host interrupt in
/// `kvm_vgic_v4_unset_forwarding` (Oliver Upton's vLPI series of the 6.16
/// cycle; release read from the 2026 tree, first release UNCONFIRMED).
const SET_FORWARDING_IDEMPOTENT: KernelVersion = KernelVersion::new(6, 16, 0);

const SRC_SET: &str = "vgic-v4.c: kvm_vgic_v4_set_forwarding";
const SRC_UNSET: &str = "vgic-v4.c: kvm_vgic_v4_unset_forwarding";

macro_rules! vlpi_rules {
    ($( $name:ident = ($id:literal, $eras:expr, $source:literal, $text:literal); )*) => {
        $( pub static $name: Rule = Rule { id: $id, eras: $eras, source: $source, text: $text }; )*
        /// The vLPI rules, in declaration order (part of [`crate::rules::every`]).
        pub static RULES: &[&Rule] = &[ $( &$name ),* ];
    };
}

vlpi_rules! {
    FORWARD = ("vlpi.forward", Applies::since(4, 19),
        "vgic-v4.c: kvm_vgic_v4_set_forwarding -> its_map_vlpi (VMAPTI); irq->hw = true",
        "When VFIO registers a passthrough device's MSI (routed through an irqfd) as an IRQ bypass producer, KVM resolves its device and event through the guest's ITS and maps the LPI as a vLPI on the target vPE (priority & 0xfc, enable, Group 1); a pending LPI is handed over with a VINT and its software latch cleared.");
    FORWARD_NO_DIRECT_MSIS = ("vlpi.forward.no_direct_msis", Applies::since(4, 19),
        "vgic-v4.c: kvm_vgic_v4_set_forwarding (`if (!vgic_supports_direct_msis(kvm)) return 0;`); vgic-mmio-v3.c: vgic_supports_direct_msis",
        "Without direct MSIs (a GICv3 host, kvm-arm.vgic_v4_enable=0, a VM without an ITS, or from 6.17 a VM that cleared nASSGIcap on a vSGI host) nothing is forwarded: the device's MSI keeps the software path.");
    FORWARD_UNRESOLVED = ("vlpi.forward.unresolved", Applies::since(4, 19),
        "vgic-v4.c: kvm_vgic_v4_set_forwarding -> vgic_its_resolve_lpi",
        "If the guest's ITS cannot translate the route's device and event now (ITS disabled, no mapping, collection unmapped, EnableLPIs off) nothing is forwarded, and nothing retries later: the MSI stays on the software path until VFIO re-registers the producer.");
    FORWARD_ALREADY = ("vlpi.forward.already", Applies::since(4, 19),
        "vgic-v4.c: kvm_vgic_v4_set_forwarding (6.16+: \"Silently exit if the vLPI is already mapped\")",
        "Forwarding an LPI that is already a vLPI: from 6.16 KVM leaves the existing mapping alone; before, it maps it again (a VMOVI) and takes the new host interrupt as irq->host_irq.");
    UNFORWARD = ("vlpi.unforward", Applies::since(4, 19),
        "vgic-v4.c: kvm_vgic_v4_unset_forwarding -> its_unmap_vlpi",
        "When the producer goes away (device reset, route change) KVM unmaps the vLPI and clears irq->hw without reading the virtual pending table: a vLPI pending at that moment is not handed back to the software latch.");
    MSI_DIRECT = ("vlpi.msi.direct", Applies::since(4, 19),
        "GICv4 architecture (VMAPTI); irq-gic-v3-its.c: its_vlpi_map; vgic-v4.c (header comment)",
        "A forwarded device MSI goes from the host ITS straight into the vPE's virtual pending table: with the vPE resident the CPU interface presents it without any exit; KVM sees nothing.");
    MSI_SOFTWARE = ("vlpi.msi.software", Applies::since(4, 19),
        "virt/kvm/eventfd.c: irqfd_wakeup -> kvm_set_msi; vgic-irqfd.c: kvm_set_msi -> vgic_its_inject_msi",
        "A device MSI that is not forwarded interrupts the host, VFIO signals the irqfd's eventfd and KVM injects it through the emulated ITS (vgic_its_inject_msi), as KVM_SIGNAL_MSI does.");
    DOORBELL = ("vlpi.doorbell", Applies::since(4, 19),
        "vgic-v4.c: vgic_v4_put (its_make_vpe_non_resident(vpe, IN_WFI)), vgic_v4_doorbell_handler; irq-gic-v3-its.c: its_vpe_4_1_deschedule",
        "A vLPI that arrives while its vPE is not resident stays in the virtual pending table; if the vCPU blocked in WFI the vPE's doorbell (GICv4.0: the per-vPE doorbell interrupt enabled while blocked; GICv4.1: GICR_VPENDBASER.DB) interrupts the host, and KVM kicks the vCPU; a preempted vCPU gets no doorbell.");
    ITS_COMMAND = ("vlpi.its_command", Applies::since(4, 19),
        "vgic-its.c: vgic_its_trigger_msi / vgic_its_cmd_handle_clear (irq_set_irqchip_state on irq->host_irq), update_lpi_config (its_prop_update_vlpi), update_affinity (its_map_vlpi: VMOVI), its_free_ite (its_unmap_vlpi)",
        "The guest's ITS commands on a forwarded LPI reach the hardware: INT sets and CLEAR clears the vLPI's pending bit (VINT/VCLEAR), INV/INVALL push the new priority and enable, MOVI/MOVALL move it to another vPE (VMOVI), DISCARD (or MAPD V=0) unmaps it.");
    ACK = ("vlpi.ack", Applies::since(4, 19),
        "GICv4 architecture; QEMU hw/intc/arm_gicv3_cpuif.c: icv_iar_read / icv_eoir_write (\"if this is a vLPI not in the list regs then do nothing\")",
        "ICC_IAR1_EL1 returns a direct vLPI from the virtual pending table (no list register; LPIs have no active state) and clears its pending bit; its EOI only drops the running priority and does not count in ICH_HCR_EL2.EOIcount.");
    SAVE_PENDING_VPT = ("vlpi.save_pending.vpt", Applies::since(5, 13),
        "vgic-v3.c: vgic_v3_save_pending_tables (`if (irq->hw && vlpi_avail) vgic_v4_get_vlpi_state(irq, &is_pending)`, GICv4.1 only: unmap_all_vpes first)",
        "On a GICv4.1 host KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES unmaps the vPEs and reads each forwarded LPI's pending bit from its virtual pending table, so a pending vLPI is saved.");
    SAVE_PENDING_LOST = ("vlpi.save_pending.lost", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_save_pending_tables (irq->pending_latch, which is false for a vLPI, without vlpi_avail)",
        "On a GICv4.0 host (and before 5.13 on any host) the save reads only the software latch: a forwarded LPI pending in the virtual pending table is written as not pending, and the destination never delivers it.");
}

impl Vgic {
    /// `vgic_supports_direct_msis`: 5.7–6.16 `has_gicv4_1 || (has_gicv4 &&
    /// ITS)`; 6.17+ also false on a vSGI host when the VM cleared nASSGIcap
    /// (82221a4e66f0); before 5.7 `has_gicv4 && ITS`. Forwarding also needs an
    /// ITS for the route (`vgic_get_its`), so an ITS is required in every era.
    pub fn supports_direct_msis(&self) -> bool {
        let h = &self.host;
        let its = self.has_its_device();
        if self.era() >= Era::V6_17 {
            (self.state.dist.nassgicap || !h.system_supports_direct_sgis()) && h.has_gicv4() && its
        } else {
            h.has_gicv4() && its
        }
    }

    /// The forwarded LPIs.
    pub fn vlpis(&self) -> impl Iterator<Item = &Vlpi> {
        self.live.vlpis.iter()
    }

    fn vlpi_outcome(
        &self,
        what: &str,
        value: u64,
        rules: Vec<&'static Rule>,
        notes: Vec<String>,
    ) -> Outcome {
        Outcome {
            path: Path::User,
            op: Op::Write,
            frame: None,
            vcpu: 0,
            offset: 0,
            width: 64,
            register: Some(what.to_string()),
            value,
            errno: None,
            rules,
            notes,
            trace: Vec::new(),
        }
    }

    /// VFIO registers host interrupt `host_irq` (the device's MSI with
    /// `device_id`/`event_id`, routed through an irqfd) as an IRQ bypass
    /// producer: `kvm_arch_irq_bypass_add_producer` ->
    /// `kvm_vgic_v4_set_forwarding`. Value 1 if the LPI is now a vLPI.
    pub fn forward_msi(&mut self, device_id: u32, event_id: u32, host_irq: u32) -> Outcome {
        const WHAT: &str = "kvm_vgic_v4_set_forwarding";
        self.emit(
            Hop::new(
                Layer::Kvm,
                "kvm_arch_irq_bypass_add_producer",
                format!("VFIO's host IRQ {host_irq} (device {device_id:#x}, event {event_id}) meets the irqfd of its MSI route"),
            )
            .source(SRC_SET),
        );
        if !self.supports_direct_msis() {
            let why = if !self.has_its_device() {
                "the VM has no ITS".to_string()
            } else if !self.host.has_gicv4() {
                "the host has no usable GICv4 (GICv3, GICv5, or kvm-arm.vgic_v4_enable=0)"
                    .to_string()
            } else {
                "the VM cleared nASSGIcap on a host with vSGIs (6.17+: no direct MSIs either)"
                    .to_string()
            };
            self.emit(
                Hop::new(Layer::Kvm, WHAT, format!("vgic_supports_direct_msis is false ({why}): nothing forwarded, the MSI keeps the software path"))
                    .rule(&FORWARD_NO_DIRECT_MSIS),
            );
            return self.vlpi_outcome(WHAT, 0, vec![&FORWARD_NO_DIRECT_MSIS], vec![why]);
        }
        let resolved = self.resolve_lpi(device_id, event_id);
        let (intid, vcpu) = match resolved {
            Ok(t) => t,
            Err(why) => {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_its_resolve_lpi",
                        format!("{why}: nothing forwarded"),
                    )
                    .rule(&FORWARD_UNRESOLVED),
                );
                return self.vlpi_outcome(WHAT, 0, vec![&FORWARD_UNRESOLVED], vec![why]);
            }
        };
        if let Some(old) = self.live.vlpis.by_intid(intid) {
            if self.host.kernel >= SET_FORWARDING_IDEMPOTENT {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        WHAT,
                        format!(
                            "LPI {intid} is already a vLPI (host IRQ {}): left alone",
                            old.host_irq
                        ),
                    )
                    .intid(intid)
                    .rule(&FORWARD_ALREADY),
                );
                return self.vlpi_outcome(
                    WHAT,
                    0,
                    vec![&FORWARD_ALREADY],
                    vec![format!(
                        "LPI {intid} already forwarded from host IRQ {}",
                        old.host_irq
                    )],
                );
            }
            self.live.vlpis.by_host_irq.remove(&old.host_irq);
            self.emit(
                Hop::new(Layer::Its, "its_map_vlpi", format!("LPI {intid} is already a vLPI: mapped again (VMOVI), irq->host_irq {} -> {host_irq}", old.host_irq))
                    .intid(intid)
                    .rule(&FORWARD_ALREADY),
            );
        }
        let (priority, enabled, was_pending) = match self.irq(vcpu, intid) {
            Some(s) => (s.priority, s.enabled, s.pending_latch),
            None => (0, false, false),
        };
        self.live.vlpis.by_host_irq.insert(
            host_irq,
            Vlpi {
                host_irq,
                device_id,
                event_id,
                intid,
                vcpu,
            },
        );
        if let Some(irq) = self.irq_mut(vcpu, intid) {
            irq.hw = true;
            irq.pending_latch = false;
            irq.hw_pending |= was_pending;
        }
        let props = (priority & 0xfc) as u32 | enabled as u32 | 0x2;
        self.emit(
            Hop::new(
                Layer::Its,
                "its_map_vlpi",
                format!("VMAPTI: host device {device_id:#x} event {event_id} -> vPE {vcpu}, vINTID {intid}; properties {props:#04x} (priority {:#04x}, enable {}, Group 1); doorbell enabled", priority & 0xfc, enabled as u8),
            )
            .vcpu(vcpu)
            .intid(intid)
            .rule(&FORWARD),
        );
        let mut notes = vec![format!("LPI {intid} is a vLPI on vPE {vcpu}")];
        if was_pending {
            self.emit(
                Hop::new(Layer::Its, "irq_set_irqchip_state", format!("LPI {intid} was pending: a VINT hands it to the vPE and the software latch clears"))
                    .vcpu(vcpu)
                    .intid(intid)
                    .rule(&FORWARD),
            );
            notes.push("its pending state was handed over (VINT)".into());
            self.vlpi_arrive(vcpu, intid);
        }
        self.settle();
        self.vlpi_outcome(WHAT, 1, vec![&FORWARD], notes)
    }

    /// `vgic_its_resolve_lpi`: the LPI and target vCPU of (device, event), or
    /// why not (-EBUSY: ITS disabled or LPIs disabled; E_ITS_INT_UNMAPPED_INTERRUPT).
    fn resolve_lpi(&self, device_id: u32, event_id: u32) -> Result<(u32, u32), String> {
        let Some(its) = self.emulated_its() else {
            return Err("the ITS was never used: no mapping".into());
        };
        if !its.enabled() {
            return Err("GITS_CTLR.Enabled is 0 (-EBUSY)".into());
        }
        let Some(t) = its.translate(device_id, event_id) else {
            return Err(format!("device {device_id:#x} event {event_id} has no mapping (E_ITS_INT_UNMAPPED_INTERRUPT)"));
        };
        let Some(v) = t.vcpu else {
            return Err(format!(
                "LPI {}'s collection is not mapped (E_ITS_INT_UNMAPPED_INTERRUPT)",
                t.intid
            ));
        };
        let lpis_on = self
            .redistributors()
            .vcpus
            .get(v as usize)
            .is_some_and(|r| r.enable_lpis);
        if !lpis_on {
            return Err(format!("vCPU {v}'s GICR_CTLR.EnableLPIs is 0 (-EBUSY)"));
        }
        Ok((t.intid, v))
    }

    /// VFIO unregisters the producer: `kvm_vgic_v4_unset_forwarding`.
    pub fn unforward_msi(&mut self, host_irq: u32) -> Outcome {
        const WHAT: &str = "kvm_vgic_v4_unset_forwarding";
        if !self.supports_direct_msis() {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    WHAT,
                    "vgic_supports_direct_msis is false: nothing to do",
                )
                .rule(&FORWARD_NO_DIRECT_MSIS),
            );
            return self.vlpi_outcome(WHAT, 0, vec![&FORWARD_NO_DIRECT_MSIS], Vec::new());
        }
        let Some(v) = self.live.vlpis.by_host_irq.remove(&host_irq) else {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    WHAT,
                    format!("host IRQ {host_irq} forwards no LPI: nothing to do"),
                )
                .source(SRC_UNSET),
            );
            return self.vlpi_outcome(
                WHAT,
                0,
                vec![&UNFORWARD],
                vec![format!("host IRQ {host_irq} was not forwarded")],
            );
        };
        let lost = self.irq(v.vcpu, v.intid).is_some_and(|s| s.hw_pending);
        if let Some(irq) = self.irq_mut(v.vcpu, v.intid) {
            irq.hw = false;
            irq.hw_pending = false;
        }
        let what = if lost {
            format!("vLPI {} unmapped (its_unmap_vlpi), irq->hw = false; it was pending in the virtual pending table and KVM does not read it back: lost", v.intid)
        } else {
            format!("vLPI {} unmapped (its_unmap_vlpi), irq->hw = false: its MSIs take the software path again", v.intid)
        };
        self.emit(
            Hop::new(Layer::Its, "its_unmap_vlpi", what)
                .vcpu(v.vcpu)
                .intid(v.intid)
                .rule(&UNFORWARD),
        );
        self.settle();
        let mut notes = vec![format!("LPI {} is no longer forwarded", v.intid)];
        if lost {
            notes.push("a pending vLPI was lost".into());
        }
        self.vlpi_outcome(WHAT, 1, vec![&UNFORWARD], notes)
    }

    /// The passthrough device writes its MSI (device, event): straight into
    /// the vPE when forwarded, else host IRQ -> VFIO -> irqfd -> `kvm_set_msi`.
    pub fn device_msi(&mut self, device_id: u32, event_id: u32) -> Result<Outcome, AccessError> {
        const WHAT: &str = "device MSI";
        let Some(v) = self.live.vlpis.by_route(device_id, event_id) else {
            self.emit(
                Hop::new(Layer::Kvm, "irqfd_wakeup", format!("device {device_id:#x} event {event_id} is not forwarded: the host takes the interrupt, VFIO signals the irqfd's eventfd, kvm_set_msi"))
                    .rule(&MSI_SOFTWARE),
            );
            // The MSI route's address: the VM's GITS_TRANSLATER.
            let addr = self.its_translater().unwrap_or(
                super::its_device::DEFAULT_ITS_BASE + crate::vits::regs::GITS_TRANSLATER as u64,
            );
            let mut o = self.signal_msi(addr, Some(device_id), event_id)?;
            o.register = Some(WHAT.into());
            o.rules.insert(0, &MSI_SOFTWARE);
            return Ok(o);
        };
        self.emit(
            Hop::new(
                Layer::Its,
                "VMAPTI",
                format!("device {device_id:#x} event {event_id}: the host ITS's vLPI mapping -> vPE {}, vINTID {} (no exit, KVM not involved)", v.vcpu, v.intid),
            )
            .vcpu(v.vcpu)
            .intid(v.intid)
            .rule(&MSI_DIRECT),
        );
        if let Some(irq) = self.irq_mut(v.vcpu, v.intid) {
            irq.hw_pending = true;
        }
        self.vlpi_arrive(v.vcpu, v.intid);
        let mut rules: Vec<&'static Rule> = vec![&MSI_DIRECT];
        if self.live.its.vpe(v.vcpu).is_some_and(|p| p.doorbell_fired) {
            rules.push(&DOORBELL);
        }
        Ok(self.vlpi_outcome(
            WHAT,
            1,
            rules,
            vec![format!("vLPI {} pending for vPE {}", v.intid, v.vcpu)],
        ))
    }

    /// A vLPI's pending bit was set in vPE `v`'s virtual pending table: the
    /// redistributor presents it (resident) or the doorbell may fire.
    pub(crate) fn vlpi_arrive(&mut self, v: u32, intid: u32) {
        let v4_1 = self.host.has_gicv4_1();
        let enabled = self.irq(v, intid).is_some_and(|s| s.enabled);
        let Some(vpe) = self.live.its.vpe(v).cloned() else {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "vPE",
                    "no vPE exists for this vCPU: the vLPI goes nowhere",
                )
                .vcpu(v)
                .intid(intid),
            );
            return;
        };
        if vpe.resident {
            let what = if !enabled {
                format!("vPE {v} is resident: vLPI {intid} pending, but disabled in its configuration: held")
            } else if v4_1 && !vpe.vgrp1en {
                format!("vPE {v} is resident: vLPI {intid} pending, held (vGrp1En = 0: the distributor was disabled when the vPE was loaded)")
            } else {
                format!("vPE {v} is resident: vLPI {intid} pending in its virtual pending table")
            };
            self.emit(
                Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                    .vcpu(v)
                    .intid(intid)
                    .rule(&MSI_DIRECT),
            );
            self.signal_hop(v, false);
            return;
        }
        self.emit(
            Hop::new(Layer::Redistributor, "virtual pending table", format!("vPE {v} is not resident: vLPI {intid} is recorded in its virtual pending table"))
                .vcpu(v)
                .intid(intid)
                .rule(&MSI_DIRECT),
        );
        let eligible = enabled && (!v4_1 || vpe.vgrp1en);
        if vpe.doorbell_armed && eligible {
            if let Some(p) = self.live.its.vpe_mut(v) {
                p.doorbell_armed = false;
                p.doorbell_fired = true;
                p.pending_last = true;
            }
            let (reg, what) = if v4_1 {
                (
                    "GICR_VPENDBASER.DB",
                    "the vPE's default doorbell fires (a physical LPI to the host)",
                )
            } else {
                ("vPE doorbell", "the vPE's doorbell interrupt (enabled while the vCPU blocks) fires and disables itself")
            };
            self.emit(
                Hop::new(Layer::Redistributor, reg, what)
                    .vcpu(v)
                    .intid(intid)
                    .rule(&DOORBELL),
            );
            self.emit(
                Hop::new(Layer::Kvm, "vgic_v4_doorbell_handler", format!("pending_last = true, KVM_REQ_IRQ_PENDING, kvm_vcpu_kick(vCPU {v}): the vCPU leaves WFI and runs at the next `schedule`"))
                    .vcpu(v)
                    .rule(&DOORBELL),
            );
        } else {
            let why = if vpe.doorbell_armed {
                "the vLPI is disabled".to_string()
            } else if vpe.doorbell_fired {
                "the doorbell already fired".to_string()
            } else {
                "none was requested (the vCPU was preempted, not blocked in WFI)".to_string()
            };
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "vPE doorbell",
                    format!("no doorbell: {why}; the vLPI waits for the vPE to be scheduled"),
                )
                .vcpu(v)
                .intid(intid)
                .rule(&DOORBELL),
            );
        }
    }

    /// The vLPIs vPE `v` presents now (resident, and on GICv4.1 vGrp1En):
    /// (vINTID, priority) of each pending, enabled one targeting `v`.
    pub(crate) fn vlpi_candidates(&self, v: u32) -> Vec<(u32, u8)> {
        let Some(vpe) = self.live.its.vpe(v) else {
            return Vec::new();
        };
        if !vpe.resident || (self.host.has_gicv4_1() && !vpe.vgrp1en) {
            return Vec::new();
        }
        self.vlpi_pending(v, true)
            .into_iter()
            .filter_map(|i| self.irq(v, i).map(|s| (i, s.priority & 0xfc)))
            .collect()
    }

    /// The vLPIs pending in vPE `v`'s virtual pending table (`enabled`: only
    /// those whose configuration enables them).
    pub(crate) fn vlpi_pending(&self, v: u32, enabled: bool) -> Vec<u32> {
        let vcpus = self.state.config.vcpus;
        self.live
            .lpis
            .iter()
            .filter(|(_, s)| s.hw && s.hw_pending && (s.enabled || !enabled))
            .filter(|(_, s)| mpidr_to_vcpu(s.mpidr, vcpus) == Some(v))
            .map(|(&i, _)| i)
            .collect()
    }

    /// The pending state the emulated ITS sees for LPI `intid` (a vLPI's is
    /// its virtual pending table bit, as `irq_get_irqchip_state` would read).
    pub(crate) fn lpi_pending_for_its(s: &super::IrqState) -> bool {
        s.pending_latch || (s.hw && s.hw_pending)
    }

    /// After the emulated ITS handled commands, MSIs or a restore: what its
    /// events mean for forwarded LPIs (vgic-its.c's hooks into the GICv4
    /// driver). Returns the events the software path still has to handle.
    pub(crate) fn follow_vlpis<'e>(&mut self, events: &'e [ItsEvent]) -> Vec<&'e ItsEvent> {
        // A forwarded LPI's pending state lives in the virtual pending table.
        let hw: Vec<u32> = self
            .live
            .lpis
            .iter()
            .filter(|(_, s)| s.hw)
            .map(|(&i, _)| i)
            .collect();
        let mut cleared = Vec::new();
        for &i in &hw {
            if let Some(s) = self.live.lpis.get_mut(&i) {
                if s.hw_pending && !s.pending_latch {
                    cleared.push((i, mpidr_to_vcpu(s.mpidr, self.state.config.vcpus)));
                }
                s.hw_pending = s.pending_latch;
                s.pending_latch = false;
            }
        }
        for (intid, vcpu) in cleared {
            let mut hop = Hop::new(
                Layer::Its,
                "irq_set_irqchip_state",
                format!("LPI {intid} is a vLPI: the host ITS clears its pending bit (VCLEAR)"),
            )
            .intid(intid)
            .rule(&ITS_COMMAND);
            if let Some(v) = vcpu {
                hop = hop.vcpu(v);
            }
            self.emit(hop);
        }
        // LPIs the ITS freed (DISCARD, MAPD V=0, a reset): its_free_ite -> its_unmap_vlpi.
        let forwarded: Vec<Vlpi> = self.live.vlpis.iter().copied().collect();
        for v in forwarded {
            if !self.live.lpis.contains_key(&v.intid) {
                self.live.vlpis.remove_intid(v.intid);
                self.emit(
                    Hop::new(Layer::Its, "its_free_ite", format!("LPI {} was a vLPI: its_unmap_vlpi (the host device's MSI goes back to its physical LPI)", v.intid))
                        .intid(v.intid)
                        .rule(&ITS_COMMAND),
                );
            }
        }
        let mut rest = Vec::new();
        for e in events {
            let intid = match *e {
                ItsEvent::LpiPending { intid, .. }
                | ItsEvent::LpiConfigured { intid, .. }
                | ItsEvent::LpiTargeted { intid, .. } => intid,
                _ => {
                    rest.push(e);
                    continue;
                }
            };
            let Some(v) = self.live.vlpis.by_intid(intid) else {
                rest.push(e);
                continue;
            };
            match *e {
                ItsEvent::LpiPending { .. } => {
                    self.emit(
                        Hop::new(Layer::Its, "irq_set_irqchip_state", format!("LPI {intid} is a vLPI: the host ITS sets it pending (VINT), not the software latch"))
                            .vcpu(v.vcpu)
                            .intid(intid)
                            .rule(&ITS_COMMAND),
                    );
                    self.vlpi_arrive(v.vcpu, intid);
                }
                ItsEvent::LpiConfigured { .. } => {
                    let (p, en) = self
                        .irq(v.vcpu, intid)
                        .map_or((0, false), |s| (s.priority, s.enabled));
                    self.emit(
                        Hop::new(Layer::Its, "its_prop_update_vlpi", format!("vLPI {intid}: the new configuration (priority {:#04x}, enable {}) goes to the vPE's property table, INV", p & 0xfc, en as u8))
                            .vcpu(v.vcpu)
                            .intid(intid)
                            .rule(&ITS_COMMAND),
                    );
                }
                ItsEvent::LpiTargeted { vcpu, .. } => {
                    if let Some(m) = self.live.vlpis.by_host_irq.get_mut(&v.host_irq) {
                        m.vcpu = vcpu;
                    }
                    self.emit(
                        Hop::new(
                            Layer::Its,
                            "its_map_vlpi",
                            format!("vLPI {intid} moves to vPE {vcpu} (VMOVI)"),
                        )
                        .vcpu(vcpu)
                        .intid(intid)
                        .rule(&ITS_COMMAND),
                    );
                }
                _ => {}
            }
        }
        rest
    }

    /// What `vgic_v3_save_pending_tables` saves for LPI `s`: the virtual
    /// pending table's bit on a GICv4.1 host from 5.13, else the software
    /// latch (false for a vLPI: its pending state is lost).
    pub(crate) fn saved_lpi_pending(&self, s: &super::IrqState) -> (bool, Option<&'static Rule>) {
        if !s.hw {
            return (s.pending_latch, None);
        }
        if self.host.has_gicv4_1() && self.era() >= Era::V5_13 {
            (s.hw_pending, Some(&SAVE_PENDING_VPT))
        } else {
            (s.pending_latch, Some(&SAVE_PENDING_LOST))
        }
    }
}

/// Whether `intid` is an LPI (a vLPI when forwarded).
pub(crate) fn is_lpi(intid: u32) -> bool {
    intid >= LPI_OFFSET
}
