//! Every behaviour of the model has a rule: a stable id, one sentence, the
//! kernel function it reproduces and the eras it applies to. Accesses return
//! the rules that decided them; the CLI and the UI show them.

use serde::Serialize;

use crate::kernels;

mod eras;
pub use eras::{Applies, KernelRange};

/// One behaviour of KVM's vGIC, reproduced by the model.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `gicd.typer2.uaccess.exact_match`. Never renamed once published.
    pub id: &'static str,
    /// Kernel versions the rule applies to (printed `5.7-6.16`), or, for what
    /// is not kernel behaviour, words.
    pub eras: Applies,
    /// Kernel file and function (or spec section) it reproduces.
    pub source: &'static str,
    /// One sentence.
    pub text: &'static str,
}

macro_rules! rules {
    ($( $name:ident = ($id:literal, $eras:expr, $source:literal, $text:literal); )*) => {
        $( pub static $name: Rule = Rule { id: $id, eras: $eras, source: $source, text: $text }; )*
        /// Every rule, in declaration order.
        pub static ALL: &[&Rule] = &[ $( &$name ),* ];
    };
}

/// Find a rule by id, among the vGIC's ([`ALL`]) and the ITS's
/// ([`crate::vits::rules::ALL`]).
pub fn by_id(id: &str) -> Option<&'static Rule> {
    every().find(|r| r.id == id)
}

/// Every rule of the model: the vGIC's ([`ALL`]) then the ITS's
/// ([`crate::vits::rules::ALL`]), which `gicx rules` lists.
pub fn every() -> impl Iterator<Item = &'static Rule> {
    ALL.iter()
        .chain(crate::vits::rules::ALL.iter())
        .chain(crate::vgic::vlpi::RULES.iter())
        .copied()
}

rules! {
    // --- dispatch (vgic-mmio.c) -------------------------------------------------------------
    DISPATCH_GUEST_NO_REGION = ("dispatch.guest.no_region", Applies::since(4, 19),
        "vgic-mmio.c: dispatch_mmio_read/dispatch_mmio_write, vgic_get_mmio_region",
        "No KVM region matches this offset: the guest reads 0 and its write is ignored, with no external abort.");
    DISPATCH_GUEST_BAD_WIDTH = ("dispatch.guest.bad_width", Applies::since(4, 19),
        "vgic-mmio.c: check_region",
        "The access width is not one the region allows (or is 16-bit, which KVM never allows), or it is not naturally aligned: treated as no region, so the read is 0 and the write is ignored.");
    DISPATCH_INTID_BEYOND_NR_IRQS = ("dispatch.intid_beyond_nr_irqs", Applies::since(4, 19),
        "vgic-mmio.c: check_region (VGIC_ADDR_TO_INTID >= nr_spis + 32)",
        "The access addresses INTIDs at or beyond nr_irqs: treated as no region, reads 0, writes ignored (userspace: success).");
    DISPATCH_PRIVATE_SLICE_RAZ_WI = ("dispatch.dist.private_slice_raz_wi", Applies::since(4, 19),
        "vgic-mmio-v3.c: REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED",
        "In the distributor the slice of a per-IRQ register for INTIDs 0-31 is RAZ/WI; SGIs and PPIs live in each redistributor's SGI_base frame.");
    UACCESS_NO_REGION = ("uaccess.no_region", Applies::since(4, 19),
        "vgic-mmio.c: vgic_uaccess_read/vgic_uaccess_write",
        "No KVM region matches this offset: KVM_GET_DEVICE_ATTR returns 0 with value 0 and KVM_SET_DEVICE_ATTR succeeds doing nothing (only KVM_HAS_DEVICE_ATTR reports ENXIO).");
    UACCESS_HANDLER = ("uaccess.handler", Applies::since(4, 19),
        "vgic-mmio.c: vgic_uaccess_read/vgic_uaccess_write",
        "Userspace accesses are 32-bit and use the region's uaccess handler where it has one, else the guest handler.");
    UACCESS_BEFORE_INIT = ("uaccess.before_init", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_v3_attr_regs_access",
        "DIST_REGS/REDIST_REGS accesses need an initialised vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT): -EBUSY before it.");
    UACCESS_PRE_INIT_ALLOWED = ("uaccess.pre_init_allowed", Applies::since(6, 17),
        "vgic-kvm-device.c: reg_allowed_pre_init (f26e6af75782, c652887a9288)",
        "GICD_IIDR and GICD_TYPER2 may be read and written before KVM_DEV_ARM_VGIC_CTRL_INIT.");
    UACCESS_BAD_MPIDR = ("uaccess.bad_mpidr", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_v3_parse_attr",
        "The attribute's MPIDR (or, for DIST_REGS, vCPU 0) matches no vCPU: -EINVAL.");
    HAS_ATTR_OK = ("uaccess.has_attr.ok", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_has_attr_regs",
        "A region exists for an aligned 32-bit access at this offset: KVM_HAS_DEVICE_ATTR returns 0.");
    HAS_ATTR_ENXIO = ("uaccess.has_attr.enxio", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_has_attr_regs",
        "The offset is not 4-byte aligned, or no region exists for a 32-bit access (unimplemented register, or an INTID beyond nr_irqs): -ENXIO.");

    // --- lifecycle (vgic-init.c, vgic-kvm-device.c) -------------------------------------------
    INIT_OK = ("lifecycle.init", Applies::since(4, 19),
        "vgic-init.c: vgic_init via KVM_DEV_ARM_VGIC_CTRL_INIT",
        "KVM_DEV_ARM_VGIC_CTRL_INIT allocates and resets the distributor; it is idempotent.");
    RUN_OK = ("lifecycle.first_run", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_map_resources (from kvm_vgic_map_resources at the first KVM_RUN)",
        "The first KVM_RUN maps the vGIC; on a vSGI-capable host it also calls vgic_v4_configure_vsgis so a restored nASSGIreq takes effect.");
    RUN_BEFORE_INIT = ("lifecycle.run_before_init", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_map_resources",
        "A GICv3 vGIC must be initialised explicitly before KVM_RUN: -EBUSY.");
    GUEST_NOT_RUNNING = ("lifecycle.guest_not_running", Applies::since(4, 19),
        "arm.c: kvm_arch_vcpu_ioctl_run",
        "The guest executes only after the first KVM_RUN: a guest access before it cannot happen.");

    // --- GICv5 hosts (vgic-v5.c: vgic_v5_probe) --------------------------------------------------
    HOST_GICV5_COMPAT = ("host.gicv5.gicv3_compat", Applies::since(6, 17),
        "vgic-v5.c: vgic_v5_probe (ff2aa6495d4b 'KVM: arm64: gic-v5: Probe for GICv5', c017e49ed138 'Support GICv3 compat', 6.17; 6.18 probes the ARM64_HAS_GICV5_LEGACY cpucap, 7847f5118934)",
        "On a GICv5 host with FEAT_GCIE_LEGACY the VM's GICv3 device runs on the legacy virtual CPU interface: KVM has neither GICv4 nor GICv4.1 there (has_gicv4 = has_gicv4_1 = false: no vLPIs, no vSGIs), cannot emulate a GICv2 (can_emulate_gicv2 = false) and keeps GICv3's 512-vCPU limit; the distributor and redistributors read as on a GICv3 host.");
    HOST_GICV5_NATIVE = ("host.gicv5.native_device", Applies::since(7, 1),
        "vgic-v5.c: vgic_v5_probe (kvm_register_vgic_device(KVM_DEV_TYPE_ARM_VGIC_V5), the vGICv5 PPI series merged in 7.1; max_gic_vcpus = min(VGIC_V3_MAX_CPUS, VGIC_V5_MAX_CPUS))",
        "From 7.1 a GICv5 host also offers KVM_DEV_TYPE_ARM_VGIC_V5 for GICv5 guests (PPIs only, not under pKVM) beside the GICv3 device; a GICv3 VM sees no difference and its vCPU limit stays 512.");
    TYPER2_GICV5_HOST = ("gicd.typer2.gicv5_host", Applies::since(6, 17),
        "vgic-v5.c: vgic_v5_probe (has_gicv4_1 = false) -> vgic-init.c: kvm_vgic_create (nassgicap = system_supports_direct_sgis())",
        "On a GICv5 host GICD_TYPER2.nASSGIcap is 0 from the VM's creation and userspace cannot set it (-EINVAL): a VM saved with nASSGIcap on a GICv4.1 host is refused here.");

    // --- GICD_CTLR ----------------------------------------------------------------------------
    CTLR_READ = ("gicd.ctlr.read", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc",
        "GICD_CTLR reads EnableGrp1 = distributor enabled, ARE_NS and DS always 1, nASSGIreq as latched (5.7+), EnableGrp0 and RWP always 0.");
    CTLR_GUEST_WRITE = ("gicd.ctlr.guest.write", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc",
        "A guest write to GICD_CTLR sets the distributor enable from EnableGrp1; EnableGrp0, ARE, DS and RWP are not stored.");
    CTLR_GUEST_NASSGIREQ_NO_SUPPORT = ("gicd.ctlr.guest.nassgireq_unsupported", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (5.7-5.12: has_gicv4_1; 5.13-6.16: has_gicv4_1 && gic_cpuif_has_vsgi(); 6.17+: vgic_supports_direct_sgis)",
        "nASSGIreq is stripped from a guest write when this VM cannot have hardware vSGIs (RES0 semantics, no error).");
    CTLR_GUEST_NASSGIREQ_RO_ENABLED = ("gicd.ctlr.guest.nassgireq_ro_while_enabled", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (\"Dist stays enabled? nASSGIreq is RO\")",
        "While the distributor stays enabled nASSGIreq is read-only: a write that keeps EnableGrp1 set keeps the old nASSGIreq.");
    CTLR_GUEST_NASSGIREQ_SWITCH = ("gicd.ctlr.guest.nassgireq_switch", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc -> vgic-v4.c: vgic_v4_configure_vsgis",
        "A guest write that changes nASSGIreq moves the SGIs of every vCPU to (or back from) hardware vSGIs.");
    CTLR_GUEST_RELOAD = ("gicd.ctlr.guest.reload_gicv4", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (KVM_REQ_RELOAD_GICv4)",
        "On a vSGI-capable host a change of the distributor enable asks every vCPU to reload its vPE (vGrp1En follows the enable); otherwise enabling kicks the vCPUs.");
    CTLR_UACCESS_GUEST_PATH = ("gicd.ctlr.uaccess.guest_path", Applies::between((4, 19), (5, 6)),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc falls through to vgic_mmio_write_v3_misc",
        "Before 5.7 a userspace GICD_CTLR write goes through the guest handler: only the enable is stored.");
    CTLR_UACCESS_LATCH = ("gicd.ctlr.uaccess.latch", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_CTLR)",
        "A userspace GICD_CTLR write stores the enable and nASSGIreq directly: no read-only rule, no vSGI reconfiguration, no reload, never an error.");
    CTLR_UACCESS_NASSGIREQ_DROPPED = ("gicd.ctlr.uaccess.nassgireq_dropped", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (5.7-6.16: !has_gicv4_1, no CPU-interface check; 6.17+: !vgic_supports_direct_sgis)",
        "A restored nASSGIreq=1 is silently dropped when the host (5.7-6.16) or the VM (6.17+) lacks vSGI support.");

    // --- GICD_TYPER / TYPER2 / IIDR / STATUSR / ID ---------------------------------------------
    TYPER_READ = ("gicd.typer.read", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER)",
        "GICD_TYPER reads ITLinesNumber = (nr_irqs / 32) - 1, and with an in-kernel ITS IDbits = 15 and LPIS = 1, else IDbits = 9.");
    RO_WRITE_IGNORED = ("gicd.ro.write_ignored", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (\"at best for documentation purposes\")",
        "GICD_TYPER, GICD_TYPER2 and GICD_IIDR ignore guest writes.");
    TYPER2_READ_PRE_5_7 = ("gicd.typer2.read.pre_5_7", Applies::between((4, 19), (5, 6)),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (default case)",
        "Before 5.7 GICD_TYPER2 reads 0.");
    TYPER2_READ = ("gicd.typer2.read", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (5.7-5.12: has_gicv4_1; 5.13-6.16: && gic_cpuif_has_vsgi(); 6.17+: vgic_supports_direct_sgis = per-VM nassgicap)",
        "GICD_TYPER2.nASSGIcap reads 1 iff this VM can have hardware vSGIs; VIL and VID read 0.");
    TYPER2_UACCESS_IGNORED = ("gicd.typer2.uaccess.ignored", Applies::between((4, 19), (5, 6)),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc -> vgic_mmio_write_v3_misc",
        "Before 5.7 a userspace GICD_TYPER2 write is ignored and succeeds, whatever the value.");
    TYPER2_UACCESS_EXACT = ("gicd.typer2.uaccess.exact_match", Applies::between((5, 7), (6, 16)),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_TYPER2), 2291ff2f2a56",
        "A userspace GICD_TYPER2 write must equal what KVM reads, else -EINVAL (the 2020 decision: like GICD_IIDR).");
    TYPER2_UACCESS_EQUAL = ("gicd.typer2.uaccess.equal", Applies::since(6, 17),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_TYPER2), c652887a9288",
        "A userspace GICD_TYPER2 write equal to the current value succeeds, before or after init.");
    TYPER2_UACCESS_BUSY = ("gicd.typer2.uaccess.busy_after_init", Applies::since(6, 17),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (vgic_initialized), c652887a9288",
        "Changing GICD_TYPER2 after KVM_DEV_ARM_VGIC_CTRL_INIT: -EBUSY.");
    TYPER2_UACCESS_OTHER_BITS = ("gicd.typer2.uaccess.other_bits", Applies::since(6, 17),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc, c652887a9288",
        "A GICD_TYPER2 write differing outside nASSGIcap: -EINVAL.");
    TYPER2_UACCESS_UNSUPPORTED = ("gicd.typer2.uaccess.unsupported", Applies::since(6, 17),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (!system_supports_direct_sgis()), c652887a9288",
        "Setting nASSGIcap on a host without vSGI support: -EINVAL.");
    TYPER2_UACCESS_SET_CAP = ("gicd.typer2.uaccess.set_nassgicap", Applies::since(6, 17),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (dist->nassgicap = ...), c652887a9288",
        "Before init userspace may clear (or set back, where the host supports it) the VM's nASSGIcap; it also gates vSGIs and, on v4.1 hosts, vLPI forwarding.");
    IIDR_READ = ("gicd.iidr.read", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_IIDR)",
        "GICD_IIDR reads ProductID 0x4B ('K'), Implementer 0x43B (Arm) and the implementation revision (2 until 5.18, 3 from 5.19, or what userspace restored).");
    IIDR_UACCESS_EXACT = ("gicd.iidr.uaccess.exact_match", Applies::between((4, 19), (5, 18)),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_IIDR)",
        "A userspace GICD_IIDR write must equal the current value, else -EINVAL.");
    IIDR_UACCESS_FIELDS = ("gicd.iidr.uaccess.fields_must_match", Applies::since(5, 19),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc ((reg ^ val) & ~GICD_IIDR_REVISION_MASK)",
        "A userspace GICD_IIDR write whose ProductID, Variant or Implementer differ: -EINVAL.");
    IIDR_UACCESS_REV_NOOP = ("gicd.iidr.uaccess.revision_noop", Applies::Kernels(KernelRange { without: Some(&kernels::IIDR_REVISION_RESTORE), ..KernelRange::between((5, 19), (7, 0)) }),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (revision taken from the current value; fixed by a0e6ae45af17)",
        "The revision is (wrongly) taken from the current value, so any revision nibble is accepted and nothing changes.");
    IIDR_UACCESS_REV_SET = ("gicd.iidr.uaccess.revision_set", Applies::Kernels(KernelRange { with: Some(&kernels::IIDR_REVISION_RESTORE), ..KernelRange::since(7, 1) }),
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc, a0e6ae45af17 \"Fix IIDR revision field extracted from wrong value\"",
        "The written revision is honoured: 2 or 3 is stored (changing what GICR_CTLR reports), any other revision: -EINVAL.");
    STATUSR_RAO = ("gicd.statusr.rao_wi", Applies::since(4, 19),
        "vgic-mmio-v3.c: GICD_STATUSR -> vgic_mmio_read_rao / vgic_mmio_write_wi",
        "GICD_STATUSR reads all-ones and ignores writes on both paths (the UAPI document says userspace writes set bits; the code ignores them).");
    IDREGS_READ = ("gicd.idregs.read", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_mmio_read_v3_idregs",
        "ID registers: PIDR2 reads 0x3B (ArchRev 3, a GICv3), every other ID and component ID word reads 0; writes are ignored.");
    RAZ_WI = ("kvm.raz_wi", Applies::since(4, 19),
        "vgic-mmio.c: vgic_mmio_read_raz / vgic_mmio_write_wi",
        "KVM emulates this register as read-as-zero, writes ignored.");

    // --- per-IRQ state (vgic-mmio.c) ------------------------------------------------------------
    GROUP = ("irq.group", Applies::since(4, 19),
        "vgic-mmio.c: vgic_mmio_read_group / vgic_mmio_write_group (guest-configurable since IIDR rev 2, d53c2c29ae0d)",
        "IGROUPR: every bit of the written word assigns the group of its IRQ (0 and 1 alike).");
    ENABLE_READ = ("irq.enable.read", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_read_enable",
        "ISENABLER and ICENABLER both read the enabled bits.");
    ENABLE_SET_GUEST = ("irq.enable.set.guest", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_senable",
        "ISENABLER: set bits enable their IRQs (HW vSGIs are also unmasked at the ITS).");
    ENABLE_CLEAR_GUEST = ("irq.enable.clear.guest", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_cenable",
        "ICENABLER: set bits disable their IRQs.");
    ENABLE_SET_UACCESS = ("irq.enable.set.uaccess", Applies::since(4, 19), "vgic-mmio.c: vgic_uaccess_write_senable",
        "Userspace ISENABLER: set bits only set the enabled flag, with no hardware side effects.");
    ENABLE_CLEAR_UACCESS = ("irq.enable.clear.uaccess", Applies::since(4, 19), "vgic-mmio.c: vgic_uaccess_write_cenable",
        "Userspace ICENABLER: set bits only clear the enabled flag; writing the saved enable bits here clears those very enables.");
    PENDING_READ_GUEST = ("irq.pending.read.guest", Applies::since(4, 19), "vgic-mmio.c: __read_pending (is_user = false)",
        "Guest pending read: edge IRQs read the latch, level IRQs the latch OR the line level; HW vSGIs read the hardware pending bit.");
    PENDING_READ_UACCESS = ("irq.pending.read.uaccess", Applies::since(4, 19), "vgic-mmio.c: vgic_uaccess_read_pending -> __read_pending (is_user = true)",
        "Userspace ISPENDR reads the pending latch only (not the line level); HW vSGIs read the hardware pending bit (5.7+).");
    PENDING_SET_GUEST = ("irq.pending.set.guest", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_spending",
        "ISPENDR: set bits latch their IRQs pending (HW vSGIs: pending set in hardware via GITS_SGIR).");
    PENDING_CLEAR_GUEST = ("irq.pending.clear.guest", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_cpending",
        "ICPENDR: set bits clear the pending latch (a level IRQ whose line is high stays pending).");
    PENDING_WRITE_UACCESS = ("irq.pending.write.uaccess", Applies::between((4, 19), (6, 7)),
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending (inline form)",
        "Userspace ISPENDR writes the whole latch: set bits latch pending, zero bits clear the latch, whatever the trigger mode.");
    PENDING_WRITE_UACCESS_6_8 = ("irq.pending.write.uaccess_6_8", Applies::since(6, 8),
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending = vgic_uaccess_write_spending then vgic_uaccess_write_cpending(~val) (39084ba8d0fc)",
        "Userspace ISPENDR writes the whole latch (set then clear of the complement); for HW vSGIs the hardware pending bit is set or cleared.");
    PENDING_VSGI_UACCESS_LOST = ("irq.pending.write.uaccess_vsgi_lost", Applies::between((5, 7), (6, 7)),
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending (before 7b95382f9651 and the 6.8 rework)",
        "Before 6.8 a userspace ISPENDR write for an SGI already backed by hardware only touches the software latch, which the hardware path never reads: the pending state is lost.");
    ICPENDR_UACCESS = ("irq.pending.icpendr.uaccess", Applies::since(4, 19),
        "vgic-mmio-v3.c: ICPENDR uaccess = vgic_mmio_read_raz / vgic_mmio_uaccess_write_wi",
        "Userspace ICPENDR reads 0 and ignores writes: the pending state is restored through ISPENDR alone.");
    ACTIVE_READ = ("irq.active.read", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_read_active / vgic_uaccess_read_active",
        "IS/ICACTIVER read the active bits (the guest path first halts the other vCPUs; HW vSGIs read 0).");
    ACTIVE_SET = ("irq.active.set", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_sactive / vgic_mmio_uaccess_write_sactive -> vgic_mmio_change_active",
        "ISACTIVER: set bits make their IRQs active (HW vSGIs have no active state and stay 0).");
    ACTIVE_CLEAR = ("irq.active.clear", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_cactive / vgic_mmio_uaccess_write_cactive -> vgic_mmio_change_active",
        "ICACTIVER: set bits deactivate their IRQs; writing the saved active bits here clears those very bits.");
    PRIORITY = ("irq.priority", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_read_priority / vgic_mmio_write_priority (VGIC_PRI_BITS = 5)",
        "IPRIORITYR: one byte per IRQ, byte or word access; writes keep the top 5 bits (value & 0xF8).");
    CONFIG_READ = ("irq.config.read", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_read_config",
        "ICFGR: 2 bits per IRQ, bit 2n+1 = 1 for edge-triggered, bit 2n always 0.");
    CONFIG_WRITE = ("irq.config.write", Applies::since(4, 19), "vgic-mmio.c: vgic_mmio_write_config",
        "ICFGR: bit 2n+1 selects edge (1) or level (0) for SPIs; SGIs (always edge) and PPIs (level) are not writable.");
    IROUTER_READ = ("gicd.irouter.read", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_read_irouter",
        "IROUTER reads the stored Aff2.Aff1.Aff0; IRM and Aff3 read 0; the upper word reads 0.");
    IROUTER_WRITE = ("gicd.irouter.write", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_irouter",
        "IROUTER keeps only Aff2.Aff1.Aff0 (bits 23:0); IRM (1-of-N) and Aff3 are dropped, and the upper word ignores writes.");
    IROUTER_NO_VCPU = ("gicd.irouter.no_matching_vcpu", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_irouter -> kvm_mpidr_to_vcpu",
        "The route names no existing vCPU: the value is kept but the SPI has no target vCPU and is never delivered.");

    // --- GICv4.1 vSGI configuration (vgic-v4.c) ---------------------------------------------------
    VSGI_ENABLE = ("vsgi.configure.enable", Applies::since(5, 7), "vgic-v4.c: vgic_v4_configure_vsgis -> vgic_v4_enable_vsgis",
        "nASSGIreq = 1: each vCPU's SGIs move to hardware: enable, group and priority are copied to the vPE (VSGI command), the pending latch is pushed to the ITS and cleared; the active state is not transferred.");
    VSGI_DISABLE = ("vsgi.configure.disable", Applies::since(5, 7), "vgic-v4.c: vgic_v4_configure_vsgis -> vgic_v4_disable_vsgis",
        "nASSGIreq = 0: each vCPU's SGIs come back to software: the hardware pending state is read back into the latch.");
    VSGI_NO_SGI_DOMAIN = ("vsgi.configure.no_sgi_domain", Applies::between((5, 13), (6, 16)), "vgic-v4.c: vgic_v4_enable_vsgis; irq-gic-v3-its.c: has_v4_1_sgi (model interpretation, UNCONFIRMED)",
        "nASSGIreq was latched through userspace on a GICv4.1 host whose CPU interface lacks vSGIs: the ITS has no per-vPE SGI domain, so the SGIs cannot be mapped (the kernel WARNs); gicx keeps them in software while the guest reads nASSGIreq = 1.");

    VSGI_DISABLE_NOT_QUEUED = ("vsgi.configure.disable_not_queued", Applies::since(5, 7),
        "vgic-v4.c: vgic_v4_disable_vsgis (irq_get_irqchip_state into pending_latch, no vgic_queue_irq_unlock)",
        "Moving SGIs back to software copies the hardware pending state into the latch without queueing the SGI on an ap_list: it is not delivered until something requeues it (another SGI, or a write to ISPENDR, ISENABLER or IGROUPR).");
    VSGI_ACTIVE_STAYS = ("vsgi.configure.active_stays", Applies::since(5, 7),
        "vgic-v4.c: vgic_v4_enable_vsgis (only enable/group/priority and the pending latch move)",
        "An SGI that is active when it moves to hardware keeps its software active state in a list register until the guest deactivates it; the vSGI itself has no active state.");

    // --- interrupt delivery: KVM's software path (vgic.c, vgic-mmio-v3.c, sys_regs.c, arm.c) ----
    SGI_DISPATCH = ("sgi.dispatch", Applies::since(4, 19),
        "sys_regs.c: access_gic_sgi -> vgic-mmio-v3.c: vgic_v3_dispatch_sgi",
        "A guest write to ICC_SGI1R_EL1 traps to KVM, which makes the SGI pending on every vCPU whose MPIDR matches Aff3.Aff2.Aff1 and a TargetList bit, or with IRM = 1 on every vCPU but the sender (RS is ignored).");
    SGI_NO_TARGET = ("sgi.no_such_target", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_dispatch_sgi (kvm_mpidr_to_vcpu returns NULL)",
        "A TargetList bit names an MPIDR no vCPU has: that target is skipped silently.");
    SGI1R_READ_UNDEF = ("sgi.sgi1r.read_undef", Applies::since(4, 19),
        "sys_regs.c: access_gic_sgi -> read_from_write_only",
        "ICC_SGI1R_EL1 is write-only: a guest read traps and KVM injects an UNDEFINED exception.");
    SGI_SOFTWARE = ("sgi.path.software", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_queue_sgi (!irq->hw) -> vgic.c: vgic_queue_irq_unlock",
        "Software path: KVM latches the SGI pending, adds it to the target vCPU's ap_list and kicks that vCPU; on its next entry vgic_flush_lr_state writes it into a list register.");
    SGI_HARDWARE = ("sgi.path.hardware", Applies::since(5, 7),
        "vgic-mmio-v3.c: vgic_v3_queue_sgi (irq->hw) -> irq_set_irqchip_state -> irq-gic-v3-its.c: its_sgi_set_irqchip_state",
        "Hardware path (GICv4.1 with nASSGIreq = 1): KVM writes the vPEID and vINTID to GITS_SGIR and the redistributor holding the vPE presents the vSGI to the CPU interface, with no list register and no exit.");
    QUEUE = ("kvm.queue", Applies::since(4, 19),
        "vgic.c: vgic_queue_irq_unlock, vgic_target_oracle",
        "An interrupt that is enabled and pending (or active) is added to its target vCPU's ap_list and the vCPU is kicked; one already on an ap_list only causes a kick.");
    DIST_DISABLED_UNQUEUED = ("kvm.dist_disabled.unqueued", Applies::since(4, 19),
        "vgic.c: vgic_target_oracle (!vgic.enabled), vgic_prune_ap_list, vgic_kick_vcpus (looks only at ap_lists)",
        "While the distributor is disabled no pending interrupt is forwarded: it leaves (or never joins) the ap_lists, and enabling the distributor only kicks vCPUs whose ap_lists hold something, so it stays pending until something requeues it.");
    LR_FLUSH = ("kvm.lr.flush", Applies::since(4, 19),
        "vgic.c: vgic_flush_lr_state, vgic_sort_ap_list (vgic_irq_cmp); vgic-v3.c: vgic_v3_populate_lr",
        "On guest entry KVM sorts the vCPU's ap_list (active first, then by priority) and writes the first entries into the list registers (gicx: 4); a level interrupt is never written pending and active at once.");
    IRQ_LINE = ("kvm.irq_line", Applies::since(4, 19),
        "arm.c: kvm_vm_ioctl_irq_line -> vgic.c: kvm_vgic_inject_irq",
        "KVM_IRQ_LINE sets the line level of a level-triggered SPI or PPI, or latches an edge-triggered one pending on a rising level, then queues it on the vCPU its IROUTER (or owner) names.");
    IRQ_LINE_NO_CHANGE = ("kvm.irq_line.no_change", Applies::since(4, 19),
        "vgic.c: vgic_validate_injection",
        "The injection changes nothing: a level interrupt already at that level, or a low level on an edge-triggered interrupt.");
    IRQ_LINE_BEFORE_INIT = ("kvm.irq_line.before_init", Applies::since(4, 19),
        "vgic-init.c: vgic_lazy_init",
        "A GICv3 vGIC is never initialised lazily: KVM_IRQ_LINE before KVM_DEV_ARM_VGIC_CTRL_INIT fails with -EBUSY.");
    IRQ_LINE_EINVAL = ("kvm.irq_line.einval", Applies::since(4, 19),
        "arm.c: kvm_vm_ioctl_irq_line; vgic.c: kvm_vgic_inject_irq (vgic_get_irq returns NULL)",
        "KVM_IRQ_LINE for an INTID KVM has no interrupt for (an SGI, a PPI of a vCPU that does not exist, an SPI at or beyond nr_irqs, any INTID up to 65535): -EINVAL; an SGI or a missing vCPU is refused before the -EBUSY of an uninitialised vGIC.");

    // --- irqfd and KVM_SET_GSI_ROUTING (virt/kvm/eventfd.c, irqchip.c, vgic-irqfd.c) ------------
    IRQFD_ROUTING_SET = ("irqfd.routing.set", Applies::since(4, 19),
        "virt/kvm/irqchip.c: kvm_set_irq_routing; arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_set_routing_entry",
        "KVM_SET_GSI_ROUTING replaces the whole routing table: a GSI it does not list has no route any more (an irqfd on it injects nothing).");
    IRQFD_ROUTING_DEFAULT_AT_INIT = ("irqfd.routing.default_at_init", Applies::since(4, 19),
        "arch/arm64/kvm/vgic/vgic-init.c: vgic_init -> vgic-irqfd.c: kvm_vgic_setup_default_irq_routing",
        "vgic_init installs the default routing (GSI i -> SPI i + 32 for every SPI), replacing a table userspace set before init.");
    IRQFD_ROUTING_EINVAL = ("irqfd.routing.einval", Applies::since(4, 19),
        "virt/kvm/kvm_main.c: KVM_SET_GSI_ROUTING; virt/kvm/irqchip.c: kvm_set_irq_routing; arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_set_routing_entry",
        "KVM_SET_GSI_ROUTING with a GSI at or beyond KVM_MAX_IRQ_ROUTES (4096), or an irqchip entry with irqchip other than 0 or a pin at or beyond KVM_IRQCHIP_NUM_PINS (988): -EINVAL, and the old table stays.");
    IRQFD_ROUTING_DUPLICATE = ("irqfd.routing.duplicate", Applies::since(4, 19),
        "virt/kvm/irqchip.c: setup_routing_entry",
        "A GSI routed twice to the same irqchip, or an MSI entry beside any other entry of its GSI: -EINVAL, and the old table stays.");
    IRQFD_BEFORE_INIT = ("irqfd.assign.before_init", Applies::since(4, 19),
        "virt/kvm/eventfd.c: kvm_irqfd_assign (kvm_arch_intc_initialized = vgic_initialized)",
        "KVM_IRQFD before the vGIC is initialised: -EAGAIN.");
    IRQFD_BUSY = ("irqfd.assign.busy", Applies::since(4, 19),
        "virt/kvm/eventfd.c: kvm_irqfd_assign",
        "KVM_IRQFD with an eventfd another irqfd of the VM already uses (on any GSI): -EBUSY.");
    IRQFD_ASSIGN = ("irqfd.assign", Applies::since(4, 19),
        "virt/kvm/eventfd.c: kvm_irqfd_assign, irqfd_update",
        "KVM_IRQFD assigns the eventfd to a GSI (and, with KVM_IRQFD_FLAG_RESAMPLE, a resample eventfd); the irqfd follows the GSI's route, re-read at every KVM_SET_GSI_ROUTING.");
    IRQFD_DEASSIGN = ("irqfd.deassign", Applies::since(4, 19),
        "virt/kvm/eventfd.c: kvm_irqfd_deassign",
        "KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN removes the irqfds of that eventfd and GSI; with none it still returns 0.");
    IRQFD_PENDING_AT_ASSIGN = ("irqfd.assign.pending", Applies::since(4, 19),
        "virt/kvm/eventfd.c: kvm_irqfd_assign (events & EPOLLIN -> schedule_work), irqfd_inject",
        "An eventfd signalled before it is assigned is injected at assignment by the irqfd_inject work: the level raised then lowered (an edge SPI stays pending, a level one does not), raised only for a resampler.");
    IRQFD_UNWATCHED = ("irqfd.signal.unwatched", Applies::since(4, 19),
        "fs/eventfd.c: eventfd_write",
        "Writing an eventfd no irqfd watches only adds to its counter.");
    IRQFD_NO_ROUTE = ("irqfd.signal.no_route", Applies::since(4, 19),
        "virt/kvm/eventfd.c: irqfd_update (irq_entry.type = 0), irqfd_inject -> kvm_set_irq",
        "A signalled irqfd whose GSI has no route injects nothing.");
    IRQFD_SPI = ("irqfd.signal.spi", Applies::since(5, 9),
        "virt/kvm/eventfd.c: irqfd_wakeup -> arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_arch_set_irq_inatomic, vgic_irqfd_set_irq (\"KVM: arm64: Allow in-atomic injection of SPIs\", 5.9)",
        "A signalled irqfd on an irqchip route raises its SPI's level to 1 at once, as KVM_IRQ_LINE would, and nothing lowers it: an edge SPI is latched pending, a level one stays pending until its line is lowered (by KVM_IRQ_LINE or a resampler).");
    IRQFD_SPI_INVALID = ("irqfd.signal.spi_beyond_nr_irqs", Applies::since(4, 19),
        "arch/arm64/kvm/vgic/vgic-irqfd.c: vgic_irqfd_set_irq (vgic_valid_spi)",
        "A route to a pin whose SPI is at or beyond nr_irqs is accepted by KVM_SET_GSI_ROUTING, but its irqfd injects nothing.");
    IRQFD_MSI = ("irqfd.signal.msi", Applies::since(4, 19),
        "arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_arch_set_irq_inatomic (vgic_its_inject_cached_translation), kvm_set_msi -> vgic-its.c: vgic_its_inject_msi",
        "A signalled irqfd on an MSI route makes the translation KVM_SIGNAL_MSI makes: the ITS makes the mapped LPI pending; errors reach no one.");
    IRQFD_RESAMPLE = ("irqfd.resample", Applies::since(4, 19),
        "arch/arm64/kvm/vgic/vgic-v3.c: vgic_v3_populate_lr (ICH_LR_EOI), vgic_v3_fold_lr_state (lr_signals_eoi_mi -> kvm_notify_acked_irq); virt/kvm/eventfd.c: irqfd_resampler_ack",
        "When the guest deactivates a level-triggered SPI, the fold notifies the resamplers of its GSI: the line is lowered and each resample eventfd counts one.");

    // --- interrupt delivery: the GICv4.1 hardware path (vgic-v4.c, irq-gic-v3-its.c) ---------------
    VSGI_PRIORITY_4BIT = ("vsgi.priority_4bit", Applies::since(5, 7),
        "irq-gic-v3-its.c: its_encode_sgi_priority (prio >> 4 into VSGI DW0[23:20])",
        "The VSGI command carries 4 priority bits: a hardware vSGI is presented at priority & 0xF0, so priorities 0xA0 and 0xA8 tie.");
    VSGI_RESIDENT = ("vsgi.vpe_resident", Applies::since(5, 7),
        "GICv4.1 architecture (vSGI delivery to a scheduled vPE); vgic-v4.c: vgic_v4_load",
        "The target vPE is resident: the redistributor makes the vSGI pending and, if it is enabled and its group is enabled in GICR_VPENDBASER, presents it straight to the CPU interface.");
    VSGI_NOT_RESIDENT = ("vsgi.vpe_not_resident", Applies::since(5, 7),
        "GICv4.1 architecture (virtual pending table); irq-gic-v3-its.c: its_vpe_4_1_deschedule",
        "The target vPE is not resident: the vSGI waits in its virtual pending table until the vPE is scheduled again, or rings the vPE's doorbell if KVM asked for one.");
    VSGI_DOORBELL = ("vsgi.doorbell", Applies::since(5, 7),
        "irq-gic-v3-its.c: its_vpe_4_1_deschedule (GICR_VPENDBASER.DB); vgic-v4.c: vgic_v4_doorbell_handler",
        "A vCPU blocked in WFI left its redistributor with a doorbell request: a vSGI becoming pending for it raises the vPE's doorbell, and KVM sets pending_last and kicks the vCPU.");
    VSGI_GROUP0_NEVER = ("vsgi.group0_never_delivered", Applies::since(5, 7),
        "vgic-v4.c: vgic_v4_load (its_make_vpe_resident(vpe, false, vgic.enabled))",
        "KVM schedules vPEs with vGrp0En = 0, so a hardware vSGI configured as Group 0 is never delivered.");
    VSGI_CPUIF_PRE_V4_1 = ("vsgi.cpuif_pre_v4_1", Applies::between((5, 7), (5, 12)),
        "irq-gic-v4.c: gic_cpuif_has_vsgi (3943569446ed in 5.13: \"disable vSGIs ... to prevent using vSGIs on systems where they may misbehave\")",
        "Before 5.13 KVM uses hardware vSGIs on a GICv4.1 host whose CPU interface predates GICv4.1, where delivery is not architected; gicx leaves such vSGIs pending in the redistributor and never presents them.");
    VSGI_PENDING_READ = ("vsgi.pending.read", Applies::since(5, 7),
        "irq-gic-v3-its.c: its_sgi_get_irqchip_state",
        "The pending state of a hardware vSGI is read from the redistributor the vPE is on: write the vPEID to GICR_VSGIR, poll GICR_VSGIPENDR until Busy clears, take bit vINTID.");
    VSGI_CONFIG_UPDATE = ("vsgi.config.update", Applies::since(5, 7),
        "irq-gic-v3-its.c: its_configure_sgi via its_sgi_mask_irq / its_sgi_unmask_irq / its_sgi_set_vcpu_affinity (its_prop_update_vsgi)",
        "A change of a hardware SGI's enable (guest path only), group or priority is sent to the ITS as a VSGI command; a userspace enable write changes only KVM's flag and the vPE keeps the old setting.");
    VSGI_PENDING_CLEAR = ("vsgi.pending.clear", Applies::since(5, 7),
        "irq-gic-v3-its.c: its_sgi_set_irqchip_state(false) -> its_configure_sgi(d, true)",
        "Clearing a hardware vSGI's pending state is a VSGI command with Clear = 1.");
    VPE_LOAD = ("vpe.load", Applies::since(4, 19),
        "vgic-v4.c: vgic_v4_load -> its_make_vpe_resident; irq-gic-v3-its.c: its_vpe_schedule (v4.0) / its_vpe_4_1_schedule (v4.1, 5.7+)",
        "When the vCPU is loaded its vPE becomes resident (GICR_VPENDBASER.Valid); on GICv4.1 with vGrp0En = 0 and vGrp1En = the distributor enable, and its pending vSGIs are then presented.");
    VPE_PUT = ("vpe.put", Applies::since(4, 19),
        "vgic-v4.c: vgic_v4_put -> its_make_vpe_non_resident(vpe, IN_WFI); irq-gic-v3-its.c: its_vpe_deschedule (v4.0) / its_vpe_4_1_deschedule (v4.1, 5.7+)",
        "When the vCPU is put its vPE leaves the redistributor; only a vCPU blocking in WFI asks for a doorbell (GICv4.1: DB = 1, and a PendingLast read back as 1 means something is already pending), a preempted one just marks PendingLast.");
    NO_VPE = ("vpe.none", Applies::since(4, 19),
        "vgic-v4.c: vgic_v4_init / vgic_v4_load (!vgic_supports_direct_msis or, 6.17+, !vgic_supports_direct_irqs)",
        "This VM has no vPEs (no usable GICv4 for it): scheduling a vCPU involves no ITS or redistributor work.");

    // --- the virtual CPU interface (GIC architecture; KVM's emulation in hyp/vgic-v3-sr.c) --------
    CPUIF_IAR = ("cpuif.iar1", Applies::since(4, 19),
        "GICv3 architecture (ICV_IAR1_EL1); vgic-v3-sr.c: __vgic_v3_read_iar",
        "ICC_IAR1_EL1 acknowledges the highest-priority pending Group 1 interrupt if Group 1 is enabled, its priority is below PMR and its group priority above the running priority: it becomes active and its priority joins ICC_AP1R0_EL1.");
    CPUIF_SPURIOUS = ("cpuif.iar1.spurious", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_iar (goto spurious)",
        "Nothing can be acknowledged (nothing pending, Group 1 disabled, masked by PMR or not preempting): ICC_IAR1_EL1 returns the spurious INTID 1023.");
    CPUIF_EOI = ("cpuif.eoir1", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_write_eoir, __vgic_v3_clear_highest_active_priority",
        "ICC_EOIR1_EL1 drops the running priority (clears the highest active priority bit) and, with EOImode = 0, deactivates the interrupt in its list register.");
    CPUIF_EOI_NO_LR = ("cpuif.eoi.no_active_lr", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_write_eoir / __vgic_v3_write_dir -> __vgic_v3_bump_eoicount",
        "No list register holds the INTID as active (a directly injected vSGI never does): nothing is deactivated and ICH_HCR_EL2.EOIcount counts the deactivation.");
    CPUIF_EOI_SPECIAL = ("cpuif.eoi.special_intid", Applies::since(4, 19),
        "GICv3 architecture: writes of a special INTID (1020-1023) to ICC_EOIR1_EL1 or ICC_DIR_EL1 are ignored",
        "An EOI or deactivation of INTID 1020-1023 (e.g. the spurious 1023) has no effect, not even a priority drop.");
    CPUIF_DIR = ("cpuif.dir", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_write_dir",
        "With EOImode = 1 ICC_DIR_EL1 deactivates the interrupt in its list register; with EOImode = 0 it does nothing.");
    CPUIF_PMR = ("cpuif.pmr", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_write_pmr; GICv3 architecture (unimplemented priority bits RAZ/WI)",
        "ICC_PMR_EL1 keeps the 5 implemented bits (value & 0xF8); an interrupt is signalled only if its priority is numerically lower.");
    CPUIF_RPR = ("cpuif.rpr", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_rpr -> __vgic_v3_get_highest_active_priority",
        "ICC_RPR_EL1 reads the group priority of the lowest set bit of ICC_AP1R0_EL1 (bit n = priority n << 3), or 0xFF when nothing is active.");
    CPUIF_AP1R = ("cpuif.ap1r0", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_apxrn / __vgic_v3_write_apxrn",
        "ICC_AP1R0_EL1 holds one bit per active Group 1 group priority (32 levels); a write replaces it.");
    CPUIF_CTLR = ("cpuif.ctlr", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_ctlr / __vgic_v3_write_ctlr",
        "ICC_CTLR_EL1: only CBPR and EOImode are writable; PRIbits (4 = 5 bits), IDbits (0 = 16 bits) and A3V come from ICH_VTR_EL2.");
    CPUIF_IGRPEN1 = ("cpuif.igrpen1", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_igrpen1 / __vgic_v3_write_igrpen1",
        "ICC_IGRPEN1_EL1 bit 0 enables Group 1 interrupts at the CPU interface.");
    LEVEL_LATCH_UNTIL_DEACTIVATION = ("irq.level.latch_until_deactivation", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_fold_lr_state (`if (irq->config == VGIC_CONFIG_LEVEL && !(val & ICH_LR_STATE)) irq->pending_latch = false;`), vgic_v3_populate_lr (only an edge interrupt's latch is consumed when written pending)",
        "A level-triggered interrupt's pending latch (GICD_ISPENDR, or a VMM's restore) survives its acknowledge: the guest and userspace read it pending while it is active, and the latch is cleared only when its list register comes back invalid after deactivation. Checked on real KVM 5.10.223 to 7.3.4.");
    LR_OVERFLOW_PENDING_FIRST = ("lr.overflow.pending_first", Applies::since(6, 19),
        "vgic.c: vgic_flush_lr_state and vgic_irq_cmp after M. Zyngier's list-register overflow rework (6.19; the comment \"Dealing with LR overflow is close to black magic\"): \"Pending interrupts must have priority over active interrupts\"",
        "With more interrupts than list registers (4 under QEMU), pending ones take the list registers before active ones: a guest that dropped the priority of several interrupts is still presented the next pending one; active interrupts wait off the list registers (before 6.19 active ones went first and a fifth pending interrupt waited until one was deactivated).");
    LR_OVERFLOW_EOICOUNT = ("lr.overflow.eoicount", Applies::since(6, 19),
        "vgic.c: the overflow ap_list (\"KVM: arm64: Add AP-list overflow split/splice\", \"deactivating EOIcount interrupts from the overflow list\"); GICv3 VirtualWriteEOIR (EOIcount + 1 for an INTID no list register holds, whatever EOImode; QEMU icv_eoir_write, 82a65e3188ab)",
        "An EOI (or DIR) that finds no list register bumps ICH_HCR_EL2.EOIcount; at the next exit KVM deactivates that many active interrupts it kept off the list registers, in list order. With EOImode 1 the guest's priority drop of such an interrupt thus deactivates it. Measured on 6.19.14 and 7.3.4.");
    LR_OVERFLOW_DIR_TRAP = ("lr.overflow.dir_trap", Applies::since(6, 19),
        "vgic-v3.c: vgic_v3_configure_hcr (ICH_HCR_EL2.TDIR while active interrupts are off the list registers or SPIs are pending/active), vgic_v3_deactivate; sys_regs.c access_gic_dir",
        "From the rework, while an active interrupt is off the list registers (or any SPI is pending or active) the guest's ICC_DIR_EL1 traps and KVM deactivates the INTID itself, in or out of the list registers.");
    SGI0R_GROUP0_ONLY = ("sgi.sgi0r.group0_only", Applies::since(4, 19),
        "sys_regs.c: access_gic_sgi (ICC_SGI0R_EL1: g1 = false); vgic-mmio-v3.c: vgic_v3_dispatch_sgi / vgic_v3_queue_sgi (\"An access targeting Group0 SGIs can only generate those\")",
        "A guest's ICC_SGI0R_EL1 write traps like ICC_SGI1R_EL1 but makes the SGI pending only on targets where it is Group 0; ICC_SGI1R_EL1 raises SGIs of either group.");
    CPUIF_IAR0 = ("cpuif.iar0", Applies::since(4, 19),
        "GICv3 architecture (ICV_IAR0_EL1, not trapped: ICH_HCR_EL2.TALL0 only with kvm-arm.vgic_v3_group0_trap, vgic-v3.c vcpu_set_ich_hcr); vgic-v3-sr.c: __vgic_v3_read_iar (grp 0), __vgic_v3_set_active_priority; QEMU hw/intc/arm_gicv3_cpuif.c icv_iar_read, icv_activate_irq",
        "ICC_IAR0_EL1 acknowledges the highest-priority pending interrupt when it is Group 0 (GICD_IGROUPR bit clear), Group 0 is enabled (ICC_IGRPEN0_EL1), its priority is below PMR and its group priority (by ICC_BPR0_EL1 + 1) above the running priority: it becomes active and its priority joins ICC_AP0R0_EL1.");
    CPUIF_IAR_OTHER_GROUP = ("cpuif.iar.other_group", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_iar (`if (grp != !!(lr_val & ICH_LR_GROUP)) goto spurious;`), __vgic_v3_highest_priority_lr; QEMU icv_iar_read (thisgrp == grp)",
        "The highest-priority pending interrupt of the enabled groups is chosen across both groups: when it belongs to the other group, ICC_IAR0_EL1 / ICC_IAR1_EL1 returns 1023 even if a lower-priority interrupt of its own group is pending.");
    CPUIF_EOI0 = ("cpuif.eoir0", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_write_eoir (grp 0), __vgic_v3_clear_highest_active_priority; QEMU icv_eoir_write, icv_drop_prio",
        "ICC_EOIR0_EL1 drops the highest active priority of either group (Group 0's at equal priority) and, with EOImode = 0, deactivates the interrupt only if it is Group 0 and its group priority is the dropped one; EOIR1 likewise leaves a Group 0 interrupt active.");
    CPUIF_HPPIR = ("cpuif.hppir", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_hppir; QEMU icv_hppir_read, hppvi_index",
        "ICC_HPPIR0_EL1 / ICC_HPPIR1_EL1 read the INTID of the highest-priority pending interrupt of the enabled groups if it belongs to that register's group, else 1023; PMR and the running priority are not checked and nothing changes.");
    CPUIF_IGRPEN0 = ("cpuif.igrpen0", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_igrpen0 / __vgic_v3_write_igrpen0 (ICH_VMCR_EL2.VENG0)",
        "ICC_IGRPEN0_EL1 bit 0 enables Group 0 interrupts at the CPU interface; KVM resets it to 0 (vgic_v3_enable: VMCR = 0).");
    CPUIF_BPR = ("cpuif.bpr", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_bpr0/__vgic_v3_write_bpr0, __vgic_v3_read_bpr1/__vgic_v3_write_bpr1, __vgic_v3_pri_to_pre; QEMU icv_bpr_read/icv_bpr_write",
        "ICC_BPR0_EL1 and ICC_BPR1_EL1 hold the binary points (minimum 2 and 3 with 5 preemption bits; a smaller write sets the minimum); with CBPR = 1 BPR1 reads BPR0 + 1 and ignores writes. Group priority keeps the priority bits above BPR0 + 1 (Group 0) or BPR1 (Group 1).");
    CPUIF_AP0R = ("cpuif.ap0r0", Applies::since(4, 19),
        "vgic-v3-sr.c: __vgic_v3_read_apxrn / __vgic_v3_write_apxrn (ICH_AP0R0_EL2)",
        "ICC_AP0R0_EL1 holds one bit per active Group 0 group priority; a write replaces it, and the running priority counts both groups' bits.");
    CPUIF_UNDEF = ("cpuif.undef", Applies::since(4, 19),
        "GICv3 architecture: ICC_IAR1_EL1 and ICC_RPR_EL1 are read-only, ICC_EOIR1_EL1 and ICC_DIR_EL1 write-only",
        "An access in the direction the register does not have is UNDEFINED: the guest takes an exception and nothing changes.");

    // --- alternative restore policies (design review) ------------------------------------------
    POLICY_ACCEPT_ANY = ("policy.accept_any", Applies::Beyond("policy accept-any"),
        "gicx policy; kernel behaviour before 5.7 (TYPER2) and 4.19 (IIDR)",
        "Policy accept-any: the restored GICD_TYPER2/GICD_IIDR is accepted and ignored; the guest keeps seeing the destination's values.");
    POLICY_RELAXED_2020_ACCEPT = ("policy.relaxed_2020.accept", Applies::Beyond("policy relaxed-2020"),
        "gicx policy; proposal in \"[PATCH v5 20/23] KVM: arm64: GICv4.1: Plumb SGI implementation selection in the distributor\" (M. Zyngier, 23 Mar 2020)",
        "Policy relaxed-2020: a saved nASSGIcap of 0 or equal to the host's is accepted and the VM presents the restored value to its guest.");
    POLICY_RELAXED_2020_REFUSE = ("policy.relaxed_2020.refuse", Applies::Beyond("policy relaxed-2020"),
        "gicx policy; proposal in the 2020 GICv4.1 vSGI review",
        "Policy relaxed-2020: a saved nASSGIcap of 1 on a host without vSGIs (or other TYPER2 bits) is refused with -EINVAL.");

    // --- line level (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO) --------------------------------------------
    LEVEL_INFO_READ = ("level_info.read", Applies::since(4, 19), "vgic-mmio.c: vgic_read_irq_line_level_info",
        "LEVEL_INFO read: the line level of the 32 INTIDs, reported only for level-triggered IRQs; SGIs and INTIDs beyond nr_irqs read 0.");
    LEVEL_INFO_WRITE = ("level_info.write", Applies::since(4, 19), "vgic-mmio.c: vgic_write_irq_line_level_info",
        "LEVEL_INFO write: sets the line level whatever the trigger mode (so the VMM need not restore ICFGR first); SGIs and INTIDs beyond nr_irqs are skipped.");
    LEVEL_INFO_BAD_INTID = ("level_info.bad_intid", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_v3_line_level_info_uaccess",
        "LEVEL_INFO needs an INTID that is a multiple of 32: -EINVAL.");

    // --- CPU-interface registers (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS) -------------------------------
    VM_DEAD = ("lifecycle.vm_dead", Applies::Kernels(KernelRange { with: Some(&kernels::VM_DEAD_ON_MAP_FAILURE), note: "(stable backports: gicx kernels)", ..KernelRange::since(6, 12) }),
        "vgic-init.c: kvm_vgic_map_resources (kvm_vm_dead on error, df5fd75ee305); kvm_main.c kvm_vm_ioctl/kvm_vcpu_ioctl/kvm_device_ioctl",
        "A first KVM_RUN that cannot map the vGIC's resources (e.g. before KVM_DEV_ARM_VGIC_CTRL_INIT) marks the VM dead: every later VM, vCPU and device ioctl returns -EIO.");
    TEARDOWN_ON_MAP_FAILURE = ("lifecycle.teardown_on_map_failure", Applies::Kernels(KernelRange { without: Some(&kernels::VM_DEAD_ON_MAP_FAILURE), note: "(without the df5fd75ee305 backport: gicx kernels)", ..KernelRange::between((4, 19), (6, 11)) }),
        "vgic-init.c: kvm_vgic_map_resources (`if (ret) __kvm_vgic_destroy(kvm);` before df5fd75ee305), kvm_vgic_dist_destroy, vgic_init (`if (!dist->nr_spis)`)",
        "A first KVM_RUN that cannot map the vGIC tears it down: the SPIs and redistributor regions are freed, so a later init gives the legacy 256 interrupts whatever NR_IRQS said, and no redistributor reads GICR_TYPER.Last again. Checked on real KVM 5.10.223.");
    FAILED_RUN_COUNTS_AS_RUN = ("lifecycle.failed_run_counts_as_run", Applies::between((4, 19), (5, 15)),
        "arm.c: kvm_vcpu_first_run_init (has_run_once set before kvm_vgic_map_resources; replaced by vcpu->pid in cc5705fb1bf1, 5.16)",
        "A vCPU whose first KVM_RUN failed to map the vGIC counts as having run: its next KVM_RUN succeeds and enters the guest without mapping anything. Checked on real KVM 5.10.223.");
    GUEST_UNMAPPED_DIST_EXITS = ("dispatch.guest.unmapped_dist", Applies::between((4, 19), (5, 15)),
        "vgic-init.c: kvm_vgic_map_resources (vgic_register_dist_iodev only after a successful mapping); mmio.c: io_mem_abort (KVM_EXIT_MMIO when no io device answers)",
        "A vCPU that runs while the vGIC was never mapped finds no distributor: its accesses exit to the VMM as MMIO (KVM_EXIT_MMIO) instead of reaching KVM's emulation. The redistributors, registered as vCPUs are created, still answer. Checked on real KVM 5.10.223.");
    CPUIF_UNLOADED = ("cpuif.unloaded_before_init", Applies::between((4, 19), (5, 15)),
        "vgic.c: kvm_vgic_load (`if (unlikely(!vgic_initialized(vcpu->kvm))) return;`), vgic-v3.c vgic_v3_load",
        "A vCPU that runs before the vGIC is initialised (after a failed first KVM_RUN, before 5.16) gets no virtual CPU interface state loaded: its ICC registers hold whatever the physical CPU last held, which no model of this VM can predict. Seen on real KVM 5.10.223 (ICC_PMR_EL1 read 0x29, left by an earlier VM).");
    IRQ_LINE_TIMER_OWNED = ("kvm.irq_line.timer_owned", Applies::since(4, 19),
        "arch_timer.c: kvm_timer_enable (kvm_vgic_set_owner); vgic.c: kvm_vgic_inject_irq, vgic_validate_injection (irq->owner != owner)",
        "Once a vCPU has run, its timer PPIs (27 virtual, 30 physical) belong to the arch timer: KVM_IRQ_LINE on them succeeds but injects nothing.");
    HAS_ATTR_GICR_STATUSR_UNSORTED = ("uaccess.has_attr.gicr_statusr_unsorted", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_rd_registers[] (GICR_STATUSR listed before GICR_IIDR), vgic-mmio.c: vgic_find_mmio_region (bsearch); the fix \"KVM: arm64: vgic: fix GICR_STATUSR in vgic_v3_rd_registers\" (J. Qingtong, Sept 2024) was posted, not in the kernels measured",
        "KVM_HAS_DEVICE_ATTR on GICR_STATUSR is -ENXIO: the region table lists it out of offset order, so the binary search misses it (reads and writes still act as RAZ/WI). Checked on real KVM 5.10.223 to 7.3.4.");
    GICR_TYPER_UACCESS_NO_LAST = ("gicr.typer.uaccess.no_last", Applies::between((4, 19), (5, 12)),
        "vgic-mmio-v3.c: vgic_mmio_read_v3r_typer before 28e9d4bce3be (\"KVM: arm64: vgic-v3: Expose GICR_TYPER.Last for userspace\", 5.13)",
        "A VMM reading GICR_TYPER through KVM_GET_DEVICE_ATTR never sees Last: the kernel compared the access address with the last redistributor's guest address, and a userspace access carries only the frame offset. The guest sees Last. Checked on real KVM 5.10.223.");
    ICC_UACCESS_PMR = ("icc.uaccess.pmr", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_pmr (set_gic_pmr/get_gic_pmr, 6.0+)",
        "ICC_PMR_EL1 reads and writes all 8 bits of the priority mask kept in the vCPU's VMCR (ICC_PMR_EL1_MASK); the guest's ICV_PMR_EL1 sees only the implemented bits. Checked on real KVM: 0xf7 written reads back 0xf7.");
    ICC_UACCESS_IGRPEN1 = ("icc.uaccess.igrpen1", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_grpen1",
        "ICC_IGRPEN1_EL1 reads and writes the Group 1 enable kept in the vCPU's VMCR (bit 0).");
    ICC_UACCESS_IGRPEN0 = ("icc.uaccess.igrpen0", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_grpen0",
        "ICC_IGRPEN0_EL1 reads and writes the Group 0 enable kept in the vCPU's VMCR (bit 0).");
    ICC_UACCESS_BPR0 = ("icc.uaccess.bpr0", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_bpr0",
        "ICC_BPR0_EL1 reads and writes the 3-bit Group 0 binary point kept in the vCPU's VMCR, as written (0 at reset: the hardware raises it to its minimum only once the vCPU runs).");
    ICC_UACCESS_BPR1 = ("icc.uaccess.bpr1", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_bpr1",
        "ICC_BPR1_EL1 reads and writes the 3-bit Group 1 binary point (vmcr.abpr) while CBPR is 0; with CBPR = 1 a write is ignored and a read returns min(BPR0 + 1, 7).");
    ICC_UACCESS_CTLR_READ = ("icc.uaccess.ctlr.read", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_ctlr (get_gic_ctlr)",
        "ICC_CTLR_EL1 reads the vCPU's PRIbits and IDbits (from the host's ICH_VTR_EL2 until a restore lowers them), the host's SEIS and A3V, and CBPR/EOImode from the VMCR.");
    ICC_UACCESS_CTLR_WRITE = ("icc.uaccess.ctlr.write", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_ctlr (set_gic_ctlr)",
        "An ICC_CTLR_EL1 write within the vCPU's PRIbits/IDbits and matching the host's SEIS/A3V stores CBPR and EOImode and lowers the vCPU's PRIbits/IDbits to the written ones.");
    ICC_UACCESS_CTLR_HOST_MISMATCH = ("icc.uaccess.ctlr.host_mismatch", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_ctlr (set_gic_ctlr)",
        "An ICC_CTLR_EL1 write with more PRIbits or IDbits than the vCPU has, or SEIS/A3V different from the host's ICH_VTR_EL2: -EINVAL (state from better hardware cannot be restored). The checks run in order and PRIbits is stored before the IDbits check.");
    ICC_UACCESS_SRE = ("icc.uaccess.sre", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_sre",
        "ICC_SRE_EL1 reads SRE|DFB|DIB (0x7); a write must have SRE set (else -EINVAL) and changes nothing.");
    ICC_UACCESS_APR = ("icc.uaccess.apr", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_aprn, vgic_v3_access_apr_reg",
        "ICC_AP0R<n>_EL1 and ICC_AP1R<n>_EL1 read and write the vCPU's active-priority word n (vgic_ap0r[n], vgic_ap1r[n]) as a raw 32-bit value.");
    ICC_UACCESS_APR_BEYOND_PRIBITS = ("icc.uaccess.apr.beyond_pribits", Applies::since(4, 19), "vgic-sys-reg-v3.c: access_gic_aprn (vgic_v3_max_apr_idx)",
        "ICC_AP<g>R<n>_EL1 with n beyond what the vCPU's PRIbits use (n > 0 for 5 bits, n > 1 for 6): -EINVAL, reads 0.");
    ICC_UACCESS_UNKNOWN = ("icc.uaccess.unknown", Applies::since(4, 19), "vgic-sys-reg-v3.c: vgic_v3_cpu_sysregs_uaccess (find_reg_by_id; kvm_sys_reg_get_user/set_user from 6.0)",
        "A system-register id not in gic_v3_icc_reg_descs: -ENXIO before 6.0, -ENOENT from 6.0 (the generic sysreg API); KVM_HAS_DEVICE_ATTR stays -ENXIO.");

    // --- redistributor ---------------------------------------------------------------------------
    GICR_CTLR_READ = ("gicr.ctlr.read", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_read_v3r_ctlr",
        "GICR_CTLR reads EnableLPIs; with implementation revision 3 (5.19+) also IR and CES as 1.");
    GICR_CTLR_NO_ITS = ("gicr.ctlr.no_its", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_v3r_ctlr (!vgic_has_its)",
        "Without an in-kernel ITS, GICR_CTLR writes are ignored: LPIs cannot be enabled.");
    GICR_CTLR_WRITE = ("gicr.ctlr.write", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_v3r_ctlr",
        "With an ITS, EnableLPIs enables LPIs (reading the pending table) or disables them (flushing pending LPIs; RWP is set while that happens).");
    GICR_IIDR = ("gicr.iidr.read", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_read_v3r_iidr",
        "GICR_IIDR reads 0x4B00043B: ProductID 'K', Arm, no revision.");
    GICR_TYPER = ("gicr.typer.read", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_read_v3r_typer, vgic_mmio_vcpu_rdist_is_last",
        "GICR_TYPER reads the vCPU's Aff2.Aff1.Aff0 in bits 55:32, Processor_Number = vcpu_id, PLPIS with an ITS, and Last on the last redistributor of the region.");
    GICR_TYPER_UACCESS_WI = ("gicr.typer.uaccess_wi", Applies::since(4, 19), "vgic-mmio-v3.c: GICR_TYPER uaccess_write = vgic_mmio_uaccess_write_wi",
        "Userspace writes to GICR_TYPER are ignored with success.");
    BASER_WRITE = ("gicr.baser.write", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_propbase / vgic_mmio_write_pendbase, vgic_sanitise_*",
        "PROPBASER/PENDBASER are writable only while LPIs are disabled; values are sanitised (Outer Shareable -> Inner, inner non-cacheable -> RaWb, outer kept only if SameAsInner or nC, RES0 bits cleared).");
    BASER_LOCKED = ("gicr.baser.locked", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_write_propbase / vgic_mmio_write_pendbase (vgic_lpis_enabled)",
        "With LPIs enabled a PROPBASER/PENDBASER write is ignored.");
    PENDBASER_PTZ = ("gicr.pendbaser.ptz_raz", Applies::since(4, 19), "vgic-mmio-v3.c: vgic_mmio_read_pendbase",
        "GICR_PENDBASER.PTZ always reads 0.");
    INVL_IGNORED = ("gicr.inv.ignored", Applies::since(5, 19), "vgic-mmio-v3.c: vgic_mmio_write_invlpi / vgic_mmio_write_invall",
        "INVLPIR/INVALLR: writes to the upper word, or with LPIs disabled, are dropped; reads are 0.");
    INVL_DONE = ("gicr.inv.done", Applies::since(5, 19), "vgic-mmio-v3.c: vgic_mmio_write_invlpi / vgic_mmio_write_invall",
        "INVLPIR/INVALLR invalidate the cached LPI configuration synchronously (GICR_SYNCR.Busy is back to 0 when the write returns).");
    SYNCR = ("gicr.syncr.read", Applies::since(5, 19), "vgic-mmio-v3.c: vgic_mmio_read_sync",
        "GICR_SYNCR.Busy reads 1 only while an invalidation is in flight, which the model never observes: 0.");

    // --- VMM save/restore recipes (vmm.rs) -------------------------------------------------------
    VMM_NOT_RESTORED = ("vmm.not_restored", Applies::Beyond("all VMMs"),
        "gicx vmm.rs: the recipe's restore sequence",
        "The VMM never writes this register (or this part of it) on restore, so the destination keeps its own value: its reset state or, for an ID register, what its kernel presents.");
    VMM_PREINIT_FALLBACK = ("vmm.preinit_fallback", Applies::Beyond("kernel-doc recipe, before 6.17"),
        "Documentation/virt/kvm/devices/arm-vgic-v3.rst (6.17, eed9b1420907); vgic-kvm-device.c: reg_allowed_pre_init",
        "The kernel refused a register access before KVM_DEV_ARM_VGIC_CTRL_INIT with -EBUSY (kernels before 6.17), so the recipe initialises the vGIC and writes the register right after it.");
    VMM_CLEAR_WITH_SAVED_BITS = ("vmm.clear_with_saved_bits", Applies::Beyond("Firecracker, cloud-hypervisor"),
        "firecracker src/vmm/src/arch/aarch64/gic/gicv3/regs/{dist,redist}_regs.rs; cloud-hypervisor hypervisor/src/kvm/aarch64/gic/{dist,redist}_regs.rs",
        "The VMM writes the saved enable (active) bits to ICENABLER (ICACTIVER) before ISENABLER (ISACTIVER): only bits that were set at save are cleared, so an interrupt enabled at the destination's reset but disabled at save (an SGI) stays enabled.");
    VMM_QEMU_CLEAR_ZERO = ("vmm.qemu.clear_zero", Applies::Beyond("QEMU before July 2025"),
        "qemu hw/intc/arm_gicv3_kvm.c kvm_dist_putbmp (`reg = 0`), fixed by b10bd4bd17ac and the ICPENDR removal (Message-Id 20250729161650.43758-2-zenghui.yu@linux.dev)",
        "QEMU writes 0 to GICD_ICENABLER<n>, GICD_ICPENDR<n> and GICD_ICACTIVER<n> before the set register: writing 0 clears nothing, so state the destination had before the restore survives (visible after a system reset, not on a fresh destination).");
    VMM_QEMU_IROUTER_STRIDE = ("vmm.qemu.irouter_stride", Applies::Beyond("QEMU (every version read, 2017-2025)"),
        "qemu hw/intc/arm_gicv3_kvm.c kvm_arm_gicv3_get/kvm_arm_gicv3_put: `GICD_IROUTER + (sizeof(uint32_t) * i)`",
        "QEMU addresses IROUTER<i> at 0x6000 + 4*i instead of 0x6000 + 8*i and writes back the words it read: only the routes of INTIDs 32 to num_irq/2 reach the destination, higher SPIs keep the reset route (vCPU 0).");
    VMM_CROSVM_SWEEP = ("vmm.crosvm.sweep", Applies::Beyond("crosvm (snapshot support since 2025-03, 35bd2439e)"),
        "crosvm devices/src/irqchip/kvm/aarch64.rs: get_dist_regs/set_dist_regs, get_redist_regs/set_redist_regs",
        "crosvm writes back every 32-bit word of the redistributor and distributor frames in ascending order: ISENABLER and ISACTIVER are followed by ICENABLER and ICACTIVER with the same bits, which clears the restored enables and active states, and GICD_IIDR and GICD_TYPER2 are written after init.");
    VMM_ITS_SEQUENCE = ("vmm.its.sequence", Applies::Beyond("QEMU, Firecracker, cloud-hypervisor, kernel-doc (VMs with an ITS)"),
        "qemu hw/intc/arm_gicv3_its_kvm.c (vm_change_state_handler, kvm_arm_its_pre_save/post_load) @06b40d25; firecracker gicv3/regs/its_regs.rs @9fcdb794; cloud-hypervisor hypervisor/src/kvm/aarch64/gic/mod.rs @010be29f; Documentation/virt/kvm/devices/arm-vgic-its.rst (ITS Restore Sequence)",
        "The VMM saves the ITS by writing its tables and the LPI pending bits into guest RAM (KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) before RAM is copied, then reads GITS_BASER<n>, CTLR, CBASER, CREADR, CWRITER and IIDR; it restores RAM first, then the redistributors, GITS_IIDR/CBASER/CREADR/CWRITER/BASER<n>, KVM_DEV_ARM_ITS_RESTORE_TABLES and GITS_CTLR last.");
    MIGRATE_ITS_STATE_CHANGED = ("migrate.its.state_changed", Applies::Beyond("gicx (VMs with an ITS)"),
        "gicx migrate/its.rs: the ITS's state (vgic-its.c struct vgic_its, its_device, its_ite, its_collection; the LPIs' vgic_irq) at save compared with the destination after its first KVM_RUN",
        "ITS state the guest relies on differs on the destination: a device or event mapping (device ID, event ID → LPI and collection), a collection's target vCPU, an LPI's priority, enable or pending state, or GITS_CTLR.Enabled, GITS_CBASER, GITS_CREADR or a GITS_BASER<n>.");

    // --- migration verdicts (migrate.rs) ----------------------------------------------------------
    MIGRATE_REFUSED = ("migrate.refused", Applies::Beyond("gicx"),
        "gicx migrate.rs; the VMM stops at the first KVM_SET_DEVICE_ATTR error (Firecracker/cloud-hypervisor/crosvm `?`, QEMU &error_abort)",
        "The destination kernel refused a restore access: the VMM stops at the first error, so the VM does not resume there.");
    MIGRATE_ID_CHANGED = ("migrate.id_changed", Applies::Beyond("gicx"),
        "gicx migrate.rs; KVM keeps guest-visible ID registers fixed across migration (the 2020 TYPER2/IIDR exact-match decision)",
        "An ID or capability register the guest read on the source reads differently on the destination.");
    MIGRATE_CAPABILITY_APPEARED = ("migrate.capability_appeared", Applies::Beyond("gicx"),
        "gicx migrate.rs; M. Zyngier, GICv4.1 vSGI review (Mar 2020): a guest may rely on what it read",
        "The destination offers a capability the guest saw absent on the source: a guest that reboots there may start using it and then can no longer migrate back.");
    MIGRATE_STATE_CHANGED = ("migrate.state_changed", Applies::Beyond("gicx"),
        "gicx migrate.rs: state at save compared with the destination after its first KVM_RUN",
        "Interrupt state the guest had at save (distributor enable, nASSGIreq, an interrupt's group, enable, pending, active, priority, trigger, line level, route or vSGI backing) differs on the destination.");
    MIGRATE_COMPATIBLE = ("migrate.verdict.compatible", Applies::Beyond("gicx"), "gicx migrate.rs",
        "Verdict compatible: the destination accepted the restore and the guest sees exactly what it saw.");
    MIGRATE_REJECTED = ("migrate.verdict.rejected", Applies::Beyond("gicx"), "gicx migrate.rs",
        "Verdict rejected: the destination refused the restore, and rightly so: restoring it anyway would change what the guest sees.");
    MIGRATE_NEEDLESSLY_REJECTED = ("migrate.verdict.needlessly_rejected", Applies::Beyond("gicx"), "gicx migrate.rs",
        "Verdict needlessly rejected: the destination refused the restore although a restore skipping the refused writes would leave the guest seeing exactly what it saw.");
    MIGRATE_SILENTLY_BROKEN = ("migrate.verdict.silently_broken", Applies::Beyond("gicx"), "gicx migrate.rs",
        "Verdict silently broken: the destination accepted the restore but the guest now sees different ID values or interrupt state.");

    // --- building the VM by steps (scenario/setup.rs) -------------------------------------------
    SETUP_CREATE_VM = ("setup.create_vm", Applies::since(4, 19),
        "kvm_main.c: kvm_dev_ioctl_create_vm; arm64 mmu.c: kvm_init_stage2_mmu (KVM_VM_TYPE_ARM_IPA_SIZE)",
        "KVM_CREATE_VM makes a VM with the IPA size its type asks for and no vCPU or device yet.");
    SETUP_CREATE_DEVICE = ("setup.create_device", Applies::since(4, 19),
        "vgic-init.c: kvm_vgic_create; vgic-its.c: vgic_its_create",
        "KVM_CREATE_DEVICE of the vGICv3 (or of an ITS once the vGICv3 exists) succeeds.");
    SETUP_DEVICE_EXISTS = ("setup.create_device.exists", Applies::since(4, 19),
        "vgic-init.c: kvm_vgic_create (irqchip_in_kernel: -EEXIST)",
        "A second vGIC device on the same VM is -EEXIST.");
    SETUP_DEVICE_NO_V2 = ("setup.create_device.no_v2", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_register_vgic_device (vgic-v2 ops registered only with GICv2 emulation); kvm_main.c: kvm_ioctl_create_device (no ops: -ENODEV)",
        "A vGICv2 on a GICv3 host without GICv2 compatibility (gicx's hosts, QEMU's GICv3) is -ENODEV, whether or not a vGICv3 exists.");
    SETUP_ITS_WITHOUT_VGIC = ("setup.its.no_vgic", Applies::since(4, 19),
        "vgic-its.c: vgic_its_create (no check of the VM's vGIC; the ITS device type is registered with the vGICv3's at boot)",
        "An ITS device can be created before the vGICv3 device.");
    SETUP_CREATE_VCPU = ("setup.create_vcpu", Applies::since(4, 19),
        "kvm_main.c: kvm_vm_ioctl_create_vcpu; vgic-init.c: kvm_vgic_vcpu_init; vgic-mmio-v3.c: vgic_register_redist_iodev",
        "KVM_CREATE_VCPU with any unused id in any order; with a vGICv3 and a redistributor region with room, the new vCPU's redistributor takes the first free slot in region-index order.");
    SETUP_VCPU_EXISTS = ("setup.create_vcpu.exists", Applies::since(4, 19),
        "kvm_main.c: kvm_vm_ioctl_create_vcpu (kvm_get_vcpu_by_id / xa_insert: -EEXIST)",
        "A vCPU id that already exists is -EEXIST.");
    SETUP_VCPU_AFTER_INIT = ("setup.create_vcpu.after_init", Applies::since(4, 19),
        "arm.c: kvm_arch_vcpu_precreate (irqchip_in_kernel && vgic_initialized: -EBUSY)",
        "A vCPU created after KVM_DEV_ARM_VGIC_CTRL_INIT is -EBUSY (from 7.3 a vCPU id that already exists is -EEXIST first: kernels::CREATE_VCPU_ID_FIRST).");
    SETUP_VCPU_REDIST_CHECK = ("setup.create_vcpu.redist_check", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_register_redist_iodev (!vgic_v3_check_base: -EINVAL)",
        "Placing the new vCPU's redistributor fails when the regions overlap the distributor or leave the IPA space: KVM_CREATE_VCPU is -EINVAL.");
    SETUP_ADDR_SET = ("setup.addr.set", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_vgic_addr; vgic-mmio-v3.c: vgic_v3_set_redist_base",
        "The base address is set; a new redistributor region places every existing vCPU without one.");
    SETUP_ADDR_GET = ("setup.addr.get", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_vgic_addr (read)",
        "KVM_GET_DEVICE_ATTR of an address returns it, VGIC_ADDR_UNDEF (all ones) when never set; a region reads back as index | base | count << 52.");
    SETUP_ADDR_SET_TWICE = ("setup.addr.set_twice", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_check_iorange (!IS_VGIC_ADDR_UNDEF: -EEXIST; 5.16+ first), vgic_check_ioaddr before; vgic-mmio-v3.c: vgic_v3_alloc_redist_region (a second legacy region)",
        "A base address that is already set, or a second legacy redistributor region, is -EEXIST (a second legacy region was -EINVAL before d9b201e99c61, 5.13).");
    SETUP_ADDR_ALIGNMENT = ("setup.addr.alignment", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_check_iorange / vgic_check_ioaddr (!IS_ALIGNED: -EINVAL)",
        "A base not aligned to 64 KiB, or a range that wraps, is -EINVAL.");
    SETUP_ADDR_BEYOND_IPA = ("setup.addr.beyond_ipa", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_check_iorange (addr & ~kvm_phys_mask || addr + size > kvm_phys_size: -E2BIG, 4612d98f58c7 5.16); vgic_check_ioaddr before (base only)",
        "A base beyond the VM's IPA size is -E2BIG; from 5.16 a range whose end passes it is -E2BIG too.");
    SETUP_ADDR_EFAULT = ("setup.addr.efault", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_vgic_addr (get_user: -EFAULT)",
        "A NULL value pointer is -EFAULT.");
    SETUP_REDIST_MIX = ("setup.addr.redist_mix", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_alloc_redist_region (!count && rdreg->count; index != rdreg->index + 1)",
        "The legacy redistributor attribute after a REDIST_REGION, or a REDIST_REGION with index 0 after the legacy one, is -EINVAL.");
    SETUP_REGION_BAD_ATTR = ("setup.addr.region_attr", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_vgic_addr (!count || flags: -EINVAL)",
        "A REDIST_REGION with count 0 or non-zero flags is -EINVAL.");
    SETUP_REGION_INDEX = ("setup.addr.region_index", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_alloc_redist_region (index != 0 for the first, != last + 1 after)",
        "Redistributor regions are added with consecutive indexes from 0: any other index is -EINVAL.");
    SETUP_REGION_OVERLAP = ("setup.addr.region_overlap", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_alloc_redist_region (vgic_dist_overlap for the legacy region, vgic_v3_rdist_overlap)",
        "A redistributor region overlapping another (or, for the legacy one, the distributor) is -EINVAL.");
    SETUP_REGION_CHECK_BASE = ("setup.addr.region_check_base", Applies::since(4, 19),
        "vgic-mmio-v3.c: vgic_v3_set_redist_base (vgic_register_all_redist_iodevs -> vgic_register_redist_iodev -> vgic_v3_check_base)",
        "A region that would take a vCPU's redistributor while the distributor overlaps some region is dropped again: -EINVAL.");
    SETUP_REGION_ENOENT = ("setup.addr.region_enoent", Applies::since(4, 19),
        "vgic-kvm-device.c: kvm_vgic_addr (vgic_v3_rdist_region_from_index: -ENOENT)",
        "Reading a redistributor region that does not exist is -ENOENT.");
    SETUP_NR_IRQS_SET = ("setup.nr_irqs.set", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_set_common_attr (KVM_DEV_ARM_VGIC_GRP_NR_IRQS)",
        "GRP_NR_IRQS sets nr_spis = value - 32 before init; without it vgic_init gives 224 SPIs (nr_irqs 256).");
    SETUP_NR_IRQS_BAD = ("setup.nr_irqs.bad", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_set_common_attr (val < 64 || val > VGIC_MAX_RESERVED || val & 31: -EINVAL)",
        "GRP_NR_IRQS below 64, above 1023 or not a multiple of 32 is -EINVAL (checked before -EBUSY).");
    SETUP_NR_IRQS_BUSY = ("setup.nr_irqs.busy", Applies::since(4, 19),
        "vgic-kvm-device.c: vgic_set_common_attr (vgic_ready || nr_spis: -EBUSY)",
        "GRP_NR_IRQS once nr_spis is set (a second time, or after init gave the default) is -EBUSY.");
    SETUP_RUN_NO_REDIST = ("setup.run.no_redist", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_map_resources (a vCPU's rd_iodev.base_addr undefined: -ENXIO)",
        "The first KVM_RUN with a vCPU whose redistributor was never placed (no region with room) is -ENXIO, before the init check.");
    SETUP_RUN_NO_DIST = ("setup.run.no_dist", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_map_resources (vgic_dist_base undefined: -ENXIO)",
        "The first KVM_RUN without a distributor address is -ENXIO, before the init check.");
    SETUP_RUN_CHECK_BASE = ("setup.run.check_base", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_map_resources (!vgic_v3_check_base: -EINVAL)",
        "The first KVM_RUN when the distributor overlaps a redistributor region (or, from 5.16, a legacy region grew past the IPA size) is -EINVAL, before the init check.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_sourced() {
        let mut ids: Vec<_> = every().map(|r| r.id).collect();
        assert_eq!(
            ids.len(),
            ALL.len() + crate::vits::rules::ALL.len() + crate::vgic::vlpi::RULES.len()
        );
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id");
        for r in every() {
            assert!(
                !r.source.is_empty() && !r.text.is_empty() && !r.eras.to_string().is_empty(),
                "{}",
                r.id
            );
            assert!(r.text.ends_with('.'), "{} should be one sentence", r.id);
        }
        assert_eq!(
            by_id("gicd.typer2.uaccess.exact_match")
                .map(|r| r.eras.to_string())
                .as_deref(),
            Some("5.7-6.16")
        );
    }
}
