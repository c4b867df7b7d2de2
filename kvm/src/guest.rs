//! The guest program: a few AArch64 instructions that make one access per
//! `KVM_RUN`, and its memory layout.
//!
//! The program is written once into guest RAM before the first run and never
//! changed, so no instruction-cache maintenance is needed on real hardware
//! (KVM cleans the page to the point of unification when it first maps it
//! executable at stage 2). Each step sets the vCPU's registers with
//! `KVM_SET_ONE_REG` and runs it:
//!
//! - `x0` the address, `x1` the value (in and out), `x2` the entry to take,
//!   `x10` the exit address, `x11` the exception-exit address.
//! - Entry 0 does nothing (the `run` step); then loads and stores of each
//!   width; then `MRS`/`MSR` of every CPU-interface register the model knows
//!   (`gicx_core::cpuif::SYSREGS`, the model's one table of them).
//! - Every entry ends at `done`, a store to an address no memory slot or
//!   in-kernel device covers: `KVM_RUN` returns `KVM_EXIT_MMIO` there.
//! - The vector table (`VBAR_EL1`) sends any exception (UNDEFINED, an
//!   abort) to a store at the exception-exit address, so a step that traps
//!   is reported, not hung.
//!
//! The program starts with a `NOP`: after an MMIO exit, the next `KVM_RUN`
//! first completes the trapped store by stepping the PC past it
//! (`kvm_handle_mmio_return` → `kvm_incr_pc`), which lands on the PC we set
//! plus 4. Either way execution reaches the dispatch.

use gicx_core::cpuif::{SysReg, SYSREGS};

/// The runner's code: one 64 KiB slot, by default far above the GIC frames.
pub const RAM_BASE: u64 = 0x4000_0000;
pub const RAM_SIZE: usize = 0x1_0000;
/// The vector table's offset in the code slot, 2 KiB aligned (VBAR_EL1 bits
/// [10:0] are RES0).
pub const VECTORS_OFFSET: u64 = 0x800;
/// The vector table in the default layout.
pub const VECTORS: u64 = RAM_BASE + VECTORS_OFFSET;
/// Stores here exit to userspace: nothing is mapped at these addresses.
pub const EXIT_ADDR: u64 = 0x1000_0000;
pub const EXCEPTION_ADDR: u64 = 0x1000_1000;

/// Where the runner's code slot and its two exit addresses are in one VM's
/// guest-physical space. The program is position independent (it reaches
/// its table with `ADR`), so it can move when a scenario's `vm.memory` takes
/// the default place: KVM would otherwise refuse the overlapping memslot
/// (-EEXIST), and an exit address inside guest RAM would not exit at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub code: u64,
    pub exit: u64,
    pub exception: u64,
}

impl Layout {
    /// Every VM without `vm.memory` (every scenario recorded before the ITS).
    pub const DEFAULT: Layout = Layout {
        code: RAM_BASE,
        exit: EXIT_ADDR,
        exception: EXCEPTION_ADDR,
    };

    pub fn vectors(&self) -> u64 {
        self.code + VECTORS_OFFSET
    }

    /// The first layout whose code slot and exit pages lie outside every
    /// region (base, size) and outside the GIC frames of QEMU's `virt`
    /// layout the runner uses (0x0800_0000 up to the last possible
    /// redistributor, 0x0c0a_0000); `None` when the regions leave no room.
    pub fn avoiding(regions: &[(u64, u64)]) -> Option<Layout> {
        let free = |base: u64, len: u64| {
            let gic = base < 0x0c0a_0000 && base + len > DIST_BASE;
            !gic && regions
                .iter()
                .all(|&(b, s)| base + len <= b || b.saturating_add(s) <= base)
        };
        // The default first, then one place in every 256 MiB below 4 GiB,
        // from the top (far from where guests put RAM and tables); code and
        // exits at different offsets, so they never meet.
        let codes = std::iter::once(Layout::DEFAULT.code)
            .chain((0..16u64).rev().map(|i| (i << 28) + 0x0400_0000));
        let exits = std::iter::once(Layout::DEFAULT.exit)
            .chain((0..16u64).rev().map(|i| (i << 28) + 0x0800_0000));
        let code = codes.into_iter().find(|&c| free(c, RAM_SIZE as u64))?;
        let exit = exits.into_iter().find(|&e| free(e, 0x2000))?;
        Some(Layout {
            code,
            exit,
            exception: exit + (EXCEPTION_ADDR - EXIT_ADDR),
        })
    }
}

/// The GIC frames, where QEMU's `virt` machine puts them for its own guests.
pub const DIST_BASE: u64 = gicx_core::oracle::GUEST_DIST_BASE;
pub const ITS_BASE: u64 = 0x0808_0000;
pub const REDIST_BASE: u64 = 0x080A_0000;
/// One redistributor: RD_base + SGI_base.
pub const REDIST_STRIDE: u64 = 0x2_0000;

/// Instructions per dispatch entry (the last one branches to `done`).
const ENTRY_WORDS: usize = 4;
/// Offset of the dispatch table: after nop, adr, add, br.
const TABLE: usize = 4 * 4;

/// One thing the program can do in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: the first `KVM_RUN`.
    Nothing,
    Load {
        width: u8,
    },
    Store {
        width: u8,
    },
    ReadSysreg(SysReg),
    WriteSysreg(SysReg),
}

fn width_index(width: u8) -> usize {
    match width {
        8 => 0,
        16 => 1,
        32 => 2,
        _ => 3,
    }
}

impl Action {
    /// The dispatch entry (`x2`).
    pub fn entry(self) -> u64 {
        let sysreg = |r: SysReg| SYSREGS.iter().position(|d| d.reg == r).unwrap_or(0);
        (match self {
            Action::Nothing => 0,
            Action::Load { width } => 1 + width_index(width),
            Action::Store { width } => 5 + width_index(width),
            Action::ReadSysreg(r) => 9 + 2 * sysreg(r),
            Action::WriteSysreg(r) => 10 + 2 * sysreg(r),
        }) as u64
    }
}

// --- A64 encodings (Arm ARM C6) ----------------------------------------------------------

pub const NOP: u32 = 0xD503_201F;
pub const ISB: u32 = 0xD503_3FDF;

/// `LDR{B,H,,} Wt/Xt, [Xn]` (unsigned immediate, offset 0).
pub fn ldr(width: u8, rt: u32, rn: u32) -> u32 {
    let base = match width {
        8 => 0x3940_0000,
        16 => 0x7940_0000,
        32 => 0xB940_0000,
        _ => 0xF940_0000,
    };
    base | (rn << 5) | rt
}

/// `STR{B,H,,} Wt/Xt, [Xn]`.
pub fn str(width: u8, rt: u32, rn: u32) -> u32 {
    ldr(width, rt, rn) & !0x0040_0000
}

/// `B` by `offset` bytes.
pub fn b(offset: i64) -> u32 {
    0x1400_0000 | (((offset / 4) as u32) & 0x03FF_FFFF)
}

/// `ADR Xd, pc + offset`.
pub fn adr(rd: u32, offset: i64) -> u32 {
    let imm = offset as u32;
    0x1000_0000 | ((imm & 3) << 29) | (((imm >> 2) & 0x7FFFF) << 5) | rd
}

/// `ADD Xd, Xn, Xm, LSL #shift`.
pub fn add_lsl(rd: u32, rn: u32, rm: u32, shift: u32) -> u32 {
    0x8B00_0000 | (rm << 16) | (shift << 10) | (rn << 5) | rd
}

/// `BR Xn`.
pub fn br(rn: u32) -> u32 {
    0xD61F_0000 | (rn << 5)
}

fn sysreg_bits((op0, op1, crn, crm, op2): (u8, u8, u8, u8, u8)) -> u32 {
    ((op0 as u32 - 2) << 19)
        | ((op1 as u32) << 16)
        | ((crn as u32) << 12)
        | ((crm as u32) << 8)
        | ((op2 as u32) << 5)
}

/// `MRS Xt, S<op0>_<op1>_C<n>_C<m>_<op2>`.
pub fn mrs(enc: (u8, u8, u8, u8, u8), rt: u32) -> u32 {
    0xD530_0000 | sysreg_bits(enc) | rt
}

/// `MSR S<op0>_<op1>_C<n>_C<m>_<op2>, Xt`.
pub fn msr(enc: (u8, u8, u8, u8, u8), rt: u32) -> u32 {
    0xD510_0000 | sysreg_bits(enc) | rt
}

/// The program and the vector table as the bytes of guest RAM.
pub fn image() -> Vec<u8> {
    let mut words: Vec<u32> = vec![NOP, adr(9, (TABLE - 4) as i64), add_lsl(9, 9, 2, 4), br(9)];
    let mut entries: Vec<[u32; 3]> = vec![[NOP, NOP, NOP]];
    for w in [8, 16, 32, 64] {
        entries.push([ldr(w, 1, 0), NOP, NOP]);
    }
    for w in [8, 16, 32, 64] {
        entries.push([str(w, 1, 0), NOP, NOP]);
    }
    for d in SYSREGS {
        entries.push([mrs(d.encoding, 1), ISB, NOP]);
        entries.push([msr(d.encoding, 1), ISB, NOP]);
    }
    let done = TABLE + entries.len() * ENTRY_WORDS * 4;
    for (i, e) in entries.iter().enumerate() {
        let at = TABLE + i * ENTRY_WORDS * 4;
        words.extend_from_slice(e);
        words.push(b(done as i64 - (at + 12) as i64));
    }
    // done: str xzr, [x10]; b done
    words.push(str(64, 31, 10));
    words.push(b(-4));
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(
        bytes.len() <= (VECTORS - RAM_BASE) as usize,
        "the program fits below the vectors"
    );
    bytes.resize((VECTORS - RAM_BASE) as usize, 0);
    // 16 vectors of 0x80 bytes: str xzr, [x11]; b .
    for _ in 0..16 {
        let mut v = [NOP; 32];
        v[0] = str(64, 31, 11);
        v[1] = b(0);
        bytes.extend(v.iter().flat_map(|w| w.to_le_bytes()));
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodings checked against GNU as (aarch64-linux-gnu-as 2.40, objdump -d).
    #[test]
    fn encodings_match_the_assembler() {
        assert_eq!(ldr(32, 1, 0), 0xB940_0001); // ldr w1, [x0]
        assert_eq!(ldr(64, 1, 0), 0xF940_0001); // ldr x1, [x0]
        assert_eq!(ldr(8, 1, 0), 0x3940_0001); // ldrb w1, [x0]
        assert_eq!(ldr(16, 1, 0), 0x7940_0001); // ldrh w1, [x0]
        assert_eq!(str(32, 1, 0), 0xB900_0001); // str w1, [x0]
        assert_eq!(str(64, 31, 10), 0xF900_015F); // str xzr, [x10]
        assert_eq!(str(8, 1, 0), 0x3900_0001); // strb w1, [x0]
        assert_eq!(mrs((3, 0, 12, 12, 0), 1), 0xD538_CC01); // mrs x1, icc_iar1_el1
        assert_eq!(msr((3, 0, 4, 6, 0), 1), 0xD518_4601); // msr icc_pmr_el1, x1
        assert_eq!(msr((3, 0, 12, 11, 5), 1), 0xD518_CBA1); // msr icc_sgi1r_el1, x1
        assert_eq!(add_lsl(9, 9, 2, 4), 0x8B02_1129); // add x9, x9, x2, lsl #4
        assert_eq!(br(9), 0xD61F_0120); // br x9
        assert_eq!(b(0), 0x1400_0000); // b .
        assert_eq!(b(-4), 0x17FF_FFFF); // b .-4
        assert_eq!(adr(9, 12), 0x1000_0069); // adr x9, .+12
    }

    #[test]
    fn the_layout_moves_off_the_scenario_memory() {
        assert_eq!(Layout::avoiding(&[]), Some(Layout::DEFAULT));
        // Off 0x8000_0000: the default stays.
        assert_eq!(
            Layout::avoiding(&[(0x8000_0000, 0x100_0000)]),
            Some(Layout::DEFAULT)
        );
        // QEMU virt's RAM at 0x4000_0000 (16 MiB): the code moves, the exits stay.
        let l = Layout::avoiding(&[(0x4000_0000, 0x100_0000)]).unwrap();
        assert_eq!(l.code, 0xF400_0000);
        assert_eq!((l.exit, l.exception), (EXIT_ADDR, EXCEPTION_ADDR));
        // Memory over the exit pages and the top candidates too.
        let l =
            Layout::avoiding(&[(0x1000_0000, 0x3100_0000), (0xF000_0000, 0x1000_0000)]).unwrap();
        assert_eq!(
            (l.code, l.exit, l.exception),
            (0xE400_0000, 0xE800_0000, 0xE800_1000)
        );
        // Every region below 4 GiB taken: no room.
        assert_eq!(Layout::avoiding(&[(0, 1 << 32)]), None);
    }

    #[test]
    fn every_action_has_its_entry() {
        let img = image();
        let word = |off: usize| u32::from_le_bytes(img[off..off + 4].try_into().unwrap());
        let at = |a: Action| TABLE + a.entry() as usize * ENTRY_WORDS * 4;
        assert_eq!(word(at(Action::Load { width: 32 })), ldr(32, 1, 0));
        assert_eq!(word(at(Action::Store { width: 8 })), str(8, 1, 0));
        for d in SYSREGS {
            assert_eq!(word(at(Action::ReadSysreg(d.reg))), mrs(d.encoding, 1));
            assert_eq!(word(at(Action::WriteSysreg(d.reg))), msr(d.encoding, 1));
        }
        // Every entry's last word branches to the same `done`.
        let entries = 9 + 2 * SYSREGS.len();
        let done = TABLE + entries * ENTRY_WORDS * 4;
        assert_eq!(word(done), str(64, 31, 10));
        for i in 0..entries {
            let last = TABLE + i * ENTRY_WORDS * 4 + 12;
            assert_eq!(word(last), b(done as i64 - last as i64), "entry {i}");
        }
        // The dispatch's ADR points at the table.
        assert_eq!(word(4), adr(9, (TABLE - 4) as i64));
        assert_eq!(word((VECTORS - RAM_BASE) as usize + 0x200), str(64, 31, 11));
    }
}
