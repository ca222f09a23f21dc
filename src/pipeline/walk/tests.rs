//! Planning rules on temporary trees: names, skips, `-o`, `--format`, collisions, shards.

use super::*;
use std::fs;

fn one(input: &Path, opts: &WalkOptions) -> Plan {
    plan(&[input.to_path_buf()], opts)
}

fn touch(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, b"x").unwrap();
}

fn io(plan: &Plan) -> Vec<(PathBuf, PathBuf)> {
    plan.jobs
        .iter()
        .map(|j| (j.input.clone(), j.output.clone()))
        .collect()
}

fn skip_of(plan: &Plan, p: &Path) -> Option<Skip> {
    plan.skipped.iter().find(|(q, _)| q == p).map(|(_, s)| *s)
}

#[test]
fn default_output_for_file() {
    let t = tempfile::tempdir().unwrap();
    let cat = t.path().join("cat.jpg");
    touch(&cat);
    let p = one(&cat, &WalkOptions::new(ModelKind::Denoise));
    assert_eq!(io(&p), vec![(cat, t.path().join("cat.denoised.jpg"))]);
    assert!(p.errors.is_empty() && p.skipped.is_empty());
}

#[test]
fn default_output_for_folder_mirrors_tree() {
    let t = tempfile::tempdir().unwrap();
    let photos = t.path().join("photos");
    touch(&photos.join("top.png"));
    touch(&photos.join("a/b.png"));
    touch(&photos.join("a/c/d.JPG"));
    let p = one(&photos, &WalkOptions::new(ModelKind::UpscaleX2));
    let out = t.path().join("photos-x2");
    assert_eq!(
        io(&p),
        vec![
            (photos.join("a/b.png"), out.join("a/b.png")),
            (photos.join("a/c/d.JPG"), out.join("a/c/d.JPG")),
            (photos.join("top.png"), out.join("top.png")),
        ]
    );
    assert!(p.errors.is_empty());
}

#[test]
fn folder_dot_uses_canonical_name() {
    let t = tempfile::tempdir().unwrap();
    let photos = t.path().join("photos");
    touch(&photos.join("a.png"));
    let dot = photos.join(".");
    let p = plan(&[dot], &WalkOptions::new(ModelKind::Denoise));
    assert_eq!(p.jobs.len(), 1);
    let canon_parent = fs::canonicalize(t.path()).unwrap();
    assert_eq!(
        normalize(&p.jobs[0].output),
        canon_parent.join("photos-denoised/a.png")
    );
    let dotdot = photos.join("a/..");
    fs::create_dir_all(photos.join("a")).unwrap();
    let p = plan(&[dotdot], &WalkOptions::new(ModelKind::UpscaleX4));
    assert_eq!(
        p.jobs[0].output,
        canon_parent.join("photos-x4").join("a.png")
    );
}

#[test]
fn no_recursive_only_direct_files() {
    let t = tempfile::tempdir().unwrap();
    let photos = t.path().join("photos");
    touch(&photos.join("a.png"));
    touch(&photos.join("sub/b.png"));
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.recursive = false;
    let p = one(&photos, &o);
    assert_eq!(io(&p).len(), 1);
    assert_eq!(p.jobs[0].input, photos.join("a.png"));
}

#[test]
fn output_as_file_vs_folder() {
    let t = tempfile::tempdir().unwrap();
    let cat = t.path().join("in/cat.jpg");
    let dog = t.path().join("in/dog.png");
    touch(&cat);
    touch(&dog);

    // One file input + image extension: -o is the file.
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.output = Some(t.path().join("result.png"));
    let p = one(&cat, &o);
    assert_eq!(io(&p), vec![(cat.clone(), t.path().join("result.png"))]);

    // One file input, no image extension: -o is a folder.
    o.output = Some(t.path().join("out"));
    let p = one(&cat, &o);
    assert_eq!(io(&p), vec![(cat.clone(), t.path().join("out/cat.jpg"))]);

    // Two inputs: -o is a folder even with an image extension.
    o.output = Some(t.path().join("out.png"));
    let p = plan(&[cat.clone(), dog.clone()], &o);
    assert_eq!(
        io(&p),
        vec![
            (cat.clone(), t.path().join("out.png/cat.jpg")),
            (dog.clone(), t.path().join("out.png/dog.png")),
        ]
    );

    // Folder input: contents mirrored directly into -o.
    touch(&t.path().join("in/sub/e.webp"));
    o.output = Some(t.path().join("out"));
    let p = plan(&[t.path().join("in")], &o);
    assert_eq!(
        io(&p),
        vec![
            (cat.clone(), t.path().join("out/cat.jpg")),
            (dog, t.path().join("out/dog.png")),
            (
                t.path().join("in/sub/e.webp"),
                t.path().join("out/sub/e.webp")
            ),
        ]
    );

    // --format applies to every output, -o file included.
    o.output = Some(t.path().join("result.png"));
    o.format = Some(OutputFormat::Jpeg);
    let p = one(&cat, &o);
    assert_eq!(io(&p), vec![(cat, t.path().join("result.jpg"))]);
}

#[test]
fn format_changes_extensions() {
    let t = tempfile::tempdir().unwrap();
    let cat = t.path().join("cat.jpg");
    touch(&cat);
    let mut o = WalkOptions::new(ModelKind::Colorize);
    o.format = Some(OutputFormat::Png);
    let p = one(&cat, &o);
    assert_eq!(io(&p), vec![(cat, t.path().join("cat.colorized.png"))]);
}

#[test]
fn skips_hidden_system_temp_nonimage_earlier_outputs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    let files = [
        "ok.png",
        ".hidden.png",
        ".git/inside.png",
        "Thumbs.db",
        "desktop.ini",
        ".DS_Store",
        ".aetool-tmp-abc123",
        "notes.txt",
        "cat.denoised.png",
        "cat.x2.jpg",
        "cat.x4.webp",
        "cat.colorized.tif",
        "x2.png",
    ];
    for f in files {
        touch(&d.join(f));
    }
    let p = one(&d, &WalkOptions::new(ModelKind::Denoise));
    let inputs: Vec<_> = p.jobs.iter().map(|j| j.input.clone()).collect();
    assert_eq!(inputs, vec![d.join("ok.png"), d.join("x2.png")]);
    assert_eq!(skip_of(&p, &d.join(".hidden.png")), Some(Skip::Hidden));
    assert_eq!(skip_of(&p, &d.join(".git")), Some(Skip::Hidden));
    assert_eq!(skip_of(&p, &d.join(".git/inside.png")), None); // not entered
    assert_eq!(skip_of(&p, &d.join("Thumbs.db")), Some(Skip::Hidden));
    assert_eq!(skip_of(&p, &d.join("desktop.ini")), Some(Skip::Hidden));
    assert_eq!(skip_of(&p, &d.join(".DS_Store")), Some(Skip::Hidden));
    assert_eq!(skip_of(&p, &d.join(".aetool-tmp-abc123")), Some(Skip::Temp));
    assert_eq!(skip_of(&p, &d.join("notes.txt")), Some(Skip::NotAnImage));
    for f in [
        "cat.denoised.png",
        "cat.x2.jpg",
        "cat.x4.webp",
        "cat.colorized.tif",
    ] {
        assert_eq!(skip_of(&p, &d.join(f)), Some(Skip::EarlierOutput), "{f}");
    }
    assert!(p.errors.is_empty());
}

#[test]
fn explicit_file_is_always_a_job() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("notes.txt");
    touch(&f);
    let p = one(&f, &WalkOptions::new(ModelKind::Denoise));
    assert_eq!(io(&p), vec![(f, t.path().join("notes.denoised.txt"))]);
}

#[test]
fn output_folder_inside_input_not_walked() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    touch(&d.join("a.png"));
    touch(&d.join("restored/a.png")); // an earlier run's output
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.output = Some(d.join("restored"));
    o.overwrite = true;
    let p = one(&d, &o);
    assert_eq!(io(&p), vec![(d.join("a.png"), d.join("restored/a.png"))]);
    assert_eq!(skip_of(&p, &d.join("restored")), Some(Skip::EarlierOutput));

    // Same with a spelling that needs normalising.
    o.output = Some(d.join("sub/../restored"));
    o.overwrite = false;
    let p = one(&d, &o);
    assert_eq!(p.jobs.len(), 0); // the one output exists
    assert_eq!(skip_of(&p, &d.join("a.png")), Some(Skip::Exists));
    assert_eq!(skip_of(&p, &d.join("restored")), Some(Skip::EarlierOutput));
}

#[test]
fn collision_gives_one_job_and_one_error() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    touch(&d.join("a.png"));
    touch(&d.join("a.jpg"));
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.format = Some(OutputFormat::Png);
    let p = one(&d, &o);
    let out = t.path().join("photos-denoised/a.png");
    assert_eq!(io(&p), vec![(d.join("a.jpg"), out)]);
    assert_eq!(p.errors.len(), 1);
    let (path, msg) = &p.errors[0];
    assert_eq!(path, &d.join("a.png"));
    assert!(msg.contains("a.jpg") && msg.contains("--format"), "{msg}");
}

#[test]
fn never_overwrites_an_input() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    touch(&d.join("a.png"));
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.output = Some(d.clone());
    o.overwrite = true;
    let p = one(&d, &o);
    assert!(p.jobs.is_empty());
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0].1.contains("overwrite an input"));

    // Single file, -o naming the input itself through another spelling.
    o.output = Some(d.join("x/../a.png"));
    fs::create_dir_all(d.join("x")).unwrap();
    let p = plan(&[d.join("a.png")], &o);
    assert!(p.jobs.is_empty());
    assert_eq!(p.errors.len(), 1);
}

#[test]
fn existing_output_skipped_unless_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let cat = t.path().join("cat.png");
    touch(&cat);
    touch(&t.path().join("cat.denoised.png"));
    let mut o = WalkOptions::new(ModelKind::Denoise);
    let p = one(&cat, &o);
    assert!(p.jobs.is_empty());
    assert_eq!(p.skipped, vec![(cat.clone(), Skip::Exists)]);
    o.overwrite = true;
    let p = one(&cat, &o);
    assert_eq!(p.jobs.len(), 1);
    assert!(p.skipped.is_empty());
}

#[test]
fn duplicates_removed_and_missing_reported() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    touch(&d.join("a.png"));
    touch(&d.join("b.png"));
    let missing = t.path().join("nope.png");
    let p = plan(
        &[d.clone(), d.join("a.png"), d.clone(), missing.clone()],
        &WalkOptions::new(ModelKind::Denoise),
    );
    let inputs: Vec<_> = p.jobs.iter().map(|j| j.input.clone()).collect();
    assert_eq!(inputs, vec![d.join("a.png"), d.join("b.png")]);
    assert_eq!(
        p.errors,
        vec![(missing, "no such file or folder".to_string())]
    );
}

#[test]
fn shards_partition_jobs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    for i in 0..23 {
        touch(&d.join(format!("sub{}/img{i:02}.png", i % 3)));
    }
    // An existing output must not shift the split.
    touch(&t.path().join("photos-denoised/sub0/img00.png"));
    let mut o = WalkOptions::new(ModelKind::Denoise);
    o.overwrite = true;
    let all = one(&d, &o).jobs;
    assert_eq!(all.len(), 23);
    for count in [1, 2, 3, 4, 7, 30] {
        let mut union = Vec::new();
        for index in 0..count {
            o.shard = Some((index, count));
            o.overwrite = true;
            let part = one(&d, &o).jobs;
            o.overwrite = false;
            let resumed = one(&d, &o);
            // Same split with or without existing outputs.
            let resumed_inputs: Vec<_> = resumed.jobs.iter().map(|j| &j.input).collect();
            let expected: Vec<_> = part
                .iter()
                .map(|j| &j.input)
                .filter(|i| !i.ends_with("sub0/img00.png"))
                .collect();
            assert_eq!(resumed_inputs, expected);
            union.extend(part);
        }
        union.sort_by(|a, b| a.input.cmp(&b.input));
        assert_eq!(union, all, "count {count}"); // disjoint and complete
    }
}

#[test]
fn parse_shard_forms() {
    assert_eq!(parse_shard("0/4"), Ok((0, 4)));
    assert_eq!(parse_shard("3/4"), Ok((3, 4)));
    assert_eq!(parse_shard(" 1 / 2 "), Ok((1, 2)));
    for bad in ["4/4", "x", "1/0", "0/0", "-1/4", "a/b", "1/", "/4"] {
        let e = parse_shard(bad).unwrap_err();
        assert!(e.contains("I/N"), "{bad}: {e}");
    }
}

#[test]
fn skip_display() {
    assert_eq!(
        Skip::NotAnImage.to_string(),
        "not a format aetool reads (PNG, JPEG, WebP, TIFF and BMP)"
    );
    assert!(Skip::Exists.to_string().contains("--overwrite"));
}

#[cfg(unix)]
#[test]
fn symlink_loop_reported_not_hanging() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("photos");
    touch(&d.join("a/img.png"));
    std::os::unix::fs::symlink(&d, d.join("a/loop")).unwrap();
    std::os::unix::fs::symlink(d.join("a/img.png"), d.join("alias.png")).unwrap();
    let p = one(&d, &WalkOptions::new(ModelKind::Denoise));
    // The link to img.png and img.png itself are one file: one job.
    assert_eq!(p.jobs.len(), 1);
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].0, d.join("a/loop"));
    assert!(p.errors[0].1.contains("loop"));
}
