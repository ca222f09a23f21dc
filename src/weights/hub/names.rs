//! What may appear in a Hub path. Repo names, revisions and file names become folders and
//! links in the Hugging Face cache, and the server's ETag and commit become file names there:
//! each is checked against the characters the Hub itself allows, with no `..`, no absolute
//! path and no empty component, so nothing can land outside the cache.

/// `owner/name` as the Hub accepts it: each part 1–96 of `A–Z a–z 0–9 _ - .`, starting and
/// ending with a letter, digit or `_`, without `--` or `..`.
pub fn check_repo(repo: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid repository `{repo}`: {why}"));
    let Some((owner, name)) = repo.split_once('/') else {
        return bad("expected OWNER/NAME");
    };
    for part in [owner, name] {
        if part.is_empty() || part.len() > 96 {
            return bad("each part is 1 to 96 characters");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return bad("only letters, digits, `_`, `-` and `.` are allowed");
        }
        let edge = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if !edge(part.as_bytes()[0]) || !edge(part.as_bytes()[part.len() - 1]) {
            return bad("each part starts and ends with a letter, digit or `_`");
        }
        if part.contains("--") || part.contains("..") {
            return bad("`--` and `..` are not allowed");
        }
    }
    Ok(())
}

/// A relative `/`-separated path of `A–Z a–z 0–9 _ - . +` components, none of them empty,
/// `.` or `..`, at most 256 characters.
fn check_path(what: &str, value: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid {what} `{value}`: {why}"));
    if value.is_empty() || value.len() > 256 {
        return bad("expected 1 to 256 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'/'))
    {
        return bad("only letters, digits, `_`, `-`, `.`, `+` and `/` are allowed");
    }
    if value
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("no empty, `.` or `..` path components, no leading `/`");
    }
    Ok(())
}

/// A branch, tag or commit (`main`, `v1.0`, `refs/pr/1`, a commit hash).
pub fn check_revision(revision: &str) -> Result<(), String> {
    check_path("revision", revision)
}

/// A file of the repo (`denoise.safetensors`, `sub/custom.safetensors`).
pub fn check_file(file: &str) -> Result<(), String> {
    check_path("file name", file)
}

/// The blob name the server gives (`ETag` / `X-Linked-Etag`, quotes and `W/` removed): 1–128
/// letters, digits, `_` or `-` (the Hub sends a hex digest).
pub fn check_etag(etag: &str) -> Result<(), String> {
    token("ETag", etag, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
    })
}

/// The commit the server names (`X-Repo-Commit`): 1–128 letters and digits (the Hub sends a
/// 40-digit hex hash).
pub fn check_commit(commit: &str) -> Result<(), String> {
    token("commit", commit, |b| b.is_ascii_alphanumeric())
}

fn token(what: &str, value: &str, allowed: impl Fn(u8) -> bool) -> Result<(), String> {
    if (1..=128).contains(&value.len()) && value.bytes().all(allowed) {
        Ok(())
    } else {
        let shown: String = value.chars().take(80).collect();
        Err(format!("the server sent an unusable {what} {shown:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_are_accepted() {
        for repo in ["me/aetool", "Org_1/model.v2", "a/b", "x-y/z_9"] {
            assert_eq!(check_repo(repo), Ok(()), "{repo}");
        }
        for rev in [
            "main",
            "v1.0",
            "refs/pr/1",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert_eq!(check_revision(rev), Ok(()), "{rev}");
        }
        for file in [
            "denoise.safetensors",
            "sub/custom.safetensors",
            ".hidden/x+y.bin",
        ] {
            assert_eq!(check_file(file), Ok(()), "{file}");
        }
        assert_eq!(check_etag("0f3a-9_b"), Ok(()));
        assert_eq!(check_commit("0f3a9b"), Ok(()));
    }

    #[test]
    fn traversal_and_odd_characters_are_refused() {
        for repo in [
            "me",
            "/x",
            "me/",
            "../x",
            "me/..",
            "me/a--b",
            "me/a..b",
            "-me/x",
            "me/x.",
            "me/x/y",
            "me/x y",
            "me/\u{e9}",
        ] {
            assert!(check_repo(repo).is_err(), "{repo}");
        }
        for path in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "a/./b",
            "a/",
            "a\\b",
            "C:x",
            "a b",
            "a%2Fb",
            "x\u{0}",
        ] {
            assert!(check_file(path).is_err(), "{path}");
            assert!(check_revision(path).is_err(), "{path}");
        }
        for etag in ["", "../../../evil", "a/b", "..", "x.y", &"a".repeat(129)] {
            assert!(check_etag(etag).is_err(), "{etag}");
        }
        for commit in ["", "../x", "ab-cd", "a b"] {
            assert!(check_commit(commit).is_err(), "{commit}");
        }
    }
}
