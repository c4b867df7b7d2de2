//! The VM's emulated ITS device and guest RAM, as scenario steps reach them
//! (issue 17): guest MMIO at the ITS base and `KVM_DEV_ARM_VGIC_GRP_ITS_REGS`,
//! `KVM_DEV_ARM_VGIC_GRP_CTRL` on the ITS device, the command queue,
//! `KVM_SIGNAL_MSI`, `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES`, and the
//! VMM's own reads and writes of guest RAM.
//!
//! One source of truth for what the ITS reads from the redistributors:
//! GICR_PROPBASER, GICR_PENDBASER and GICR_CTLR.EnableLPIs are the vGIC's
//! ([`super::DistState::propbaser`], [`super::RedistState`]); each ITS
//! operation is handed a [`vits::Redistributors`] built from them.
//!
//! LPIs: KVM keeps one `struct vgic_irq` per LPI. The ITS model keeps each
//! LPI's mapping and configuration ([`vits::LpiState`]); the delivery model
//! keeps an [`IrqState`] per LPI (`Live::lpis`) so that LPIs travel the same
//! ap_lists, list registers and CPU interface as every other interrupt. Their
//! pending state is handed across at each ITS operation (the vGIC's copy
//! into the ITS before, the ITS's back after), so an LPI the guest
//! acknowledged is not pending for a later save.

use crate::catalogue::{Frame, GicrCtlr};
use crate::errno::Errno;
use crate::guest_memory::{GuestMemory, MemError};
use crate::trace::{Hop, Layer};
use crate::vits::command::Command;
use crate::vits::observer::ItsEvent;
use crate::vits::{self, regs, Bus, Its, ItsError, RedistLpis, Redistributors};

use super::{vcpu_mpidr, AccessError, Ctx, IrqState, Op, Outcome, Path, Vgic};

/// Where a VM that a VMM built (no `create_vm` step) has its ITS: QEMU's
/// `virt` machine's ITS frame, which `gicx-kvm` uses too.
pub const DEFAULT_ITS_BASE: u64 = 0x0808_0000;
/// The most guest pages a scenario's VM materialises (16 MiB written).
pub const GUEST_PAGE_LIMIT: usize = 4096;
/// IPA bits of a VM a VMM built (`gicx-kvm` creates 32-bit IPA spaces).
const DEFAULT_IPA_BITS: u32 = 32;

impl Vgic {
    /// Whether the VM has an ITS device at this point: `vm.its`, or, in a VM
    /// built by steps, a successful `create_device` its.
    pub fn has_its_device(&self) -> bool {
        match &self.setup {
            Some(st) => st.its,
            None => self.state.config.its,
        }
    }

    /// The emulated ITS, once a step used it.
    pub fn emulated_its(&self) -> Option<&Its> {
        self.vits.as_deref()
    }

    /// Guest RAM as the VM's devices see it (the regions of `vm.memory`).
    pub fn guest_memory(&mut self) -> &mut GuestMemory {
        let layout = self.state.config.memory;
        self.memory
            .get_or_insert_with(|| Box::new(layout.memory(GUEST_PAGE_LIMIT)))
    }

    /// What the ITS reads from the redistributors, from the vGIC's registers:
    /// the VM's PROPBASER, and each created vCPU's PENDBASER and EnableLPIs.
    pub fn redistributors(&self) -> Redistributors {
        let online = match &self.setup {
            Some(st) => st.vcpus.len(),
            None => self.state.redists.len(),
        };
        Redistributors {
            propbaser: self.state.dist.propbaser,
            vcpus: self
                .state
                .redists
                .iter()
                .take(online)
                .map(|rd| RedistLpis {
                    enable_lpis: rd.ctlr & GicrCtlr::ENABLE_LPIS.mask32() != 0,
                    pendbaser: rd.pendbaser,
                })
                .collect(),
        }
    }

    /// Run `f` on the ITS device (created on first use, as `vgic_its_create`
    /// made it, with the base `set_addr` gave it) with guest memory and the
    /// redistributors; `None` if the VM has no ITS. Returns what `f` returned
    /// and every event the ITS reported; LPIs follow into the vGIC.
    fn with_its<R>(
        &mut self,
        f: impl FnOnce(&mut Its, &mut Bus) -> R,
    ) -> Option<(R, Vec<ItsEvent>)> {
        if !self.has_its_device() {
            return None;
        }
        let redists = self.redistributors();
        let (base, ipa_bits) = match &self.setup {
            Some(st) => (st.its_base, st.ipa_bits as u32),
            None => (Some(DEFAULT_ITS_BASE), DEFAULT_IPA_BITS),
        };
        let kernel = self.host.kernel;
        let layout = self.state.config.memory;
        // The vGIC's pending state of each LPI (an acknowledged LPI is no longer pending).
        let pending: Vec<(u32, bool)> = self
            .live
            .lpis
            .iter()
            .map(|(&i, irq)| (i, Vgic::lpi_pending_for_its(irq)))
            .collect();
        let its = self.vits.get_or_insert_with(|| Box::new(Its::new(kernel)));
        if its.address() == vits::ADDR_UNDEF {
            if let Some(b) = base {
                // setup.rs checked the address as KVM does.
                let _ = its.set_address(b, ipa_bits);
            }
        }
        for (intid, p) in pending {
            its.set_lpi_pending(intid, p);
        }
        let mem = self
            .memory
            .get_or_insert_with(|| Box::new(layout.memory(GUEST_PAGE_LIMIT)));
        let mut events: Vec<ItsEvent> = Vec::new();
        let r = {
            let mut bus = Bus {
                mem,
                redists: &redists,
                observer: &mut events,
            };
            f(its, &mut bus)
        };
        self.follow_lpis(&events);
        Some((r, events))
    }

    /// Bring the vGIC's LPIs in line with the ITS after an operation, and
    /// queue those the operation made pending (`vgic_queue_irq_unlock`).
    fn follow_lpis(&mut self, events: &[ItsEvent]) {
        let Some(its) = self.vits.as_deref() else {
            return;
        };
        let lpis: Vec<vits::LpiState> = its.lpis().copied().collect();
        let keep: std::collections::BTreeSet<u32> = lpis.iter().map(|l| l.intid).collect();
        let gone: Vec<u32> = self
            .live
            .lpis
            .keys()
            .copied()
            .filter(|i| !keep.contains(i))
            .collect();
        for intid in gone {
            // vgic_put_irq of the last reference: the LPI leaves every ap_list.
            self.live.lpis.remove(&intid);
            for l in &mut self.live.ap_lists {
                l.retain(|&i| i != intid);
            }
        }
        for l in &lpis {
            let irq = self.live.lpis.entry(l.intid).or_insert_with(|| IrqState {
                // vgic_add_lpi: Group 1, edge.
                group: true,
                enabled: false,
                pending_latch: false,
                line_level: false,
                active: false,
                priority: 0,
                edge: true,
                mpidr: u32::MAX,
                hw: false,
                hw_pending: false,
            });
            irq.enabled = l.enabled;
            irq.priority = l.priority;
            irq.pending_latch = l.pending;
            // irq->target_vcpu; u32::MAX names no vCPU.
            irq.mpidr = l.target.map_or(u32::MAX, vcpu_mpidr);
        }
        let events = self.follow_vlpis(events);
        let mut queue = Vec::new();
        for e in events {
            match *e {
                ItsEvent::LpiPending { intid, vcpu } => {
                    self.emit(
                        Hop::new(
                            Layer::Redistributor,
                            "vgic_its_trigger_msi",
                            format!("LPI {intid} pending for vCPU {vcpu}'s redistributor"),
                        )
                        .vcpu(vcpu)
                        .intid(intid)
                        .source("arch/arm64/kvm/vgic/vgic-its.c: vgic_its_trigger_msi"),
                    );
                    queue.push((vcpu, intid));
                }
                ItsEvent::LpiConfigured { intid, .. } | ItsEvent::LpiTargeted { intid, .. } => {
                    if let Some(t) = lpis
                        .iter()
                        .find(|l| l.intid == intid)
                        .and_then(|l| l.target)
                    {
                        queue.push((t, intid));
                    }
                }
                _ => {}
            }
        }
        for (vcpu, intid) in queue {
            if vcpu < self.state.config.vcpus {
                self.queue_irq(vcpu, intid);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn its_outcome(
        &self,
        path: Path,
        op: Op,
        offset: u32,
        width: u8,
        register: String,
        value: u64,
        refusal: Option<(Errno, String)>,
        events: &[ItsEvent],
    ) -> Outcome {
        let mut cx = Ctx::new();
        for e in events {
            match e {
                ItsEvent::Rule { rule } => cx.rule(rule),
                ItsEvent::Command { command, error, .. } => cx.note(match error {
                    None => format!("{} handled", command_name(command)),
                    Some(err) => format!("{} dropped: {err}", command_name(command)),
                }),
                ItsEvent::CommandUnreadable { gpa, .. } => cx.note(format!(
                    "the command at {gpa:#x} is outside guest memory: skipped"
                )),
                _ => {}
            }
        }
        // The rule behind KVM's errno (ItsError::Kvm names it).
        let errno = refusal.map(|(e, id)| {
            if let Some(r) = crate::rules::by_id(&id) {
                cx.rule(r);
            }
            e
        });
        self.outcome(
            path,
            op,
            Some(Frame::Its),
            0,
            offset,
            width,
            Some(register),
            value,
            errno,
            cx,
        )
    }

    fn no_its(&self, path: Path, op: Op, offset: u32, what: &str) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(&vits::rules::MSI_NO_ITS);
        cx.note(format!("{what}: the VM has no ITS device"));
        self.outcome(
            path,
            op,
            Some(Frame::Its),
            0,
            offset,
            64,
            Some(what.to_string()),
            0,
            Some(Errno::ENODEV),
            cx,
        )
    }

    /// A guest access needs the ITS's frame in the guest's address space: in a
    /// VM built by steps, after `set_addr` its (before, no KVM device answers
    /// there and the access would exit to the VMM, which a scenario cannot say).
    fn check_its_mapped(&self) -> Result<(), AccessError> {
        match &self.setup {
            Some(st) if st.its && st.its_base.is_none() => Err(AccessError::Setup(
                "the guest accesses the ITS, but the ITS has no address yet: add {\"op\": \"set_addr\", \"addr\": \"its\", \"base\": ...} before".into(),
            )),
            _ => Ok(()),
        }
    }

    /// A guest load from the ITS frame.
    pub fn its_guest_read(&mut self, offset: u32, width: u8) -> Result<Outcome, AccessError> {
        check_guest(offset, width)?;
        self.check_its_mapped()?;
        let Some((v, ev)) = self.with_its(|its, bus| its.guest_read(bus, offset, width)) else {
            return Ok(self.no_its(Path::Guest, Op::Read, offset, "ITS frame"));
        };
        Ok(self.its_outcome(
            Path::Guest,
            Op::Read,
            offset,
            width,
            regs::name(offset),
            v,
            None,
            &ev,
        ))
    }

    /// A guest store to the ITS frame.
    pub fn its_guest_write(
        &mut self,
        offset: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        check_guest(offset, width)?;
        self.check_its_mapped()?;
        if width < 64 && value >> width != 0 {
            return Err(AccessError::ValueTooWide { value, width });
        }
        let Some(((), ev)) = self.with_its(|its, bus| its.guest_write(bus, offset, width, value))
        else {
            return Ok(self.no_its(Path::Guest, Op::Write, offset, "ITS frame"));
        };
        Ok(self.its_outcome(
            Path::Guest,
            Op::Write,
            offset,
            width,
            regs::name(offset),
            value,
            None,
            &ev,
        ))
    }

    /// `KVM_{GET,SET,HAS}_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset)`
    /// on the ITS device (64-bit values).
    pub fn its_user_access(
        &mut self,
        op: Op,
        offset: u32,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        let off = offset as u64;
        let Some((res, ev)) = self.with_its(|its, bus| match op {
            Op::Read => its.user_read(bus, off),
            Op::Write => its.user_write(bus, off, value).map(|()| value),
            _ => its.has_attr(vits::GRP_ITS_REGS, off).map(|()| 0),
        }) else {
            return Ok(self.no_its(Path::User, op, offset, "ITS_REGS"));
        };
        let (v, errno) = split(res)?;
        Ok(self.its_outcome(
            Path::User,
            op,
            offset,
            64,
            regs::name(offset),
            v,
            errno,
            &ev,
        ))
    }

    /// A guest driver queuing one command: the 32 bytes written at CWRITER in
    /// the command queue, CWRITER advanced through guest MMIO
    /// (`its_send_single_command`). The outcome's value is GITS_CREADR after.
    pub fn its_queue_command(&mut self, cmd: &Command) -> Result<Outcome, AccessError> {
        self.check_its_mapped()?;
        let Some((res, ev)) = self.with_its(|its, bus| {
            let r = its.queue_command(bus, cmd);
            let creadr = its.guest_read(bus, regs::GITS_CREADR, 64);
            (r, creadr)
        }) else {
            return Ok(self.no_its(Path::Guest, Op::Write, regs::GITS_CWRITER, "GITS_CWRITER"));
        };
        let (r, creadr) = res;
        if let Err(e) = r {
            // The guest's own store to its queue faulted: not a KVM error but an
            // impossible scenario (the queue is outside the VM's memory).
            return Err(AccessError::Setup(format!(
                "the guest cannot write its command queue (GITS_CBASER points outside vm.memory): {e}"
            )));
        }
        let mut o = self.its_outcome(
            Path::Guest,
            Op::Write,
            regs::GITS_CWRITER,
            64,
            "GITS_CWRITER".into(),
            creadr,
            None,
            &ev,
        );
        if !ev.iter().any(|e| matches!(e, ItsEvent::Command { .. })) {
            o.notes.insert(
                0,
                "not processed (the ITS is disabled or CWRITER is beyond the queue)".into(),
            );
        }
        Ok(o)
    }

    /// `KVM_SIGNAL_MSI` (`kvm_send_userspace_msi` → `kvm_set_msi` →
    /// `vgic_its_inject_msi`): 1 delivered, 0 blocked, or an errno.
    pub fn signal_msi(
        &mut self,
        addr: u64,
        devid: Option<u32>,
        data: u32,
    ) -> Result<Outcome, AccessError> {
        if !self.has_its_device() {
            // vgic-irqfd.c kvm_set_msi: `if (!vgic_has_its(kvm)) return -ENODEV;`
            return Ok(self.no_its(Path::User, Op::Write, 0, "KVM_SIGNAL_MSI"));
        }
        self.emit(
            Hop::new(
                Layer::Kvm,
                "KVM_SIGNAL_MSI",
                format!(
                    "device {} writes {data} to {addr:#x}",
                    devid.map_or("(no devid)".into(), |d| format!("{d:#x}"))
                ),
            )
            .source("virt/kvm/irqchip.c: kvm_send_userspace_msi; arch/arm64/kvm/vgic/vgic-its.c: vgic_its_inject_msi"),
        );
        // vgic_its_resolve_lpi: the device table, the device's ITT, the collection.
        let translation = devid.and_then(|d| {
            self.vits
                .as_deref()
                .filter(|i| i.enabled())
                .and_then(|i| i.translate(d, data))
        });
        if let Some(t) = translation {
            self.emit(
                Hop::new(
                    Layer::Its,
                    "vgic_its_resolve_lpi",
                    format!(
                        "device {:#x} event {data} → LPI {} in collection {} → vCPU {}",
                        devid.unwrap_or(0),
                        t.intid,
                        t.collection.map_or("(none)".into(), |c| c.to_string()),
                        t.vcpu.map_or("(none)".into(), |v| v.to_string())
                    ),
                )
                .intid(t.intid)
                .source("arch/arm64/kvm/vgic/vgic-its.c: vgic_its_resolve_lpi"),
            );
        }
        let Some((res, ev)) = self.with_its(|its, bus| its.signal_msi(bus, addr, devid, data))
        else {
            return Ok(self.no_its(Path::User, Op::Write, 0, "KVM_SIGNAL_MSI"));
        };
        let (v, errno) = split(res.map(u64::from))?;
        // The ioctl's return value is the step's value (1 delivered, 0 blocked).
        Ok(self.its_outcome(
            Path::User,
            Op::Read,
            regs::GITS_TRANSLATER,
            32,
            "KVM_SIGNAL_MSI".into(),
            v,
            errno,
            &ev,
        ))
    }

    /// `KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL, attr)` on the ITS device.
    pub fn its_ctrl(&mut self, attr: u64) -> Result<Outcome, AccessError> {
        let Some((res, ev)) = self.with_its(|its, bus| its.ctrl(bus, attr)) else {
            return Ok(self.no_its(Path::User, Op::Write, 0, "ITS GRP_CTRL"));
        };
        let (_, errno) = split(res.map(|()| 0))?;
        let name = match attr {
            vits::CTRL_INIT => "KVM_DEV_ARM_VGIC_CTRL_INIT".to_string(),
            vits::CTRL_SAVE_TABLES => "KVM_DEV_ARM_ITS_SAVE_TABLES".into(),
            vits::CTRL_RESTORE_TABLES => "KVM_DEV_ARM_ITS_RESTORE_TABLES".into(),
            vits::CTRL_RESET => "KVM_DEV_ARM_ITS_CTRL_RESET".into(),
            a => format!("GRP_CTRL attribute {a}"),
        };
        Ok(self.its_outcome(Path::User, Op::Write, 0, 64, name, attr, errno, &ev))
    }

    /// `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES` on the vGIC device
    /// (vgic-v3.c `vgic_v3_save_pending_tables`): for each LPI with a target
    /// vCPU, its bit in that vCPU's pending table (GICR_PENDBASER [51:16] +
    /// INTID / 8) is made to match `pending_latch`, reading the byte first
    /// (-EFAULT outside guest memory) and writing it only when it differs.
    pub fn save_pending_tables(&mut self) -> Outcome {
        if self.era() >= crate::host::Era::V5_13
            && self.state.lifecycle == super::Lifecycle::Created
        {
            let mut cx = Ctx::new();
            cx.rule(&vits::rules::SAVE_PENDING_TABLES_UNINIT);
            return self.outcome(
                Path::User,
                Op::Write,
                None,
                0,
                0,
                64,
                Some("KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES".into()),
                0,
                Some(Errno::ENXIO),
                cx,
            );
        }
        type Saved = (bool, Option<&'static crate::rules::Rule>);
        let lpis: Vec<(u32, u32, Saved)> = self
            .live
            .lpis
            .iter()
            .filter_map(|(&intid, irq)| {
                let t = super::mpidr_to_vcpu(irq.mpidr, self.state.config.vcpus)?;
                Some((intid, t, self.saved_lpi_pending(irq)))
            })
            .collect();
        // vLPIs: the virtual pending table's bit, or (GICv4.0, before 5.13) lost.
        let vlpi_rule = lpis.iter().find_map(|(_, _, (_, r))| *r);
        let lpis: Vec<(u32, u32, bool)> =
            lpis.into_iter().map(|(i, t, (p, _))| (i, t, p)).collect();
        let bases: Vec<u64> = self
            .state
            .redists
            .iter()
            .map(|rd| rd.pendbaser & 0x000f_ffff_ffff_0000)
            .collect();
        let mem = self.guest_memory();
        let mut last: Option<(u64, u8)> = None;
        let mut err: Option<MemError> = None;
        let mut written = 0;
        for (intid, vcpu, pending) in lpis {
            let ptr = bases[vcpu as usize] + (intid / 8) as u64;
            let bit = 1u8 << (intid % 8);
            let mut val = match last {
                Some((p, v)) if p == ptr => v,
                _ => {
                    let mut b = [0u8];
                    if let Err(e) = mem.read(ptr, &mut b) {
                        err = Some(e);
                        break;
                    }
                    b[0]
                }
            };
            last = Some((ptr, val));
            if (val & bit != 0) == pending {
                continue;
            }
            if pending {
                val |= bit;
            } else {
                val &= !bit;
            }
            if let Err(e) = mem.write(ptr, &[val]) {
                err = Some(e);
                break;
            }
            last = Some((ptr, val));
            written += 1;
        }
        let mut cx = Ctx::new();
        cx.rule(&vits::rules::SAVE_PENDING_TABLES);
        if let Some(r) = vlpi_rule {
            cx.rule(r);
        }
        cx.note(format!("{written} pending-table bytes written"));
        let errno = err.map(|e| {
            cx.note(e.to_string());
            e.errno()
        });
        self.outcome(
            Path::User,
            Op::Write,
            None,
            0,
            0,
            64,
            Some("KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES".into()),
            0,
            errno,
            cx,
        )
    }

    /// A GICR_INVLPIR (`intid`) or GICR_INVALLR (`None`) write that KVM acts on
    /// (`vgic_mmio_write_invlpi` / `vgic_mmio_write_invall`, 5.19+): the ITS
    /// re-reads the configuration and a pending, enabled LPI is queued.
    pub(crate) fn redist_invalidate(&mut self, vcpu: u32, intid: Option<u32>) {
        let _ = self.with_its(|its, bus| match intid {
            Some(i) => its.inv_lpi(bus, i),
            None => its.inv_all(bus, vcpu),
        });
    }

    /// `vgic_flush_pending_lpis` (GICR_CTLR.EnableLPIs 1 -> 0): the vCPU's
    /// LPIs leave its ap_list; their pending state stays.
    pub(crate) fn flush_pending_lpis(&mut self, vcpu: u32) {
        if let Some(l) = self.live.ap_lists.get_mut(vcpu as usize) {
            l.retain(|&i| i < vits::LPI_OFFSET);
        }
    }

    /// `vgic_enable_lpis` → `its_sync_lpi_pending_table` (GICR_CTLR.EnableLPIs
    /// 0 -> 1): each LPI targeting the vCPU takes its pending state from the
    /// vCPU's pending table (byte INTID / 8 at GICR_PENDBASER [51:16]) and is
    /// queued; a byte outside guest memory stops the sync (KVM ignores the error).
    pub(crate) fn sync_lpi_pending_table(&mut self, vcpu: u32) {
        if self.live.lpis.is_empty() {
            return;
        }
        let base = self.state.redists[vcpu as usize].pendbaser & 0x000f_ffff_ffff_0000;
        let mpidr = vcpu_mpidr(vcpu);
        let intids: Vec<u32> = self
            .live
            .lpis
            .iter()
            .filter(|(_, irq)| irq.mpidr == mpidr)
            .map(|(&i, _)| i)
            .collect();
        for intid in intids {
            let mut b = [0u8];
            if self
                .guest_memory()
                .read(base + (intid / 8) as u64, &mut b)
                .is_err()
            {
                return;
            }
            if let Some(irq) = self.live.lpis.get_mut(&intid) {
                irq.pending_latch = b[0] & (1 << (intid % 8)) != 0;
            }
            self.queue_irq(vcpu, intid);
        }
    }

    /// The VMM writes guest RAM (scenario `mem_write`; validated to lie in `vm.memory`).
    pub fn mem_write(&mut self, addr: u64, width: u8, value: u64) -> Outcome {
        let bytes = value.to_le_bytes();
        let res = self
            .guest_memory()
            .write(addr, &bytes[..width as usize / 8]);
        self.mem_outcome(Op::Write, addr, width, value, res.err())
    }

    /// The VMM reads guest RAM (scenario `mem_read`).
    pub fn mem_read(&mut self, addr: u64, width: u8) -> Outcome {
        let mut b = [0u8; 8];
        let res = self.guest_memory().read(addr, &mut b[..width as usize / 8]);
        let v = u64::from_le_bytes(b);
        self.mem_outcome(Op::Read, addr, width, v, res.err())
    }

    fn mem_outcome(
        &self,
        op: Op,
        addr: u64,
        width: u8,
        value: u64,
        err: Option<MemError>,
    ) -> Outcome {
        let mut cx = Ctx::new();
        let errno = err.map(|e| {
            cx.note(e.to_string());
            e.errno()
        });
        self.outcome(
            Path::User,
            op,
            None,
            0,
            0,
            width,
            Some(format!("guest memory {addr:#x}")),
            value,
            errno,
            cx,
        )
    }
}

fn command_name(c: &Command) -> String {
    match *c {
        Command::Mapd {
            device,
            eventid_bits,
            itt_addr,
            valid,
        } => format!(
            "MAPD device {device:#x}, {eventid_bits} event-ID bits, ITT {itt_addr:#x}, V={}",
            valid as u8
        ),
        Command::Mapc {
            collection,
            target,
            valid,
        } => format!(
            "MAPC collection {collection} → vCPU {target}, V={}",
            valid as u8
        ),
        Command::Mapti {
            device,
            event,
            intid,
            collection,
        } => {
            format!("MAPTI device {device:#x} event {event} → LPI {intid}, collection {collection}")
        }
        Command::Mapi {
            device,
            event,
            collection,
        } => format!("MAPI device {device:#x} event {event}, collection {collection}"),
        Command::Movi {
            device,
            event,
            collection,
        } => format!("MOVI device {device:#x} event {event} → collection {collection}"),
        Command::Discard { device, event } => format!("DISCARD device {device:#x} event {event}"),
        Command::Clear { device, event } => format!("CLEAR device {device:#x} event {event}"),
        Command::Int { device, event } => format!("INT device {device:#x} event {event}"),
        Command::Inv { device, event } => format!("INV device {device:#x} event {event}"),
        Command::Invall { collection } => format!("INVALL collection {collection}"),
        Command::Sync { target } => format!("SYNC vCPU {target}"),
        Command::Movall { from, to } => format!("MOVALL vCPU {from} → vCPU {to}"),
        Command::Other { number } => format!("command {number:#04x}"),
    }
}

/// A guest access the CPU cannot make (a width that is no load or store, or
/// outside the 128 KiB ITS frame).
fn check_guest(offset: u32, width: u8) -> Result<(), AccessError> {
    if ![8, 16, 32, 64].contains(&width) {
        return Err(AccessError::BadWidth(width));
    }
    if offset >= Frame::Its.size() {
        return Err(AccessError::OutsideFrame {
            frame: Frame::Its,
            offset,
            size: Frame::Its.size(),
        });
    }
    Ok(())
}

/// An ITS result as (value, errno). A failure KVM gives no errno for (a
/// host oops, a state gicx does not model, the model's table bound) cannot
/// be an expectation of a scenario: the step stops with its reason.
fn split(res: Result<u64, ItsError>) -> Result<(u64, Option<(Errno, String)>), AccessError> {
    match res {
        Ok(v) => Ok((v, None)),
        Err(ItsError::Kvm { errno, rule, .. }) => Ok((0, Some((errno, rule.to_string())))),
        Err(e) => Err(AccessError::Setup(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{self, Step};
    use proptest::prelude::*;

    const SETUP: &str = include_str!("../../../tests/scenarios/its-commands.json");

    /// One random ITS-related step, as JSON: commands with fields in and out of
    /// range, MSIs, ITS register writes on both paths, table saves and
    /// restores, resets, acknowledges.
    fn step_json(k: u8, a: u8, b: u8, c: u8) -> String {
        let (a, b, c) = (a % 8, b % 20, c % 4);
        match k % 14 {
            0 => format!(
                r#"{{"op": "its_command", "cmd": "mapd", "device": {a}, "eventid_bits": {}, "itt_addr": "{:#x}", "valid": {}}}"#,
                b + 1,
                0x5030_0000 + (a as u64) * 0x1000,
                c != 0
            ),
            1 => format!(
                r#"{{"op": "its_command", "cmd": "mapc", "collection": {c}, "target": {}, "valid": {}}}"#,
                b % 3,
                a != 0
            ),
            2 => format!(
                r#"{{"op": "its_command", "cmd": "mapti", "device": {a}, "event": {b}, "intid": {}, "collection": {c}}}"#,
                8190 + b as u32
            ),
            3 => format!(
                r#"{{"op": "its_command", "cmd": "movi", "device": {a}, "event": {b}, "collection": {c}}}"#
            ),
            4 => format!(
                r#"{{"op": "its_command", "cmd": "{}", "device": {a}, "event": {b}}}"#,
                ["discard", "clear", "int", "inv"][c as usize]
            ),
            5 => format!(r#"{{"op": "its_command", "cmd": "invall", "collection": {c}}}"#),
            6 => format!(
                r#"{{"op": "its_command", "cmd": "movall", "from": {}, "to": {}}}"#,
                a % 3,
                b % 3
            ),
            7 => format!(r#"{{"op": "msi", "addr": "0x08090040", "data": {b}, "devid": {a}}}"#),
            8 => format!(r#"{{"op": "ack", "vcpu": {}}}"#, c % 2),
            9 => format!(
                r#"{{"op": "guest_write", "reg": "GITS_CTLR", "value": {}}}"#,
                c % 2
            ),
            10 => format!(
                r#"{{"op": "its_ctrl", "attr": "{}"}}"#,
                ["save_tables", "restore_tables", "reset", "init"][c as usize]
            ),
            11 => r#"{"op": "save_pending_tables"}"#.to_string(),
            12 => format!(
                r#"{{"op": "guest_write", "reg": "GICR_CTLR", "vcpu": {}, "value": {}}}"#,
                c % 2,
                a % 2
            ),
            _ => format!(
                r#"{{"op": "user_write", "reg": "GITS_BASER{}", "value": "{:#x}"}}"#,
                c % 2,
                0x8000_0000_5000_0000u64 + (c as u64 % 2) * 0x10_0000
            ),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// Whatever a guest and a VMM do to the ITS, nothing panics, every
        /// step is an outcome or a named error, and the vGIC's LPIs are
        /// exactly the ITS's (one source of truth for mappings, pending
        /// state handed across).
        #[test]
        fn random_its_sequences_keep_the_lpis_in_step(
            ops in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), 1..60)
        ) {
            let base = scenario::parse(SETUP).unwrap();
            let mut vm = crate::vgic::Vgic::new(base.host, base.vm);
            for (i, s) in base.steps.iter().enumerate() {
                scenario::run_step(&mut vm, i, s).unwrap();
            }
            for (j, (k, a, b, c)) in ops.into_iter().enumerate() {
                let text = step_json(k, a, b, c);
                let step: Step = serde_json::from_str(&text).unwrap();
                let r = scenario::run_step(&mut vm, base.steps.len() + j, &step);
                if let Err(e) = &r {
                    // The refusals, each named: a queue the guest itself
                    // cannot write (nothing happened); a host oops KVM has no
                    // errno for, or a state gicx does not model (the run stops).
                    let e = e.to_string();
                    if e.contains("dereferences NULL") || e.contains("gicx does not model") {
                        break;
                    }
                    prop_assert!(e.contains("cannot write its command queue"), "{}: {}", text, e);
                }
                let its: Vec<u32> = vm.emulated_its().map(|i| i.lpis().map(|l| l.intid).collect()).unwrap_or_default();
                let ours: Vec<u32> = vm.live.lpis.keys().copied().collect();
                prop_assert_eq!(&its, &ours, "after {}", text);
                // The pending state crosses at ITS operations: after an
                // acknowledge or a redistributor's own change the ITS's copy is
                // refreshed by the next one.
                let through_its = !matches!(k % 14, 8 | 11 | 12);
                for l in vm.emulated_its().into_iter().flat_map(|i| i.lpis()).filter(|_| through_its) {
                    let irq = &vm.live.lpis[&l.intid];
                    prop_assert_eq!(irq.pending_latch, l.pending, "LPI {} after {}", l.intid, text);
                    prop_assert_eq!(irq.enabled, l.enabled);
                    prop_assert_eq!(irq.priority, l.priority);
                }
            }
        }
    }
}
