//! Reading registers back, as the guest and as the VMM would see them, without
//! changing the VM; and finding which registers a step changed, so a view can
//! show "what this access did" next to "what it returned".
//!
//! Both build on [`Vgic::peek_guest`] and [`Vgic::peek_user`]. A full sweep of
//! the catalogue is thousands of peeks, so [`changes`] first compares the saved
//! state ([`crate::vgic::VgicState`]) and peeks only where it differs: a
//! per-interrupt register instance (the catalogue's `per_irq` layout) can only
//! change if the state of one of the INTIDs it covers did; the other registers
//! of a frame are compared whenever anything but interrupt state changed.
//!
//! ```
//! use gicx_core::catalogue::{lookup, Frame};
//! use gicx_core::host::Host;
//! use gicx_core::readback::{changes, read_back};
//! use gicx_core::vgic::{Vgic, VmConfig};
//!
//! let host = Host::parse_compact("v4.1@6.17").unwrap();
//! let mut vm = Vgic::new(host, VmConfig::default());
//! vm.init();
//! let before = vm.clone();
//! vm.user_write(Frame::Dist, 0, 0x104, 0b101).unwrap(); // GICD_ISENABLER1
//! let enabler = lookup("GICD_ISENABLER1").unwrap();
//! assert_eq!(read_back(&vm, &enabler, 0).user, Some(0b101));
//! let changed = changes(&before, &vm, &[0]);
//! assert_eq!(changed.len(), 2); // GICD_ISENABLER1 and GICD_ICENABLER1
//! assert_eq!(changed[0].name, "GICD_ISENABLER1");
//! ```

use serde::Serialize;

use crate::catalogue::{Frame, RegRef, RegisterDesc, CATALOGUE};
use crate::vgic::Vgic;

/// A register's value as the guest reads it (at the widest width KVM allows)
/// and as `KVM_GET_DEVICE_ATTR` returns it (32-bit halves combined). `None`
/// where the read fails (e.g. a userspace errno).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Readback {
    pub guest: Option<u64>,
    pub user: Option<u64>,
}

/// Read instance `reg` back; `vcpu` is the accessing vCPU for the distributor
/// and the redistributor's vCPU for the redistributor frame.
pub fn read_back(vm: &Vgic, reg: &RegRef, vcpu: u32) -> Readback {
    let bytes = reg.desc.reg_bytes as u32;
    let off = reg.offset();
    let frame = reg.desc.frame;
    // The widest access KVM's table allows for the family, in pieces if needed
    // (a 64-bit register reachable only by 32-bit accesses reads as two).
    let width = [64u8, 32, 8]
        .into_iter()
        .find(|&w| w as u32 <= bytes * 8 && reg.desc.widths.allows(w))
        .unwrap_or(32);
    let guest = combine(bytes, width, |at, w| {
        vm.peek_guest(frame, vcpu, off + at, w)
    });
    let user = combine(bytes, 32, |at, _| vm.peek_user(frame, vcpu, off + at));
    Readback { guest, user }
}

fn combine(bytes: u32, width: u8, mut read: impl FnMut(u32, u8) -> Option<u64>) -> Option<u64> {
    let step = width as u32 / 8;
    let mut value = 0u64;
    for at in (0..bytes).step_by(step as usize) {
        value |= read(at, width)? << (at * 8);
    }
    Some(value)
}

/// One register instance whose value differs between two VMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Position of the family in [`CATALOGUE`].
    pub position: usize,
    /// The instance within the family.
    pub index: u32,
    /// Instance name, e.g. `GICD_ISENABLER1`.
    pub name: String,
    /// The redistributor's vCPU; `None` for the distributor.
    pub vcpu: Option<u32>,
    pub before: Readback,
    pub after: Readback,
}

/// The register instances whose guest or userspace value differs between
/// `before` and `after` (the same VM before and after a step), in catalogue
/// order: the distributor (read by vCPU `focus[0]`, or 0), then the
/// redistributors of the vCPUs in `focus` and of every vCPU whose state changed.
///
/// VMs with different configurations (vCPUs, nr_irqs) are not comparable: empty.
pub fn changes(before: &Vgic, after: &Vgic, focus: &[u32]) -> Vec<Change> {
    let (sb, sa) = (before.state(), after.state());
    if sb.config != sa.config {
        return Vec::new();
    }
    let vcpus = sa.config.vcpus;
    let nr_irqs = sa.config.nr_irqs;
    // Anything that is not the state of one interrupt: lifecycle, host (a
    // migration), the distributor's own fields.
    let global = sb.lifecycle != sa.lifecycle || before.host() != after.host() || {
        let mut d = sa.dist.clone();
        d.spis.clone_from(&sb.dist.spis);
        d != sb.dist
    };
    let mut out = Vec::new();

    // Distributor: SPIs live in dist.spis (INTID 32 + i).
    let spi_changed = |intid: u32| {
        intid >= 32
            && intid < nr_irqs
            && sb.dist.spis.get(intid as usize - 32) != sa.dist.spis.get(intid as usize - 32)
    };
    let dist_vcpu = focus.first().copied().filter(|v| *v < vcpus).unwrap_or(0);
    let spis_differ = sb.dist.spis != sa.dist.spis;
    if global || spis_differ {
        compare_frame(
            before,
            after,
            Frame::Dist,
            dist_vcpu,
            global,
            &spi_changed,
            &mut out,
        );
    }

    // Redistributors: private INTIDs 0-31 live in redists[v].private.
    let frames = (0..vcpus).filter(|v| {
        focus.contains(v) || sb.redists.get(*v as usize) != sa.redists.get(*v as usize)
    });
    for v in frames {
        let (rb, ra) = (&sb.redists[v as usize], &sa.redists[v as usize]);
        let own = {
            let mut r = ra.clone();
            r.private.clone_from(&rb.private);
            r != *rb
        };
        let private_changed = |intid: u32| {
            intid < 32 && rb.private.get(intid as usize) != ra.private.get(intid as usize)
        };
        if global || own || rb.private != ra.private {
            compare_frame(
                before,
                after,
                Frame::Redist,
                v,
                global || own,
                &private_changed,
                &mut out,
            );
        }
    }
    out
}

/// Compare the instances of one frame: every plain register if `plain`, and
/// the per-interrupt instances covering an INTID for which `irq_changed` holds.
fn compare_frame(
    before: &Vgic,
    after: &Vgic,
    frame: Frame,
    vcpu: u32,
    plain: bool,
    irq_changed: &dyn Fn(u32) -> bool,
    out: &mut Vec<Change>,
) {
    for (position, desc) in CATALOGUE.iter().enumerate() {
        if desc.frame != frame {
            continue;
        }
        for index in 0..desc.count() {
            let reg = RegRef { desc, index };
            let candidate = match covered_intids(desc, &reg) {
                Some((lo, hi)) => (lo..hi).any(irq_changed),
                None => plain,
            };
            if !candidate {
                continue;
            }
            let (b, a) = (read_back(before, &reg, vcpu), read_back(after, &reg, vcpu));
            if a != b {
                out.push(Change {
                    position,
                    index,
                    name: reg.name(),
                    vcpu: (frame == Frame::Redist).then_some(vcpu),
                    before: b,
                    after: a,
                });
            }
        }
    }
}

/// The INTIDs a per-interrupt instance covers, `[lo, hi)`.
fn covered_intids(desc: &RegisterDesc, reg: &RegRef) -> Option<(u32, u32)> {
    let p = desc.per_irq?;
    let lo = desc.intid_at(reg.offset())?;
    let n = desc.reg_bytes as u32 * 8 / p.bits_per_irq as u32;
    Some((lo, lo + n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::lookup;
    use crate::host::Host;
    use crate::vgic::VmConfig;

    fn vm(host: &str) -> Vgic {
        let mut vm = Vgic::new(Host::parse_compact(host).unwrap(), VmConfig::default());
        vm.init();
        vm
    }

    fn names(c: &[Change]) -> Vec<String> {
        c.iter()
            .map(|c| match c.vcpu {
                Some(v) => format!("{}@{v}", c.name),
                None => c.name.clone(),
            })
            .collect()
    }

    #[test]
    fn reads_back_as_guest_and_user() {
        let vm = vm("v4.1@6.17");
        let typer2 = lookup("GICD_TYPER2").unwrap();
        let r = read_back(&vm, &typer2, 0);
        assert_eq!(r.guest, Some(0x100), "nASSGIcap on a v4.1 host");
        assert_eq!(r.user, Some(0x100));
        // 64-bit registers: the guest reads 64 bits, userspace two 32-bit halves.
        let typer = lookup("GICR_TYPER").unwrap();
        let r = read_back(&vm, &typer, 1);
        assert_eq!(r.guest.map(|v| v >> 32), Some(1), "Aff0 of vCPU 1");
        assert_eq!(r.guest, r.user);
    }

    #[test]
    fn a_read_changes_nothing() {
        let mut after = vm("v4.1@6.17");
        after.run();
        let before = after.clone();
        after.guest_read(Frame::Dist, 0, 0, 32).unwrap();
        assert!(changes(&before, &after, &[0]).is_empty());
    }

    #[test]
    fn a_write_changes_its_registers_and_their_mirrors() {
        let before = vm("v3@6.8");
        let mut after = before.clone();
        after.user_write(Frame::Dist, 0, 0x104, 1).unwrap(); // ISENABLER1 bit 0: INTID 32
        assert_eq!(
            names(&changes(&before, &after, &[0])),
            ["GICD_ISENABLER1", "GICD_ICENABLER1"]
        );
        let c = &changes(&before, &after, &[0])[0];
        assert_eq!((c.before.user, c.after.user), (Some(0), Some(1)));

        // A private interrupt shows in that vCPU's redistributor.
        let mut after = before.clone();
        after
            .user_write(Frame::Redist, 2, 0x1_0100, 1 << 20)
            .unwrap(); // GICR_ISENABLER0
        assert_eq!(
            names(&changes(&before, &after, &[0])),
            ["GICR_ISENABLER0@2", "GICR_ICENABLER0@2"]
        );
    }

    #[test]
    fn distributor_fields_are_compared_whole() {
        let before = vm("v4.1@6.17");
        let mut after = before.clone();
        after.user_write(Frame::Dist, 0, 0x0, 0x12).unwrap(); // GICD_CTLR: EnableGrp1A, ARE
        let changed = names(&changes(&before, &after, &[0]));
        assert!(changed.contains(&"GICD_CTLR".to_string()), "{changed:?}");
    }

    #[test]
    fn different_vms_are_not_compared() {
        let a = vm("v3@6.8");
        let b = Vgic::new(
            Host::parse_compact("v3@6.8").unwrap(),
            VmConfig::new(2, 64, false).unwrap(),
        );
        assert!(changes(&a, &b, &[0]).is_empty());
    }
}
