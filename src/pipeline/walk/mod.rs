//! Planning: turns the files and folders named on the command line into a deterministic list
//! of jobs `{input, output}`. Pure planning — it stats and lists the file system but never
//! writes to it.
//!
//! # Rules
//!
//! **What is an image.** Files with an extension of a supported format
//! ([`OutputFormat::extensions`]: `png`, `jpg`, `jpeg`, `jpe`, `webp`, `tif`, `tiff`, `bmp`; any
//! letter case). In a folder walk, other files (HEIC, RAW, GIF, sidecars, …) are skipped, naming
//! the formats aetool reads. A
//! file named explicitly on the command line is always processed, whatever its name; decoding
//! reports it if it is not an image.
//!
//! **What a folder walk skips** (files named explicitly are never skipped by these rules):
//! - hidden files and folders (name starts with `.`; a hidden folder is not entered) and the
//!   system files `Thumbs.db`, `desktop.ini`, `.DS_Store`;
//! - aetool's own in-progress files (name starts with `.aetool-tmp-`);
//! - earlier aetool outputs: files whose name, before the extension, ends with the suffix of a
//!   model kind ([`ModelKind::suffix`]: `.denoised`, `.x2`, `.x4`, `.colorized`; e.g.
//!   `cat.denoised.png`, `cat.x2.jpg`);
//! - the output folder, when it lies inside an input folder: it is never entered;
//! - earlier output folders: a folder `<name>-<suffix>` (`sub-denoised`, `sub-x2`, …) beside a
//!   folder `<name>`, as a run on `<name>` makes it.
//!
//! Folders are walked recursively; `--no-recursive` processes only a folder's direct files.
//! Symbolic links are followed; a link that loops back to one of its own parent folders, and a
//! folder that cannot be read, are reported as errors and the rest of the walk goes on.
//!
//! **Where outputs go without `-o`.** A file `dir/cat.jpg` gives `dir/cat.<task>.jpg`, where
//! `<task>` is `denoised`, `x2`, `x4` or `colorized`. A folder `photos/` gives a sibling folder
//! `photos-<task>/` that mirrors the tree: `photos/a/b.png` → `photos-<task>/a/b.png`. For `.`,
//! `..` and similar paths the folder's real name is used (`.` inside `/home/me/photos` gives
//! `/home/me/photos-<task>/`).
//!
//! **With `-o`.** If there is exactly one input, it is a file, and the `-o` path ends in an image
//! extension (and is not an existing folder), `-o` is the output file. Otherwise `-o` is a
//! folder: a file input is written to `<out>/<file name>`, and a folder input's tree is mirrored
//! directly into `<out>/` (its contents, not the folder itself).
//!
//! **`--format`** replaces the extension of every output, an explicit `-o` file included. Each
//! job carries its output format: `--format`, else the one its output extension names, else
//! (`None`) the input's own format, known once it is decoded.
//!
//! **Safety.** An output that would replace an input (compared after resolving links and `..`)
//! is an error for that input. When two inputs would write the same output, the first in
//! sorted order keeps it and the others are errors naming the input that already writes that
//! file (use `--format` or separate `-o` folders). An output file that already exists is
//! skipped unless `--overwrite` is given.
//!
//! **Order and duplicates.** Jobs are sorted by input path; a file reached twice (named twice,
//! or through both a folder and its own name, or through a link) is processed once.
//!
//! **`--shard I/N`** (0-based, `I < N`) keeps every N-th job of the sorted list, starting at
//! job I, so N machines can split one run. The split is made before existing outputs are
//! skipped, so every machine sees the same list: the same inputs must be given on every
//! machine; combine with the existing-output skip to resume. Errors about a particular job
//! (collisions, would-overwrite-input) are reported only by the machine whose share it is;
//! missing inputs, unreadable folders and walk skips are reported by every machine.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use walkdir::WalkDir;

use crate::atomic::TEMP_PREFIX;
use crate::models::ModelKind;
use crate::photo::{OutputFormat, READ_FORMATS};

/// System files skipped like hidden files (compared case-insensitively).
const SYSTEM_FILES: &[&str] = &["thumbs.db", "desktop.ini", ".ds_store"];

/// How to turn inputs into jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOptions {
    /// Walk sub-folders (`--no-recursive` turns it off: only a folder's direct files).
    pub recursive: bool,
    /// `-o/--output`: an output file or folder (see the module rules).
    pub output: Option<PathBuf>,
    /// The model run: its suffix marks default output names (`cat.denoised.jpg`).
    pub kind: ModelKind,
    /// `--format`; `None` keeps the input's extension.
    pub format: Option<OutputFormat>,
    /// Replace existing output files instead of skipping them.
    pub overwrite: bool,
    /// `(index, count)`, index 0-based and `< count`; see [`parse_shard`].
    pub shard: Option<(usize, usize)>,
}

impl WalkOptions {
    /// Defaults for a model kind: recursive, no `-o`, keep extensions, no overwrite, no sharding.
    pub fn new(kind: ModelKind) -> Self {
        WalkOptions {
            recursive: true,
            output: None,
            kind,
            format: None,
            overwrite: false,
            shard: None,
        }
    }
}

/// One image to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
    /// How to encode the output; `None`: like the input (its format is known once decoded).
    pub format: Option<OutputFormat>,
}

/// Why a path found while walking is not a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Hidden file or folder, or a system file (`Thumbs.db`, `desktop.ini`, `.DS_Store`).
    Hidden,
    /// Not an image extension (folder walks only).
    NotAnImage,
    /// An earlier aetool output (`*.denoised.png`, …) or the output folder itself.
    EarlierOutput,
    /// The output file already exists and overwriting was not asked for.
    Exists,
    /// An aetool in-progress temp file.
    Temp,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Hidden => f.write_str("hidden or system file"),
            Skip::NotAnImage => write!(f, "not a format aetool reads ({READ_FORMATS})"),
            Skip::EarlierOutput => f.write_str("earlier aetool output"),
            Skip::Exists => f.write_str("output exists (use --overwrite to replace it)"),
            Skip::Temp => f.write_str("aetool temp file"),
        }
    }
}

/// The result of planning: what to do, what was left out and why, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sorted by input path; only this machine's shard.
    pub jobs: Vec<Job>,
    pub skipped: Vec<(PathBuf, Skip)>,
    pub errors: Vec<(PathBuf, String)>,
}

/// Parses `"I/N"` for `--shard` (0-based `I`, `I < N`).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = |why: &str| {
        format!("invalid --shard {s:?}: {why}; expected I/N with 0 <= I < N, e.g. 0/4 (the first of 4 machines)")
    };
    let (i, n) = s.split_once('/').ok_or_else(|| bad("missing '/'"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| bad("I is not a whole number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| bad("N is not a whole number"))?;
    if n == 0 {
        return Err(bad("N must be at least 1"));
    }
    if i >= n {
        return Err(bad("I must be smaller than N (I counts from 0)"));
    }
    Ok((i, n))
}

/// Plans the jobs for `inputs` (see the module rules), in seven steps.
pub fn plan(inputs: &[PathBuf], opts: &WalkOptions) -> Plan {
    let mut plan = Plan::default();
    let roots = stat_roots(inputs, &mut plan);
    let dest = Destination::new(inputs, &roots, opts);
    let (folder_outs, out_roots) = folder_outputs(&roots, &dest, opts, &mut plan);
    let mut cands = candidates(&roots, folder_outs, &dest, opts, &out_roots, &mut plan);
    dedupe(&mut cands);
    let checked = safety_checks(&cands);
    take_shard(&cands, checked, opts, &mut plan);
    plan
}

/// An input as given, its canonical path, and whether it is a folder.
struct Root {
    input: PathBuf,
    canon: PathBuf,
    is_dir: bool,
}

/// Step 1: stats the inputs once; reports missing and odd ones; drops repeats of one path.
fn stat_roots(inputs: &[PathBuf], plan: &mut Plan) -> Vec<Root> {
    let mut roots = Vec::new();
    let mut seen = HashSet::new();
    for input in inputs {
        let meta = match std::fs::metadata(input) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                plan.errors
                    .push((input.clone(), "no such file or folder".into()));
                continue;
            }
            Err(e) => {
                plan.errors
                    .push((input.clone(), format!("cannot read: {e}")));
                continue;
            }
        };
        if !meta.is_file() && !meta.is_dir() {
            plan.errors
                .push((input.clone(), "not a regular file or folder".into()));
            continue;
        }
        let canon = match std::fs::canonicalize(input) {
            Ok(c) => c,
            Err(e) => {
                plan.errors
                    .push((input.clone(), format!("cannot resolve: {e}")));
                continue;
            }
        };
        if seen.insert(canon.clone()) {
            roots.push(Root {
                input: input.clone(),
                canon,
                is_dir: meta.is_dir(),
            });
        }
    }
    roots
}

/// Step 2: what `-o` means here: an output file, an output folder, or nothing.
struct Destination<'a> {
    file: Option<&'a PathBuf>,
    dir: Option<&'a PathBuf>,
}

impl<'a> Destination<'a> {
    fn new(inputs: &[PathBuf], roots: &[Root], opts: &'a WalkOptions) -> Self {
        let file = opts.output.as_ref().filter(|o| {
            inputs.len() == 1
                && roots.len() == 1
                && !roots[0].is_dir
                && has_image_ext(o)
                && !o.is_dir()
        });
        let dir = opts.output.as_ref().filter(|_| file.is_none());
        Self { file, dir }
    }
}

/// Step 3: the output folder of each folder input (`None` for files), and every output folder
/// (normalised), which a walk never enters.
fn folder_outputs(
    roots: &[Root],
    dest: &Destination,
    opts: &WalkOptions,
    plan: &mut Plan,
) -> (Vec<Option<PathBuf>>, HashSet<PathBuf>) {
    let mut out_roots: HashSet<PathBuf> = dest.dir.map(|d| normalize(d)).into_iter().collect();
    let mut outs = Vec::with_capacity(roots.len());
    for root in roots {
        if !root.is_dir {
            outs.push(None);
            continue;
        }
        let out = match dest.dir {
            Some(d) => Some(d.clone()),
            None => default_folder_output(&root.input, &root.canon, opts.kind.suffix()),
        };
        match &out {
            Some(d) => {
                out_roots.insert(normalize(d));
            }
            None => plan.errors.push((
                root.input.clone(),
                "cannot derive an output folder name from this path; use -o".into(),
            )),
        }
        outs.push(out);
    }
    (outs, out_roots)
}

/// Step 4: file inputs and the files found in folder inputs, with their outputs.
fn candidates(
    roots: &[Root],
    folder_outs: Vec<Option<PathBuf>>,
    dest: &Destination,
    opts: &WalkOptions,
    out_roots: &HashSet<PathBuf>,
    plan: &mut Plan,
) -> Vec<Candidate> {
    let mut cands = Vec::new();
    for (root, folder_out) in roots.iter().zip(folder_outs) {
        if root.is_dir {
            if let Some(out) = folder_out {
                walk_folder(&root.input, &out, opts, out_roots, &mut cands, plan);
            }
            continue;
        }
        let output = if let Some(f) = dest.file {
            f.clone()
        } else if let Some(d) = dest.dir {
            d.join(
                root.input
                    .file_name()
                    .unwrap_or(root.canon.file_name().unwrap_or_default()),
            )
        } else {
            default_file_output(&root.input, opts.kind.suffix())
        };
        cands.push(Candidate {
            input: root.input.clone(),
            output: with_format(output, opts),
            canon: root.canon.clone(),
        });
    }
    cands
}

/// Step 5: sorts by input, then keeps the first of files reached twice.
fn dedupe(cands: &mut Vec<Candidate>) {
    cands.sort_by(|a, b| (&a.input, &a.output).cmp(&(&b.input, &b.output)));
    let mut seen = HashSet::new();
    cands.retain(|c| seen.insert(c.canon.clone()));
}

/// Step 6: the safety checks on the whole list (so every shard agrees): per candidate, its
/// normalised output and whether it may be written.
fn safety_checks(cands: &[Candidate]) -> Vec<(PathBuf, Result<(), String>)> {
    let all_inputs: HashSet<&Path> = cands.iter().map(|c| c.canon.as_path()).collect();
    let mut writers: HashMap<PathBuf, &Path> = HashMap::new();
    cands
        .iter()
        .map(|c| {
            let key = normalize(&c.output);
            let res = if all_inputs.contains(key.as_path()) {
                Err(format!(
                    "output {} would overwrite an input; use -o or --format",
                    c.output.display()
                ))
            } else if let Some(first) = writers.get(&key) {
                Err(format!(
                    "output {} is already written by {}; use --format or separate -o folders",
                    c.output.display(),
                    first.display()
                ))
            } else {
                writers.insert(key.clone(), &c.input);
                Ok(())
            };
            (key, res)
        })
        .collect()
}

/// Step 7: this machine's share of the list becomes jobs, errors, or existing-output skips.
fn take_shard(
    cands: &[Candidate],
    checked: Vec<(PathBuf, Result<(), String>)>,
    opts: &WalkOptions,
    plan: &mut Plan,
) {
    let (index, count) = match opts.shard {
        Some((i, n)) if n > 0 => (i, n),
        _ => (0, 1),
    };
    for (i, (c, (key, res))) in cands.iter().zip(checked).enumerate() {
        if i % count != index {
            continue;
        }
        match res {
            Err(e) => plan.errors.push((c.input.clone(), e)),
            Ok(()) if !opts.overwrite && std::fs::symlink_metadata(&key).is_ok() => {
                plan.skipped.push((c.input.clone(), Skip::Exists))
            }
            Ok(()) => plan.jobs.push(Job {
                input: c.input.clone(),
                output: c.output.clone(),
                format: opts.format.or_else(|| {
                    c.output
                        .extension()
                        .and_then(OsStr::to_str)
                        .and_then(OutputFormat::from_extension)
                }),
            }),
        }
    }
}

/// A job before the safety checks, with its canonical input for de-duplication.
struct Candidate {
    input: PathBuf,
    output: PathBuf,
    canon: PathBuf,
}

/// Walks one folder input, mirroring it into `dest`.
fn walk_folder(
    root: &Path,
    dest: &Path,
    opts: &WalkOptions,
    out_roots: &HashSet<PathBuf>,
    cands: &mut Vec<Candidate>,
    plan: &mut Plan,
) {
    let out_ids = folder_ids(out_roots);
    let mut walker = WalkDir::new(root).follow_links(true).sort_by_file_name();
    if !opts.recursive {
        walker = walker.max_depth(1);
    }
    let mut it = walker.into_iter();
    while let Some(next) = it.next() {
        let entry = match next {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let msg = if let Some(anc) = e.loop_ancestor() {
                    format!(
                        "symbolic link loop (leads back to {}); not followed",
                        anc.display()
                    )
                } else if let Some(io) = e.io_error() {
                    format!("cannot read: {io}")
                } else {
                    format!("cannot read: {e}")
                };
                plan.errors.push((path, msg));
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let path = entry.path();
        let name = entry.file_name();
        if entry.file_type().is_dir() {
            if !opts.recursive {
                continue; // max_depth(1): never entered anyway
            }
            if let Some(skip) = name_skip(name) {
                plan.skipped.push((path.to_path_buf(), skip));
                it.skip_current_dir();
            } else if is_earlier_output_folder(path) || is_output_root(&entry, out_roots, &out_ids)
            {
                plan.skipped.push((path.to_path_buf(), Skip::EarlierOutput));
                it.skip_current_dir();
            }
            continue;
        }
        let skip = name_skip(name).or_else(|| {
            if !entry.file_type().is_file() || !has_image_ext(path) {
                Some(Skip::NotAnImage)
            } else if is_earlier_output(path) {
                Some(Skip::EarlierOutput)
            } else {
                None
            }
        });
        if let Some(skip) = skip {
            plan.skipped.push((path.to_path_buf(), skip));
            continue;
        }
        let canon = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) => {
                plan.errors
                    .push((path.to_path_buf(), format!("cannot resolve: {e}")));
                continue;
            }
        };
        let rel = path.strip_prefix(root).unwrap_or(Path::new(name));
        cands.push(Candidate {
            input: path.to_path_buf(),
            output: with_format(dest.join(rel), opts),
            canon,
        });
    }
}

/// Identity of a folder (device, inode) on Unix.
type FolderId = (u64, u64);

#[cfg(unix)]
fn folder_id(meta: &std::fs::Metadata) -> FolderId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// The identities of the output folders that exist.
fn folder_ids(out_roots: &HashSet<PathBuf>) -> HashSet<FolderId> {
    #[cfg(unix)]
    return out_roots
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| folder_id(&m))
        .collect();
    #[cfg(not(unix))]
    {
        let _ = out_roots;
        HashSet::new()
    }
}

/// Whether a folder met in the walk is one of the output folders. On Unix by identity, one
/// `stat` per folder: resolving every folder's path instead costs time quadratic in the depth
/// of the tree (cubic in system calls' work).
fn is_output_root(
    entry: &walkdir::DirEntry,
    out_roots: &HashSet<PathBuf>,
    out_ids: &HashSet<FolderId>,
) -> bool {
    #[cfg(unix)]
    {
        let _ = out_roots;
        !out_ids.is_empty()
            && entry
                .metadata()
                .is_ok_and(|m| out_ids.contains(&folder_id(&m)))
    }
    #[cfg(not(unix))]
    {
        let _ = out_ids;
        std::fs::canonicalize(entry.path()).is_ok_and(|c| out_roots.contains(&c))
    }
}

/// Hidden / system / temp classification by name alone.
fn name_skip(name: &OsStr) -> Option<Skip> {
    let name = name.to_string_lossy();
    if name.starts_with(TEMP_PREFIX) {
        Some(Skip::Temp)
    } else if name.starts_with('.') || SYSTEM_FILES.iter().any(|s| name.eq_ignore_ascii_case(s)) {
        Some(Skip::Hidden)
    } else {
        None
    }
}

/// Whether a folder walk would take this file as an input photo: an image extension, not
/// hidden/system/temp, not an earlier aetool output. (Used for training folders too.)
pub fn is_photo_candidate(path: &Path) -> bool {
    has_image_ext(path)
        && path.file_name().is_some_and(|n| name_skip(n).is_none())
        && !is_earlier_output(path)
}

fn has_image_ext(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .and_then(OutputFormat::from_extension)
        .is_some()
}

/// `cat.denoised.png`, `cat.x2.jpg`, …
fn is_earlier_output(path: &Path) -> bool {
    let Some(stem) = path.file_stem() else {
        return false;
    };
    let stem = stem.to_string_lossy();
    ModelKind::ALL.iter().any(|kind| {
        stem.strip_suffix(kind.suffix())
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
    })
}

/// `sub-denoised/` (`-x2`, `-x4`, `-colorized`) beside a folder `sub/`: the output folder of an
/// earlier run on `sub`, found inside a tree given later.
fn is_earlier_output_folder(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(OsStr::to_str) else {
        return false;
    };
    ModelKind::ALL.iter().any(|kind| {
        name.strip_suffix(kind.suffix())
            .and_then(|rest| rest.strip_suffix('-'))
            .is_some_and(|base| !base.is_empty() && path.with_file_name(base).is_dir())
    })
}

/// `dir/cat.jpg` → `dir/cat.<suffix>.jpg` (an input without extension gets `.png`).
fn default_file_output(input: &Path, suffix: &str) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default();
    let ext = input.extension().unwrap_or(OsStr::new("png"));
    let mut name = OsString::from(stem);
    name.push(".");
    name.push(suffix);
    name.push(".");
    name.push(ext);
    input.with_file_name(name)
}

/// `photos/` → `photos-<suffix>/` beside it; `.`/`..` use the canonical path's name.
fn default_folder_output(input: &Path, canon: &Path, suffix: &str) -> Option<PathBuf> {
    let usable = input
        .file_name()
        .filter(|_| !matches!(input.components().next_back(), Some(Component::ParentDir)));
    let (parent, name) = match usable {
        Some(n) => (input.parent().unwrap_or(Path::new("")), n),
        None => (canon.parent()?, canon.file_name()?),
    };
    let mut out = OsString::from(name);
    out.push("-");
    out.push(suffix);
    Some(parent.join(out))
}

fn with_format(output: PathBuf, opts: &WalkOptions) -> PathBuf {
    match opts.format {
        Some(format) => output.with_extension(format.extension()),
        None => output,
    }
}

/// Absolute path with the longest existing ancestor resolved (links, `..`) and the rest
/// normalised lexically, so paths that do not exist yet can still be compared.
fn normalize(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    // The longest existing prefix, found by bisection (existence only shrinks as components are
    // added), then resolved once: trying each prefix from the longest down is quadratic in depth.
    let exists = |k: usize| std::fs::metadata(parts[..k].iter().collect::<PathBuf>()).is_ok();
    let (mut lo, mut hi) = (0, parts.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if exists(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    for k in (1..=lo).rev() {
        let prefix: PathBuf = parts[..k].iter().collect();
        if let Ok(mut out) = std::fs::canonicalize(&prefix) {
            for part in &parts[k..] {
                match part {
                    Component::CurDir => {}
                    Component::ParentDir => {
                        out.pop();
                    }
                    p => out.push(p),
                }
            }
            return out;
        }
    }
    abs
}

#[cfg(test)]
mod tests;
