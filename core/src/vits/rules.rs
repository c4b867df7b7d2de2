//! The ITS's behaviours as rules (the same shape as [`crate::rules`]; kept in
//! their own file so they merge into the rule list later without conflicts).
//! Sources: `arch/arm64/kvm/vgic/vgic-its.c` (torvalds/linux b5e26cd12f34,
//! read in full) unless the rule names a later commit (see
//! [`super::changes`]); `Documentation/virt/kvm/devices/arm-vgic-its.rst`
//! for the ABI.

use super::changes;
use crate::host::KernelVersion;
use crate::rules::{Applies, KernelRange, Rule};

const fn kv(major: u16, minor: u16, patch: u16) -> KernelVersion {
    KernelVersion::new(major, minor, patch)
}

macro_rules! its_rules {
    ($( $name:ident = ($id:literal, $eras:expr, $source:literal, $text:literal); )*) => {
        $( pub static $name: Rule = Rule { id: $id, eras: $eras, source: $source, text: $text }; )*
        /// Every ITS rule, in declaration order.
        pub static ALL: &[&Rule] = &[ $( &$name ),* ];
    };
}

/// Find an ITS rule by id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

its_rules! {
    // --- device and attributes (vgic_its_set_attr / get_attr / has_attr) -------------------------
    ADDR_SET = ("its.addr.set", Applies::since(4, 19),
        "vgic-its.c: vgic_its_set_attr (KVM_VGIC_ITS_ADDR_TYPE), vgic_check_iorange, vgic_register_its_iodev",
        "KVM_DEV_ARM_VGIC_GRP_ADDR/KVM_VGIC_ITS_ADDR_TYPE places the ITS's 128 KiB frame: once (-EEXIST after), 64 KiB aligned (-EINVAL), inside the IPA space (-E2BIG); another address type is -ENODEV.");
    ADDR_GET = ("its.addr.get", Applies::since(4, 19),
        "vgic-its.c: vgic_its_get_attr",
        "Reading the ITS address returns it, or VGIC_ADDR_UNDEF (all ones) before it is set.");
    HAS_ATTR = ("its.has_attr", Applies::since(4, 19),
        "vgic-its.c: vgic_its_has_attr, vgic_its_has_attr_regs",
        "KVM_HAS_DEVICE_ATTR: the address type, CTRL_INIT/ITS_CTRL_RESET/SAVE_TABLES/RESTORE_TABLES and every ITS register offset are 0; a misaligned register offset is -EINVAL; anything else -ENXIO.");
    CTRL_INIT_NOP = ("its.ctrl.init", Applies::since(4, 19),
        "vgic-its.c: vgic_its_ctrl",
        "KVM_DEV_ARM_VGIC_CTRL_INIT on the ITS does nothing and succeeds.");
    CTRL_UNKNOWN_IGNORED = ("its.ctrl.unknown_ignored", Applies::between((4, 19), (6, 16)),
        "vgic-its.c: vgic_its_ctrl (no default case)",
        "An unknown KVM_DEV_ARM_VGIC_GRP_CTRL attribute of the ITS succeeds doing nothing.");
    CTRL_UNKNOWN_ENXIO = ("its.ctrl.unknown_enxio", Applies::since(6, 17),
        "vgic-its.c: vgic_its_ctrl (4530256f3699)",
        "An unknown KVM_DEV_ARM_VGIC_GRP_CTRL attribute of the ITS is -ENXIO.");
    CTRL_OTHER_GROUP = ("its.attr.other_group", Applies::since(4, 19),
        "vgic-its.c: vgic_its_set_attr, vgic_its_get_attr",
        "A group the ITS device does not have (or KVM_GET_DEVICE_ATTR of GRP_CTRL) is -ENXIO.");
    RESET = ("its.ctrl.reset", Applies::since(4, 19),
        "vgic-its.c: vgic_its_reset (KVM_DEV_ARM_ITS_CTRL_RESET)",
        "KVM_DEV_ARM_ITS_CTRL_RESET clears BASER Valid bits (keeping the ABI's entry sizes), CBASER, CREADR, CWRITER and Enable, and unmaps every device and collection.");

    // --- registers, guest MMIO (vgic-mmio.c dispatch over its_registers[]) ------------------------
    GUEST_NO_REGION = ("its.guest.no_region", Applies::since(4, 19),
        "vgic-mmio.c: dispatch_mmio_read/write over vgic-its.c its_registers[]",
        "No ITS region holds this offset: the guest reads 0 and its store is ignored.");
    GUEST_TRANSLATER_IGNORED = ("its.guest.translater_ignored", Applies::since(4, 19),
        "vgic-its.c: its_registers[] (no GITS_TRANSLATER region); vgic_its_inject_msi",
        "A guest store to GITS_TRANSLATER reaches no KVM region and is ignored: MSIs reach KVM's ITS only through KVM_SIGNAL_MSI or irqfd routing, which carry the device ID.");
    GUEST_BAD_WIDTH = ("its.guest.bad_width", Applies::since(4, 19),
        "vgic-mmio.c: check_region",
        "The access width is not one the region allows (32-bit only for CTLR, IIDR and the ID registers; 32 or 64 for the rest) or is misaligned: read 0, store ignored.");
    CTLR_READ = ("its.ctlr.read", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_read_its_ctlr",
        "GITS_CTLR reads Enabled and Quiescent (CREADR equals CWRITER).");
    CTLR_ENABLE_NEEDS_TABLES = ("its.ctlr.enable_needs_tables", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_ctlr",
        "Setting GITS_CTLR.Enable while CBASER, BASER0 (devices) or BASER1 (collections) is not Valid is ignored entirely.");
    CTLR_WRITE = ("its.ctlr.write", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_ctlr, vgic_its_process_commands",
        "A GITS_CTLR write sets Enable and then processes every queued command if enabled (from userspace too: restore GITS_CTLR last).");
    IIDR_READ = ("its.iidr.read", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_read_its_iidr",
        "GITS_IIDR is KVM's (ProductID 0x4b, Implementer Arm) with the table ABI revision in [15:12]; guest stores are ignored.");
    IIDR_UACCESS = ("its.iidr.uaccess", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_uaccess_write_its_iidr, vgic_its_set_abi, vgic_its_commit_v0",
        "A userspace GITS_IIDR write selects the table ABI revision: 0 is the only one (-EINVAL for others) and rewrites the BASER entry sizes.");
    TYPER_READ = ("its.typer.read", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_read_its_typer",
        "GITS_TYPER is 0x1ef71: physical LPIs, 8-byte ITT entries, 16 event-ID bits, 16 device-ID bits, PTA=0 (collections target vCPU numbers); stores are ignored.");
    CBASER_WRITE = ("its.cbaser.write", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_cbaser, vgic_sanitise_its_cbaser",
        "GITS_CBASER is read-only while enabled; otherwise it is written sanitised (no outer shareability or inner non-cacheable, address bits [15:12] cleared) and CREADR and CWRITER become 0.");
    CWRITER_WRITE = ("its.cwriter.write", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_cwriter",
        "GITS_CWRITER keeps bits [19:5]; an offset at or beyond the queue's size is ignored; otherwise queued commands are processed if enabled.");
    CREADR_GUEST_WI = ("its.creadr.guest_wi", Applies::since(4, 19),
        "vgic-its.c: its_mmio_write_wi",
        "Guest stores to GITS_CREADR are ignored.");
    CREADR_UACCESS = ("its.creadr.uaccess", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_uaccess_write_its_creadr",
        "A userspace GITS_CREADR write is -EBUSY while enabled and -EINVAL at or beyond the queue's size; otherwise it sets bits [19:5].");
    BASER_WRITE = ("its.baser.write", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_baser, vgic_sanitise_its_baser",
        "GITS_BASER0/1 are ignored while enabled; otherwise Type and Entry_Size stay KVM's (device 8 bytes, collection 8 bytes), BASER1 cannot be Indirect, the page size is forced to 64 KiB and cacheability sanitised.");
    BASER_INVALID_UNMAPS = ("its.baser.invalid_unmaps", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_write_its_baser (vgic_its_free_device_list / _collection_list)",
        "Writing BASER0 (BASER1) with Valid clear unmaps every device with its ITEs (every collection).");
    BASER_UNIMPLEMENTED = ("its.baser.unimplemented", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_read_its_baser, vgic_mmio_write_its_baser",
        "GITS_BASER2 to GITS_BASER7 read 0 and ignore writes.");
    IDREGS = ("its.idregs", Applies::since(4, 19),
        "vgic-its.c: vgic_mmio_read_its_idregs",
        "The ITS ID registers read PIDR0 0x92, PIDR1 0xb4, PIDR2 0x3b, PIDR4 0x40, CIDR0-3 0x0d 0xf0 0x05 0xb1, others 0.");

    // --- registers, userspace (KVM_DEV_ARM_VGIC_GRP_ITS_REGS) --------------------------------------
    UACCESS_ALIGNMENT = ("its.uaccess.alignment", Applies::since(4, 19),
        "vgic-its.c: vgic_its_attr_regs_access",
        "ITS_REGS offsets below GITS_TYPER or from GITS_PIDR4 must be 4-byte aligned, others 8-byte aligned (64-bit access): -EINVAL otherwise.");
    UACCESS_NO_BASE = ("its.uaccess.no_base", Applies::since(4, 19),
        "vgic-its.c: vgic_its_attr_regs_access (IS_VGIC_ADDR_UNDEF)",
        "ITS_REGS accesses before the ITS address is set are -ENXIO.");
    UACCESS_NO_REGION = ("its.uaccess.no_region", Applies::since(4, 19),
        "vgic-its.c: vgic_its_attr_regs_access (vgic_find_mmio_region)",
        "An ITS_REGS offset no region holds is -ENXIO.");
    UACCESS_HANDLER = ("its.uaccess.handler", Applies::since(4, 19),
        "vgic-its.c: vgic_its_attr_regs_access",
        "ITS_REGS accesses are 64-bit for 64-bit registers and use the region's userspace write handler (IIDR, CREADR) or else the guest's.");

    // --- the command queue (vgic_its_process_commands, vgic_its_handle_command) --------------------
    CMD_ONLY_WHEN_ENABLED = ("its.cmd.only_when_enabled", Applies::since(4, 19),
        "vgic-its.c: vgic_its_process_commands",
        "Commands are processed only while the ITS is enabled, from CREADR up to CWRITER, wrapping at the queue's end.");
    CMD_READ_FAULT = ("its.cmd.read_fault", Applies::since(4, 19),
        "vgic-its.c: vgic_its_process_commands (kvm_read_guest fails)",
        "A command KVM cannot read from guest memory is skipped and CREADR still advances (GICv3 spec 6.3.2).");
    CMD_ERROR_IGNORED = ("its.cmd.error_ignored", Applies::since(4, 19),
        "vgic-its.c: vgic_its_process_commands (return value of vgic_its_handle_command dropped)",
        "A command's error (an E_ITS_* code, a failed guest memory access) or an unknown command number is ignored: no SError, no GITS_CREADR.Stalled, processing continues.");
    CMD_MAPD = ("its.cmd.mapd", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_mapd",
        "MAPD maps a device to its ITT (dropping every mapping a previous MAPD of it made): E_ITS_MAPD_DEVICE_OOR if the device table cannot hold the ID, E_ITS_MAPD_ITTSIZE_OOR for more than 16 event-ID bits.");
    CMD_MAPD_UNMAP_CLEARS = ("its.cmd.mapd.unmap_clears_dte", Applies::Kernels(KernelRange { with: Some(&changes::ITS_CLEAR_ENTRY_ON_UNMAP), ..KernelRange::since(6, 13) }),
        "vgic-its.c: vgic_its_cmd_handle_mapd (e9649129d33d; stable 5.4.287, 5.10.231, 6.1, 6.6, 6.12)",
        "MAPD with V=0 also writes a zero entry over the device's DTE in guest memory.");
    CMD_MAPC = ("its.cmd.mapc", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_mapc",
        "MAPC maps a collection to a vCPU number (E_ITS_MAPC_PROCNUM_OOR at or beyond the vCPU count, checked even for V=0, E_ITS_MAPC_COLLECTION_OOR if the collection table cannot hold the ID); remapping retargets every LPI of the collection; V=0 unmaps it and its ITEs keep no collection.");
    CMD_MAPTI = ("its.cmd.mapti", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_mapi, vgic_add_lpi",
        "MAPTI/MAPI map (device, event) to an LPI and a collection (created unmapped if new): E_ITS_MAPTI_UNMAPPED_DEVICE, E_ITS_MAPTI_ID_OOR (event beyond the device's bits or its ITE's page not in guest memory), E_ITS_MAPTI_PHYSICALID_OOR (LPI below 8192 or beyond GICR_PROPBASER.IDbits), E_ITS_MAPC_COLLECTION_OOR.");
    CMD_MAPTI_EXISTING = ("its.cmd.mapti.existing", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_mapi (find_ite: UNPREDICTABLE)",
        "MAPTI/MAPI of an event already mapped does nothing and succeeds.");
    CMD_MAPTI_LPI_IN_USE = ("its.cmd.mapti.lpi_in_use", Applies::since(7, 3),
        "vgic-its.c: vgic_its_cmd_handle_mapi (7.3; measured on 7.3.4, commit not identified)",
        "MAPTI/MAPI of an LPI another ITE already maps is dropped: the LPI is not shared.");
    LPI_CONFIG_FROM_MEMORY = ("its.lpi.config_from_memory", Applies::since(4, 19),
        "vgic-its.c: vgic_add_lpi, update_lpi_config",
        "A new LPI reads its priority (bits [7:2]) and enable (bit 0) from the property table at PROPBASER + INTID - 8192; if that read fails the mapping is dropped.");
    LPI_PENDING_FROM_TABLE = ("its.lpi.pending_from_table", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_lpi_sync_pending_status (from vgic_add_lpi)",
        "A new LPI with a target vCPU takes its pending bit from that vCPU's pending table (PENDBASER + INTID / 8) and clears the bit there; a failed access drops the mapping.");
    LPI_SHARED = ("its.lpi.shared", Applies::since(4, 19),
        "vgic-its.c: vgic_add_lpi (vgic_get_irq finds it)",
        "Mapping an LPI that already exists reuses it as it is: configuration, pending state and target are not re-read (until 7.3, its.cmd.mapti.lpi_in_use).");
    CMD_MOVI = ("its.cmd.movi", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_movi",
        "MOVI moves an event to another collection and its LPI to that vCPU: E_ITS_MOVI_UNMAPPED_INTERRUPT, or E_ITS_MOVI_UNMAPPED_COLLECTION if either collection is unmapped.");
    CMD_DISCARD = ("its.cmd.discard", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_discard",
        "DISCARD removes an event's mapping (and its LPI with its pending state once unused); E_ITS_DISCARD_UNMAPPED_INTERRUPT if unmapped or its collection is unmapped.");
    CMD_DISCARD_CLEARS = ("its.cmd.discard.clears_ite", Applies::Kernels(KernelRange { with: Some(&changes::ITS_CLEAR_ENTRY_ON_UNMAP), ..KernelRange::since(6, 13) }),
        "vgic-its.c: vgic_its_cmd_handle_discard (7602ffd1d5e8; stable 5.4.287, 5.10.231, 6.1, 6.6, 6.12)",
        "DISCARD also writes a zero entry over the event's ITE in guest memory.");
    CMD_CLEAR = ("its.cmd.clear", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_clear",
        "CLEAR clears the LPI's pending state; E_ITS_CLEAR_UNMAPPED_INTERRUPT if unmapped.");
    CMD_INT = ("its.cmd.int", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_int, vgic_its_trigger_msi",
        "INT makes the event's LPI pending, as an MSI would; E_ITS_INT_UNMAPPED_INTERRUPT if unmapped, its collection unmapped or the vCPU missing.");
    CMD_INV = ("its.cmd.inv", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_inv, update_lpi_config",
        "INV re-reads the event's LPI configuration from the property table; E_ITS_INV_UNMAPPED_INTERRUPT if unmapped.");
    CMD_INVALL = ("its.cmd.invall", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_invall, vgic_its_invall",
        "INVALL re-reads the configuration of every LPI targeting the collection's vCPU; E_ITS_INVALL_UNMAPPED_COLLECTION if unmapped.");
    CMD_SYNC = ("its.cmd.sync", Applies::since(4, 19),
        "vgic-its.c: vgic_its_handle_command (GITS_CMD_SYNC)",
        "SYNC does nothing: KVM's ITS is always in sync.");
    CMD_MOVALL = ("its.cmd.movall", Applies::since(4, 19),
        "vgic-its.c: vgic_its_cmd_handle_movall",
        "MOVALL retargets every LPI of the VM targeting one vCPU to another (collections unchanged); E_ITS_MOVALL_PROCNUM_OOR if either is not a vCPU.");
    CMD_MOVALL_EVERY_LPI = ("its.cmd.movall.every_lpi", Applies::Kernels(KernelRange { except: &[kv(6, 12, 118)], ..KernelRange::between((6, 10), (7, 1)) }),
        "vgic-its.c: vgic_its_cmd_handle_movall (11f4f8f3e6e0: xa_for_each over the LPI xarray, no target test)",
        "MOVALL retargets every LPI of the VM to the destination vCPU, whatever it targeted, even none (measured on 6.16.12 to 7.1.13; 6.12.118 and 7.2.13 move only the source's).");

    // --- MSIs (KVM_SIGNAL_MSI, irqfd) ---------------------------------------------------------------
    MSI_DELIVERED = ("its.msi.delivered", Applies::since(4, 19),
        "vgic-its.c: vgic_its_inject_msi, vgic_its_trigger_msi",
        "KVM_SIGNAL_MSI of a mapped (device, event) makes its LPI pending on the collection's vCPU and returns 1.");
    MSI_BLOCKED = ("its.msi.blocked", Applies::since(4, 19),
        "vgic-its.c: vgic_its_inject_msi (E_ITS_INT_UNMAPPED_INTERRUPT mapped to 0)",
        "KVM_SIGNAL_MSI of an unmapped (device, event), or one whose collection is unmapped, returns 0: the guest blocked it.");
    MSI_BUSY = ("its.msi.busy", Applies::since(4, 19),
        "vgic-its.c: vgic_its_resolve_lpi",
        "KVM_SIGNAL_MSI while the ITS is disabled, or when the target vCPU has GICR_CTLR.EnableLPIs clear, is -EBUSY.");
    MSI_BAD_ADDRESS = ("its.msi.bad_address", Applies::since(4, 19),
        "vgic-its.c: vgic_msi_to_its",
        "KVM_SIGNAL_MSI without KVM_MSI_VALID_DEVID, or to an address outside the ITS frame, is -EINVAL (-ENODEV without an ITS).");

    MSI_NO_ITS = ("its.msi.no_its", Applies::since(4, 19),
        "vgic-irqfd.c: kvm_set_msi (`if (!vgic_has_its(kvm)) return -ENODEV;`); irqchip.c: kvm_send_userspace_msi",
        "KVM_SIGNAL_MSI on a VM without an ITS device is -ENODEV.");

    // --- save/restore of the tables (ABI revision 0) ------------------------------------------------
    SAVE_PENDING_TABLES = ("its.save.pending_tables", Applies::since(4, 19),
        "vgic-v3.c: vgic_v3_save_pending_tables; vgic-kvm-device.c: vgic_v3_set_attr (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)",
        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES on the vGIC device writes each LPI's pending state into its target vCPU's pending table (GICR_PENDBASER + INTID / 8): the byte is read first (-EFAULT outside guest memory) and written only when the bit differs. LPIs without a target vCPU are skipped; with no LPI it succeeds without touching memory.");

    SAVE_PENDING_TABLES_UNINIT = ("its.save.pending_tables_uninit", Applies::since(5, 13),
        "vgic-v3.c: vgic_v3_save_pending_tables (`if (unlikely(!vgic_initialized(kvm))) return -ENXIO;`, added with the GICv4.1 vLPI-state save; 5.13 assumed, UNCONFIRMED)",
        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES before KVM_DEV_ARM_VGIC_CTRL_INIT is -ENXIO (before, it succeeds: there is no LPI yet).");
    SAVE_TABLES = ("its.save.tables", Applies::since(4, 19),
        "vgic-its.c: vgic_its_save_tables_v0, vgic_its_save_device_tables, vgic_its_save_itt, vgic_its_save_collection_table",
        "KVM_DEV_ARM_ITS_SAVE_TABLES writes, for each Valid table, each device's ITEs (next offset [63:48], LPI [47:16], ICID [15:0]) then its DTE (Valid 63, next [62:49], ITT address >> 8 in [48:5], event-ID bits - 1 in [4:0]) by ID, then the collections one after another (Valid 63, vCPU [51:16], ICID [15:0]) and a zero terminator if the table has room.");
    SAVE_FAULT = ("its.save.fault", Applies::since(4, 19),
        "vgic-its.c: vgic_write_guest_lock",
        "A table entry KVM cannot write to guest memory fails the save with -EFAULT, leaving what was written before.");
    SAVE_UNREACHABLE_EINVAL = ("its.save.unreachable_device_einval", Applies::Kernels(KernelRange { without: Some(&changes::ITS_SAVE_SKIPS_UNREACHABLE), ..KernelRange::between((4, 19), (7, 2)) }),
        "vgic-its.c: vgic_its_save_device_tables (vgic_its_check_id)",
        "A mapped device the device table can no longer hold (BASER0 shrunk or moved while the ITS was disabled) fails the save with -EINVAL.");
    SAVE_UNREACHABLE_SKIP = ("its.save.unreachable_device_skipped", Applies::since(7, 3),
        "vgic-its.c: vgic_its_save_device_tables (cc5d96036e01)",
        "A mapped device the device table can no longer hold is left out of the save (UNCONFIRMED detail: with its ITT).");
    SAVE_NULL_COLLECTION_OOPS = ("its.save.null_collection_oops", Applies::Kernels(KernelRange { except: &[kv(6, 1, 192), kv(6, 12, 118), kv(7, 2, 13)], ..KernelRange::between((4, 19), (7, 2)) }),
        "vgic-its.c: vgic_its_save_ite (ite->collection->collection_id)",
        "Saving an ITE whose collection the guest unmapped (MAPC V=0) dereferences NULL in the host kernel: the ioctl never completes normally.");
    SAVE_NULL_COLLECTION_SKIP = ("its.save.null_collection_skipped", Applies::Kernels(KernelRange { also: &[kv(6, 1, 192), kv(6, 12, 118), kv(7, 2, 13)], ..KernelRange::since(7, 3) }),
        "vgic-its.c: vgic_its_save_itt (c6c156d931c3; ad1e686e2378 for the next offsets, 7.3)",
        "An ITE whose collection the guest unmapped is left out of the save; from 7.3 (ad1e686e2378) the previous ITE's next offset skips it (UNCONFIRMED: patch bodies not read; measured on 6.1.192, 6.12.118, 7.2.13 and 7.3.4).");
    SAVE_NULL_COLLECTION_NEXT_STALE = ("its.save.null_collection_next_stale", Applies::Kernels(KernelRange::only(&[kv(6, 1, 192), kv(6, 12, 118), kv(7, 2, 13)])),
        "vgic-its.c: vgic_its_save_itt, compute_next_eventid_offset (c6c156d931c3 backported without ad1e686e2378)",
        "An ITE saved before one that was left out (its collection unmapped) keeps a next offset that counts to that unsaved event.");
    SAVE_COLLECTIONS_OVERRUN = ("its.save.collections_overrun", Applies::since(4, 19),
        "vgic-its.c: vgic_its_save_collection_table (no bound; 9b10fb74e4b6 bounding it was reverted by 30908e727247 before 7.3)",
        "Collections are written one after another with no check against the table's size: more collections than BASER1 now holds are written past its end.");
    RESTORE_TABLES = ("its.restore.tables", Applies::since(4, 19),
        "vgic-its.c: vgic_its_restore_tables_v0, scan_its_table",
        "KVM_DEV_ARM_ITS_RESTORE_TABLES reads the collection table (until an invalid entry) then the device table and each ITT, following next offsets (0: last).");
    RESTORE_UNDO = ("its.restore.undo", Applies::since(5, 19),
        "vgic-its.c: vgic_its_restore_tables_v0, vgic_its_restore_collection_table, vgic_its_restore_device_tables (R. Koller, 'Undo work in failed ITS restores', 2022; 5.19 assumed)",
        "A failed restore unmaps every collection and device again, those it restored included.");
    RESTORE_KEEPS_PARTIAL = ("its.restore.keeps_partial", Applies::between((4, 19), (5, 18)),
        "vgic-its.c: vgic_its_restore_collection_table (no cleanup), vgic_its_restore_dte (vgic_its_free_device of the failing device only)",
        "A failed restore leaves what it restored before the failure mapped: the collections read so far, and the devices before a failing one (measured on 5.10.223).");
    RESTORE_FAULT = ("its.restore.fault", Applies::since(4, 19),
        "vgic-its.c: scan_its_table, vgic_its_restore_cte (kvm_read_guest_lock)",
        "A table entry KVM cannot read (guest memory not loaded or not mapped) fails the restore with -EFAULT (\"Bad address\").");
    RESTORE_CTE = ("its.restore.cte", Applies::since(4, 19),
        "vgic-its.c: vgic_its_restore_cte",
        "A restored collection whose vCPU does not exist, or whose ID the table cannot hold, is -EINVAL; a collection ID seen twice is -EEXIST.");
    RESTORE_DTE = ("its.restore.dte", Applies::since(4, 19),
        "vgic-its.c: vgic_its_restore_dte, handle_l1_dte",
        "A restored DTE whose device ID the device table cannot hold (IDs from 65536, or beyond a flat table) is -EINVAL; for an indirect table each valid level-1 entry names a 64 KiB level-2 page.");
    RESTORE_DTE_EVENTID_BITS = ("its.restore.dte_eventid_bits", Applies::since(7, 1),
        "vgic-its.c: vgic_its_restore_dte (9ce754ed8e7a)",
        "A restored DTE with more than 16 event-ID bits is -EINVAL, as MAPD refuses them.");
    RESTORE_DTE_OVERSIZED_SCAN = ("its.restore.dte_oversized_scan", Applies::between((4, 19), (7, 0)),
        "vgic-its.c: vgic_its_restore_itt (BIT_ULL(bits) * 8 passed as int size to scan_its_table)",
        "A restored DTE with more than 16 event-ID bits is accepted and its ITT scanned over a length truncated to an int (0 for 29 bits and more, whereupon one entry is read).");
    RESTORE_ITE = ("its.restore.ite", Applies::since(4, 19),
        "vgic-its.c: vgic_its_restore_ite, vgic_add_lpi",
        "A restored ITE with LPI 0 is skipped; an LPI below 8192, a next offset past the device's event IDs, an unknown collection or an event whose entry is not in guest memory is -EINVAL; creating the LPI reads the property and pending tables (-EFAULT if not loaded).");
    RESTORE_BOUND = ("its.restore.model_bound", Applies::Beyond("gicx"),
        "gicx vits/tables.rs",
        "The model reads at most 1 048 576 table entries per restore (untouched guest pages are skipped at once): beyond that the restore is refused as too large, where KVM would keep scanning.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_prefixed() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(ALL.iter().all(|r| r.id.starts_with("its.")));
        assert!(
            crate::rules::ALL
                .iter()
                .all(|g| ALL.iter().all(|r| r.id != g.id)),
            "an ITS rule id collides with the vGIC's"
        );
        assert_eq!(
            by_id("its.cmd.sync").map(|r| r.eras.to_string()).as_deref(),
            Some("4.19+")
        );
        assert_eq!(
            crate::rules::by_id("its.cmd.sync").map(|r| r.id),
            Some("its.cmd.sync"),
            "the project's rule lookup finds ITS rules"
        );
    }
}
