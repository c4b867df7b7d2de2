//! Random access sequences through both paths on random hosts and VMs: no panic.
#![no_main]
use arbitrary::Arbitrary;
use gicx_core::catalogue::Frame;
use gicx_core::host::{Era, GicHw, Host};
use gicx_core::vgic::{Vgic, VmConfig};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    GuestRead { redist: bool, vcpu: u8, off: u32, width: u8 },
    GuestWrite { redist: bool, vcpu: u8, off: u32, width: u8, value: u64 },
    UserRead { redist: bool, vcpu: u8, off: u32 },
    UserWrite { redist: bool, vcpu: u8, off: u32, value: u32 },
    UserHas { redist: bool, vcpu: u8, off: u32 },
    LevelInfo { vcpu: u8, intid: u16, value: Option<u32> },
    Init,
    Run,
}

#[derive(Arbitrary, Debug)]
struct Input {
    gic: u8,
    era: u8,
    cpuif: bool,
    v4: bool,
    vcpus: u8,
    nr_irqs: u8,
    its: bool,
    ops: Vec<Op>,
}

fn frame(redist: bool) -> Frame {
    if redist { Frame::Redist } else { Frame::Dist }
}

fuzz_target!(|inp: Input| {
    let gic = GicHw::ALL[inp.gic as usize % 3];
    let era = Era::ALL[inp.era as usize % Era::ALL.len()];
    let host = Host::new(gic, inp.cpuif, inp.v4, era.version()).unwrap();
    let cfg = VmConfig::new(1 + inp.vcpus as u32 % 8, 64 + 32 * (inp.nr_irqs as u32 % 30), inp.its).unwrap();
    let mut vm = Vgic::new(host, cfg);
    for op in inp.ops.iter().take(512) {
        let _ = match *op {
            Op::GuestRead { redist, vcpu, off, width } => vm.guest_read(frame(redist), vcpu as u32, off, width).map(|_| ()),
            Op::GuestWrite { redist, vcpu, off, width, value } => vm.guest_write(frame(redist), vcpu as u32, off, width, value).map(|_| ()),
            Op::UserRead { redist, vcpu, off } => vm.user_read(frame(redist), vcpu as u32, off).map(|_| ()),
            Op::UserWrite { redist, vcpu, off, value } => vm.user_write(frame(redist), vcpu as u32, off, value).map(|_| ()),
            Op::UserHas { redist, vcpu, off } => vm.user_has(frame(redist), vcpu as u32, off).map(|_| ()),
            Op::LevelInfo { vcpu, intid, value } => {
                vm.user_level_info(vcpu as u32, intid as u32, value);
                Ok(())
            }
            Op::Init => {
                vm.init();
                Ok(())
            }
            Op::Run => {
                vm.run();
                Ok(())
            }
        };
    }
});
