//! What an import did, per class: objects imported, skipped because the target already had
//! them, refused (with reasons), and classes or schema parts left out. Printed on stdout at the
//! end of every run.

use std::fmt;

use basalt_engine::import::ImportProgress;

/// Refusal reasons printed per class (the checkpoint keeps more; the count is always exact).
const PRINTED_REFUSALS: usize = 50;

/// The outcome of one class.
#[derive(Debug, Default)]
pub struct ClassOutcome {
    /// The class.
    pub class: String,
    /// Counts and refusals, over every run of this import of the class.
    pub progress: ImportProgress,
    /// Schema parts not carried over.
    pub schema_refused: Vec<String>,
    /// Whether the class was left unfinished (`--stop-after`).
    pub unfinished: bool,
    /// Whether this run resumed an earlier, interrupted one.
    pub resumed: bool,
}

/// The whole import.
#[derive(Debug, Default)]
pub struct Summary {
    /// Where from (password hidden).
    pub source: String,
    /// Where to.
    pub target: String,
    /// Classes imported, in order.
    pub classes: Vec<ClassOutcome>,
    /// Classes refused whole: (class, reason).
    pub refused_classes: Vec<(String, String)>,
    /// Classes deliberately not imported: (class, reason).
    pub skipped_classes: Vec<(String, String)>,
    /// Set when the run stopped early on `--stop-after`.
    pub stopped_after: Option<u64>,
}

impl Summary {
    /// Objects and classes refused, and schema parts left out: what `--strict` fails on.
    pub fn refusals(&self) -> u64 {
        let objects: u64 = self.classes.iter().map(|c| c.progress.refused_count).sum();
        let schema: usize = self.classes.iter().map(|c| c.schema_refused.len()).sum();
        objects + schema as u64 + self.refused_classes.len() as u64
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "import from {} into {}", self.source, self.target)?;
        writeln!(
            f,
            "{:<24} {:>10} {:>10} {:>10}",
            "class", "imported", "present", "refused"
        )?;
        let (mut imported, mut present, mut refused) = (0, 0, 0);
        for c in &self.classes {
            let p = &c.progress;
            let mut note = String::new();
            if c.resumed {
                note.push_str("  (resumed)");
            }
            if c.unfinished {
                note.push_str("  (unfinished)");
            }
            writeln!(
                f,
                "{:<24} {:>10} {:>10} {:>10}{note}",
                c.class, p.imported, p.present, p.refused_count
            )?;
            imported += p.imported;
            present += p.present;
            refused += p.refused_count;
        }
        writeln!(
            f,
            "{:<24} {imported:>10} {present:>10} {refused:>10}",
            "total"
        )?;
        let mut refusals = Vec::new();
        for (class, why) in &self.refused_classes {
            refusals.push(format!("class {class}: {why}"));
        }
        for c in &self.classes {
            for why in &c.schema_refused {
                refusals.push(format!("{} schema: {why}", c.class));
            }
            for r in c.progress.refused.iter().take(PRINTED_REFUSALS) {
                refusals.push(format!("{} {}: {}", c.class, r.object_id, r.reason));
            }
            let listed = c.progress.refused.len().min(PRINTED_REFUSALS) as u64;
            if c.progress.refused_count > listed {
                refusals.push(format!(
                    "{}: {} more refused objects not listed",
                    c.class,
                    c.progress.refused_count - listed
                ));
            }
        }
        if !refusals.is_empty() {
            writeln!(f, "refused:")?;
            for r in refusals {
                writeln!(f, "  {r}")?;
            }
        }
        if !self.skipped_classes.is_empty() {
            writeln!(f, "not imported:")?;
            for (class, why) in &self.skipped_classes {
                writeln!(f, "  class {class}: {why}")?;
            }
        }
        if let Some(n) = self.stopped_after {
            writeln!(
                f,
                "stopped after {n} rows (--stop-after); run the same command again to continue"
            )?;
        } else {
            writeln!(f, "import complete")?;
        }
        Ok(())
    }
}
