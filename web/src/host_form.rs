//! The Host and VM form: what is typed (the kernel version, the vCPU count) may
//! be incomplete while typing, so it is kept as text beside the host and VM in
//! force; and the presets for common hosts.

use gicx_core::host::{Host, KernelVersion};
use gicx_core::vgic::VmConfig;

/// A host people often ask about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub label: &'static str,
    /// Compact host syntax (`gicx --host`).
    pub host: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        label: "Ampere Altra-like GICv3 @ 6.8",
        host: "v3@6.8",
    },
    Preset {
        label: "GICv4.1 host @ 6.17",
        host: "v4.1@6.17",
    },
    Preset {
        label: "GICv4.1 without vSGI CPU interface @ 5.15",
        host: "v4.1+novsgi@5.15",
    },
    Preset {
        label: "GICv4.0 @ 5.10",
        host: "v4.0@5.10",
    },
    Preset {
        label: "GICv5 host (GICv3 guests) @ 6.17",
        host: "v5@6.17",
    },
    Preset {
        label: "GICv5 host @ 7.1 (native vGICv5 device too)",
        host: "v5@7.1",
    },
    Preset {
        label: "Debian 12 stable 6.12.118 on GICv4.1",
        host: "v4.1@6.12.118",
    },
];

impl Preset {
    pub fn host(&self) -> Host {
        Host::parse_compact(self.host).expect("presets are valid hosts")
    }
}

/// The text fields of the form, and why they are not in force if they are not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostForm {
    pub kernel: String,
    pub vcpus: String,
    pub kernel_error: Option<String>,
    pub vcpus_error: Option<String>,
    /// Why the last nr_irqs or ITS change was refused.
    pub vm_error: Option<String>,
}

impl HostForm {
    /// The form showing `host` and `vm`.
    pub fn showing(host: Host, vm: VmConfig) -> HostForm {
        HostForm {
            kernel: host.kernel.to_string(),
            vcpus: vm.vcpus.to_string(),
            kernel_error: None,
            vcpus_error: None,
            vm_error: None,
        }
    }
}

/// What a typed kernel version means: `"5.15 → rules of 5.13"`, or why it is
/// not a version gicx models.
pub fn resolve_kernel(text: &str) -> Result<(KernelVersion, String), String> {
    let version: KernelVersion = text.parse().map_err(|e| format!("{e}"))?;
    let era = version.era().map_err(|e| format!("{e}"))?;
    Ok((
        version,
        format!("{} → rules of {}: {}", text.trim(), era, era.summary()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_resolve_to_their_era() {
        let (_, line) = resolve_kernel("5.15").unwrap();
        assert!(line.starts_with("5.15 → rules of 5.13:"), "{line}");
        let (v, line) = resolve_kernel(" 6.8.0-45-generic ").unwrap();
        assert_eq!(v.to_string(), "6.8");
        assert!(
            line.starts_with("6.8.0-45-generic → rules of 6.8"),
            "{line}"
        );
        assert!(resolve_kernel("4.14")
            .unwrap_err()
            .contains("older than 4.19"));
        assert!(resolve_kernel("six")
            .unwrap_err()
            .contains("not of the form X.Y"));
    }

    #[test]
    fn presets_are_valid_and_distinct() {
        let hosts: Vec<Host> = PRESETS.iter().map(Preset::host).collect();
        for (i, h) in hosts.iter().enumerate() {
            assert!(
                !hosts[..i].contains(h),
                "duplicate preset {}",
                PRESETS[i].label
            );
        }
        assert_eq!(hosts[2].compact(), "v4.1+novsgi@5.15");
    }
}
