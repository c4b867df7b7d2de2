//! Every behaviour of the model has a rule: a stable id, one sentence, the
//! kernel function it reproduces and the eras it applies to. Accesses return
//! the rules that decided them; the CLI and the UI show them.

use serde::Serialize;

/// One behaviour of KVM's vGIC, reproduced by the model.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `gicd.typer2.uaccess.exact_match`. Never renamed once published.
    pub id: &'static str,
    /// Kernel versions the rule applies to, e.g. `5.7–6.16`.
    pub eras: &'static str,
    /// Kernel file and function (or spec section) it reproduces.
    pub source: &'static str,
    /// One sentence.
    pub text: &'static str,
}

macro_rules! rules {
    ($( $name:ident = ($id:literal, $eras:literal, $source:literal, $text:literal); )*) => {
        $( pub static $name: Rule = Rule { id: $id, eras: $eras, source: $source, text: $text }; )*
        /// Every rule, in declaration order.
        pub static ALL: &[&Rule] = &[ $( &$name ),* ];
    };
}

/// Find a rule by id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

rules! {
    // --- dispatch (vgic-mmio.c) -------------------------------------------------------------
    DISPATCH_GUEST_NO_REGION = ("dispatch.guest.no_region", "4.19+",
        "vgic-mmio.c: dispatch_mmio_read/dispatch_mmio_write, vgic_get_mmio_region",
        "No KVM region matches this offset: the guest reads 0 and its write is ignored, with no external abort.");
    DISPATCH_GUEST_BAD_WIDTH = ("dispatch.guest.bad_width", "4.19+",
        "vgic-mmio.c: check_region",
        "The access width is not one the region allows (or is 16-bit, which KVM never allows), or it is not naturally aligned: treated as no region, so the read is 0 and the write is ignored.");
    DISPATCH_INTID_BEYOND_NR_IRQS = ("dispatch.intid_beyond_nr_irqs", "4.19+",
        "vgic-mmio.c: check_region (VGIC_ADDR_TO_INTID >= nr_spis + 32)",
        "The access addresses INTIDs at or beyond nr_irqs: treated as no region, reads 0, writes ignored (userspace: success).");
    DISPATCH_PRIVATE_SLICE_RAZ_WI = ("dispatch.dist.private_slice_raz_wi", "4.19+",
        "vgic-mmio-v3.c: REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED",
        "In the distributor the slice of a per-IRQ register for INTIDs 0-31 is RAZ/WI; SGIs and PPIs live in each redistributor's SGI_base frame.");
    UACCESS_NO_REGION = ("uaccess.no_region", "4.19+",
        "vgic-mmio.c: vgic_uaccess_read/vgic_uaccess_write",
        "No KVM region matches this offset: KVM_GET_DEVICE_ATTR returns 0 with value 0 and KVM_SET_DEVICE_ATTR succeeds doing nothing (only KVM_HAS_DEVICE_ATTR reports ENXIO).");
    UACCESS_HANDLER = ("uaccess.handler", "4.19+",
        "vgic-mmio.c: vgic_uaccess_read/vgic_uaccess_write",
        "Userspace accesses are 32-bit and use the region's uaccess handler where it has one, else the guest handler.");
    UACCESS_BEFORE_INIT = ("uaccess.before_init", "4.19+",
        "vgic-kvm-device.c: vgic_v3_attr_regs_access",
        "DIST_REGS/REDIST_REGS accesses need an initialised vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT): -EBUSY before it.");
    UACCESS_PRE_INIT_ALLOWED = ("uaccess.pre_init_allowed", "6.17+",
        "vgic-kvm-device.c: reg_allowed_pre_init (f26e6af75782, c652887a9288)",
        "GICD_IIDR and GICD_TYPER2 may be read and written before KVM_DEV_ARM_VGIC_CTRL_INIT.");
    UACCESS_BAD_MPIDR = ("uaccess.bad_mpidr", "4.19+",
        "vgic-kvm-device.c: vgic_v3_parse_attr",
        "The attribute's MPIDR (or, for DIST_REGS, vCPU 0) matches no vCPU: -EINVAL.");
    HAS_ATTR_OK = ("uaccess.has_attr.ok", "4.19+",
        "vgic-mmio-v3.c: vgic_v3_has_attr_regs",
        "A region exists for an aligned 32-bit access at this offset: KVM_HAS_DEVICE_ATTR returns 0.");
    HAS_ATTR_ENXIO = ("uaccess.has_attr.enxio", "4.19+",
        "vgic-mmio-v3.c: vgic_v3_has_attr_regs",
        "The offset is not 4-byte aligned, or no region exists for a 32-bit access (unimplemented register, or an INTID beyond nr_irqs): -ENXIO.");

    // --- lifecycle (vgic-init.c, vgic-kvm-device.c) -------------------------------------------
    INIT_OK = ("lifecycle.init", "4.19+",
        "vgic-init.c: vgic_init via KVM_DEV_ARM_VGIC_CTRL_INIT",
        "KVM_DEV_ARM_VGIC_CTRL_INIT allocates and resets the distributor; it is idempotent.");
    RUN_OK = ("lifecycle.first_run", "4.19+",
        "vgic-v3.c: vgic_v3_map_resources (from kvm_vgic_map_resources at the first KVM_RUN)",
        "The first KVM_RUN maps the vGIC; on a vSGI-capable host it also calls vgic_v4_configure_vsgis so a restored nASSGIreq takes effect.");
    RUN_BEFORE_INIT = ("lifecycle.run_before_init", "4.19+",
        "vgic-v3.c: vgic_v3_map_resources",
        "A GICv3 vGIC must be initialised explicitly before KVM_RUN: -EBUSY.");
    GUEST_NOT_RUNNING = ("lifecycle.guest_not_running", "4.19+",
        "arm.c: kvm_arch_vcpu_ioctl_run",
        "The guest executes only after the first KVM_RUN: a guest access before it cannot happen.");

    // --- GICD_CTLR ----------------------------------------------------------------------------
    CTLR_READ = ("gicd.ctlr.read", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc",
        "GICD_CTLR reads EnableGrp1 = distributor enabled, ARE_NS and DS always 1, nASSGIreq as latched (5.7+), EnableGrp0 and RWP always 0.");
    CTLR_GUEST_WRITE = ("gicd.ctlr.guest.write", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc",
        "A guest write to GICD_CTLR sets the distributor enable from EnableGrp1; EnableGrp0, ARE, DS and RWP are not stored.");
    CTLR_GUEST_NASSGIREQ_NO_SUPPORT = ("gicd.ctlr.guest.nassgireq_unsupported", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (5.7-5.12: has_gicv4_1; 5.13-6.16: has_gicv4_1 && gic_cpuif_has_vsgi(); 6.17+: vgic_supports_direct_sgis)",
        "nASSGIreq is stripped from a guest write when this VM cannot have hardware vSGIs (RES0 semantics, no error).");
    CTLR_GUEST_NASSGIREQ_RO_ENABLED = ("gicd.ctlr.guest.nassgireq_ro_while_enabled", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (\"Dist stays enabled? nASSGIreq is RO\")",
        "While the distributor stays enabled nASSGIreq is read-only: a write that keeps EnableGrp1 set keeps the old nASSGIreq.");
    CTLR_GUEST_NASSGIREQ_SWITCH = ("gicd.ctlr.guest.nassgireq_switch", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc -> vgic-v4.c: vgic_v4_configure_vsgis",
        "A guest write that changes nASSGIreq moves the SGIs of every vCPU to (or back from) hardware vSGIs.");
    CTLR_GUEST_RELOAD = ("gicd.ctlr.guest.reload_gicv4", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (KVM_REQ_RELOAD_GICv4)",
        "On a vSGI-capable host a change of the distributor enable asks every vCPU to reload its vPE (vGrp1En follows the enable); otherwise enabling kicks the vCPUs.");
    CTLR_UACCESS_GUEST_PATH = ("gicd.ctlr.uaccess.guest_path", "4.19-5.6",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc falls through to vgic_mmio_write_v3_misc",
        "Before 5.7 a userspace GICD_CTLR write goes through the guest handler: only the enable is stored.");
    CTLR_UACCESS_LATCH = ("gicd.ctlr.uaccess.latch", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_CTLR)",
        "A userspace GICD_CTLR write stores the enable and nASSGIreq directly: no read-only rule, no vSGI reconfiguration, no reload, never an error.");
    CTLR_UACCESS_NASSGIREQ_DROPPED = ("gicd.ctlr.uaccess.nassgireq_dropped", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (5.7-6.16: !has_gicv4_1, no CPU-interface check; 6.17+: !vgic_supports_direct_sgis)",
        "A restored nASSGIreq=1 is silently dropped when the host (5.7-6.16) or the VM (6.17+) lacks vSGI support.");

    // --- GICD_TYPER / TYPER2 / IIDR / STATUSR / ID ---------------------------------------------
    TYPER_READ = ("gicd.typer.read", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER)",
        "GICD_TYPER reads ITLinesNumber = (nr_irqs / 32) - 1, and with an in-kernel ITS IDbits = 15 and LPIS = 1, else IDbits = 9.");
    RO_WRITE_IGNORED = ("gicd.ro.write_ignored", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_write_v3_misc (\"at best for documentation purposes\")",
        "GICD_TYPER, GICD_TYPER2 and GICD_IIDR ignore guest writes.");
    TYPER2_READ_PRE_5_7 = ("gicd.typer2.read.pre_5_7", "4.19-5.6",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (default case)",
        "Before 5.7 GICD_TYPER2 reads 0.");
    TYPER2_READ = ("gicd.typer2.read", "5.7+",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (5.7-5.12: has_gicv4_1; 5.13-6.16: && gic_cpuif_has_vsgi(); 6.17+: vgic_supports_direct_sgis = per-VM nassgicap)",
        "GICD_TYPER2.nASSGIcap reads 1 iff this VM can have hardware vSGIs; VIL and VID read 0.");
    TYPER2_UACCESS_IGNORED = ("gicd.typer2.uaccess.ignored", "4.19-5.6",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc -> vgic_mmio_write_v3_misc",
        "Before 5.7 a userspace GICD_TYPER2 write is ignored and succeeds, whatever the value.");
    TYPER2_UACCESS_EXACT = ("gicd.typer2.uaccess.exact_match", "5.7-6.16",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_TYPER2), 2291ff2f2a56",
        "A userspace GICD_TYPER2 write must equal what KVM reads, else -EINVAL (the 2020 decision: like GICD_IIDR).");
    TYPER2_UACCESS_EQUAL = ("gicd.typer2.uaccess.equal", "6.17+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_TYPER2), c652887a9288",
        "A userspace GICD_TYPER2 write equal to the current value succeeds, before or after init.");
    TYPER2_UACCESS_BUSY = ("gicd.typer2.uaccess.busy_after_init", "6.17+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (vgic_initialized), c652887a9288",
        "Changing GICD_TYPER2 after KVM_DEV_ARM_VGIC_CTRL_INIT: -EBUSY.");
    TYPER2_UACCESS_OTHER_BITS = ("gicd.typer2.uaccess.other_bits", "6.17+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc, c652887a9288",
        "A GICD_TYPER2 write differing outside nASSGIcap: -EINVAL.");
    TYPER2_UACCESS_UNSUPPORTED = ("gicd.typer2.uaccess.unsupported", "6.17+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (!system_supports_direct_sgis()), c652887a9288",
        "Setting nASSGIcap on a host without vSGI support: -EINVAL.");
    TYPER2_UACCESS_SET_CAP = ("gicd.typer2.uaccess.set_nassgicap", "6.17+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (dist->nassgicap = ...), c652887a9288",
        "Before init userspace may clear (or set back, where the host supports it) the VM's nASSGIcap; it also gates vSGIs and, on v4.1 hosts, vLPI forwarding.");
    IIDR_READ = ("gicd.iidr.read", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_IIDR)",
        "GICD_IIDR reads ProductID 0x4B ('K'), Implementer 0x43B (Arm) and the implementation revision (2 until 5.18, 3 from 5.19, or what userspace restored).");
    IIDR_UACCESS_EXACT = ("gicd.iidr.uaccess.exact_match", "4.19-5.18",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (case GICD_IIDR)",
        "A userspace GICD_IIDR write must equal the current value, else -EINVAL.");
    IIDR_UACCESS_FIELDS = ("gicd.iidr.uaccess.fields_must_match", "5.19+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc ((reg ^ val) & ~GICD_IIDR_REVISION_MASK)",
        "A userspace GICD_IIDR write whose ProductID, Variant or Implementer differ: -EINVAL.");
    IIDR_UACCESS_REV_NOOP = ("gicd.iidr.uaccess.revision_noop", "5.19-7.0",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc (revision taken from the current value; fixed by a0e6ae45af17)",
        "The revision is (wrongly) taken from the current value, so any revision nibble is accepted and nothing changes.");
    IIDR_UACCESS_REV_SET = ("gicd.iidr.uaccess.revision_set", "7.1+",
        "vgic-mmio-v3.c: vgic_mmio_uaccess_write_v3_misc, a0e6ae45af17 \"Fix IIDR revision field extracted from wrong value\"",
        "The written revision is honoured: 2 or 3 is stored (changing what GICR_CTLR reports), any other revision: -EINVAL.");
    STATUSR_RAO = ("gicd.statusr.rao_wi", "4.19+",
        "vgic-mmio-v3.c: GICD_STATUSR -> vgic_mmio_read_rao / vgic_mmio_write_wi",
        "GICD_STATUSR reads all-ones and ignores writes on both paths (the UAPI document says userspace writes set bits; the code ignores them).");
    IDREGS_READ = ("gicd.idregs.read", "4.19+",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_idregs",
        "ID registers: PIDR2 reads 0x3B (ArchRev 3, a GICv3), every other ID and component ID word reads 0; writes are ignored.");
    RAZ_WI = ("kvm.raz_wi", "4.19+",
        "vgic-mmio.c: vgic_mmio_read_raz / vgic_mmio_write_wi",
        "KVM emulates this register as read-as-zero, writes ignored.");

    // --- per-IRQ state (vgic-mmio.c) ------------------------------------------------------------
    GROUP = ("irq.group", "4.19+",
        "vgic-mmio.c: vgic_mmio_read_group / vgic_mmio_write_group (guest-configurable since IIDR rev 2, d53c2c29ae0d)",
        "IGROUPR: every bit of the written word assigns the group of its IRQ (0 and 1 alike).");
    ENABLE_READ = ("irq.enable.read", "4.19+", "vgic-mmio.c: vgic_mmio_read_enable",
        "ISENABLER and ICENABLER both read the enabled bits.");
    ENABLE_SET_GUEST = ("irq.enable.set.guest", "4.19+", "vgic-mmio.c: vgic_mmio_write_senable",
        "ISENABLER: set bits enable their IRQs (HW vSGIs are also unmasked at the ITS).");
    ENABLE_CLEAR_GUEST = ("irq.enable.clear.guest", "4.19+", "vgic-mmio.c: vgic_mmio_write_cenable",
        "ICENABLER: set bits disable their IRQs.");
    ENABLE_SET_UACCESS = ("irq.enable.set.uaccess", "4.19+", "vgic-mmio.c: vgic_uaccess_write_senable",
        "Userspace ISENABLER: set bits only set the enabled flag, with no hardware side effects.");
    ENABLE_CLEAR_UACCESS = ("irq.enable.clear.uaccess", "4.19+", "vgic-mmio.c: vgic_uaccess_write_cenable",
        "Userspace ICENABLER: set bits only clear the enabled flag; writing the saved enable bits here clears those very enables.");
    PENDING_READ_GUEST = ("irq.pending.read.guest", "4.19+", "vgic-mmio.c: __read_pending (is_user = false)",
        "Guest pending read: edge IRQs read the latch, level IRQs the latch OR the line level; HW vSGIs read the hardware pending bit.");
    PENDING_READ_UACCESS = ("irq.pending.read.uaccess", "4.19+", "vgic-mmio.c: vgic_uaccess_read_pending -> __read_pending (is_user = true)",
        "Userspace ISPENDR reads the pending latch only (not the line level); HW vSGIs read the hardware pending bit (5.7+).");
    PENDING_SET_GUEST = ("irq.pending.set.guest", "4.19+", "vgic-mmio.c: vgic_mmio_write_spending",
        "ISPENDR: set bits latch their IRQs pending (HW vSGIs: pending set in hardware via GITS_SGIR).");
    PENDING_CLEAR_GUEST = ("irq.pending.clear.guest", "4.19+", "vgic-mmio.c: vgic_mmio_write_cpending",
        "ICPENDR: set bits clear the pending latch (a level IRQ whose line is high stays pending).");
    PENDING_WRITE_UACCESS = ("irq.pending.write.uaccess", "4.19-6.7",
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending (inline form)",
        "Userspace ISPENDR writes the whole latch: set bits latch pending, zero bits clear the latch, whatever the trigger mode.");
    PENDING_WRITE_UACCESS_6_8 = ("irq.pending.write.uaccess_6_8", "6.8+",
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending = vgic_uaccess_write_spending then vgic_uaccess_write_cpending(~val) (39084ba8d0fc)",
        "Userspace ISPENDR writes the whole latch (set then clear of the complement); for HW vSGIs the hardware pending bit is set or cleared.");
    PENDING_VSGI_UACCESS_LOST = ("irq.pending.write.uaccess_vsgi_lost", "5.7-6.7",
        "vgic-mmio-v3.c: vgic_v3_uaccess_write_pending (before 7b95382f9651 and the 6.8 rework)",
        "Before 6.8 a userspace ISPENDR write for an SGI already backed by hardware only touches the software latch, which the hardware path never reads: the pending state is lost.");
    ICPENDR_UACCESS = ("irq.pending.icpendr.uaccess", "4.19+",
        "vgic-mmio-v3.c: ICPENDR uaccess = vgic_mmio_read_raz / vgic_mmio_uaccess_write_wi",
        "Userspace ICPENDR reads 0 and ignores writes: the pending state is restored through ISPENDR alone.");
    ACTIVE_READ = ("irq.active.read", "4.19+", "vgic-mmio.c: vgic_mmio_read_active / vgic_uaccess_read_active",
        "IS/ICACTIVER read the active bits (the guest path first halts the other vCPUs; HW vSGIs read 0).");
    ACTIVE_SET = ("irq.active.set", "4.19+", "vgic-mmio.c: vgic_mmio_write_sactive / vgic_mmio_uaccess_write_sactive -> vgic_mmio_change_active",
        "ISACTIVER: set bits make their IRQs active (HW vSGIs have no active state and stay 0).");
    ACTIVE_CLEAR = ("irq.active.clear", "4.19+", "vgic-mmio.c: vgic_mmio_write_cactive / vgic_mmio_uaccess_write_cactive -> vgic_mmio_change_active",
        "ICACTIVER: set bits deactivate their IRQs; writing the saved active bits here clears those very bits.");
    PRIORITY = ("irq.priority", "4.19+", "vgic-mmio.c: vgic_mmio_read_priority / vgic_mmio_write_priority (VGIC_PRI_BITS = 5)",
        "IPRIORITYR: one byte per IRQ, byte or word access; writes keep the top 5 bits (value & 0xF8).");
    CONFIG_READ = ("irq.config.read", "4.19+", "vgic-mmio.c: vgic_mmio_read_config",
        "ICFGR: 2 bits per IRQ, bit 2n+1 = 1 for edge-triggered, bit 2n always 0.");
    CONFIG_WRITE = ("irq.config.write", "4.19+", "vgic-mmio.c: vgic_mmio_write_config",
        "ICFGR: bit 2n+1 selects edge (1) or level (0) for SPIs; SGIs (always edge) and PPIs (level) are not writable.");
    IROUTER_READ = ("gicd.irouter.read", "4.19+", "vgic-mmio-v3.c: vgic_mmio_read_irouter",
        "IROUTER reads the stored Aff2.Aff1.Aff0; IRM and Aff3 read 0; the upper word reads 0.");
    IROUTER_WRITE = ("gicd.irouter.write", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_irouter",
        "IROUTER keeps only Aff2.Aff1.Aff0 (bits 23:0); IRM (1-of-N) and Aff3 are dropped, and the upper word ignores writes.");
    IROUTER_NO_VCPU = ("gicd.irouter.no_matching_vcpu", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_irouter -> kvm_mpidr_to_vcpu",
        "The route names no existing vCPU: the value is kept but the SPI has no target vCPU and is never delivered.");

    // --- GICv4.1 vSGI configuration (vgic-v4.c) ---------------------------------------------------
    VSGI_ENABLE = ("vsgi.configure.enable", "5.7+", "vgic-v4.c: vgic_v4_configure_vsgis -> vgic_v4_enable_vsgis",
        "nASSGIreq = 1: each vCPU's SGIs move to hardware: enable, group and priority are copied to the vPE (VSGI command), the pending latch is pushed to the ITS and cleared; the active state is not transferred.");
    VSGI_DISABLE = ("vsgi.configure.disable", "5.7+", "vgic-v4.c: vgic_v4_configure_vsgis -> vgic_v4_disable_vsgis",
        "nASSGIreq = 0: each vCPU's SGIs come back to software: the hardware pending state is read back into the latch.");
    VSGI_NO_SGI_DOMAIN = ("vsgi.configure.no_sgi_domain", "5.13-6.16", "vgic-v4.c: vgic_v4_enable_vsgis; irq-gic-v3-its.c: has_v4_1_sgi (model interpretation, UNCONFIRMED)",
        "nASSGIreq was latched through userspace on a GICv4.1 host whose CPU interface lacks vSGIs: the ITS has no per-vPE SGI domain, so the SGIs cannot be mapped (the kernel WARNs); gicx keeps them in software while the guest reads nASSGIreq = 1.");

    // --- alternative restore policies (design review) ------------------------------------------
    POLICY_ACCEPT_ANY = ("policy.accept_any", "policy accept-any",
        "gicx policy; kernel behaviour before 5.7 (TYPER2) and 4.19 (IIDR)",
        "Policy accept-any: the restored GICD_TYPER2/GICD_IIDR is accepted and ignored; the guest keeps seeing the destination's values.");
    POLICY_RELAXED_2020_ACCEPT = ("policy.relaxed_2020.accept", "policy relaxed-2020",
        "gicx policy; proposal in \"[PATCH v5 20/23] KVM: arm64: GICv4.1: Plumb SGI implementation selection in the distributor\" (M. Zyngier, 23 Mar 2020)",
        "Policy relaxed-2020: a saved nASSGIcap of 0 or equal to the host's is accepted and the VM presents the restored value to its guest.");
    POLICY_RELAXED_2020_REFUSE = ("policy.relaxed_2020.refuse", "policy relaxed-2020",
        "gicx policy; proposal in the 2020 GICv4.1 vSGI review",
        "Policy relaxed-2020: a saved nASSGIcap of 1 on a host without vSGIs (or other TYPER2 bits) is refused with -EINVAL.");

    // --- line level (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO) --------------------------------------------
    LEVEL_INFO_READ = ("level_info.read", "4.19+", "vgic-mmio.c: vgic_read_irq_line_level_info",
        "LEVEL_INFO read: the line level of the 32 INTIDs, reported only for level-triggered IRQs; SGIs and INTIDs beyond nr_irqs read 0.");
    LEVEL_INFO_WRITE = ("level_info.write", "4.19+", "vgic-mmio.c: vgic_write_irq_line_level_info",
        "LEVEL_INFO write: sets the line level whatever the trigger mode (so the VMM need not restore ICFGR first); SGIs and INTIDs beyond nr_irqs are skipped.");
    LEVEL_INFO_BAD_INTID = ("level_info.bad_intid", "4.19+", "vgic-mmio-v3.c: vgic_v3_line_level_info_uaccess",
        "LEVEL_INFO needs an INTID that is a multiple of 32: -EINVAL.");

    // --- redistributor ---------------------------------------------------------------------------
    GICR_CTLR_READ = ("gicr.ctlr.read", "4.19+", "vgic-mmio-v3.c: vgic_mmio_read_v3r_ctlr",
        "GICR_CTLR reads EnableLPIs; with implementation revision 3 (5.19+) also IR and CES as 1.");
    GICR_CTLR_NO_ITS = ("gicr.ctlr.no_its", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_v3r_ctlr (!vgic_has_its)",
        "Without an in-kernel ITS, GICR_CTLR writes are ignored: LPIs cannot be enabled.");
    GICR_CTLR_WRITE = ("gicr.ctlr.write", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_v3r_ctlr",
        "With an ITS, EnableLPIs enables LPIs (reading the pending table) or disables them (flushing pending LPIs; RWP is set while that happens).");
    GICR_IIDR = ("gicr.iidr.read", "4.19+", "vgic-mmio-v3.c: vgic_mmio_read_v3r_iidr",
        "GICR_IIDR reads 0x4B00043B: ProductID 'K', Arm, no revision.");
    GICR_TYPER = ("gicr.typer.read", "4.19+", "vgic-mmio-v3.c: vgic_mmio_read_v3r_typer, vgic_mmio_vcpu_rdist_is_last",
        "GICR_TYPER reads the vCPU's Aff2.Aff1.Aff0 in bits 55:32, Processor_Number = vcpu_id, PLPIS with an ITS, and Last on the last redistributor of the region.");
    GICR_TYPER_UACCESS_WI = ("gicr.typer.uaccess_wi", "4.19+", "vgic-mmio-v3.c: GICR_TYPER uaccess_write = vgic_mmio_uaccess_write_wi",
        "Userspace writes to GICR_TYPER are ignored with success.");
    BASER_WRITE = ("gicr.baser.write", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_propbase / vgic_mmio_write_pendbase, vgic_sanitise_*",
        "PROPBASER/PENDBASER are writable only while LPIs are disabled; values are sanitised (Outer Shareable -> Inner, inner non-cacheable -> RaWb, outer kept only if SameAsInner or nC, RES0 bits cleared).");
    BASER_LOCKED = ("gicr.baser.locked", "4.19+", "vgic-mmio-v3.c: vgic_mmio_write_propbase / vgic_mmio_write_pendbase (vgic_lpis_enabled)",
        "With LPIs enabled a PROPBASER/PENDBASER write is ignored.");
    PENDBASER_PTZ = ("gicr.pendbaser.ptz_raz", "4.19+", "vgic-mmio-v3.c: vgic_mmio_read_pendbase",
        "GICR_PENDBASER.PTZ always reads 0.");
    INVL_IGNORED = ("gicr.inv.ignored", "5.19+", "vgic-mmio-v3.c: vgic_mmio_write_invlpi / vgic_mmio_write_invall",
        "INVLPIR/INVALLR: writes to the upper word, or with LPIs disabled, are dropped; reads are 0.");
    INVL_DONE = ("gicr.inv.done", "5.19+", "vgic-mmio-v3.c: vgic_mmio_write_invlpi / vgic_mmio_write_invall",
        "INVLPIR/INVALLR invalidate the cached LPI configuration synchronously (GICR_SYNCR.Busy is back to 0 when the write returns).");
    SYNCR = ("gicr.syncr.read", "5.19+", "vgic-mmio-v3.c: vgic_mmio_read_sync",
        "GICR_SYNCR.Busy reads 1 only while an invalidation is in flight, which the model never observes: 0.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_sourced() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id");
        for r in ALL {
            assert!(
                !r.source.is_empty() && !r.text.is_empty() && !r.eras.is_empty(),
                "{}",
                r.id
            );
            assert!(r.text.ends_with('.'), "{} should be one sentence", r.id);
        }
        assert_eq!(
            by_id("gicd.typer2.uaccess.exact_match").map(|r| r.eras),
            Some("5.7-6.16")
        );
    }
}
