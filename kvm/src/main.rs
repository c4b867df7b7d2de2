//! gicx-kvm: runs gicx scenario files against the real kernel's KVM vGICv3.
//!
//! Two ways to run it, with one output:
//! - as `/init` of an initramfs booted by `scripts/kvm` under QEMU (PID 1):
//!   it mounts /dev, /proc and /sys, runs every file in `/gicx/scenarios/`
//!   in name order, prints the results on the console and powers off;
//! - natively on any arm64 Linux host with `/dev/kvm` (e.g. one with GICv4.1
//!   hardware, which QEMU cannot emulate): `gicx-kvm FILE...`.
//!
//! Output, one line each: `GICX-BEGIN {...}` (the kernel), `GICX-RESULT {...}`
//! per scenario (`file`, `steps`: one `gicx_core::oracle::Observed` per step,
//! or `setup_error`), `GICX-RANDOM {...}` when random sequences were asked
//! for (`random.rs`), `GICX-END {"count": N}`. `scripts/kvm` turns these into
//! recordings; `gicx conform` compares them with the model.

// Elsewhere the guest program and the errno names are built only for their
// tests (which check the instruction encodings on any host).
#[cfg_attr(
    not(all(target_os = "linux", target_arch = "aarch64")),
    allow(dead_code)
)]
mod errno;
#[cfg_attr(
    not(all(target_os = "linux", target_arch = "aarch64")),
    allow(dead_code)
)]
mod guest;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod irqfd;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod its;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod memory;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod migration;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod pid1;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod random;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod runner;
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod watchdog;

use std::process::ExitCode;

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn main() -> ExitCode {
    pid1::main()
}

#[cfg(not(all(target_os = "linux", target_arch = "aarch64")))]
fn main() -> ExitCode {
    eprintln!(
        "gicx-kvm drives /dev/kvm on arm64 Linux only. Build it with \
         `cargo build --release -p gicx-kvm --target aarch64-unknown-linux-musl` and run it \
         on an arm64 host, or let scripts/kvm boot it under QEMU."
    );
    ExitCode::from(2)
}
