//! The words a newcomer meets in rule texts, register descriptions and notes,
//! with a one-line definition each: views show them as terms with the
//! definition on hover (`components::glossed`). Also where a rule's kernel
//! source lives in the kernel tree, for links to it at the host's release.

/// One term and its definition.
#[derive(Debug, PartialEq, Eq)]
pub struct Term {
    /// As it appears in text (matched case-sensitively, as a whole word).
    pub word: &'static str,
    pub definition: &'static str,
}

macro_rules! terms {
    ($( $word:literal => $definition:literal, )*) => {
        /// Every term, longest first where one is a prefix of another.
        pub static TERMS: &[Term] = &[ $( Term { word: $word, definition: $definition } ),* ];
    };
}

terms! {
    "RAZ/WI" => "Read-As-Zero, Writes Ignored: reads return 0 and writes change nothing.",
    "RAO/WI" => "Read-As-One, Writes Ignored: reads return all ones and writes change nothing.",
    "RAZ" => "Read-As-Zero: reads return 0.",
    "RAO" => "Read-As-One: reads return all ones.",
    "RES0" => "Reserved, should be zero: the architecture defines no meaning; software writes 0 and KVM reads 0.",
    "RES1" => "Reserved, should be one.",
    "vPEs" => "Virtual PEs: a vCPU as the GICv4 hardware knows it, so that it can deliver virtual interrupts directly.",
    "vPE" => "Virtual PE: a vCPU as the GICv4 hardware knows it, so that it can deliver virtual interrupts directly.",
    "list registers" => "The CPU interface's ICH_LR<n>_EL2 registers: KVM writes the interrupts a vCPU should see into them before entering the guest.",
    "LRs" => "List registers (ICH_LR<n>_EL2): KVM writes the interrupts a vCPU should see into them before entering the guest.",
    "LR" => "List register (ICH_LR<n>_EL2): one slot in which KVM presents a pending or active interrupt to a vCPU.",
    "ap_lists" => "KVM's per-vCPU lists of interrupts that are active or pending for that vCPU (vgic_cpu.ap_list_head).",
    "ap_list" => "KVM's per-vCPU list of interrupts that are active or pending for that vCPU (vgic_cpu.ap_list_head).",
    "uaccess" => "Userspace access: the VMM reading or writing a register through KVM_GET/SET_DEVICE_ATTR (save/restore), not the guest's MMIO.",
    "latched" => "Sampled once and then kept: later changes to the source do not change it.",
    "latch" => "To sample a value once and then keep it: later changes to the source do not change it.",
    "latches" => "Samples once and then keeps: later changes to the source do not change it.",
    "nASSGIcap" => "GICD_TYPER2 bit 8: the GIC can deliver SGIs without an active state (GICv4.1 hardware vSGIs).",
    "nASSGIreq" => "GICD_CTLR bit 8: the guest asks for SGIs without an active state, so KVM delivers them as hardware vSGIs.",
    "vSGIs" => "Virtual SGIs delivered by GICv4.1 hardware directly to a vPE, without KVM's software path.",
    "vSGI" => "A virtual SGI delivered by GICv4.1 hardware directly to a vPE, without KVM's software path.",
    "SGIs" => "Software Generated Interrupts (INTIDs 0–15): one CPU interrupting others, e.g. IPIs.",
    "SGI" => "Software Generated Interrupt (INTIDs 0–15): one CPU interrupting others, e.g. an IPI.",
    "PPIs" => "Private Peripheral Interrupts (INTIDs 16–31): per-CPU devices such as the timers.",
    "PPI" => "Private Peripheral Interrupt (INTIDs 16–31): a per-CPU device such as a timer.",
    "SPIs" => "Shared Peripheral Interrupts (INTIDs 32–1019): device interrupts any CPU can take.",
    "SPI" => "Shared Peripheral Interrupt (INTIDs 32–1019): a device interrupt any CPU can take.",
    "LPIs" => "Locality-specific Peripheral Interrupts (INTIDs 8192 and up): message-based, configured in memory, routed by an ITS.",
    "INTIDs" => "Interrupt IDs: the number that names an interrupt (SGIs 0–15, PPIs 16–31, SPIs 32–1019, LPIs 8192+).",
    "INTID" => "Interrupt ID: the number that names an interrupt (SGIs 0–15, PPIs 16–31, SPIs 32–1019, LPIs 8192+).",
    "ITS" => "Interrupt Translation Service: turns device messages (MSIs) into LPIs, and on GICv4.1 injects vSGIs.",
    "MMIO" => "Memory-mapped I/O: the guest accesses the GIC's registers as memory; KVM traps and emulates each access.",
    "VMM" => "Virtual Machine Monitor: the userspace program (QEMU, firecracker, crosvm…) that creates the VM and saves and restores it.",
    "KVM_RUN" => "The ioctl that runs a vCPU: the guest executes only inside it. The first one maps the vGIC.",
    "EOImode" => "ICC_CTLR_EL1.EOImode: whether writing EOIR also deactivates the interrupt (0) or a separate DIR write does (1).",
    "doorbell" => "The interrupt GICv4 raises for a vPE that is not running, so that KVM wakes the vCPU up.",
    "redistributor" => "The per-vCPU part of the GIC (GICR_*): SGIs, PPIs and the LPI tables of one CPU.",
    "distributor" => "The VM-wide part of the GIC (GICD_*): SPIs and global settings.",
    "IIDR" => "GICD_IIDR: who implemented the GIC and which revision; KVM's revision says which behaviour a guest may rely on.",
}

/// A piece of text: plain, a term of the glossary, or an era ("5.7+").
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Term(&'a str, &'static str),
    /// `N.M+`: kernels from that era on.
    Era(&'a str),
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The length of an era (`5.7+`, `4.19+`) at the start of `s`, if there is one.
fn era_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let major = digits(0);
    if major == 0 || b.get(major) != Some(&b'.') {
        return None;
    }
    let minor = digits(major + 1);
    let end = major + 1 + minor;
    (minor > 0 && b.get(end) == Some(&b'+')).then_some(end + 1)
}

/// `text` cut into plain text, terms and eras. A term matches as a whole word
/// (not inside `GICD_TYPER2_nASSGIcap` or `SGIs0`).
pub fn annotate(text: &str) -> Vec<Piece<'_>> {
    let b = text.as_bytes();
    let mut pieces = Vec::new();
    let (mut plain, mut i) = (0, 0);
    while i < b.len() {
        let boundary_before = i == 0 || !is_word_byte(b[i - 1]);
        if boundary_before && text.is_char_boundary(i) {
            let rest = &text[i..];
            let found = TERMS
                .iter()
                .find(|t| {
                    rest.starts_with(t.word)
                        && b.get(i + t.word.len()).is_none_or(|&c| !is_word_byte(c))
                })
                .map(|t| (t.word.len(), Some(t.definition)))
                .or_else(|| era_at(rest).map(|n| (n, None)));
            if let Some((n, def)) = found {
                if plain < i {
                    pieces.push(Piece::Text(&text[plain..i]));
                }
                let word = &text[i..i + n];
                pieces.push(match def {
                    Some(d) => Piece::Term(word, d),
                    None => Piece::Era(word),
                });
                i += n;
                plain = i;
                continue;
            }
        }
        i += 1;
    }
    if plain < b.len() {
        pieces.push(Piece::Text(&text[plain..]));
    }
    pieces
}

/// The definition of an era written `N.M+`.
pub fn era_definition(era: &str) -> String {
    let v = era.trim_end_matches('+');
    format!(
        "Kernels {v} and later (gicx's era {v}); a stable kernel of an older series can carry the change as a backport."
    )
}

/// Where a kernel source file a rule cites lives in the tree.
fn kernel_path(file: &str) -> Option<String> {
    let file = file.trim();
    if !file.ends_with(".c") && !file.ends_with(".h") {
        return None;
    }
    Some(match file {
        "kvm_main.c" => "virt/kvm/kvm_main.c".into(),
        f if f.starts_with("irq-gic") => format!("drivers/irqchip/{f}"),
        f if f.starts_with("hyp/") => format!("arch/arm64/kvm/{f}"),
        f if f.starts_with("vgic") => format!("arch/arm64/kvm/vgic/{f}"),
        f if !f.contains('/') => format!("arch/arm64/kvm/{f}"),
        f => f.to_string(),
    })
}

/// A rule's source (`"vgic-v3.c: vgic_v3_map_resources; kvm_main.c: kvm_vm_ioctl"`)
/// as (text, link) pieces: each file links to it at `kernel`'s release on
/// elixir.bootlin.com; the rest is text.
pub fn source_links(source: &str, kernel: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (n, part) in source.split("; ").enumerate() {
        if n > 0 {
            out.push(("; ".to_string(), None));
        }
        match part.split_once(':') {
            Some((file, rest)) if kernel_path(file).is_some() => {
                let path = kernel_path(file).unwrap_or_default();
                out.push((
                    file.to_string(),
                    Some(format!(
                        "https://elixir.bootlin.com/linux/v{kernel}/source/{path}"
                    )),
                ));
                out.push((format!(":{rest}"), None));
            }
            _ => out.push((part.to_string(), None)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_eras_are_found_as_whole_words() {
        let p = annotate("RAZ/WI before 5.7+; nASSGIcap but not GICD_nASSGIcapX or xLR.");
        let marked: Vec<&str> = p
            .iter()
            .filter_map(|p| match p {
                Piece::Term(w, _) | Piece::Era(w) => Some(*w),
                Piece::Text(_) => None,
            })
            .collect();
        assert_eq!(marked, ["RAZ/WI", "5.7+", "nASSGIcap"]);
        let text: String = p
            .iter()
            .map(|p| match p {
                Piece::Term(w, _) | Piece::Era(w) | Piece::Text(w) => *w,
            })
            .collect();
        assert_eq!(
            text,
            "RAZ/WI before 5.7+; nASSGIcap but not GICD_nASSGIcapX or xLR."
        );
        assert_eq!(
            annotate("vPEs")[0],
            Piece::Term("vPEs", TERMS[6].definition)
        );
        assert_eq!(
            annotate("über LR"),
            [
                Piece::Text("über "),
                Piece::Term("LR", TERMS[10].definition)
            ]
        );
    }

    #[test]
    fn every_rule_source_file_links_into_the_kernel_tree() {
        let l = source_links(
            "vgic-v3.c: vgic_v3_map_resources; kvm_main.c kvm_vm_ioctl",
            "6.12.118",
        );
        assert_eq!(
            l[0],
            (
                "vgic-v3.c".into(),
                Some("https://elixir.bootlin.com/linux/v6.12.118/source/arch/arm64/kvm/vgic/vgic-v3.c".into())
            )
        );
        for rule in gicx_core::rules::ALL {
            let links = source_links(rule.source, "6.17");
            let text: String = links.iter().map(|(t, _)| t.as_str()).collect();
            assert_eq!(text, rule.source, "the text is kept whole");
        }
        let linked = gicx_core::rules::ALL
            .iter()
            .filter(|r| {
                source_links(r.source, "6.17")
                    .iter()
                    .any(|(_, l)| l.is_some())
            })
            .count();
        assert!(
            linked * 10 >= gicx_core::rules::ALL.len() * 8,
            "{linked} rules link"
        );
    }
}
