//! Errno names for what the kernel returns (asm-generic/errno-base.h and
//! errno.h). Any Linux errno can come back from an ioctl, not only the ones
//! the model knows (`gicx_core::errno::Errno`), so the runner names them all.

const NAMES: [&str; 41] = [
    "0",
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
];

/// `EINVAL` for 22; `errno 95` for numbers without a name here.
pub fn name(code: i32) -> String {
    match code {
        95 => "EOPNOTSUPP".into(),
        524 => "ENOTSUPP".into(),
        c if c > 0 && (c as usize) < NAMES.len() => NAMES[c as usize].into(),
        c => format!("errno {c}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_agree_with_the_model() {
        for e in gicx_core::errno::Errno::ALL {
            assert_eq!(super::name(e.code()), e.as_str());
        }
        assert_eq!(super::name(1), "EPERM");
        assert_eq!(super::name(4000), "errno 4000");
    }
}
