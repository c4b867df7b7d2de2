//! The register handlers of vgic-mmio-v3.c (and vgic-mmio.c's shared ones):
//! one small function per `Handler`, each citing its kernel function, era
//! differences as `match`es on `Era` inside the handler that owns them.

use super::{
    gicd_iidr, mpidr_to_vcpu, vcpu_mpidr, Ctx, Lifecycle, Path, RestorePolicy, Vgic, GICR_IIDR,
};
use crate::catalogue::{
    self, GicdCtlr, GicdIidr, GicdIrouter, GicdTyper, GicdTyper2, GicrCtlr, GicrPendbaser,
    GicrPropbaser, GicrTyper, Handler, RegisterDesc, Reset,
};
use crate::errno::Errno;
use crate::host::Era;
use crate::rules::{self as r};

/// `extract_bytes`: `num` bytes at byte `offset` of `data`.
fn extract_bytes(data: u64, offset: u32, num: u8) -> u64 {
    let shifted = data >> (offset * 8);
    if num >= 8 {
        shifted
    } else {
        shifted & ((1u64 << (num as u32 * 8)) - 1)
    }
}

/// `update_64bit_reg`: replace one half (or all) of a 64-bit register.
fn update_64bit_reg(reg: u64, offset: u32, len: u8, val: u64) -> u64 {
    let lower = (offset & 4) * 8;
    let bits = len as u32 * 8;
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        ((1u64 << bits) - 1) << lower
    };
    let val = if bits >= 64 {
        val
    } else {
        val & ((1u64 << bits) - 1)
    };
    (reg & !mask) | (val << lower)
}

// vgic_sanitise_* (vgic-mmio-v3.c) over the GIC_BASER fields (arm-gic-v3.h). The
// RES0 bits (`PROPBASER_RES0_MASK`, `PENDBASER_RES0_MASK`) are the bits outside the
// catalogue's fields; GICR_PROPBASER and GICR_PENDBASER place InnerCache,
// Shareability and OuterCache alike.

fn sanitise_baser(reg: u64, fields: &[catalogue::FieldDesc]) -> u64 {
    let field = |r: u64, fd: catalogue::FieldDesc, f: fn(u64) -> u64| fd.set(r, f(fd.get(r)));
    // OuterShareable (2) -> InnerShareable (1).
    let reg = field(
        reg,
        GicrPropbaser::SHAREABILITY,
        |v| if v == 2 { 1 } else { v },
    );
    // Inner nCnB (0) / nC (1) -> RaWb.
    let reg = field(reg, GicrPropbaser::INNER_CACHE, |v| {
        if v <= 1 {
            GIC_BASER_CACHE_RAWB
        } else {
            v
        }
    });
    // Outer: SameAsInner (0) and nC (1) kept, anything else -> SameAsInner.
    let reg = field(
        reg,
        GicrPropbaser::OUTER_CACHE,
        |v| if v <= 1 { v } else { 0 },
    );
    reg & catalogue::defined_bits(fields)
}
/// `GIC_BASER_RaWb`: arm-gic-v3.h numbers the cacheability field
/// nCnB 0, nC 1, RaWt 2, RaWb 3, WaWt 4, WaWb 5, RaWaWt 6, RaWaWb 7.
const GIC_BASER_CACHE_RAWB: u64 = 3;

impl Vgic {
    pub(super) fn handle_read(
        &mut self,
        d: &RegisterDesc,
        path: Path,
        vcpu: u32,
        off: u32,
        width: u8,
        cx: &mut Ctx,
    ) -> u64 {
        let era = self.era();
        let byte = off - d.offset;
        let v: u64 = match d.handler {
            Handler::Unimplemented => unreachable!("filtered by kvm_region_in"),
            Handler::RazWi => {
                cx.rule(&r::RAZ_WI);
                0
            }
            Handler::RaoWi => {
                cx.rule(&r::STATUSR_RAO);
                0xFFFF_FFFF
            }
            Handler::DistCtlr => {
                cx.rule(&r::CTLR_READ);
                let dist = &self.state.dist;
                GicdCtlr::ARE_NS.mask()
                    | GicdCtlr::DS.mask()
                    | GicdCtlr::ENABLE_GRP1.val(dist.enabled as u64)
                    | GicdCtlr::NASSGIREQ.val(dist.nassgireq as u64)
            }
            Handler::DistTyper => {
                cx.rule(&r::TYPER_READ);
                self.typer() as u64
            }
            Handler::DistIidr => {
                cx.rule(&r::IIDR_READ);
                gicd_iidr(self.state.dist.implementation_rev) as u64
            }
            Handler::DistTyper2 => {
                if era < Era::V5_7 {
                    cx.rule(&r::TYPER2_READ_PRE_5_7);
                } else {
                    cx.rule(&r::TYPER2_READ);
                }
                if self.host.gcie_legacy() {
                    cx.rule(&r::TYPER2_GICV5_HOST);
                }
                self.typer2() as u64
            }
            Handler::IdRegs => {
                cx.rule(&r::IDREGS_READ);
                // vgic_mmio_read_v3_idregs: PIDR2 (ArchRev 3), the others 0: the
                // catalogue's reset values.
                match d.reset {
                    Reset::Value(v) => v,
                    Reset::Computed(_) => 0,
                }
            }
            Handler::Group
            | Handler::SetEnable
            | Handler::ClearEnable
            | Handler::SetPending
            | Handler::ClearPending
            | Handler::SetActive
            | Handler::ClearActive
            | Handler::Priority
            | Handler::Config => {
                let (first, n) = Self::irq_span(d, off, width);
                self.read_irqs(d.handler, path, vcpu, first, n, cx)
            }
            Handler::Irouter => {
                cx.rule(&r::IROUTER_READ);
                let (intid, _) = Self::irq_span(d, off, width);
                if off & 4 != 0 {
                    0
                } else {
                    let mpidr = self.irq(vcpu, intid).map(|i| i.mpidr).unwrap_or(0) as u64;
                    extract_bytes(mpidr, off & 7, width / 8)
                }
            }
            Handler::RdCtlr => {
                cx.rule(&r::GICR_CTLR_READ);
                let mut v = self.state.redists[vcpu as usize].ctlr as u64;
                if era >= Era::V5_19 && self.state.dist.implementation_rev >= 3 {
                    v |= GicrCtlr::IR.mask() | GicrCtlr::CES.mask();
                }
                v
            }
            Handler::RdIidr => {
                cx.rule(&r::GICR_IIDR);
                GICR_IIDR
            }
            Handler::RdTyper => {
                cx.rule(&r::GICR_TYPER);
                let mut typer = self.gicr_typer(vcpu);
                // Before 28e9d4bce3be (5.13) vgic_mmio_read_v3r_typer set Last
                // only when the access address was the last redistributor's
                // guest address; a userspace access passes a frame offset, so
                // a VMM never saw Last. Measured: 5.10.223 reads vCPU 1 of 2
                // as 0x100, 6.12.86 and later as 0x110.
                if path == Path::User && !self.host.has(&crate::kernels::USERSPACE_GICR_TYPER_LAST)
                {
                    cx.rule(&r::GICR_TYPER_UACCESS_NO_LAST);
                    typer &= !GicrTyper::LAST.mask();
                }
                extract_bytes(typer, byte & 7, width / 8)
            }
            Handler::PropBaser => {
                cx.rule(&r::BASER_WRITE);
                extract_bytes(self.state.dist.propbaser, byte & 7, width / 8)
            }
            Handler::PendBaser => {
                cx.rule(&r::PENDBASER_PTZ);
                extract_bytes(
                    self.state.redists[vcpu as usize].pendbaser & !GicrPendbaser::PTZ.mask(),
                    byte & 7,
                    width / 8,
                )
            }
            Handler::InvLpi | Handler::InvAll => {
                cx.rule(&r::INVL_IGNORED);
                0
            }
            Handler::Syncr => {
                cx.rule(&r::SYNCR);
                0
            }
        };
        v
    }

    /// GICD_TYPER (`vgic_mmio_read_v3_misc`).
    pub fn typer(&self) -> u32 {
        let its = self.state.config.its;
        // INTERRUPT_ID_BITS_ITS = 16 with GICD_TYPER_LPIS, else INTERRUPT_ID_BITS_SPIS = 10.
        let id_bits: u64 = if its { 16 } else { 10 };
        (GicdTyper::ITLINES_NUMBER.val((self.state.config.nr_irqs / 32 - 1) as u64)
            | GicdTyper::IDBITS.val(id_bits - 1)
            | GicdTyper::LPIS.val(its as u64)) as u32
    }

    /// GICD_TYPER2 as the guest reads it.
    pub fn typer2(&self) -> u32 {
        if self.era() >= Era::V5_7 && self.vm_supports_direct_sgis() {
            GicdTyper2::NASSGICAP.mask() as u32
        } else {
            0
        }
    }

    /// GICR_TYPER of vCPU `vcpu` (`vgic_mmio_read_v3r_typer`). gicx lays all
    /// redistributors out in one region in vCPU order, so only the last is Last.
    pub fn gicr_typer(&self, vcpu: u32) -> u64 {
        // The teardown freed dist->rd_regions: no redistributor is the last
        // of its region any more (measured: 5.10.223 reads vCPU 1 of 2 as 0x100).
        // A VM built by steps places redistributors in regions
        // (vgic_mmio_vcpu_rdist_is_last, crate::scenario::setup).
        let last = crate::scenario::setup::typer_last(self.setup.as_deref(), vcpu)
            .unwrap_or(vcpu + 1 == self.state.config.vcpus)
            && !self.state.failed_run.torn_down;
        // The vCPU's MPIDR Aff2.Aff1.Aff0 in GICR_TYPER's Aff0..Aff2.
        ((vcpu_mpidr(vcpu) as u64) << GicrTyper::AFF0.lsb)
            | GicrTyper::PROCESSOR_NUMBER.val(vcpu as u64)
            | GicrTyper::PLPIS.val(self.state.config.its as u64)
            | GicrTyper::LAST.val(last as u64)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_write(
        &mut self,
        d: &RegisterDesc,
        path: Path,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
        cx: &mut Ctx,
    ) -> Option<Errno> {
        let byte = off - d.offset;
        match d.handler {
            Handler::Unimplemented => unreachable!("filtered by kvm_region_in"),
            Handler::RazWi => cx.rule(&r::RAZ_WI),
            Handler::RaoWi => cx.rule(&r::STATUSR_RAO),
            Handler::IdRegs => cx.rule(&r::IDREGS_READ),
            Handler::DistCtlr => self.write_ctlr(path, value as u32, cx),
            Handler::DistTyper => cx.rule(&r::RO_WRITE_IGNORED),
            Handler::DistIidr => {
                if path == Path::User {
                    return self.uaccess_write_iidr(value as u32, cx);
                }
                cx.rule(&r::RO_WRITE_IGNORED)
            }
            Handler::DistTyper2 => {
                if path == Path::User {
                    return self.uaccess_write_typer2(value as u32, cx);
                }
                cx.rule(&r::RO_WRITE_IGNORED)
            }
            Handler::Group
            | Handler::SetEnable
            | Handler::ClearEnable
            | Handler::SetPending
            | Handler::ClearPending
            | Handler::SetActive
            | Handler::ClearActive
            | Handler::Priority
            | Handler::Config => {
                let (first, n) = Self::irq_span(d, off, width);
                self.write_irqs(d.handler, path, vcpu, first, n, value, cx);
            }
            Handler::Irouter => {
                cx.rule(&r::IROUTER_WRITE);
                let (intid, _) = Self::irq_span(d, off, width);
                if off & 4 != 0 {
                    cx.note("upper word (Aff3): ignored");
                } else {
                    // vgic_mmio_write_irouter keeps Aff2.Aff1.Aff0 (IRM dropped, Aff3 RAZ/WI).
                    let aff = GicdIrouter::AFF0.mask()
                        | GicdIrouter::AFF1.mask()
                        | GicdIrouter::AFF2.mask();
                    let mpidr = (value & aff) as u32;
                    if value & !aff != 0 {
                        cx.note_with(|| format!("dropped bits {:#x} (IRM/Aff3)", value & !aff));
                    }
                    let vcpus = self.state.config.vcpus;
                    if let Some(irq) = self.irq_mut(vcpu, intid) {
                        irq.mpidr = mpidr;
                    }
                    match mpidr_to_vcpu(mpidr, vcpus) {
                        Some(t) => cx.note_with(|| format!("INTID {intid} now targets vCPU {t}")),
                        None => cx.rule(&r::IROUTER_NO_VCPU),
                    }
                }
            }
            Handler::RdCtlr => self.write_gicr_ctlr(vcpu, value as u32, cx),
            Handler::RdIidr => cx.rule(&r::RAZ_WI),
            Handler::RdTyper => {
                cx.rule(if path == Path::User {
                    &r::GICR_TYPER_UACCESS_WI
                } else {
                    &r::RO_WRITE_IGNORED
                });
            }
            Handler::PropBaser | Handler::PendBaser => {
                if self.lpis_enabled(vcpu) {
                    cx.rule(&r::BASER_LOCKED);
                } else {
                    cx.rule(&r::BASER_WRITE);
                    if d.handler == Handler::PropBaser {
                        let old = self.state.dist.propbaser;
                        self.state.dist.propbaser = sanitise_baser(
                            update_64bit_reg(old, byte, width / 8, value),
                            GicrPropbaser::FIELDS,
                        );
                    } else {
                        let rd = &mut self.state.redists[vcpu as usize];
                        rd.pendbaser = sanitise_baser(
                            update_64bit_reg(rd.pendbaser, byte, width / 8, value),
                            GicrPendbaser::FIELDS,
                        );
                    }
                }
            }
            Handler::InvLpi | Handler::InvAll => {
                if off & 4 != 0 || !self.lpis_enabled(vcpu) {
                    cx.rule(&r::INVL_IGNORED);
                } else {
                    cx.rule(&r::INVL_DONE);
                    // vgic_its_inv_lpi (INTID = the low 32 bits) / vgic_its_invall.
                    let intid = (d.handler == Handler::InvLpi).then_some(value as u32);
                    self.redist_invalidate(vcpu, intid);
                }
            }
            Handler::Syncr => cx.rule(&r::RAZ_WI),
        }
        None
    }

    fn lpis_enabled(&self, vcpu: u32) -> bool {
        self.state.redists[vcpu as usize].ctlr & GicrCtlr::ENABLE_LPIS.mask32() != 0
    }

    /// GICR_CTLR write (`vgic_mmio_write_v3r_ctlr`).
    fn write_gicr_ctlr(&mut self, vcpu: u32, val: u32, cx: &mut Ctx) {
        if !self.state.config.its {
            cx.rule(&r::GICR_CTLR_NO_ITS);
            return;
        }
        cx.rule(&r::GICR_CTLR_WRITE);
        let era = self.era();
        let lpis_were_on = self.lpis_enabled(vcpu);
        let rd = &mut self.state.redists[vcpu as usize];
        let want = val & GicrCtlr::ENABLE_LPIS.mask32() != 0;
        if era >= Era::V5_19 {
            // atomic_cmpxchg: enable only from 0, disable only from EnableLPIs (RWP while flushing).
            if want && rd.ctlr == 0 {
                rd.ctlr = GicrCtlr::ENABLE_LPIS.mask32();
                cx.note("vgic_enable_lpis: the pending table is read");
            } else if !want && rd.ctlr == GicrCtlr::ENABLE_LPIS.mask32() {
                rd.ctlr = 0;
                cx.note("EnableLPIs -> RWP -> 0: pending LPIs flushed, ITS cache invalidated");
            }
        } else {
            let was = rd.ctlr != 0;
            rd.ctlr = if want {
                GicrCtlr::ENABLE_LPIS.mask32()
            } else {
                0
            };
            if !was && want {
                cx.note("vgic_enable_lpis: the pending table is read");
            }
        }
        if want {
            self.observed.features.insert("LPIs".into());
        }
        // vgic_flush_pending_lpis / vgic_enable_lpis (vgic/its_device.rs).
        match (lpis_were_on, self.lpis_enabled(vcpu)) {
            (true, false) => self.flush_pending_lpis(vcpu),
            (false, true) => self.sync_lpi_pending_table(vcpu),
            _ => {}
        }
    }

    /// GICD_CTLR writes: guest (`vgic_mmio_write_v3_misc`) and userspace
    /// (`vgic_mmio_uaccess_write_v3_misc`, case GICD_CTLR).
    fn write_ctlr(&mut self, path: Path, val: u32, cx: &mut Ctx) {
        let era = self.era();
        if path == Path::User && era >= Era::V5_7 {
            cx.rule(&r::CTLR_UACCESS_LATCH);
            let mut val = val;
            if val & GicdCtlr::NASSGIREQ.mask32() != 0 && !self.uaccess_nassgireq_allowed() {
                cx.rule(&r::CTLR_UACCESS_NASSGIREQ_DROPPED);
                val &= !GicdCtlr::NASSGIREQ.mask32();
            }
            let was_hwsgi = self.state.dist.nassgireq;
            self.state.dist.enabled = val & GicdCtlr::ENABLE_GRP1.mask32() != 0;
            self.state.dist.nassgireq = val & GicdCtlr::NASSGIREQ.mask32() != 0;
            if self.state.lifecycle == Lifecycle::HasRun && was_hwsgi != self.state.dist.nassgireq {
                use crate::trace::{Hop, Layer};
                cx.note("the VM has run: nothing calls vgic_v4_configure_vsgis now, the SGIs stay where they are");
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_mmio_uaccess_write_v3_misc",
                        "nASSGIreq changed on a VM that has run: no vgic_v4_configure_vsgis, no reload; the SGIs stay on their current path",
                    )
                    .rule(&r::CTLR_UACCESS_LATCH),
                );
            } else if self.state.dist.nassgireq {
                cx.note("nASSGIreq latched; the SGIs move to hardware at the first KVM_RUN (vgic_v3_map_resources)");
            }
            return;
        }
        if path == Path::User {
            cx.rule(&r::CTLR_UACCESS_GUEST_PATH);
        }
        cx.rule(&r::CTLR_GUEST_WRITE);
        let dist = &mut self.state.dist;
        let was_enabled = dist.enabled;
        let is_hwsgi = dist.nassgireq;
        dist.enabled = val & GicdCtlr::ENABLE_GRP1.mask32() != 0;
        let mut val = val;
        if era < Era::V5_7 {
            // 4.19–5.6: no nASSGIreq at all.
            val &= !GicdCtlr::NASSGIREQ.mask32();
        } else {
            if !self.vm_supports_direct_sgis() && val & GicdCtlr::NASSGIREQ.mask32() != 0 {
                cx.rule(&r::CTLR_GUEST_NASSGIREQ_NO_SUPPORT);
                val &= !GicdCtlr::NASSGIREQ.mask32();
            }
            let dist = &self.state.dist;
            if was_enabled && dist.enabled {
                if (val & GicdCtlr::NASSGIREQ.mask32() != 0) != is_hwsgi {
                    cx.rule(&r::CTLR_GUEST_NASSGIREQ_RO_ENABLED);
                }
                val &= !GicdCtlr::NASSGIREQ.mask32();
                if is_hwsgi {
                    val |= GicdCtlr::NASSGIREQ.mask32();
                }
            }
        }
        self.state.dist.nassgireq = val & GicdCtlr::NASSGIREQ.mask32() != 0;
        if path == Path::Guest {
            if self.state.dist.enabled {
                self.observed.features.insert("distributor enabled".into());
            }
            if self.state.dist.nassgireq {
                self.observed.features.insert("nASSGIreq".into());
            }
        }
        if era >= Era::V5_7 && is_hwsgi != self.state.dist.nassgireq {
            cx.rule(&r::CTLR_GUEST_NASSGIREQ_SWITCH);
            self.configure_vsgis(cx);
        }
        let now_enabled = self.state.dist.enabled;
        let reload_gate = era >= Era::V5_7
            && if era >= Era::V6_17 {
                self.vm_supports_direct_sgis()
            } else {
                self.host.has_gicv4_1()
            };
        if reload_gate && was_enabled != now_enabled {
            cx.rule(&r::CTLR_GUEST_RELOAD);
            cx.note("KVM_REQ_RELOAD_GICv4 sent to every vCPU: vgic_v4_put + vgic_v4_load, vGrp1En follows the enable");
            self.reload_gicv4();
        } else if !was_enabled && now_enabled {
            cx.note("vgic_kick_vcpus: kicks the vCPUs whose ap_list holds a pending interrupt");
        }
        if !was_enabled && now_enabled {
            self.report_unqueued();
        }
    }

    /// Userspace GICD_TYPER2 write per era (`vgic_mmio_uaccess_write_v3_misc`).
    fn uaccess_write_typer2(&mut self, val: u32, cx: &mut Ctx) -> Option<Errno> {
        let era = self.era();
        let reg = self.typer2();
        match self.policy {
            RestorePolicy::Kernel => {}
            RestorePolicy::AcceptAny => {
                cx.rule(&r::POLICY_ACCEPT_ANY);
                return None;
            }
            RestorePolicy::Relaxed2020 => {
                let host_cap = if self.host.system_supports_direct_sgis() {
                    GicdTyper2::NASSGICAP.mask32()
                } else {
                    0
                };
                if val == 0 || val == host_cap {
                    cx.rule(&r::POLICY_RELAXED_2020_ACCEPT);
                    self.state.dist.nassgicap = val & GicdTyper2::NASSGICAP.mask32() != 0;
                    return None;
                }
                cx.rule(&r::POLICY_RELAXED_2020_REFUSE);
                return Some(Errno::EINVAL);
            }
        }
        if era < Era::V5_7 {
            cx.rule(&r::TYPER2_UACCESS_IGNORED);
            return None;
        }
        if era < Era::V6_17 {
            cx.rule(&r::TYPER2_UACCESS_EXACT);
            if val != reg {
                cx.note_with(|| format!("KVM's GICD_TYPER2 is {reg:#x}, the write is {val:#x}"));
                return Some(Errno::EINVAL);
            }
            return None;
        }
        if val == reg {
            cx.rule(&r::TYPER2_UACCESS_EQUAL);
            return None;
        }
        if self.state.lifecycle != Lifecycle::Created {
            cx.rule(&r::TYPER2_UACCESS_BUSY);
            return Some(Errno::EBUSY);
        }
        if (reg ^ val) & !GicdTyper2::NASSGICAP.mask32() != 0 {
            cx.rule(&r::TYPER2_UACCESS_OTHER_BITS);
            return Some(Errno::EINVAL);
        }
        if !self.host.system_supports_direct_sgis() && val != 0 {
            cx.rule(&r::TYPER2_UACCESS_UNSUPPORTED);
            if self.host.gcie_legacy() {
                cx.rule(&r::TYPER2_GICV5_HOST);
            }
            return Some(Errno::EINVAL);
        }
        cx.rule(&r::TYPER2_UACCESS_SET_CAP);
        self.state.dist.nassgicap = val & GicdTyper2::NASSGICAP.mask32() != 0;
        cx.note_with(|| format!("nassgicap = {}", self.state.dist.nassgicap as u8));
        None
    }

    /// Userspace GICD_IIDR write per era (`vgic_mmio_uaccess_write_v3_misc`).
    fn uaccess_write_iidr(&mut self, val: u32, cx: &mut Ctx) -> Option<Errno> {
        let era = self.era();
        let reg = gicd_iidr(self.state.dist.implementation_rev);
        if self.policy == RestorePolicy::AcceptAny {
            cx.rule(&r::POLICY_ACCEPT_ANY);
            return None;
        }
        if era < Era::V5_19 {
            cx.rule(&r::IIDR_UACCESS_EXACT);
            if val != reg {
                cx.note_with(|| {
                    format!("KVM's GICD_IIDR is {reg:#010x}, the write is {val:#010x}")
                });
                return Some(Errno::EINVAL);
            }
            return None;
        }
        if (reg ^ val) as u64 & !GicdIidr::REVISION.mask() != 0 {
            cx.rule(&r::IIDR_UACCESS_FIELDS);
            cx.note_with(|| format!("KVM's GICD_IIDR is {reg:#010x}: ProductID/Variant/Implementer of {val:#010x} differ"));
            return Some(Errno::EINVAL);
        }
        let written_rev = GicdIidr::REVISION.get(val as u64) as u8;
        // Mainline 7.1, and stable kernels from their backport on (kernels.rs).
        if !self.host.has(&crate::kernels::IIDR_REVISION_RESTORE) {
            cx.rule(&r::IIDR_UACCESS_REV_NOOP);
            if written_rev != self.state.dist.implementation_rev {
                cx.note_with(|| format!(
                    "revision {written_rev} written, revision {} kept: the kernel reads the revision from its own value",
                    self.state.dist.implementation_rev
                ));
            }
            return None;
        }
        cx.rule(&r::IIDR_UACCESS_REV_SET);
        match written_rev {
            2 | 3 => {
                self.state.dist.implementation_rev = written_rev;
                None
            }
            _ => Some(Errno::EINVAL),
        }
    }
}
