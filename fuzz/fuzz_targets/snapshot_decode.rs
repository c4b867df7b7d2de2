//! A saved state (snapshot JSON) is either rebuilt into a device that answers
//! accesses, or refused with an error; nothing panics.
#![no_main]
use gicx_core::catalogue::Frame;
use gicx_core::host::Host;
use gicx_core::vgic::{Vgic, VgicState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<VgicState>(data) else { return };
    for host in ["v4.1@6.17", "v3@4.19", "v4.1+novsgi@5.13"] {
        let host = Host::parse_compact(host).unwrap();
        if let Ok(mut vm) = Vgic::from_state(host, state.clone()) {
            for off in [0u32, 4, 8, 0xC, 0x104, 0x204, 0x420, 0x6100] {
                let _ = vm.user_read(Frame::Dist, 0, off);
                let _ = vm.guest_read(Frame::Dist, 0, off, 32);
            }
            let _ = vm.user_read(Frame::Redist, 0, 0x1_0200);
            let _ = vm.run();
        }
    }
});
