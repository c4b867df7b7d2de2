//! KVM's emulated ITS under hostile input: random words in guest memory
//! where the device table, ITTs and collection table live, random BASERs,
//! then RESTORE_TABLES, a random command stream, SAVE_TABLES and MSIs.
//! Nothing panics, every restore ends within the model's bound, a failed
//! restore leaves nothing mapped, and the state always reloads.
#![no_main]
use arbitrary::Arbitrary;
use gicx_core::guest_memory::GuestMemory;
use gicx_core::vits::observer::NoopObserver;
use gicx_core::vits::{regs, Bus, Its, Redistributors, CTRL_RESTORE_TABLES, CTRL_SAVE_TABLES};
use libfuzzer_sys::fuzz_target;

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x100_0000;
const KERNELS: [&str; 6] = ["5.10.223", "6.1.170", "6.12.43", "6.17", "7.1", "7.3"];

#[derive(Arbitrary, Debug)]
struct Input {
    kernel: u8,
    vcpus: u8,
    prop_bits: u8,
    /// BASER0/BASER1 as a VMM restores them; addresses folded into RAM
    /// unless `wild`.
    baser_device: u64,
    baser_coll: u64,
    wild: bool,
    /// (offset into RAM, word) pairs: the tables' contents.
    words: Vec<(u32, u64)>,
    /// Raw 32-byte commands.
    commands: Vec<[u64; 4]>,
    msis: Vec<(u32, u32)>,
}

fn fold(v: u64, wild: bool) -> u64 {
    if wild {
        v
    } else {
        // Keep the attributes, put the address inside RAM (64 KiB aligned).
        (v & !0x0000_ffff_ffff_f000) | (RAM + (v & 0x00ff_0000))
    }
}

fuzz_target!(|inp: Input| {
    let kernel = KERNELS[inp.kernel as usize % KERNELS.len()].parse().unwrap();
    let mut mem = GuestMemory::new(2048);
    mem.add_region(RAM, RAM_SIZE).unwrap();
    let mut redists = Redistributors::new(1 + inp.vcpus as u32 % 8);
    redists.propbaser = RAM + 0x80_0000 | (inp.prop_bits as u64 & 0x1f);
    for (i, r) in redists.vcpus.iter_mut().enumerate() {
        r.enable_lpis = true;
        r.pendbaser = RAM + 0x90_0000 + i as u64 * 0x1_0000;
    }
    for &(off, w) in inp.words.iter().take(4096) {
        let _ = mem.write_u64(RAM + (off as u64 % RAM_SIZE & !7), w);
    }
    let mut its = Its::new(kernel);
    its.set_address(0x0808_0000, 40).unwrap();
    let mut obs = NoopObserver;
    let mut bus = Bus { mem: &mut mem, redists: &redists, observer: &mut obs };
    let _ = its.user_write(&mut bus, regs::GITS_BASER as u64, fold(inp.baser_device, inp.wild));
    let _ = its.user_write(&mut bus, regs::GITS_BASER as u64 + 8, fold(inp.baser_coll, inp.wild));
    let _ = its.user_write(&mut bus, regs::GITS_CBASER as u64, RAM + 0xf0_0000 | 1 << 63);
    if its.ctrl(&mut bus, CTRL_RESTORE_TABLES).is_err() {
        let s = its.state();
        assert!(s.devices.is_empty() && s.collections.is_empty() && s.lpis.is_empty());
    }
    let _ = its.user_write(&mut bus, regs::GITS_CTLR as u64, 1);
    for (i, c) in inp.commands.iter().take(256).enumerate() {
        let slot = RAM + 0xf0_0000 + (i as u64 % 128) * 32;
        for (k, w) in c.iter().enumerate() {
            let _ = bus.mem.write_u64(slot + k as u64 * 8, *w);
        }
        let next = ((i as u64 + 1) % 128) * 32;
        its.guest_write(&mut bus, regs::GITS_CWRITER, 64, next);
    }
    for &(dev, ev) in inp.msis.iter().take(64) {
        let _ = its.signal_msi(&mut bus, 0x0809_0040, Some(dev % 64), ev % 64);
    }
    let _ = its.ctrl(&mut bus, CTRL_SAVE_TABLES);
    let s = its.state();
    Its::from_state(kernel, &s).expect("the ITS's own state reloads");
});
