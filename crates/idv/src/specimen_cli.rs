//! `idv specimen`: synthetic identity documents with ground truth, for tests, demos and evaluation.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use idv_specimen::{CheckDigit, DocKind, PrintedField, SpecimenCommand, Tamper, Validity, Ymd};

#[derive(clap::Args)]
pub struct SpecimenArgs {
    /// Output folder (an image and its ground-truth JSON per specimen).
    #[arg(long)]
    pub out: PathBuf,
    /// Document kinds: td3 (passport page), td1-front, td1-back; repeatable.
    #[arg(long = "kind", default_value = "td3")]
    pub kinds: Vec<String>,
    /// Identities to render.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Photo-like distortions (clean, blur, jpeg, half, third, rotate, perspective, light, noise, phone, pale-desk);
    /// repeatable.
    #[arg(long = "distortion", default_value = "clean")]
    pub distortions: Vec<String>,
    /// valid, expired or not-yet-valid.
    #[arg(long, default_value = "valid")]
    pub validity: String,
    /// Print this MRZ check digit wrong (document_number, birth_date, expiry_date, personal_number, composite).
    #[arg(long = "wrong-check-digit")]
    pub wrong_check_digits: Vec<String>,
    /// Print this field differently from what the MRZ encodes (e.g. surname, birth_date).
    #[arg(long = "printed-mismatch")]
    pub printed_mismatch: Vec<String>,
    /// Override an identity field, `key=value` (surname, given_names, document_number, birth_date=YYYY-MM-DD,
    /// portrait=astronaut.png, ...); repeatable.
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Reference day YYYY-MM-DD for validity (default: today, UTC).
    #[arg(long)]
    pub today: Option<String>,
    /// Folder holding `testdata/` (fonts and portraits, from scripts/fetch-assets.sh).
    #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
    pub assets: PathBuf,
}

pub fn run(a: SpecimenArgs) -> Result<()> {
    if a.count == 0 || a.count > 10_000 {
        return Err(anyhow!("--count must be 1-10000"));
    }
    let kinds = a.kinds.iter().map(|k| k.parse::<DocKind>()).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow!(e))?;
    let validity: Validity = a.validity.parse().map_err(|e: String| anyhow!(e))?;
    let tamper = Tamper {
        wrong_check_digits: a
            .wrong_check_digits
            .iter()
            .map(|c| c.parse::<CheckDigit>())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!(e))?,
        printed_mismatch: a
            .printed_mismatch
            .iter()
            .map(|f| f.parse::<PrintedField>())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!(e))?,
    };
    let set = a
        .set
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow!("--set {kv}: expected key=value"))
        })
        .collect::<Result<Vec<_>>>()?;
    let today = a.today.as_deref().map(|d| d.parse::<Ymd>().map_err(|e| anyhow!("--today: {e}"))).transpose()?;
    let cmd = SpecimenCommand {
        out_dir: a.out,
        assets_root: a.assets,
        kinds,
        count: a.count,
        seed: a.seed,
        distortions: a.distortions,
        validity,
        tamper,
        set,
        today,
    };
    for path in idv_specimen::run_command(&cmd)? {
        println!("{}", path.display());
    }
    Ok(())
}
