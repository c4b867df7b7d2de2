//! Unit and property tests of the ITS: every register rule, every command,
//! MSIs, and save/restore (round trip bit for bit, each error, hostile tables).

use super::command::{Command, CommandError, ItsCode};
use super::observer::{rule_ids, ItsEvent};
use super::tables::{cte, dte, ite, Cte, Dte, Ite as IteEntry, ENTRY_BUDGET};
use super::*;
use proptest::prelude::*;

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x100_0000;
const DT: u64 = 0x4000_0000;
const CT: u64 = 0x4010_0000;
const CQ: u64 = 0x4020_0000;
const ITT: u64 = 0x4030_0000;
const PROP: u64 = 0x4080_0000;
const PEND: [u64; 2] = [0x4090_0000, 0x40a0_0000];
const BASE: u64 = 0x0808_0000;

struct World {
    its: Its,
    mem: GuestMemory,
    redists: Redistributors,
    events: Vec<ItsEvent>,
}

impl World {
    /// An ITS with its address set, guest RAM, two vCPUs with LPIs enabled
    /// and a 16-bit property table whose LPIs 8192.. are enabled at 0xa0.
    fn new(kernel: &str) -> World {
        let mut mem = GuestMemory::new(4096);
        mem.add_region(RAM, RAM_SIZE).unwrap();
        let mut redists = Redistributors::new(2);
        redists.propbaser = PROP | 15;
        for (v, r) in redists.vcpus.iter_mut().enumerate() {
            r.enable_lpis = true;
            r.pendbaser = PEND[v];
        }
        for intid in 8192..8192 + 256u64 {
            mem.write(PROP + intid - 8192, &[0xa1]).unwrap();
        }
        let mut its = Its::new(kernel.parse().unwrap());
        its.set_address(BASE, 40).unwrap();
        World {
            its,
            mem,
            redists,
            events: Vec::new(),
        }
    }

    /// [`World::new`] with the tables programmed and the ITS enabled.
    fn enabled(kernel: &str) -> World {
        let mut w = World::new(kernel);
        w.with(|its, bus| its.setup_for_tests(bus, DT, CT, CQ));
        assert!(w.its.enabled());
        w.events.clear();
        w
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Its, &mut Bus) -> R) -> R {
        let mut bus = Bus {
            mem: &mut self.mem,
            redists: &self.redists,
            observer: &mut self.events,
        };
        f(&mut self.its, &mut bus)
    }

    /// Queue one command; its error, if the ITS processed it.
    fn cmd(&mut self, c: Command) -> Option<CommandError> {
        self.events.clear();
        self.with(|its, bus| its.queue_command(bus, &c)).unwrap();
        self.events.iter().find_map(|e| match e {
            ItsEvent::Command { error, .. } => Some(error.clone()),
            _ => None,
        })?
    }

    fn ok(&mut self, c: Command) {
        assert_eq!(self.cmd(c), None, "{c:?}");
    }

    fn code(&mut self, c: Command) -> ItsCode {
        match self.cmd(c) {
            Some(CommandError::Its { code }) => code,
            other => panic!("{c:?}: expected an E_ITS code, got {other:?}"),
        }
    }

    fn read(&mut self, off: u32, width: u8) -> u64 {
        self.with(|its, bus| its.guest_read(bus, off, width))
    }

    fn write(&mut self, off: u32, width: u8, v: u64) {
        self.with(|its, bus| its.guest_write(bus, off, width, v))
    }

    fn uread(&mut self, off: u64) -> Result<u64, ItsError> {
        self.with(|its, bus| its.user_read(bus, off))
    }

    fn uwrite(&mut self, off: u64, v: u64) -> Result<(), ItsError> {
        self.with(|its, bus| its.user_write(bus, off, v))
    }

    fn ctrl(&mut self, attr: u64) -> Result<(), ItsError> {
        self.with(|its, bus| its.ctrl(bus, attr))
    }

    fn msi(&mut self, dev: u32, ev: u32) -> Result<u32, ItsError> {
        self.with(|its, bus| {
            its.signal_msi(bus, BASE + regs::GITS_TRANSLATER as u64, Some(dev), ev)
        })
    }

    fn rules(&self) -> Vec<&'static str> {
        rule_ids(&self.events)
    }

    fn lpi(&self, intid: u32) -> Option<LpiState> {
        self.its.lpis().find(|l| l.intid == intid).copied()
    }

    /// Device 1 (4 event bits, ITT at ITT), collection 0 on vCPU 1,
    /// event 2 → LPI 8200.
    fn mapped(kernel: &str) -> World {
        let mut w = World::enabled(kernel);
        w.ok(Command::Mapd {
            device: 1,
            eventid_bits: 4,
            itt_addr: ITT,
            valid: true,
        });
        w.ok(Command::Mapc {
            collection: 0,
            target: 1,
            valid: true,
        });
        w.ok(Command::Mapti {
            device: 1,
            event: 2,
            intid: 8200,
            collection: 0,
        });
        w
    }
}

fn errno(r: Result<impl std::fmt::Debug, ItsError>) -> Errno {
    r.unwrap_err().errno().expect("a KVM errno")
}

// ---------------------------------------------------------------------- registers

#[test]
fn typer_is_kvms_fixed_value_on_both_paths() {
    let mut w = World::new("6.12");
    assert_eq!(w.read(regs::GITS_TYPER, 64), 0x1_ef71);
    assert_eq!(w.read(regs::GITS_TYPER, 32), 0x1_ef71);
    assert_eq!(w.read(regs::GITS_TYPER + 4, 32), 0);
    assert_eq!(w.uread(regs::GITS_TYPER as u64), Ok(0x1_ef71));
    w.write(regs::GITS_TYPER, 64, 0);
    assert_eq!(w.read(regs::GITS_TYPER, 64), 0x1_ef71);
    assert!(w.rules().contains(&"its.typer.read"));
}

#[test]
fn iidr_carries_the_abi_revision_and_userspace_may_only_pick_0() {
    let mut w = World::new("6.12");
    assert_eq!(w.read(regs::GITS_IIDR, 32), 0x4b00_043b);
    let e = w.uwrite(regs::GITS_IIDR as u64, 0x4b00_143b).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL));
    assert!(e.to_string().contains("its.iidr.uaccess"), "{e}");
    assert_eq!(w.uwrite(regs::GITS_IIDR as u64, 0x4b00_043b), Ok(()));
    w.write(regs::GITS_IIDR, 32, 0xffff_ffff);
    assert_eq!(w.read(regs::GITS_IIDR, 32), 0x4b00_043b);
}

#[test]
fn ctlr_enable_needs_every_table_valid() {
    let mut w = World::new("6.12");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID);
    w.write(regs::GITS_CBASER, 64, CQ | baser::VALID);
    w.write(regs::GITS_CTLR, 32, 1);
    assert_eq!(w.read(regs::GITS_CTLR, 32), regs::ctlr::QUIESCENT as u64);
    assert!(w.rules().contains(&"its.ctlr.enable_needs_tables"));
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.write(regs::GITS_CTLR, 32, 1);
    assert_eq!(
        w.read(regs::GITS_CTLR, 32),
        (regs::ctlr::QUIESCENT | regs::ctlr::ENABLE) as u64
    );
    // A 64-bit access to the 32-bit GITS_CTLR is no access at all.
    assert_eq!(w.read(regs::GITS_CTLR, 64), 0);
    assert!(w.rules().contains(&"its.guest.bad_width"));
}

#[test]
fn cbaser_is_sanitised_resets_the_queue_and_is_read_only_when_enabled() {
    let mut w = World::new("6.12");
    // Outer shareable, inner nC, address bits [15:12] set.
    let v = CQ | 0xf000 | 2 << 10 | 1 << 59 | baser::VALID | 3;
    w.write(regs::GITS_CBASER, 64, v);
    let got = w.read(regs::GITS_CBASER, 64);
    assert_eq!(got, CQ | 1 << 10 | 3 << 59 | baser::VALID | 3);
    w.write(regs::GITS_CWRITER, 64, 0x40);
    assert_eq!(w.read(regs::GITS_CWRITER, 64), 0x40);
    w.write(regs::GITS_CBASER, 32, CQ | baser::VALID as u32 as u64); // low half only
    assert_eq!(w.read(regs::GITS_CWRITER, 64), 0);
    let mut w = World::enabled("6.12");
    let before = w.read(regs::GITS_CBASER, 64);
    w.write(regs::GITS_CBASER, 64, 0);
    assert_eq!(w.read(regs::GITS_CBASER, 64), before);
}

#[test]
fn cwriter_beyond_the_queue_is_ignored() {
    let mut w = World::enabled("6.12");
    w.write(regs::GITS_CWRITER, 64, 0x1000); // a 4 KiB queue ends at 0x1000
    assert_eq!(w.read(regs::GITS_CWRITER, 64), 0);
    w.write(regs::GITS_CWRITER, 64, 0x1f);
    assert_eq!(w.read(regs::GITS_CWRITER, 64), 0); // bits [4:0] dropped: offset 0
}

#[test]
fn creadr_is_wi_for_the_guest_and_checked_for_userspace() {
    let mut w = World::enabled("6.12");
    w.write(regs::GITS_CREADR, 64, 0x40);
    assert_eq!(w.read(regs::GITS_CREADR, 64), 0);
    assert_eq!(
        errno(w.uwrite(regs::GITS_CREADR as u64, 0x40)),
        Errno::EBUSY
    );
    let mut w = World::new("6.12");
    w.write(regs::GITS_CBASER, 64, CQ | baser::VALID);
    assert_eq!(
        errno(w.uwrite(regs::GITS_CREADR as u64, 0x1000)),
        Errno::EINVAL
    );
    assert_eq!(w.uwrite(regs::GITS_CREADR as u64, 0x60), Ok(()));
    assert_eq!(w.uread(regs::GITS_CREADR as u64), Ok(0x60));
}

#[test]
fn baser_keeps_kvms_type_and_entry_size_and_refuses_indirect_collections() {
    let mut w = World::new("6.12");
    w.write(
        regs::GITS_BASER,
        64,
        DT | baser::VALID | baser::INDIRECT | 7 << 56 | 0x1f << 48 | 3,
    );
    let d = w.read(regs::GITS_BASER, 64);
    assert_eq!(d >> 56 & 7, baser::TYPE_DEVICE);
    assert_eq!(d >> 48 & 0x1f, 7);
    assert_eq!(d & baser::INDIRECT, baser::INDIRECT);
    assert_eq!(d & baser::PAGE_SIZE_MASK, baser::PAGE_SIZE_64K);
    assert_eq!(d & 0xff, 3);
    w.write(
        regs::GITS_BASER + 8,
        64,
        CT | baser::VALID | baser::INDIRECT,
    );
    let c = w.read(regs::GITS_BASER + 8, 64);
    assert_eq!(c >> 56 & 7, baser::TYPE_COLLECTION);
    assert_eq!(c & baser::INDIRECT, 0);
    // BASER2..7: RAZ/WI.
    w.write(regs::GITS_BASER + 16, 64, u64::MAX);
    assert_eq!(w.read(regs::GITS_BASER + 16, 64), 0);
    assert!(w.rules().contains(&"its.baser.unimplemented"));
}

#[test]
fn baser_is_ignored_while_enabled_and_invalid_baser_unmaps() {
    let mut w = World::mapped("6.12");
    let before = w.read(regs::GITS_BASER, 64);
    w.write(regs::GITS_BASER, 64, 0);
    assert_eq!(w.read(regs::GITS_BASER, 64), before);
    // Disable, then clear BASER0's Valid: every device goes, with its LPI.
    w.write(regs::GITS_CTLR, 32, 0);
    w.write(regs::GITS_BASER, 64, DT);
    assert_eq!(w.its.translate(1, 2), None);
    assert_eq!(w.lpi(8200), None);
    assert!(w.events.contains(&ItsEvent::LpiUnmapped { intid: 8200 }));
    // BASER1 invalid: collections go.
    w.write(regs::GITS_BASER + 8, 64, CT);
    assert!(w.its.state().collections.is_empty());
}

#[test]
fn id_registers_and_unclaimed_offsets() {
    let mut w = World::new("6.12");
    assert_eq!(w.read(regs::GITS_PIDR2, 32), 0x3b);
    assert_eq!(w.read(regs::GITS_PIDR0, 32), 0x92);
    assert_eq!(w.read(regs::GITS_CIDR3, 32), 0xb1);
    assert_eq!(w.read(regs::GITS_PIDR4 + 4, 32), 0); // PIDR5
    assert_eq!(w.read(0x40, 32), 0);
    assert!(w.rules().contains(&"its.guest.no_region"));
}

#[test]
fn a_guest_store_to_translater_does_nothing() {
    let mut w = World::mapped("6.12");
    w.events.clear();
    w.write(regs::GITS_TRANSLATER, 32, 2); // device ID would come from the bus
    assert_eq!(w.rules(), ["its.guest.translater_ignored"]);
    assert!(!w.lpi(8200).unwrap().pending);
}

#[test]
fn userspace_register_access_rules() {
    let mut w = World::new("6.12");
    assert_eq!(errno(w.uread(0x2)), Errno::EINVAL);
    assert_eq!(errno(w.uread(regs::GITS_CBASER as u64 + 4)), Errno::EINVAL); // 64-bit register
    assert_eq!(errno(w.uread(0x40)), Errno::ENXIO);
    assert_eq!(w.uread(regs::GITS_PIDR2 as u64), Ok(0x3b));
    let mut fresh = Its::new("6.12".parse().unwrap());
    let (mut mem, redists, mut obs) = (GuestMemory::new(1), Redistributors::new(1), Vec::new());
    let mut bus = Bus {
        mem: &mut mem,
        redists: &redists,
        observer: &mut obs,
    };
    let e = fresh
        .user_read(&mut bus, regs::GITS_CTLR as u64)
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENXIO));
    assert!(e.to_string().contains("its.uaccess.no_base"));
}

#[test]
fn has_attr_and_the_address_attribute() {
    let mut its = Its::new("6.12".parse().unwrap());
    assert_eq!(its.address(), ADDR_UNDEF);
    assert!(its.has_attr(GRP_CTRL, CTRL_SAVE_TABLES).is_ok());
    assert!(its.has_attr(GRP_ADDR, ITS_ADDR_TYPE).is_ok());
    assert!(its
        .has_attr(GRP_ITS_REGS, regs::GITS_BASER as u64 + 8)
        .is_ok());
    assert_eq!(
        its.has_attr(GRP_ITS_REGS, 0x84).unwrap_err().errno(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        its.has_attr(GRP_ITS_REGS, 0x40).unwrap_err().errno(),
        Some(Errno::ENXIO)
    );
    assert_eq!(
        its.has_attr(GRP_CTRL, 3).unwrap_err().errno(),
        Some(Errno::ENXIO)
    );
    assert_eq!(
        its.set_address(0x1234_0000 + 0x1000, 40)
            .unwrap_err()
            .errno(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        its.set_address(0xff_ffff_0000, 40).unwrap_err().errno(),
        Some(Errno::E2BIG)
    );
    assert_eq!(
        its.set_address_type(3, BASE, 40).unwrap_err().errno(),
        Some(Errno::ENODEV)
    );
    its.set_address(BASE, 40).unwrap();
    assert_eq!(its.address(), BASE);
    assert_eq!(
        its.set_address(BASE, 40).unwrap_err().errno(),
        Some(Errno::EEXIST)
    );
}

#[test]
fn unknown_ctrl_attribute_is_enxio_from_6_17() {
    let mut old = World::new("6.16.12");
    assert_eq!(old.ctrl(3), Ok(()));
    assert_eq!(old.rules(), ["its.ctrl.unknown_ignored"]);
    let mut new = World::new("6.17");
    assert_eq!(errno(new.ctrl(3)), Errno::ENXIO);
    assert_eq!(new.ctrl(CTRL_INIT), Ok(()));
}

#[test]
fn reset_clears_registers_and_mappings_but_keeps_entry_sizes() {
    let mut w = World::mapped("6.12");
    w.ctrl(CTRL_RESET).unwrap();
    let s = w.its.state();
    assert!(
        !s.enabled
            && s.cbaser == 0
            && s.devices.is_empty()
            && s.collections.is_empty()
            && s.lpis.is_empty()
    );
    assert_eq!(s.baser_device & baser::VALID, 0);
    assert_eq!(s.baser_device >> 48 & 0x1f, 7);
    assert_eq!(regs::baser_address(s.baser_device), DT); // address kept
}

// ---------------------------------------------------------------------- commands

#[test]
fn commands_wait_for_enable() {
    let mut w = World::new("6.12");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID);
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.write(regs::GITS_CBASER, 64, CQ | baser::VALID);
    w.with(|its, bus| {
        its.queue_command(
            bus,
            &Command::Mapd {
                device: 1,
                eventid_bits: 2,
                itt_addr: ITT,
                valid: true,
            },
        )
    })
    .unwrap();
    assert!(w.rules().contains(&"its.cmd.only_when_enabled"));
    assert_eq!(w.read(regs::GITS_CREADR, 64), 0);
    assert_eq!(w.read(regs::GITS_CTLR, 32), 0); // not quiescent
    w.write(regs::GITS_CTLR, 32, 1);
    assert_eq!(w.read(regs::GITS_CREADR, 64), 0x20);
    assert_eq!(w.its.state().devices.len(), 1);
}

#[test]
fn mapd_checks_the_device_table_and_the_size() {
    let mut w = World::enabled("6.12");
    // One 64 KiB page of 8-byte DTEs: 8192 devices.
    assert_eq!(
        w.code(Command::Mapd {
            device: 8192,
            eventid_bits: 2,
            itt_addr: ITT,
            valid: true
        }),
        ItsCode::E_ITS_MAPD_DEVICE_OOR
    );
    assert_eq!(
        w.code(Command::Mapd {
            device: 3,
            eventid_bits: 17,
            itt_addr: ITT,
            valid: true
        }),
        ItsCode::E_ITS_MAPD_ITTSIZE_OOR
    );
    assert!(w.rules().contains(&"its.cmd.error_ignored"));
    w.ok(Command::Mapd {
        device: 8191,
        eventid_bits: 16,
        itt_addr: ITT,
        valid: true,
    });
}

#[test]
fn mapd_remap_drops_the_old_mappings() {
    let mut w = World::mapped("6.12");
    w.ok(Command::Mapd {
        device: 1,
        eventid_bits: 4,
        itt_addr: ITT + 0x100,
        valid: true,
    });
    assert_eq!(w.its.translate(1, 2), None);
    assert_eq!(w.lpi(8200), None);
}

#[test]
fn mapd_unmap_clears_the_dte_from_6_13_and_its_backports() {
    for (kernel, cleared) in [
        ("5.10.223", false),
        ("5.10.231", true),
        ("6.12.43", true),
        ("6.13", true),
    ] {
        let mut w = World::mapped(kernel);
        w.mem.write_u64(DT + 8, 0xdead).unwrap(); // a stale saved DTE for device 1
        w.ok(Command::Mapd {
            device: 1,
            eventid_bits: 0,
            itt_addr: 0,
            valid: false,
        });
        assert_eq!(w.mem.read_u64(DT + 8).unwrap() == 0, cleared, "{kernel}");
        assert_eq!(
            w.rules().contains(&"its.cmd.mapd.unmap_clears_dte"),
            cleared
        );
        assert_eq!(w.its.translate(1, 2), None);
    }
}

#[test]
fn mapc_checks_the_vcpu_and_retargets_lpis() {
    let mut w = World::mapped("6.12");
    assert_eq!(
        w.code(Command::Mapc {
            collection: 0,
            target: 2,
            valid: true
        }),
        ItsCode::E_ITS_MAPC_PROCNUM_OOR
    );
    // Checked even when unmapping.
    assert_eq!(
        w.code(Command::Mapc {
            collection: 0,
            target: 2,
            valid: false
        }),
        ItsCode::E_ITS_MAPC_PROCNUM_OOR
    );
    assert_eq!(
        w.code(Command::Mapc {
            collection: 8192,
            target: 0,
            valid: true
        }),
        ItsCode::E_ITS_MAPC_COLLECTION_OOR
    );
    w.ok(Command::Mapc {
        collection: 0,
        target: 0,
        valid: true,
    });
    assert_eq!(w.lpi(8200).unwrap().target, Some(0));
    assert!(w.events.contains(&ItsEvent::LpiTargeted {
        intid: 8200,
        vcpu: 0
    }));
    w.ok(Command::Mapc {
        collection: 0,
        target: 0,
        valid: false,
    });
    assert_eq!(w.its.translate(1, 2).unwrap().collection, None);
}

#[test]
fn mapti_error_codes_in_kvms_order() {
    let mut w = World::mapped("6.12");
    let mapti = |device, event, intid| Command::Mapti {
        device,
        event,
        intid,
        collection: 0,
    };
    assert_eq!(
        w.code(mapti(9, 0, 8200)),
        ItsCode::E_ITS_MAPTI_UNMAPPED_DEVICE
    );
    assert_eq!(w.code(mapti(1, 16, 8200)), ItsCode::E_ITS_MAPTI_ID_OOR);
    assert_eq!(
        w.code(mapti(1, 3, 8191)),
        ItsCode::E_ITS_MAPTI_PHYSICALID_OOR
    );
    assert_eq!(
        w.code(mapti(1, 3, 65536)),
        ItsCode::E_ITS_MAPTI_PHYSICALID_OOR
    );
    // MAPI: the LPI is the event ID, far below 8192.
    assert_eq!(
        w.code(Command::Mapi {
            device: 1,
            event: 3,
            collection: 0
        }),
        ItsCode::E_ITS_MAPTI_PHYSICALID_OOR
    );
    assert_eq!(
        w.code(Command::Mapti {
            device: 1,
            event: 3,
            intid: 8201,
            collection: 8192
        }),
        ItsCode::E_ITS_MAPC_COLLECTION_OOR
    );
    // Mapping a mapped event again: nothing happens.
    w.ok(mapti(1, 2, 8300));
    assert_eq!(w.its.translate(1, 2).unwrap().intid, 8200);
    assert!(w.rules().contains(&"its.cmd.mapti.existing"));
}

#[test]
fn mapti_physical_range_follows_propbaser_idbits() {
    let mut w = World::mapped("6.12");
    w.redists.propbaser = PROP | 13; // 14 bits: LPIs below 16384
    assert_eq!(
        w.code(Command::Mapti {
            device: 1,
            event: 3,
            intid: 16384,
            collection: 0
        }),
        ItsCode::E_ITS_MAPTI_PHYSICALID_OOR
    );
    w.ok(Command::Mapti {
        device: 1,
        event: 3,
        intid: 16383,
        collection: 0,
    });
    // KVM's initial PROPBASER (IDbits 0) refuses every LPI.
    w.redists.propbaser = regs::INITIAL_PROPBASER;
    assert_eq!(
        w.code(Command::Mapti {
            device: 1,
            event: 4,
            intid: 8193,
            collection: 0
        }),
        ItsCode::E_ITS_MAPTI_PHYSICALID_OOR
    );
}

#[test]
fn a_new_lpi_reads_its_config_and_consumes_its_pending_bit() {
    let mut w = World::mapped("6.12");
    let l = w.lpi(8200).unwrap();
    assert_eq!(
        (l.priority, l.enabled, l.pending, l.target),
        (0xa0, true, false, Some(1))
    );
    w.mem.write(PROP + 9, &[0x42]).unwrap(); // LPI 8201: priority 0x40, disabled
    w.mem
        .write(PEND[1] + 8201 / 8, &[1 << (8201 % 8) | 0x80])
        .unwrap();
    w.ok(Command::Mapti {
        device: 1,
        event: 3,
        intid: 8201,
        collection: 0,
    });
    let l = w.lpi(8201).unwrap();
    assert_eq!((l.priority, l.enabled, l.pending), (0x40, false, true));
    assert_eq!(w.mem.read(PEND[1] + 8201 / 8, &mut [0]).map(|_| ()), Ok(()));
    let mut b = [0u8];
    w.mem.read(PEND[1] + 8201 / 8, &mut b).unwrap();
    assert_eq!(b[0], 0x80, "the consumed bit is cleared, the others stay");
    assert!(w.events.contains(&ItsEvent::LpiPending {
        intid: 8201,
        vcpu: 1
    }));
}

#[test]
fn an_unreadable_property_table_drops_the_mapping() {
    let mut w = World::mapped("6.12");
    w.redists.propbaser = 0x1000_0000 | 15; // outside guest RAM
    match w.cmd(Command::Mapti {
        device: 1,
        event: 3,
        intid: 8201,
        collection: 5,
    }) {
        Some(CommandError::Memory { gpa, .. }) => assert_eq!(gpa, 0x1000_0000 + 9),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.its.translate(1, 3), None);
    assert!(
        w.its.state().collections.iter().all(|c| c.id != 5),
        "the new collection is freed too"
    );
}

#[test]
fn an_existing_lpi_is_shared_as_it_is() {
    let mut w = World::mapped("6.12");
    w.ok(Command::Mapd {
        device: 2,
        eventid_bits: 1,
        itt_addr: ITT + 0x1000,
        valid: true,
    });
    w.mem.write(PROP + 8, &[0x02]).unwrap();
    w.ok(Command::Mapti {
        device: 2,
        event: 0,
        intid: 8200,
        collection: 0,
    });
    assert!(w.rules().contains(&"its.lpi.shared"));
    assert!(w.lpi(8200).unwrap().enabled, "configuration not re-read");
    w.ok(Command::Discard {
        device: 1,
        event: 2,
    });
    assert!(w.lpi(8200).is_some(), "still mapped by device 2");
}

#[test]
fn movi_moves_to_a_mapped_collection_only() {
    let mut w = World::mapped("6.12");
    assert_eq!(
        w.code(Command::Movi {
            device: 1,
            event: 9,
            collection: 0
        }),
        ItsCode::E_ITS_MOVI_UNMAPPED_INTERRUPT
    );
    assert_eq!(
        w.code(Command::Movi {
            device: 1,
            event: 2,
            collection: 1
        }),
        ItsCode::E_ITS_MOVI_UNMAPPED_COLLECTION
    );
    w.ok(Command::Mapc {
        collection: 1,
        target: 0,
        valid: true,
    });
    w.ok(Command::Movi {
        device: 1,
        event: 2,
        collection: 1,
    });
    assert_eq!(
        w.its.translate(1, 2).map(|t| (t.collection, t.vcpu)),
        Some((Some(1), Some(0)))
    );
    assert_eq!(w.lpi(8200).unwrap().target, Some(0));
}

#[test]
fn discard_frees_and_clears_the_ite_per_kernel() {
    for (kernel, cleared) in [("6.1.100", false), ("6.1.170", true), ("6.13", true)] {
        let mut w = World::mapped(kernel);
        w.mem.write_u64(ITT + 2 * 8, 0xbeef).unwrap();
        w.ok(Command::Discard {
            device: 1,
            event: 2,
        });
        assert_eq!(w.its.translate(1, 2), None);
        assert_eq!(w.lpi(8200), None);
        assert_eq!(w.mem.read_u64(ITT + 16).unwrap() == 0, cleared, "{kernel}");
        assert_eq!(
            w.code(Command::Discard {
                device: 1,
                event: 2
            }),
            ItsCode::E_ITS_DISCARD_UNMAPPED_INTERRUPT
        );
    }
    // An event whose collection is unmapped cannot be discarded.
    let mut w = World::mapped("6.12");
    w.ok(Command::Mapc {
        collection: 0,
        target: 0,
        valid: false,
    });
    assert_eq!(
        w.code(Command::Discard {
            device: 1,
            event: 2
        }),
        ItsCode::E_ITS_DISCARD_UNMAPPED_INTERRUPT
    );
}

#[test]
fn int_and_clear_set_and_reset_pending() {
    let mut w = World::mapped("6.12");
    w.ok(Command::Int {
        device: 1,
        event: 2,
    });
    assert!(w.lpi(8200).unwrap().pending);
    assert!(w.events.contains(&ItsEvent::LpiPending {
        intid: 8200,
        vcpu: 1
    }));
    w.ok(Command::Clear {
        device: 1,
        event: 2,
    });
    assert!(!w.lpi(8200).unwrap().pending);
    assert_eq!(
        w.code(Command::Int {
            device: 1,
            event: 3
        }),
        ItsCode::E_ITS_INT_UNMAPPED_INTERRUPT
    );
    assert_eq!(
        w.code(Command::Clear {
            device: 1,
            event: 3
        }),
        ItsCode::E_ITS_CLEAR_UNMAPPED_INTERRUPT
    );
    w.redists.vcpus[1].enable_lpis = false;
    assert!(matches!(
        w.cmd(Command::Int {
            device: 1,
            event: 2
        }),
        Some(CommandError::Errno {
            errno: Errno::EBUSY,
            ..
        })
    ));
    assert!(!w.lpi(8200).unwrap().pending);
}

#[test]
fn inv_and_invall_reread_the_property_table() {
    let mut w = World::mapped("6.12");
    w.mem.write(PROP + 8, &[0x11]).unwrap();
    w.ok(Command::Inv {
        device: 1,
        event: 2,
    });
    assert_eq!(
        w.lpi(8200).map(|l| (l.priority, l.enabled)),
        Some((0x10, true))
    );
    w.mem.write(PROP + 8, &[0x20]).unwrap();
    w.ok(Command::Invall { collection: 0 });
    assert_eq!(
        w.lpi(8200).map(|l| (l.priority, l.enabled)),
        Some((0x20, false))
    );
    assert_eq!(
        w.code(Command::Inv {
            device: 1,
            event: 9
        }),
        ItsCode::E_ITS_INV_UNMAPPED_INTERRUPT
    );
    assert_eq!(
        w.code(Command::Invall { collection: 7 }),
        ItsCode::E_ITS_INVALL_UNMAPPED_COLLECTION
    );
}

#[test]
fn sync_movall_and_unknown_commands() {
    let mut w = World::mapped("6.12");
    w.ok(Command::Sync { target: 0 });
    assert!(w.rules().ends_with(&["its.cmd.sync"]), "{:?}", w.rules());
    assert_eq!(
        w.code(Command::Movall { from: 1, to: 2 }),
        ItsCode::E_ITS_MOVALL_PROCNUM_OOR
    );
    w.ok(Command::Movall { from: 1, to: 0 });
    assert_eq!(w.lpi(8200).unwrap().target, Some(0));
    // The collection still says vCPU 1: MOVALL moves LPIs, not collections.
    assert_eq!(w.its.translate(1, 2).unwrap().vcpu, Some(1));
    assert_eq!(
        w.cmd(Command::Other { number: 0x20 }),
        Some(CommandError::Unknown { number: 0x20 })
    );
    assert!(w.rules().contains(&"its.cmd.error_ignored"));
}

#[test]
fn an_unreadable_command_is_skipped_and_the_queue_wraps() {
    let mut w = World::enabled("6.12");
    // Move the queue outside guest RAM: every command is unreadable.
    w.write(regs::GITS_CTLR, 32, 0);
    w.write(regs::GITS_CBASER, 64, 0x1000_0000 | baser::VALID);
    w.write(regs::GITS_CTLR, 32, 1);
    w.events.clear();
    w.write(regs::GITS_CWRITER, 64, 0x40);
    assert_eq!(w.read(regs::GITS_CREADR, 64), 0x40);
    assert_eq!(
        w.events
            .iter()
            .filter(|e| matches!(e, ItsEvent::CommandUnreadable { .. }))
            .count(),
        2
    );
    // Back in RAM: fill the 4 KiB queue round past its end.
    w.write(regs::GITS_CTLR, 32, 0);
    w.write(regs::GITS_CBASER, 64, CQ | baser::VALID);
    w.write(regs::GITS_CTLR, 32, 1);
    for _ in 0..130 {
        w.ok(Command::Sync { target: 0 });
    }
    assert_eq!(w.read(regs::GITS_CREADR, 64), (130 * 32) % 4096);
}

// ---------------------------------------------------------------------- MSIs

#[test]
fn signal_msi_results() {
    let mut w = World::mapped("6.12");
    assert_eq!(w.msi(1, 2), Ok(1));
    assert!(w.lpi(8200).unwrap().pending);
    assert_eq!(w.msi(1, 3), Ok(0));
    assert_eq!(w.msi(7, 0), Ok(0));
    let e = w.with(|its, bus| its.signal_msi(bus, BASE + regs::GITS_TRANSLATER as u64, None, 2));
    assert_eq!(errno(e), Errno::EINVAL);
    let e = w.with(|its, bus| its.signal_msi(bus, BASE + 0x2_0000, Some(1), 2));
    assert_eq!(errno(e), Errno::EINVAL);
    w.redists.vcpus[1].enable_lpis = false;
    assert_eq!(errno(w.msi(1, 2)), Errno::EBUSY);
    w.redists.vcpus[1].enable_lpis = true;
    w.write(regs::GITS_CTLR, 32, 0);
    assert_eq!(errno(w.msi(1, 2)), Errno::EBUSY);
    // A collection unmapped: blocked.
    let mut w = World::mapped("6.12");
    w.ok(Command::Mapc {
        collection: 0,
        target: 0,
        valid: false,
    });
    assert_eq!(w.msi(1, 2), Ok(0));
}

// ---------------------------------------------------------------------- save / restore

/// A VM with two devices, three collections (one unmapped), several LPIs.
fn busy(kernel: &str) -> World {
    let mut w = World::mapped(kernel);
    w.ok(Command::Mapd {
        device: 7,
        eventid_bits: 8,
        itt_addr: ITT + 0x1000,
        valid: true,
    });
    w.ok(Command::Mapc {
        collection: 3,
        target: 0,
        valid: true,
    });
    w.ok(Command::Mapti {
        device: 1,
        event: 0,
        intid: 8192,
        collection: 3,
    });
    w.ok(Command::Mapti {
        device: 1,
        event: 9,
        intid: 8210,
        collection: 0,
    });
    w.ok(Command::Mapti {
        device: 7,
        event: 200,
        intid: 8300,
        collection: 5,
    }); // 5: created unmapped
    let shared = Command::Mapti {
        device: 7,
        event: 1,
        intid: 8192,
        collection: 3,
    };
    if w.its.kernel().has(&changes::ITS_MAPTI_SHARED_LPI_REFUSED) {
        // 7.3 drops a second mapping of an LPI (measured on 7.3.4).
        assert_eq!(w.code(shared), ItsCode::E_ITS_MAPTI_PHYSICALID_OOR);
    } else {
        w.ok(shared); // shared LPI
    }
    w
}

/// Restore into a fresh ITS as the documentation orders it: registers but
/// GITS_CTLR, RESTORE_TABLES, then GITS_CTLR.
fn restore_into(w: &mut World, saved: &ItsState) -> Result<(), ItsError> {
    w.its = Its::new(w.its.kernel());
    w.its.set_address(BASE, 40).unwrap();
    for (off, v) in [
        (regs::GITS_IIDR as u64, 0x4b00_043b),
        (regs::GITS_CBASER as u64, saved.cbaser),
        (regs::GITS_CREADR as u64, saved.creadr),
        (regs::GITS_CWRITER as u64, saved.cwriter),
        (regs::GITS_BASER as u64, saved.baser_device),
        (regs::GITS_BASER as u64 + 8, saved.baser_coll),
    ] {
        w.uwrite(off, v).unwrap();
    }
    w.ctrl(CTRL_RESTORE_TABLES)?;
    w.uwrite(regs::GITS_CTLR as u64, saved.enabled as u64)
        .unwrap();
    Ok(())
}

fn tables_bytes(w: &World) -> Vec<u64> {
    let mut out = Vec::new();
    for base in [DT, CT, ITT] {
        for i in 0..0x400 {
            out.push(w.mem.read_u64(base + i * 8).unwrap());
        }
    }
    out
}

#[test]
fn save_writes_abi_0_entries_bit_for_bit() {
    let mut w = busy("6.12");
    w.ctrl(CTRL_SAVE_TABLES).unwrap();
    // DTEs: device 1 → next 6 (device 7), 4 bits; device 7 last, 8 bits.
    assert_eq!(
        w.mem.read_u64(DT + 8).unwrap(),
        dte::encode(&Dte {
            next: 6,
            itt_addr: ITT,
            eventid_bits: 4
        })
    );
    assert_eq!(
        w.mem.read_u64(DT + 8).unwrap(),
        1 << 63 | 6 << 49 | (ITT >> 8) << 5 | 3
    );
    assert_eq!(
        w.mem.read_u64(DT + 56).unwrap(),
        1 << 63 | ((ITT + 0x1000) >> 8) << 5 | 7
    );
    // ITEs of device 1: events 0, 2, 9.
    assert_eq!(
        w.mem.read_u64(ITT).unwrap(),
        ite::encode(&IteEntry {
            next: 2,
            intid: 8192,
            icid: 3
        })
    );
    assert_eq!(w.mem.read_u64(ITT + 16).unwrap(), 7 << 48 | 8200 << 16);
    assert_eq!(w.mem.read_u64(ITT + 72).unwrap(), 8210 << 16);
    // Collections in list order (0, 3, 5) and a terminator.
    assert_eq!(w.mem.read_u64(CT).unwrap(), 1 << 63 | 1 << 16);
    assert_eq!(
        w.mem.read_u64(CT + 8).unwrap(),
        cte::encode(&Cte {
            target: Some(0),
            icid: 3
        })
    );
    assert_eq!(w.mem.read_u64(CT + 16).unwrap(), 0x8000_ffff_ffff_0005);
    assert_eq!(w.mem.read_u64(CT + 24).unwrap(), 0);
    assert!(w.rules().contains(&"its.save.tables"));
}

#[test]
fn save_restore_round_trip_is_identical() {
    for kernel in ["5.10.223", "6.12.43", "7.3"] {
        let mut w = busy(kernel);
        w.ok(Command::Int {
            device: 1,
            event: 2,
        });
        w.ctrl(CTRL_SAVE_TABLES).unwrap();
        let saved = w.its.state();
        let bytes = tables_bytes(&w);
        restore_into(&mut w, &saved).unwrap();
        let back = w.its.state();
        assert_eq!(back.devices, saved.devices, "{kernel}");
        assert_eq!(back.collections, saved.collections);
        assert_eq!(
            (
                back.cbaser,
                back.creadr,
                back.cwriter,
                back.baser_device,
                back.baser_coll,
                back.enabled
            ),
            (
                saved.cbaser,
                saved.creadr,
                saved.cwriter,
                saved.baser_device,
                saved.baser_coll,
                saved.enabled
            )
        );
        // LPIs: configuration again from the property table; pending state
        // travels in the pending tables (the vGIC's SAVE_PENDING_TABLES), not here.
        let key = |s: &ItsState| {
            s.lpis
                .iter()
                .map(|l| (l.intid, l.target, l.priority, l.enabled))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&back), key(&saved));
        w.ctrl(CTRL_SAVE_TABLES).unwrap();
        assert_eq!(
            tables_bytes(&w),
            bytes,
            "{kernel}: a second save writes the same bytes"
        );
        // And the ITS works: an MSI reaches the restored translation (from
        // 7.3 device 7 event 1 was never mapped: its LPI was device 1's).
        let refused = w.its.kernel().has(&changes::ITS_MAPTI_SHARED_LPI_REFUSED);
        assert_eq!(w.msi(7, 1), Ok(u32::from(!refused)));
    }
}

#[test]
fn state_round_trips_through_json_and_rejects_inconsistency() {
    let w = busy("6.12");
    let s = w.its.state();
    let json = serde_json::to_string(&s).unwrap();
    let back: ItsState = serde_json::from_str(&json).unwrap();
    let its = Its::from_state("6.12".parse().unwrap(), &back).unwrap();
    assert_eq!(its, w.its);
    let bad = |f: &dyn Fn(&mut ItsState)| {
        let mut t = s.clone();
        f(&mut t);
        Its::from_state("6.12".parse().unwrap(), &t).unwrap_err()
    };
    assert_eq!(bad(&|t| t.version = 2).place, "version");
    assert_eq!(
        bad(&|t| t.devices[0].ites[0].collection = Some(99)).place,
        "devices[0].ites[0]"
    );
    assert_eq!(
        bad(&|t| t.devices[1].eventid_bits = 0).place,
        "devices[1].eventid_bits"
    );
    assert_eq!(bad(&|t| t.devices.swap(0, 1)).place, "devices[1]");
    assert_eq!(bad(&|t| t.lpis[0].intid = 5).place, "lpis[0]");
    assert_eq!(bad(&|t| t.cwriter = 0x1000).place, "cwriter");
    assert_eq!(
        bad(&|t| t.collections.push(t.collections[0])).place,
        "collections[3]"
    );
    assert!(bad(&|t| t.devices.clear())
        .reason
        .contains("mapped by no ITE"));
}

#[test]
fn restore_fails_with_efault_when_guest_memory_is_not_loaded() {
    let mut w = busy("6.12");
    w.ctrl(CTRL_SAVE_TABLES).unwrap();
    let saved = w.its.state();
    // The destination has no RAM at the tables yet.
    w.mem = GuestMemory::new(64);
    w.mem.add_region(0x8000_0000, 0x1000).unwrap();
    let e = restore_into(&mut w, &saved).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EFAULT));
    assert!(e.to_string().contains("its.restore.fault"), "{e}");
    assert!(w.its.state().collections.is_empty());
}

#[test]
fn restore_reads_pending_and_property_tables_and_fails_without_them() {
    let mut w = busy("6.12");
    w.ctrl(CTRL_SAVE_TABLES).unwrap();
    let saved = w.its.state();
    w.mem.write(PEND[1] + 8200 / 8, &[1 << (8200 % 8)]).unwrap();
    restore_into(&mut w, &saved).unwrap();
    assert!(w.lpi(8200).unwrap().pending);
    // Redistributors not restored yet: PROPBASER points nowhere.
    w.redists.propbaser = 0x1000_0000 | 15;
    let e = restore_into(&mut w, &saved).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EFAULT));
    assert!(w.its.state().devices.is_empty() && w.its.lpis().next().is_none());
}

#[test]
fn restore_refuses_bad_collection_entries() {
    let cases: [(u64, Errno); 3] = [
        (
            cte::encode(&Cte {
                target: Some(2),
                icid: 1,
            }),
            Errno::EINVAL,
        ), // 2 vCPUs
        (
            cte::encode(&Cte {
                target: Some(0),
                icid: 8192,
            }),
            Errno::EINVAL,
        ), // beyond the table
        (
            cte::encode(&Cte {
                target: Some(0),
                icid: 0,
            }),
            Errno::EEXIST,
        ), // twice
    ];
    for (entry, want) in cases {
        let mut w = World::new("6.12");
        w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
        w.mem
            .write_u64(
                CT,
                cte::encode(&Cte {
                    target: Some(0),
                    icid: 0,
                }),
            )
            .unwrap();
        w.mem.write_u64(CT + 8, entry).unwrap();
        assert_eq!(errno(w.ctrl(CTRL_RESTORE_TABLES)), want);
        assert!(
            w.its.state().collections.is_empty(),
            "everything restored before is dropped"
        );
    }
}

#[test]
fn restore_refuses_bad_ites() {
    let cases = [
        (
            IteEntry {
                next: 0,
                intid: 8191,
                icid: 0,
            },
            "not an LPI",
        ),
        (
            IteEntry {
                next: 15,
                intid: 8200,
                icid: 0,
            },
            "past the device",
        ),
        (
            IteEntry {
                next: 0,
                intid: 8200,
                icid: 4,
            },
            "was not restored",
        ),
    ];
    for (entry, why) in cases {
        let mut w = World::new("6.12");
        w.write(regs::GITS_BASER, 64, DT | baser::VALID);
        w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
        w.mem
            .write_u64(
                CT,
                cte::encode(&Cte {
                    target: Some(0),
                    icid: 0,
                }),
            )
            .unwrap();
        w.mem
            .write_u64(
                DT,
                dte::encode(&Dte {
                    next: 0,
                    itt_addr: ITT,
                    eventid_bits: 4,
                }),
            )
            .unwrap();
        w.mem.write_u64(ITT + 8, ite::encode(&entry)).unwrap();
        let e = w.ctrl(CTRL_RESTORE_TABLES).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::EINVAL));
        assert!(e.to_string().contains(why), "{e}");
        assert!(w.its.state().devices.is_empty() && w.its.state().collections.is_empty());
    }
}

#[test]
fn restored_dte_event_id_bits_per_kernel() {
    for (kernel, refused) in [("7.0.7", false), ("7.1", true)] {
        let mut w = World::new(kernel);
        w.write(regs::GITS_BASER, 64, DT | baser::VALID);
        w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
        w.mem
            .write_u64(
                DT + 8,
                dte::encode(&Dte {
                    next: 0,
                    itt_addr: ITT,
                    eventid_bits: 32,
                }),
            )
            .unwrap();
        let r = w.ctrl(CTRL_RESTORE_TABLES);
        if refused {
            assert_eq!(errno(r), Errno::EINVAL);
            assert!(w.rules().contains(&"its.restore.dte_eventid_bits"));
        } else {
            // 2^32 * 8 bytes as an int is 0: one ITE is read, then the scan stops.
            r.unwrap();
            assert!(w.rules().contains(&"its.restore.dte_oversized_scan"));
            assert_eq!(w.its.state().devices[0].eventid_bits, 32);
        }
    }
}

#[test]
fn restore_through_an_indirect_device_table() {
    let mut w = World::new("6.12");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID | baser::INDIRECT);
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    let l2 = RAM + 0x50_0000;
    w.mem.write_u64(DT + 8, 1 << 63 | l2).unwrap(); // level-1 entry 1: devices 8192..16383
    w.mem
        .write_u64(
            l2 + 5 * 8,
            dte::encode(&Dte {
                next: 0,
                itt_addr: ITT,
                eventid_bits: 2,
            }),
        )
        .unwrap();
    w.ctrl(CTRL_RESTORE_TABLES).unwrap();
    assert_eq!(
        w.its
            .state()
            .devices
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        [8192 + 5]
    );
    // A level-1 entry past device ID 65535 holding a DTE: -EINVAL.
    let mut w = World::new("6.12");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID | baser::INDIRECT);
    w.mem.write_u64(DT + 8 * 8, 1 << 63 | l2).unwrap();
    w.mem
        .write_u64(
            l2,
            dte::encode(&Dte {
                next: 0,
                itt_addr: ITT,
                eventid_bits: 2,
            }),
        )
        .unwrap();
    assert_eq!(errno(w.ctrl(CTRL_RESTORE_TABLES)), Errno::EINVAL);
}

#[test]
fn save_of_an_unreachable_device_per_kernel() {
    for (kernel, skipped) in [("7.2", false), ("7.3", true)] {
        let mut w = World::mapped(kernel);
        w.ok(Command::Mapd {
            device: 5000,
            eventid_bits: 1,
            itt_addr: ITT + 0x2000,
            valid: true,
        });
        // The guest moves BASER0 onto memory that is not there, keeping Valid.
        w.write(regs::GITS_CTLR, 32, 0);
        w.write(regs::GITS_BASER, 64, 0x2000_0000 | baser::VALID);
        let r = w.ctrl(CTRL_SAVE_TABLES);
        if skipped {
            r.unwrap();
            assert!(w.rules().contains(&"its.save.unreachable_device_skipped"));
        } else {
            assert_eq!(errno(r), Errno::EINVAL);
        }
    }
}

#[test]
fn save_after_a_collection_was_unmapped_under_its_ites() {
    let mut old = busy("7.2");
    old.ok(Command::Mapc {
        collection: 0,
        target: 1,
        valid: false,
    });
    let e = old.ctrl(CTRL_SAVE_TABLES).unwrap_err();
    assert!(
        matches!(
            e,
            ItsError::HostOops {
                function: "vgic_its_save_ite",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.errno(), None);
    let mut new = busy("7.3");
    new.ok(Command::Mapc {
        collection: 0,
        target: 1,
        valid: false,
    });
    new.ctrl(CTRL_SAVE_TABLES).unwrap();
    // Device 1 keeps event 0 only (events 2 and 9 lost collection 0): last.
    assert_eq!(
        new.mem.read_u64(ITT).unwrap(),
        ite::encode(&IteEntry {
            next: 0,
            intid: 8192,
            icid: 3
        })
    );
    assert!(new.rules().contains(&"its.save.null_collection_skipped"));
}

#[test]
fn more_collections_than_the_table_holds_are_written_past_it() {
    let mut w = World::new("6.12");
    // A 2-page collection table restored with 8193 collections...
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID | 1);
    for id in 0..8193u64 {
        w.mem
            .write_u64(
                CT + id * 8,
                cte::encode(&Cte {
                    target: None,
                    icid: id as u16,
                }),
            )
            .unwrap();
    }
    w.ctrl(CTRL_RESTORE_TABLES).unwrap();
    assert_eq!(w.its.state().collections.len(), 8193);
    // ...then shrunk to one page while Valid: the save overruns it.
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.mem.write_u64(CT + 0x1_0000 + 8, 0x77).unwrap();
    w.ctrl(CTRL_SAVE_TABLES).unwrap();
    assert!(w.rules().contains(&"its.save.collections_overrun"));
    assert_eq!(
        w.mem.read_u64(CT + 0x1_0000).unwrap(),
        cte::encode(&Cte {
            target: None,
            icid: 8192
        })
    );
    assert_eq!(
        w.mem.read_u64(CT + 0x1_0000 + 8).unwrap(),
        0,
        "and its terminator after it"
    );
}

#[test]
fn save_fails_with_efault_when_a_table_is_outside_memory() {
    let mut w = busy("6.12");
    w.write(regs::GITS_CTLR, 32, 0);
    w.write(regs::GITS_BASER + 8, 64, 0x3000_0000 | baser::VALID);
    assert_eq!(errno(w.ctrl(CTRL_SAVE_TABLES)), Errno::EFAULT);
}

// ---------------------------------------------------------------------- hostile tables

#[test]
fn millions_of_entries_are_refused_within_the_bound() {
    // 8192 DTEs, each with 16 event-ID bits and the same ITT, whose 65536
    // entries are all empty but not zero: 2^29 entries to read in KVM.
    let mut w = World::new("7.1");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID);
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.mem
        .write_u64(
            CT,
            cte::encode(&Cte {
                target: Some(0),
                icid: 0,
            }),
        )
        .unwrap();
    for id in 0..8192u64 {
        w.mem
            .write_u64(
                DT + id * 8,
                dte::encode(&Dte {
                    next: 1,
                    itt_addr: ITT,
                    eventid_bits: 16,
                }),
            )
            .unwrap();
    }
    let mut page = [0u8; 4096]; // ICID 1, LPI 0: empty entries that are not zero
    for e in page.chunks_mut(8) {
        e[0] = 1;
    }
    for p in 0..128 {
        w.mem.write(ITT + p * 4096, &page).unwrap();
    }
    let e = w.ctrl(CTRL_RESTORE_TABLES).unwrap_err();
    assert!(
        matches!(
            e,
            ItsError::TooLarge {
                limit: ENTRY_BUDGET,
                ..
            }
        ),
        "{e}"
    );
    assert!(w.its.state().devices.is_empty() && w.its.state().collections.is_empty());
}

#[test]
fn an_oversized_scan_on_old_kernels_stops_at_the_end_of_memory() {
    // 28 event-ID bits: 2^31 bytes as an int is negative, an enormous
    // unsigned length: KVM scans on until guest memory ends (-EFAULT).
    let mut w = World::new("7.0");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID);
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.mem
        .write_u64(
            DT,
            dte::encode(&Dte {
                next: 0,
                itt_addr: RAM + RAM_SIZE - 0x2000,
                eventid_bits: 28,
            }),
        )
        .unwrap();
    assert_eq!(errno(w.ctrl(CTRL_RESTORE_TABLES)), Errno::EFAULT);
}

#[test]
fn untouched_memory_is_stepped_over_without_spending_the_bound() {
    // An 8 MiB flat device table (128 pages) over untouched RAM: empty.
    let mut w = World::new("6.12");
    w.write(regs::GITS_BASER, 64, DT | baser::VALID | 0x7f);
    w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
    w.ctrl(CTRL_RESTORE_TABLES).unwrap();
    assert!(w.its.state().devices.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Random words in every table: the restore ends (with a result or an
    /// error naming the entry) and, on error, leaves nothing mapped.
    #[test]
    fn restore_from_random_tables_is_bounded_and_clean(
        dt in proptest::collection::vec(any::<u64>(), 0..64),
        ct in proptest::collection::vec(any::<u64>(), 0..16),
        itt in proptest::collection::vec(any::<u64>(), 0..64),
        indirect in any::<bool>(),
        kernel in prop::sample::select(vec!["5.10.223", "6.12.43", "7.0", "7.1", "7.3"]),
    ) {
        let mut w = World::new(kernel);
        w.write(regs::GITS_BASER, 64, DT | baser::VALID | if indirect { baser::INDIRECT } else { 0 });
        w.write(regs::GITS_BASER + 8, 64, CT | baser::VALID);
        for (base, words) in [(DT, &dt), (CT, &ct), (ITT, &itt)] {
            for (i, v) in words.iter().enumerate() {
                // Keep addresses the words name near guest RAM half the time.
                w.mem.write_u64(base + i as u64 * 8, *v).unwrap();
            }
        }
        match w.ctrl(CTRL_RESTORE_TABLES) {
            Ok(()) => {
                let s = w.its.state();
                let again = Its::from_state(w.its.kernel(), &s);
                prop_assert!(again.is_ok(), "{:?}", again.err());
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                let s = w.its.state();
                prop_assert!(s.devices.is_empty() && s.collections.is_empty() && s.lpis.is_empty());
            }
        }
    }

    /// Random command streams keep the ITS consistent (its state reloads)
    /// and a save followed by a restore gives back the same mappings.
    #[test]
    fn commands_then_save_restore_round_trip(
        cmds in proptest::collection::vec(
            (0u8..10, 0u32..4, 0u32..6, 0u16..4, 8192u32..8240, 0u32..3, any::<bool>()), 0..40),
    ) {
        let mut w = World::enabled("7.3");
        for (op, dev, ev, coll, intid, target, valid) in cmds {
            let c = match op {
                0 => Command::Mapd { device: dev, eventid_bits: 3, itt_addr: ITT + dev as u64 * 0x100, valid },
                1 => Command::Mapc { collection: coll, target, valid },
                2 | 3 => Command::Mapti { device: dev, event: ev, intid, collection: coll },
                4 => Command::Movi { device: dev, event: ev, collection: coll },
                5 => Command::Discard { device: dev, event: ev },
                6 => Command::Int { device: dev, event: ev },
                7 => Command::Clear { device: dev, event: ev },
                8 => Command::Movall { from: target, to: (target + 1) % 3 },
                _ => Command::Invall { collection: coll },
            };
            w.cmd(c);
        }
        let live = w.its.state();
        prop_assert!(Its::from_state(w.its.kernel(), &live).is_ok());
        w.ctrl(CTRL_SAVE_TABLES).unwrap();
        let bytes = tables_bytes(&w);
        restore_into(&mut w, &live).unwrap();
        let back = w.its.state();
        // What 7.3 leaves out of a save: ITEs whose collection was unmapped.
        let mut want = live.devices.clone();
        for d in &mut want {
            d.ites.retain(|i| i.collection.is_some());
        }
        prop_assert_eq!(&back.devices, &want);
        prop_assert_eq!(&back.collections, &live.collections);
        w.ctrl(CTRL_SAVE_TABLES).unwrap();
        prop_assert_eq!(tables_bytes(&w), bytes);
    }
}
