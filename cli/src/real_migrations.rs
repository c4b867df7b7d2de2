//! `gicx conform-migrations`: real migrations between real kernels (recorded by
//! `scripts/kvm --migrations` under `tests/kvm/migrations/`) against the model
//! (`gicx_core::real_migration::compare`). Exit 1 on any disagreement.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use gicx_core::real_migration::{
    self, MigrationComparison, MigrationRecording, RestoreRecording, SaveRecording,
};

#[derive(clap::Args)]
pub struct ConformMigrationsArgs {
    /// Restore recordings (`restores/<from>/<to>/<recipe>-<guest>.json`) or directories
    /// holding them; default tests/kvm/migrations.
    paths: Vec<PathBuf>,
    /// One JSON object per migration: the comparison and its file.
    #[arg(long)]
    json: bool,
}

/// The restore recordings under `p` (or `p` itself), sorted.
fn restore_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            if e.file_name().is_some_and(|n| n == "saves") {
                continue;
            }
            restore_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "json")
        && p.components().any(|c| c.as_os_str() == "restores")
    {
        out.push(p.to_path_buf());
    }
}

/// A restore recording with the save it names (relative to the directory above `restores/`).
pub fn load(restore: &Path) -> Result<MigrationRecording, String> {
    let read = |p: &Path| fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let r: RestoreRecording =
        serde_json::from_str(&read(restore)?).map_err(|e| format!("{}: {e}", restore.display()))?;
    let root = restore
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "restores"))
        .and_then(Path::parent)
        .ok_or_else(|| format!("{}: not under a restores/ directory", restore.display()))?;
    let save_path = root.join(&r.source_save);
    let s: SaveRecording = serde_json::from_str(&read(&save_path)?)
        .map_err(|e| format!("{}: {e}", save_path.display()))?;
    Ok(MigrationRecording::join(s, r))
}

pub fn cmd_conform_migrations(out: &mut impl Write, a: ConformMigrationsArgs) -> u8 {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from("tests/kvm/migrations")]
    } else {
        a.paths
    };
    let mut files = Vec::new();
    for p in &paths {
        if !p.exists() {
            return crate::fail(format!("{}: no such file or directory", p.display()));
        }
        restore_files(p, &mut files);
    }
    let mut rows: Vec<(String, Result<MigrationComparison, String>)> = Vec::new();
    for f in &files {
        let c = load(f).and_then(|rec| real_migration::compare(&rec));
        rows.push((f.display().to_string(), c));
    }
    let bad = rows
        .iter()
        .filter(|(_, c)| c.as_ref().map_or(true, |c| !c.agrees()))
        .count();
    if a.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(f, c)| match c {
                Ok(c) => serde_json::json!({"file": f, "comparison": c}),
                Err(e) => serde_json::json!({"file": f, "error": e}),
            })
            .collect();
        crate::write_json(out, &v);
    } else {
        let mut compared = 0;
        let mut disagreements = 0;
        for (f, c) in &rows {
            match c {
                Err(e) => {
                    let _ = writeln!(out, "{f}: {e}");
                }
                Ok(c) => {
                    compared += c.compared;
                    disagreements += c.disagreements.len();
                    let verdict = |v: Option<gicx_core::migrate::Verdict>| {
                        v.map_or("?".to_string(), |v| v.as_str().to_string())
                    };
                    let _ = writeln!(
                        out,
                        "{} {} {} -> {}: kernel {}{}, model {}: {}",
                        c.recipe,
                        c.guest,
                        c.from,
                        c.to,
                        verdict(c.kernel_verdict),
                        c.refused
                            .as_deref()
                            .map(|r| format!(" (refused at {r})"))
                            .unwrap_or_default(),
                        verdict(c.model_verdict),
                        if c.agrees() {
                            "agree".to_string()
                        } else {
                            format!("{} disagreements", c.disagreements.len())
                        }
                    );
                    for d in &c.disagreements {
                        let _ = writeln!(
                            out,
                            "  {} {}: model {}, kernel {}",
                            d.part, d.what, d.model, d.kernel
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "{} migrations, {} agree; {compared} items compared, {disagreements} disagreements",
            rows.len(),
            rows.len() - bad
        );
    }
    u8::from(bad > 0)
}
