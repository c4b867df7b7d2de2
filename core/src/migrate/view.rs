//! What the guest can see: the source snapshot (`GuestView`, `IdRegister`,
//! `SourceSnapshot`) that a destination is compared with.

#[allow(unused_imports)]
use super::*;

// ---- what the guest can see -------------------------------------------------------------------

/// The guest-visible state of one interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IrqView {
    pub group: bool,
    pub enabled: bool,
    /// Pending as the guest sees it: the hardware bit for a vSGI, else latch or line.
    pub pending: bool,
    /// Active as the guest sees it (vSGIs have no active state).
    pub active: bool,
    pub priority: u8,
    pub edge: bool,
    /// Line level of a level-triggered interrupt (LEVEL_INFO).
    pub line: bool,
    /// IROUTER affinity (SPIs only).
    pub route: u32,
    /// A GICv4.1 hardware vSGI.
    pub vsgi: bool,
}

impl IrqView {
    fn of(irq: &IrqState, spi: bool) -> IrqView {
        IrqView {
            group: irq.group,
            enabled: irq.enabled,
            pending: if irq.hw {
                irq.hw_pending
            } else {
                irq.is_pending()
            },
            active: irq.active && !irq.hw,
            priority: irq.priority,
            edge: irq.edge,
            line: !irq.edge && irq.line_level,
            route: if spi { irq.mpidr } else { 0 },
            vsgi: irq.hw,
        }
    }
}

/// Everything of the interrupt state the guest can observe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GuestView {
    pub enabled: bool,
    pub nassgireq: bool,
    pub spis: Vec<IrqView>,
    /// Per vCPU, INTIDs 0..31.
    pub private: Vec<Vec<IrqView>>,
    pub lpis: Vec<bool>,
    pub propbaser: u64,
    pub pendbaser: Vec<u64>,
    /// Per vCPU, the CPU-interface state (`KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`).
    pub cpuifs: Vec<CpuIfView>,
    /// The ITS's mappings, LPIs and registers (a VM with an ITS).
    pub its: Option<ItsView>,
}

/// The part of a vCPU's CPU interface a migration must carry: ICC_PMR_EL1,
/// ICC_IGRPEN1_EL1, ICC_CTLR_EL1.EOImode, the active priorities (ICC_AP1R0_EL1,
/// ICC_AP0R0_EL1), Group 0's enable and the binary points as the guest's
/// CPU interface uses them (ICC_IGRPEN0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuIfView {
    pub pmr: u8,
    pub igrpen1: bool,
    pub eoimode: bool,
    pub ap1r0: u32,
    pub igrpen0: bool,
    pub bpr0: u8,
    pub bpr1: u8,
    pub ap0r0: u32,
}

impl GuestView {
    /// Whether a destination shows the guest what this source view showed. A
    /// never-programmed LPI table base (its reset value 0) is not guest state: any
    /// restore that writes it back reads 0x180, because KVM sanitises inner
    /// non-cacheable to RaWb (vgic_sanitise_inner_cacheability), so no written value is
    /// ever 0; a guest must program the tables before it can use LPIs.
    pub fn shown_by(&self, dst: &GuestView) -> bool {
        self.enabled == dst.enabled
            && self.nassgireq == dst.nassgireq
            && self.spis == dst.spis
            && self.private == dst.private
            && self.cpuifs == dst.cpuifs
            && self.lpis == dst.lpis
            && match (&self.its, &dst.its) {
                (Some(a), Some(b)) => a.shown_by(b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && (self.propbaser == 0 || self.propbaser == dst.propbaser)
            && self.pendbaser.len() == dst.pendbaser.len()
            && self
                .pendbaser
                .iter()
                .zip(&dst.pendbaser)
                .all(|(a, b)| *a == 0 || a == b)
    }

    pub fn of(vm: &Vgic) -> GuestView {
        let st = vm.state();
        GuestView {
            enabled: st.dist.enabled,
            nassgireq: st.dist.nassgireq,
            spis: st.dist.spis.iter().map(|i| IrqView::of(i, true)).collect(),
            private: st
                .redists
                .iter()
                .map(|rd| rd.private.iter().map(|i| IrqView::of(i, false)).collect())
                .collect(),
            lpis: st
                .redists
                .iter()
                .map(|rd| GicrCtlr::ENABLE_LPIS.is_set(rd.ctlr as u64))
                .collect(),
            propbaser: st.dist.propbaser,
            pendbaser: st
                .redists
                .iter()
                // PTZ is stored but always reads 0 (vgic_mmio_read_pendbase).
                .map(|rd| rd.pendbaser & !GicrPendbaser::PTZ.mask())
                .collect(),
            cpuifs: st
                .cpuifs
                .iter()
                .map(|c| CpuIfView {
                    pmr: c.pmr,
                    igrpen1: c.igrpen1,
                    eoimode: c.eoimode,
                    ap1r0: c.ap1r0,
                    igrpen0: c.igrpen0,
                    bpr0: c.bpr0_effective(),
                    bpr1: c.bpr1_effective(),
                    ap0r0: c.ap0r0,
                })
                .collect(),
            its: ItsView::of(vm),
        }
    }
}

/// An ID or capability register the guest read: where, and which bits matter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdRegister {
    /// The key of `observed().reads`, e.g. `GICR_TYPER@vcpu1`.
    pub key: String,
    pub name: String,
    pub frame: Frame,
    pub vcpu: u32,
    pub offset: u32,
    pub width: u8,
    /// Bits compared (GICR_CTLR: only IR and CES are capabilities; EnableLPIs is state).
    pub mask: u64,
}

impl IdRegister {
    /// The register behind an observation key, if it is an ID/capability register.
    pub fn from_key(key: &str) -> Option<IdRegister> {
        let (name, vcpu) = match key.split_once("@vcpu") {
            Some((n, v)) => (n, v.parse().ok()?),
            None => (key, 0),
        };
        let rr = catalogue::lookup(name).ok()?;
        let mask = match rr.desc.handler {
            Handler::DistTyper
            | Handler::DistTyper2
            | Handler::DistIidr
            | Handler::IdRegs
            | Handler::RdTyper
            | Handler::RdIidr => u64::MAX,
            Handler::RdCtlr => GicrCtlr::IR.mask() | GicrCtlr::CES.mask(),
            _ => return None,
        };
        Some(IdRegister {
            key: key.to_string(),
            name: rr.name(),
            frame: rr.desc.frame,
            vcpu,
            offset: rr.offset(),
            width: if rr.desc.reg_bytes == 8 { 64 } else { 32 },
            mask,
        })
    }
    /// What the guest reads there now (no observation recorded).
    pub fn peek(&self, vm: &Vgic) -> u64 {
        vm.peek_guest(self.frame, self.vcpu, self.offset, self.width)
            .unwrap_or(0)
            & self.mask
    }
    /// What the guest reads at each of `ids` on `vm` (one copy of the VM for all reads).
    pub fn peek_all(ids: &[IdRegister], vm: &Vgic) -> Vec<u64> {
        if ids.is_empty() {
            return Vec::new();
        }
        let mut probe = vm.clone();
        if probe.lifecycle() != crate::vgic::Lifecycle::HasRun {
            return ids.iter().map(|id| id.peek(vm)).collect();
        }
        ids.iter()
            .map(|id| {
                probe
                    .guest_read(id.frame, id.vcpu, id.offset, id.width)
                    .map_or(0, |o| o.value)
                    & id.mask
            })
            .collect()
    }
}

/// The source at save time, as the comparison needs it.
#[derive(Clone, Debug)]
pub struct SourceSnapshot {
    pub host: Host,
    pub config: VmConfig,
    pub view: GuestView,
    /// The ID registers the guest read, with what it reads there now.
    pub ids: Vec<(IdRegister, u64)>,
    /// The VM offered nASSGIcap.
    pub nassgicap: bool,
}

impl SourceSnapshot {
    pub fn of(vm: &Vgic) -> SourceSnapshot {
        let regs: Vec<IdRegister> = vm
            .observed()
            .reads
            .keys()
            .filter_map(|k| IdRegister::from_key(k))
            .collect();
        // What `IdRegister::peek` reads, with one copy of the VM for all of them.
        let at: Vec<_> = regs
            .iter()
            .map(|id| (id.frame, id.vcpu, id.offset, id.width))
            .collect();
        let values = vm.peek_guest_many(&at);
        let ids = regs
            .into_iter()
            .zip(values)
            .map(|(id, v)| {
                let v = v.unwrap_or(0) & id.mask;
                (id, v)
            })
            .collect();
        SourceSnapshot {
            host: *vm.host(),
            config: *vm.config(),
            view: GuestView::of(vm),
            ids,
            nassgicap: GicdTyper2::NASSGICAP.is_set(vm.typer2() as u64),
        }
    }

    /// What differs, by kind, without the detail of [`differences`]: ID register names
    /// and interrupt-state fields (e.g. `GICD_TYPER2`, `GICD_CTLR.nASSGIreq`,
    /// `SPI enabled`, `SGI/PPI vSGI`). Empty when the destination shows the guest
    /// exactly what it saw.
    pub fn causes(
        &self,
        view: &GuestView,
        dst_ids: impl Fn(&IdRegister) -> u64,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (id, v) in &self.ids {
            if dst_ids(id) != *v {
                out.insert(if id.frame == Frame::Redist && id.offset == 0 {
                    "GICR_CTLR.IR/CES".to_string()
                } else {
                    id.name.clone()
                });
            }
        }
        if self.view.shown_by(view) {
            return out;
        }
        let src = &self.view;
        if src.enabled != view.enabled {
            out.insert("GICD_CTLR.EnableGrp1".into());
        }
        if src.nassgireq != view.nassgireq {
            out.insert("GICD_CTLR.nASSGIreq".into());
        }
        let mut bank = |what: &str, a: &[IrqView], b: &[IrqView]| {
            for f in IrqField::ALL {
                if a.iter().zip(b).any(|(x, y)| f.value(x) != f.value(y)) {
                    out.insert(format!("{what} {}", f.name()));
                }
            }
        };
        bank("SPI", &src.spis, &view.spis);
        for (a, b) in src.private.iter().zip(&view.private) {
            bank("SGI/PPI", a, b);
        }
        if src.lpis != view.lpis {
            out.insert("GICR_CTLR.EnableLPIs".into());
        }
        if src.propbaser != 0 && src.propbaser != view.propbaser
            || src
                .pendbaser
                .iter()
                .zip(&view.pendbaser)
                .any(|(a, b)| *a != 0 && a != b)
        {
            out.insert("GICR_PROPBASER/PENDBASER".into());
        }
        if let (Some(a), Some(b)) = (&src.its, &view.its) {
            a.causes(b, &mut out);
        }
        out
    }

    /// Whether the destination shows the guest exactly this (the audit's fast check).
    pub fn same_as(&self, view: &GuestView, dst_ids: impl Fn(&IdRegister) -> u64) -> bool {
        self.view.shown_by(view) && self.ids.iter().all(|(id, v)| dst_ids(id) == *v)
    }
}
