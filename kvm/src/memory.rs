//! Guest RAM as the runner maps it: its own code slot (the program of
//! `guest.rs`) and the scenario's `vm.memory` regions, each one KVM memslot
//! (`KVM_SET_USER_MEMORY_REGION`) backed by anonymous memory of this process.
//!
//! Userspace reaches guest RAM through that mapping, as a VMM does when it
//! loads a migrated VM's memory or a test writes an ITS command queue: a
//! `mem_write`/`mem_read` step is a plain store/load here, no ioctl. KVM's
//! devices reach the same bytes through `kvm_read_guest`/`kvm_write_guest`
//! (virt/kvm/kvm_main.c), which fail with -EFAULT outside every memslot;
//! the model (`gicx_core::guest_memory`) holds only the `vm.memory` regions,
//! so the runner's code slot must not be where a scenario expects a fault:
//! [`Layout::avoiding`] keeps it and the exit addresses off every region.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;

use crate::guest::Layout;
use crate::runner::SetupError;

/// One memslot and the anonymous mapping behind it.
struct Slot {
    base: u64,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Slot` owns its mapping exclusively (no other handle to it exists
// outside the VM, which is dropped first), so moving it to the reaper thread
// that unmaps it is sound.
unsafe impl Send for Slot {}

impl Slot {
    fn new(base: u64, len: usize) -> Result<Slot, SetupError> {
        // SAFETY: an anonymous private mapping; nothing aliases it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SetupError(format!(
                "mmap of {len:#x} bytes of guest RAM at {base:#x}: {}",
                std::io::Error::last_os_error()
            )));
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| SetupError("mmap returned null".into()))?;
        Ok(Slot { base, ptr, len })
    }

    fn contains(&self, gpa: u64) -> bool {
        gpa >= self.base && gpa - self.base < self.len as u64
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is a live mapping of `len` bytes owned by self; the
        // &mut borrow keeps it unaliased on this side (the guest only touches
        // it inside KVM_RUN, which needs the Machine, and so self, borrowed).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `new`; the VM that used it is gone.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A guest physical address no memslot covers (what `kvm_read_guest` fails
/// with -EFAULT); userspace has no mapping to read or write there either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmapped {
    pub gpa: u64,
}

/// Every memslot of one VM: slot 0 the runner's code, then `vm.memory` in order.
pub struct GuestRam {
    slots: Vec<Slot>,
}

/// The largest guest address the runner's VMs can map: their IPA space is 32
/// bits (`runner::IPA_BITS`).
const IPA_LIMIT: u64 = 1 << 32;

impl GuestRam {
    /// Map the code slot at `layout.code` with `image`, then each region of
    /// `regions` (base, size), as slots 1, 2, … . A region the runner cannot
    /// map is a setup error naming it (`vm.memory[i]`) and why.
    pub fn map(
        vm: &VmFd,
        layout: &Layout,
        image: &[u8],
        regions: &[(u64, u64)],
    ) -> Result<GuestRam, SetupError> {
        let mut ram = GuestRam { slots: Vec::new() };
        let mut code = Slot::new(layout.code, crate::guest::RAM_SIZE)?;
        let n = image.len().min(code.len);
        code.bytes()[..n].copy_from_slice(&image[..n]);
        ram.add(vm, code, "the runner's code slot")?;
        for (i, &(base, size)) in regions.iter().enumerate() {
            let place = format!("vm.memory[{i}] ({base:#x}+{size:#x})");
            if size == 0 || base % 4096 != 0 || size % 4096 != 0 {
                return Err(SetupError(format!(
                    "{place}: KVM memslots need a non-zero size and 4 KiB-aligned base and size"
                )));
            }
            if base.checked_add(size).is_none_or(|end| end > IPA_LIMIT) {
                return Err(SetupError(format!(
                    "{place}: ends beyond the runner's 32-bit IPA space (KVM_VM_TYPE_ARM_IPA_SIZE(32))"
                )));
            }
            let len = usize::try_from(size)
                .map_err(|_| SetupError(format!("{place}: too large for this host")))?;
            ram.add(vm, Slot::new(base, len)?, &place)?;
        }
        Ok(ram)
    }

    fn add(&mut self, vm: &VmFd, slot: Slot, what: &str) -> Result<(), SetupError> {
        let region = kvm_userspace_memory_region {
            slot: self.slots.len() as u32,
            flags: 0,
            guest_phys_addr: slot.base,
            memory_size: slot.len as u64,
            userspace_addr: slot.ptr.as_ptr() as u64,
        };
        // SAFETY: the mapping lives as long as `self`, which the Machine drops
        // after the VM (field order), so KVM never sees a dangling address.
        unsafe { vm.set_user_memory_region(region) }.map_err(|e| {
            SetupError(format!(
                "KVM_SET_USER_MEMORY_REGION for {what}: {}",
                crate::errno::name(e.errno())
            ))
        })?;
        self.slots.push(slot);
        Ok(())
    }

    /// The runner's code slot as bytes (offset 0 is `layout.code`).
    pub fn code(&mut self) -> &mut [u8] {
        self.slots[0].bytes()
    }

    /// Userspace stores `data` at `gpa` through the host mapping, byte by
    /// byte across slots like `kvm_write_guest`; nothing is written when any
    /// byte lies outside every `vm.memory` slot (the code slot is the
    /// runner's, not the scenario's: the model has no memory there).
    pub fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), Unmapped> {
        self.check(gpa, data.len())?;
        for (i, b) in data.iter().enumerate() {
            let a = gpa + i as u64;
            let s = self.slot_of(a).ok_or(Unmapped { gpa: a })?;
            let off = (a - s.base) as usize;
            s.bytes()[off] = *b;
        }
        Ok(())
    }

    /// Userspace loads `buf.len()` bytes at `gpa`.
    pub fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.check(gpa, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            let a = gpa + i as u64;
            let s = self.slot_of(a).ok_or(Unmapped { gpa: a })?;
            let off = (a - s.base) as usize;
            *b = s.bytes()[off];
        }
        Ok(())
    }

    fn check(&self, gpa: u64, len: usize) -> Result<(), Unmapped> {
        for i in 0..len as u64 {
            let a = gpa.checked_add(i).ok_or(Unmapped { gpa })?;
            if !self.slots[1..].iter().any(|s| s.contains(a)) {
                return Err(Unmapped { gpa: a });
            }
        }
        Ok(())
    }

    fn slot_of(&mut self, gpa: u64) -> Option<&mut Slot> {
        self.slots[1..].iter_mut().find(|s| s.contains(gpa))
    }
}
