//! The VM's lifecycle: `KVM_DEV_ARM_VGIC_CTRL_INIT` (vgic-init.c `vgic_init`),
//! `kvm_vgic_map_resources` at the first `KVM_RUN` (arm.c `kvm_arch_vcpu_run_pid_change`),
//! a failed first run and the teardown it causes.

use super::{
    reset_irq, Ctx, Lifecycle, Op, Outcome, Path, Vgic, INITIAL_PENDBASER_VALUE, NR_PRIVATE_IRQS,
    VGIC_NR_IRQS_LEGACY,
};
use crate::errno::Errno;
use crate::rules::{self as r, Rule};

impl Vgic {
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT` (vgic-init.c `vgic_init`): idempotent.
    pub fn init(&mut self) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(&r::INIT_OK);
        if self.host.gcie_legacy() {
            // vgic-v5.c vgic_v5_probe: the device being initialised is the
            // GICv3 one KVM registered for FEAT_GCIE_LEGACY (and, 7.1+, beside a
            // native vGICv5 device this VM does not use).
            cx.rule(&r::HOST_GICV5_COMPAT);
            if self.host.kernel >= crate::host::GICV5_NATIVE_KERNEL {
                cx.rule(&r::HOST_GICV5_NATIVE);
            }
        }
        if self.state.lifecycle == Lifecycle::Created {
            if self.state.config.nr_irqs == NR_PRIVATE_IRQS {
                // vgic_init: `if (!dist->nr_spis) dist->nr_spis =
                // VGIC_NR_IRQS_LEGACY - VGIC_NR_PRIVATE_IRQS;` after a teardown
                // freed them (measured: 5.10.223 then reads GICD_TYPER ITLines 7).
                cx.rule(&r::TEARDOWN_ON_MAP_FAILURE);
                cx.note(
                    "nr_spis is 0 after the teardown: vgic_init freezes the legacy 256 interrupts",
                );
                self.state.config.nr_irqs = VGIC_NR_IRQS_LEGACY;
                self.state.dist.spis = (NR_PRIVATE_IRQS..VGIC_NR_IRQS_LEGACY)
                    .map(|i| reset_irq(i, 0))
                    .collect();
            }
            self.state.lifecycle = Lifecycle::Initialised;
            for c in &mut self.state.cpuifs {
                c.reset_vmcr();
            }
            self.alloc_vpes();
            // vgic_init -> kvm_vgic_vcpu_enable -> vgic_v3_enable (vgic-v3.c, every era):
            // `vgic_cpu->pendbaser = INITIAL_PENDBASER_VALUE` (vgic.h: inner RaWb,
            // outer SameAsInner, InnerShareable = 0x580). Seen on real KVM 5.10.223,
            // 6.12.86/88 and 7.3.4 by scripts/kvm --migrations (GICR_PENDBASER reads
            // 0x580 on a VM no guest touched).
            for rd in &mut self.state.redists {
                rd.pendbaser = INITIAL_PENDBASER_VALUE;
            }
            self.irqfd_on_init();
        } else {
            cx.note("already initialised: nothing to do");
        }
        self.outcome(Path::User, Op::Init, None, 0, 0, 0, None, 0, None, cx)
    }

    /// Whether the VM is dead (`kvm_vm_dead`): every ioctl fails with -EIO.
    pub fn is_dead(&self) -> bool {
        self.state.vm_dead
    }

    /// What any ioctl on a dead VM returns (`kvm_vm_ioctl`, `kvm_vcpu_ioctl`,
    /// `kvm_device_ioctl`: `if (kvm->vm_dead) return -EIO;`).
    /// A first `KVM_RUN` whose `vgic_v3_map_resources` refuses the VM's
    /// addresses (a VM built by steps: crate::scenario::setup::first_run),
    /// failing like the run before init does: the VM is dead where the
    /// kernel carries df5fd75ee305.
    pub fn map_resources_failed(&mut self, errno: Errno, rule: &'static Rule) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(rule);
        if self.host.has(&crate::kernels::VM_DEAD_ON_MAP_FAILURE) {
            cx.rule(&r::VM_DEAD);
            cx.note(
                "kvm_vgic_map_resources failed: kvm_vm_dead, every later ioctl on this VM is -EIO",
            );
            self.state.vm_dead = true;
        }
        self.outcome(Path::User, Op::Run, None, 0, 0, 0, None, 0, Some(errno), cx)
    }

    pub fn dead_outcome(&self) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(&r::VM_DEAD);
        self.outcome(
            Path::User,
            Op::Run,
            None,
            0,
            0,
            0,
            None,
            0,
            Some(Errno::EIO),
            cx,
        )
    }

    /// A `run` step: `KVM_RUN` on every vCPU in order, stopping at the first
    /// that fails (as `gicx-kvm` does). The first one maps the vGIC
    /// (`kvm_vgic_map_resources` → `vgic_v3_map_resources`).
    pub fn run(&mut self) -> Outcome {
        let mut cx = Ctx::new();
        for v in 0..self.state.config.vcpus {
            if let Some(e) = self.run_vcpu(v, &mut cx) {
                return self.outcome(Path::User, Op::Run, None, v, 0, 0, None, 0, Some(e), cx);
            }
        }
        self.outcome(Path::User, Op::Run, None, 0, 0, 0, None, 0, None, cx)
    }

    /// The `KVM_RUN` a guest step on vCPU `vcpu` needs (the runner executes
    /// the step's instructions on that vCPU).
    pub fn run_on(&mut self, vcpu: u32) -> Outcome {
        let mut cx = Ctx::new();
        let vcpu = vcpu.min(self.state.config.vcpus.saturating_sub(1));
        let errno = self.run_vcpu(vcpu, &mut cx);
        self.outcome(Path::User, Op::Run, None, vcpu, 0, 0, None, 0, errno, cx)
    }

    /// Whether a vCPU can execute guest instructions: the vGIC is mapped, or
    /// (before 5.16) the vCPU's failed first run counted as a run.
    pub fn vcpu_in_guest(&self, vcpu: u32) -> bool {
        self.state.lifecycle == Lifecycle::HasRun
            || self.state.failed_run.counted_as_run.contains(&vcpu)
    }

    /// After a step (`ran`: it made a `KVM_RUN` that succeeded). Between two
    /// steps every vCPU passes through `KVM_RUN` once (the
    /// format's time model, `gicx-kvm`'s settling): once a vCPU ran the guest
    /// without the vGIC mapped, the others make their first run then, which
    /// maps the vGIC (after init) or fails and counts as a run (before 5.16).
    pub fn after_step(&mut self, ran: bool) {
        if self.state.lifecycle == Lifecycle::HasRun || self.state.vm_dead {
            return;
        }
        if ran && !self.state.failed_run.counted_as_run.is_empty() {
            self.state.failed_run.entered_guest = true;
        }
        if !self.state.failed_run.entered_guest {
            return;
        }
        let mut cx = Ctx::new();
        for v in 0..self.state.config.vcpus {
            let _ = self.run_vcpu(v, &mut cx);
        }
    }

    /// One vCPU's `KVM_RUN`: its first run maps the vGIC (arm.c
    /// `kvm_vcpu_first_run_init` / `kvm_arch_vcpu_run_pid_change`); an error
    /// there is the ioctl's.
    fn run_vcpu(&mut self, vcpu: u32, cx: &mut Ctx) -> Option<Errno> {
        if self.state.lifecycle == Lifecycle::HasRun {
            cx.rule(&r::RUN_OK);
            cx.note("vCPUs already ran: vgic_ready, nothing to map");
            return None;
        }
        if self.state.failed_run.counted_as_run.contains(&vcpu) {
            if self.state.lifecycle == Lifecycle::Initialised {
                // kvm_vgic_load loads the VMCR once the vGIC is initialised
                // (vgic_v3_load), and vgic_v3_put reads it back: the binary
                // points come back at the hardware's minimum (measured on
                // 5.10.223: ICC_BPR0_EL1 2, ICC_BPR1_EL1 3 after init and a run).
                if let Some(c) = self.state.cpuifs.get_mut(vcpu as usize) {
                    c.through_hardware();
                }
            }
            cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
            cx.note(format!(
                "vCPU {vcpu}'s failed first KVM_RUN set has_run_once: it enters the guest without mapping the vGIC"
            ));
            return None;
        }
        if self.state.lifecycle == Lifecycle::Initialised {
            cx.rule(&r::RUN_OK);
            self.state.lifecycle = Lifecycle::HasRun;
            // vgic_v3_map_resources: `if (kvm_vgic_global_state.has_gicv4_1)
            // vgic_v4_configure_vsgis(kvm);` (5.7+, unchanged in 6.17).
            // KVM_RUN loads the vCPU (vgic_v4_load) before kvm_vgic_map_resources.
            self.first_run();
            if self.host.has_gicv4_1() {
                self.configure_vsgis(cx);
            }
            return None;
        }
        // Lifecycle::Created: vgic_v3_map_resources is -EBUSY.
        if self.host.has(&crate::kernels::VM_DEAD_ON_MAP_FAILURE) {
            cx.rule(&r::RUN_BEFORE_INIT);
            cx.rule(&r::VM_DEAD);
            cx.note(
                "kvm_vgic_map_resources failed: kvm_vm_dead, every later ioctl on this VM is -EIO",
            );
            self.state.vm_dead = true;
            return Some(Errno::EBUSY);
        }
        cx.rule(&r::TEARDOWN_ON_MAP_FAILURE);
        cx.note("kvm_vgic_map_resources failed: __kvm_vgic_destroy freed the SPIs (nr_spis = 0) and the redistributor regions");
        self.tear_down();
        if !self.host.has(&crate::kernels::RUN_ONCE_BY_PID) {
            cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
            cx.note(format!(
                "has_run_once was set before the mapping failed: vCPU {vcpu}'s next KVM_RUN enters the guest"
            ));
            self.state.failed_run.counted_as_run.insert(vcpu);
        }
        cx.rule(&r::RUN_BEFORE_INIT);
        Some(Errno::EBUSY)
    }

    /// `__kvm_vgic_destroy` after a failed mapping (before df5fd75ee305):
    /// `kvm_vgic_dist_destroy` frees the SPIs and sets `nr_spis = 0`.
    fn tear_down(&mut self) {
        self.state.failed_run.torn_down = true;
        self.state.config.nr_irqs = NR_PRIVATE_IRQS;
        self.state.dist.spis.clear();
    }
}
