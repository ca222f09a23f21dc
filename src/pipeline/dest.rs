//! Destination folders, checked once before any photo is worked on: each must be creatable and
//! writable (an unwritable destination is found now, not after every photo's restoration), and
//! temp files an earlier killed run left in it are removed.

use crate::pipeline::walk::Plan;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The folder itself, or its closest existing ancestor.
fn existing_ancestor(dir: &Path) -> Option<&Path> {
    dir.ancestors()
        .find(|a| std::fs::symlink_metadata(a).is_ok() || a.as_os_str().is_empty())
}

/// Why nothing can be written into `dir` (`None`: it can). Creates nothing that stays.
fn unwritable(dir: &Path) -> Option<String> {
    let Some(base) = existing_ancestor(dir) else {
        return Some("no such folder".into());
    };
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    if !base.is_dir() {
        return Some(format!("{}: not a folder", base.display()));
    }
    match tempfile::Builder::new()
        .prefix(crate::atomic::TEMP_PREFIX)
        .tempfile_in(base)
    {
        Ok(_) => None,
        Err(e) => Some(format!(
            "{}: cannot create files there ({e})",
            base.display()
        )),
    }
}

/// Checks every destination folder of `plan`: jobs whose folder cannot be written become
/// errors (keyed by their output, like a failed write), and stale temp files older than
/// `started` are removed from the folders that exist. Returns how many were removed.
pub fn prepare(plan: &mut Plan, started: SystemTime) -> usize {
    let mut verdicts: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    let mut removed = 0;
    for job in &plan.jobs {
        let dir = job.output.parent().unwrap_or(Path::new("")).to_path_buf();
        if verdicts.contains_key(&dir) {
            continue;
        }
        let verdict = unwritable(&dir);
        if verdict.is_none() {
            let here = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                &dir
            };
            removed += crate::atomic::remove_stale(here, started);
        }
        verdicts.insert(dir, verdict);
    }
    let jobs = std::mem::take(&mut plan.jobs);
    for job in jobs {
        let dir = job.output.parent().unwrap_or(Path::new(""));
        match &verdicts[dir] {
            Some(why) => plan
                .errors
                .push((job.output.clone(), format!("cannot write output: {why}"))),
            None => plan.jobs.push(job),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::walk::Job;

    #[test]
    fn unwritable_folders_fail_their_jobs_up_front() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("a-file");
        std::fs::write(&blocker, b"x").unwrap();
        let job = |out: PathBuf| Job {
            input: tmp.path().join("in.png"),
            output: out,
            format: None,
        };
        let mut plan = Plan {
            jobs: vec![
                job(tmp.path().join("new/deeper/a.png")),
                job(blocker.join("out/b.png")),
                job(tmp.path().join("c.png")),
            ],
            ..Default::default()
        };
        assert_eq!(prepare(&mut plan, SystemTime::now()), 0);
        assert_eq!(plan.jobs.len(), 2);
        assert_eq!(plan.errors.len(), 1);
        assert_eq!(plan.errors[0].0, blocker.join("out/b.png"));
        assert!(
            plan.errors[0].1.contains("not a folder"),
            "{:?}",
            plan.errors
        );
        // Nothing was created.
        assert!(!tmp.path().join("new").exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
