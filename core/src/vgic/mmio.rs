//! Dispatch, after vgic-mmio.c (`dispatch_mmio_read`/`write`, `vgic_uaccess`,
//! `check_region`) and vgic-kvm-device.c (`vgic_v3_attr_regs_access`, HAS_ATTR):
//! frame and offset checks, widths, the private slice, the nr_irqs bound,
//! init/EBUSY, then the catalogue's `Handler`.

use super::observer::{AccessObserver, Recorder};
use super::{Access, AccessError, Ctx, Lifecycle, Op, Outcome, Path, Vgic, NR_PRIVATE_IRQS};
use crate::catalogue::{self, Frame, GicrStatusr, RegisterDesc};
use crate::errno::Errno;
use crate::rules::{self as r, Rule};

impl Vgic {
    /// One access ([`Access`]): a guest load or store, or a VMM's
    /// `KVM_{GET,SET,HAS}_DEVICE_ATTR`. The positional methods below are
    /// shorthands for it. A userspace write's value must fit in 32 bits;
    /// `Init`/`Run` are [`Vgic::init`]/[`Vgic::run`], not accesses.
    pub fn access(&mut self, a: Access) -> Result<Outcome, AccessError> {
        match (a.path, a.op) {
            (Path::Guest, Op::Read) => {
                self.guest_access(Op::Read, a.frame, a.vcpu, a.offset, a.width, 0)
            }
            (Path::Guest, Op::Write) => {
                self.guest_access(Op::Write, a.frame, a.vcpu, a.offset, a.width, a.value)
            }
            (Path::User, _) if a.width != 32 => Err(AccessError::UserWidth(a.width)),
            (Path::User, Op::Read | Op::Has) => {
                self.user_access(a.op, a.frame, a.vcpu, a.offset, 0)
            }
            (Path::User, Op::Write) => {
                if a.value >> 32 != 0 {
                    return Err(AccessError::ValueTooWide {
                        value: a.value,
                        width: 32,
                    });
                }
                self.user_access(Op::Write, a.frame, a.vcpu, a.offset, a.value)
            }
            (_, op) => Err(AccessError::NotAnAccess(op)),
        }
    }

    /// A guest MMIO read of `width` bits at `offset` of `frame`, by vCPU `vcpu`
    /// (for the redistributor frame: the redistributor of vCPU `vcpu`).
    pub fn guest_read(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
    ) -> Result<Outcome, AccessError> {
        self.guest_access(Op::Read, frame, vcpu, offset, width, 0)
    }

    /// A guest MMIO write.
    pub fn guest_write(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        self.guest_access(Op::Write, frame, vcpu, offset, width, value)
    }

    /// `KVM_GET_DEVICE_ATTR` on DIST_REGS (vcpu ignored: vCPU 0) or REDIST_REGS (vcpu's MPIDR).
    pub fn user_read(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Read, frame, vcpu, offset, 0)
    }

    /// `KVM_SET_DEVICE_ATTR`.
    pub fn user_write(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Write, frame, vcpu, offset, value as u64)
    }

    /// `KVM_HAS_DEVICE_ATTR` (`vgic_v3_has_attr_regs`).
    pub fn user_has(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Has, frame, vcpu, offset, 0)
    }

    /// Read a register as the guest would, without recording an observation and
    /// without the lifecycle check (for views and comparisons).
    pub fn peek_guest(&self, frame: Frame, vcpu: u32, offset: u32, width: u8) -> Option<u64> {
        let mut copy = self.clone();
        copy.state.lifecycle = Lifecycle::HasRun;
        copy.dispatch(Path::Guest, Op::Read, frame, vcpu, offset, width, 0)
            .ok()
            .map(|o| o.value)
    }

    /// [`Vgic::peek_guest`] of several registers (frame, vCPU, offset, width) with one
    /// copy of the VM, for reads without side effects (ID and capability registers).
    pub fn peek_guest_many(&self, regs: &[(Frame, u32, u32, u8)]) -> Vec<Option<u64>> {
        if regs.is_empty() {
            return Vec::new();
        }
        let mut copy = self.clone();
        copy.state.lifecycle = Lifecycle::HasRun;
        regs.iter()
            .map(|&(frame, vcpu, offset, width)| {
                copy.dispatch(Path::Guest, Op::Read, frame, vcpu, offset, width, 0)
                    .ok()
                    .map(|o| o.value)
            })
            .collect()
    }

    /// Read a register as userspace would (ignoring lifecycle errors).
    pub fn peek_user(&self, frame: Frame, vcpu: u32, offset: u32) -> Option<u64> {
        let mut copy = self.clone();
        if copy.state.lifecycle == Lifecycle::Created {
            copy.state.lifecycle = Lifecycle::Initialised;
        }
        copy.dispatch(Path::User, Op::Read, frame, vcpu, offset, 32, 0)
            .ok()
            .filter(|o| o.ok())
            .map(|o| o.value)
    }

    fn guest_access(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        if ![8, 16, 32, 64].contains(&width) {
            return Err(AccessError::BadWidth(width));
        }
        if width < 64 && value >> width != 0 {
            return Err(AccessError::ValueTooWide { value, width });
        }
        self.check_frame(frame, offset)?;
        if vcpu >= self.state.config.vcpus {
            return Err(AccessError::NoSuchVcpu {
                vcpu,
                vcpus: self.state.config.vcpus,
            });
        }
        if self.state.lifecycle != Lifecycle::HasRun {
            // The accessing vCPU: the distributor's from the step, vCPU 0 for a
            // redistributor (gicx-kvm's convention, docs/scenario-format.md).
            let accessor = if frame == Frame::Dist { vcpu } else { 0 };
            if !self.state.failed_run.counted_as_run.contains(&accessor) {
                return Err(AccessError::GuestNotRunning);
            }
            if frame == Frame::Dist {
                // No KVM io device at the distributor's address: the data
                // abort becomes KVM_EXIT_MMIO (io_mem_abort), the VMM's to handle.
                let mut cx = Ctx::new();
                cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
                cx.rule(&r::GUEST_UNMAPPED_DIST_EXITS);
                cx.note(
                    "the distributor was never mapped: the access exits to the VMM (KVM_EXIT_MMIO)",
                );
                let register = crate::catalogue::instance_at(frame, offset).map(|x| x.name());
                return Ok(self.outcome(
                    Path::Guest,
                    op,
                    Some(frame),
                    vcpu,
                    offset,
                    width,
                    register,
                    value,
                    None,
                    cx,
                ));
            }
            // Redistributors are registered as the vCPUs are created
            // (vgic_register_redist_iodev): they answer.
        }
        let out = self.dispatch(Path::Guest, op, frame, vcpu, offset, width, value)?;
        if op == Op::Read {
            if let Some(name) = &out.register {
                let key = if frame == Frame::Redist {
                    format!("{name}@vcpu{vcpu}")
                } else {
                    name.clone()
                };
                self.observed.reads.insert(key, out.value);
            }
        } else {
            // The running vCPUs exit and re-enter before the next step (crate::delivery).
            self.settle();
        }
        Ok(out)
    }

    /// The userspace path through [`Vgic::user_access_observed`], kept as an
    /// [`Outcome`] with the register's name.
    fn user_access(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        let mut seen = Recorder::default();
        let (v, errno) = self.user_access_observed(op, frame, vcpu, offset, value, &mut seen)?;
        Ok(Outcome {
            path: Path::User,
            op,
            frame: Some(frame),
            vcpu,
            offset,
            width: 32,
            register: catalogue::instance_at(frame, offset).map(|r| r.name()),
            value: v,
            errno,
            rules: seen.rules,
            notes: seen.notes,
            trace: Vec::new(),
        })
    }

    /// The userspace path (`KVM_{GET,SET,HAS}_DEVICE_ATTR` on `frame`, 32 bits):
    /// the one path every userspace register access takes (`user_read`,
    /// `user_write`, `user_has`, and crate::vmm's bulk replays). Returns the
    /// value and errno; the rules and notes go to `observer` (a
    /// [`crate::vgic::NoopObserver`] or a `Vec<&Rule>` for bulk replays, which
    /// then format no note).
    pub fn user_access_observed(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u64,
        observer: &mut dyn AccessObserver,
    ) -> Result<(u64, Option<Errno>), AccessError> {
        self.check_frame(frame, offset)?;
        let mut cx = Ctx::observing(observer);
        let out = self.dispatch_in(Path::User, op, frame, vcpu, offset, 32, value, &mut cx);
        if op == Op::Write {
            self.settle();
        }
        Ok(out)
    }

    fn check_frame(&self, frame: Frame, offset: u32) -> Result<(), AccessError> {
        if offset >= frame.size() {
            return Err(AccessError::OutsideFrame {
                frame,
                offset,
                size: frame.size(),
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn outcome(
        &self,
        path: Path,
        op: Op,
        frame: Option<Frame>,
        vcpu: u32,
        offset: u32,
        width: u8,
        register: Option<String>,
        value: u64,
        errno: Option<Errno>,
        cx: Ctx,
    ) -> Outcome {
        let kept = cx.into_recorder();
        Outcome {
            path,
            op,
            frame,
            vcpu,
            offset,
            width,
            register,
            value,
            errno,
            rules: kept.rules,
            notes: kept.notes,
            trace: Vec::new(),
        }
    }

    /// The checks `vgic_v3_parse_attr` and `vgic_v3_attr_regs_access`
    /// (vgic-kvm-device.c, 4.19+) make for every device-attribute group before its
    /// handler, as the groups outside the register frames (CPU_SYSREGS, LEVEL_INFO)
    /// meet them: the MPIDR names no vCPU (-EINVAL), the vGIC is not initialised
    /// (-EBUSY). (DIST_REGS/REDIST_REGS go through `dispatch_in`, which has the
    /// 6.17 pre-init exceptions.)
    pub(super) fn attr_precheck(&self, vcpu: u32, cx: &mut Ctx) -> Option<Errno> {
        if vcpu >= self.state.config.vcpus {
            cx.rule(&r::UACCESS_BAD_MPIDR);
            return Some(Errno::EINVAL);
        }
        if self.state.lifecycle == Lifecycle::Created {
            cx.rule(&r::UACCESS_BEFORE_INIT);
            return Some(Errno::EBUSY);
        }
        None
    }

    /// `dispatch_mmio_*` (guest) and `vgic_v3_attr_regs_access` + `vgic_uaccess` /
    /// `vgic_v3_has_attr_regs` (userspace).
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &mut self,
        path: Path,
        op: Op,
        frame: Frame,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        let register = catalogue::instance_at(frame, off).map(|r| r.name());
        let mut cx = Ctx::new();
        let (v, errno) = self.dispatch_in(path, op, frame, vcpu, off, width, value, &mut cx);
        Ok(self.outcome(
            path,
            op,
            Some(frame),
            vcpu,
            off,
            width,
            register,
            v,
            errno,
            cx,
        ))
    }

    /// The dispatch itself: the value read (or written) and the errno; the rules and
    /// notes go to `cx`.
    #[allow(clippy::too_many_arguments)]
    fn dispatch_in(
        &mut self,
        path: Path,
        op: Op,
        frame: Frame,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
        cx: &mut Ctx,
    ) -> (u64, Option<Errno>) {
        let era = self.era();
        let nr_irqs = self.state.config.nr_irqs;

        // Which vCPU: the guest's own (dist) or the redistributor's owner; for
        // userspace DIST_REGS vCPU 0 (mpidr ignored), REDIST_REGS the attr's MPIDR.
        let target_vcpu = match (path, frame) {
            (Path::User, Frame::Dist) => 0,
            _ => vcpu,
        };
        if path == Path::User && target_vcpu >= self.state.config.vcpus {
            cx.rule(&r::UACCESS_BAD_MPIDR);
            cx.note_with(|| format!("no vCPU has the MPIDR of vCPU {vcpu}"));
            return (0, Some(Errno::EINVAL));
        }

        // Find the KVM region and apply check_region (width, alignment, nr_irqs bound).
        let desc = catalogue::find_by_offset(frame, off).filter(|d| d.kvm_region_in(era));
        let len_bytes = width / 8;
        let region: Result<&'static RegisterDesc, &'static Rule> = match desc {
            None => Err(if path == Path::Guest {
                &r::DISPATCH_GUEST_NO_REGION
            } else {
                &r::UACCESS_NO_REGION
            }),
            Some(d) => {
                if width == 16 || !d.widths.allows(width) || !off.is_multiple_of(len_bytes as u32) {
                    Err(&r::DISPATCH_GUEST_BAD_WIDTH)
                } else if d.per_irq.is_some_and(|p| p.kvm_checks_bound)
                    && d.intid_at(off).unwrap_or(0) >= nr_irqs
                {
                    Err(&r::DISPATCH_INTID_BEYOND_NR_IRQS)
                } else {
                    Ok(d)
                }
            }
        };

        if op == Op::Has {
            // vgic_v3_has_attr_regs: no init check; aligned 32-bit region or -ENXIO.
            // GICR_STATUSR sits out of offset order in vgic_v3_rd_registers[]
            // (before GICR_IIDR), so the binary search of vgic_find_mmio_region
            // never finds it: -ENXIO, though reads and writes, which fall back
            // to RAZ/WI when nothing is found, behave as its handlers would.
            if frame == Frame::Redist && off == GicrStatusr::OFFSET {
                cx.rule(&r::HAS_ATTR_GICR_STATUSR_UNSORTED);
                return (0, Some(Errno::ENXIO));
            }
            let ok = off.is_multiple_of(4) && region.is_ok();
            cx.rule(if ok {
                &r::HAS_ATTR_OK
            } else {
                &r::HAS_ATTR_ENXIO
            });
            if let Err(why) = region {
                cx.rule(why);
            }
            let errno = (!ok).then_some(Errno::ENXIO);
            return (0, errno);
        }

        if path == Path::User && self.state.lifecycle == Lifecycle::Created {
            // vgic_v3_attr_regs_access: `if (!(vgic_initialized(dev->kvm) || reg_allowed_pre_init(attr)))`.
            // The catalogue's `uaccess_before_init_since` column (GICD_IIDR, GICD_TYPER2).
            let pre_init_ok = desc
                .filter(|d| d.offset == off)
                .and_then(|d| d.uaccess_before_init_since)
                .is_some_and(|since| era >= since);
            if pre_init_ok {
                cx.rule(&r::UACCESS_PRE_INIT_ALLOWED);
            } else {
                cx.rule(&r::UACCESS_BEFORE_INIT);
                return (0, Some(Errno::EBUSY));
            }
        }

        let d = match region {
            Err(why) => {
                cx.rule(why);
                let v = if op == Op::Write { value } else { 0 };
                return (v, None);
            }
            Ok(d) => d,
        };
        if path == Path::User {
            cx.rule(&r::UACCESS_HANDLER);
        }

        // The distributor's private slice (INTIDs 0–31) of a shared per-IRQ register.
        if let Some(p) = d.per_irq {
            if p.private_slice_raz_wi && d.intid_at(off).unwrap_or(0) < NR_PRIVATE_IRQS {
                cx.rule(&r::DISPATCH_PRIVATE_SLICE_RAZ_WI);
                let v = if op == Op::Write { value } else { 0 };
                return (v, None);
            }
        }

        match op {
            Op::Read => (self.handle_read(d, path, target_vcpu, off, width, cx), None),
            _ => (
                value,
                self.handle_write(d, path, target_vcpu, off, width, value, cx),
            ),
        }
    }

    /// The IRQs an access to a per-IRQ region covers: (first INTID, count).
    pub(super) fn irq_span(d: &RegisterDesc, off: u32, width: u8) -> (u32, u32) {
        let p = d.per_irq.expect("per-IRQ region");
        let first = d.intid_at(off).unwrap_or(0);
        (first, (width as u32 / p.bits_per_irq as u32).max(1))
    }
}
