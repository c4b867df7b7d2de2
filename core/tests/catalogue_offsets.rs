//! Register offsets and field masks are written once, in the catalogue
//! (`core/src/catalogue.rs`, `core/src/catalogue/`): no other file of
//! `core/src` defines a `GICD_*`, `GICR_*` or `GITS_*` constant, or a
//! field-mask module's constant, with a literal. Aliases defined from the
//! catalogue's typed constants (`GitsCtlr::OFFSET`) are fine.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `const NAME: T = <literal...>` where NAME is a register's or the value
/// starts with a number (the right side of a register or field constant).
fn literal_register_constant(line: &str) -> bool {
    let l = line.trim_start();
    let Some(rest) = l
        .strip_prefix("pub const ")
        .or_else(|| l.strip_prefix("const "))
    else {
        return false;
    };
    let Some((name, value)) = rest
        .split_once(':')
        .and_then(|(n, r)| r.split_once('=').map(|(_, v)| (n.trim(), v.trim())))
    else {
        return false;
    };
    // GITS_CMD_* are command opcodes (vits/command.rs), not registers.
    let register = ["GICD_", "GICR_", "GITS_"]
        .iter()
        .any(|p| name.starts_with(p))
        && !name.starts_with("GITS_CMD_");
    register && value.starts_with(|c: char| c.is_ascii_digit())
}

#[test]
fn no_register_offset_is_written_outside_the_catalogue() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if rel == "catalogue.rs" || rel.starts_with("catalogue/") {
            continue;
        }
        for (i, line) in fs::read_to_string(f).unwrap().lines().enumerate() {
            if literal_register_constant(line) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "register constants written with literals outside the catalogue:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_literal_constant() {
    assert!(literal_register_constant(
        "pub const GITS_SGIR: u32 = 0x2_0020;"
    ));
    assert!(literal_register_constant(
        "    pub const GICR_VSGIR: u32 = 0x80;"
    ));
    assert!(!literal_register_constant(
        "pub const GITS_SGIR: u32 = GitsSgir::OFFSET;"
    ));
    assert!(!literal_register_constant(
        "pub const VITS_IDBITS: u32 = 16;"
    ));
}
